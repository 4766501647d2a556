import { takesTokens } from '../model/shards/span.ts';

/**
 * The shard that takes token ids: a manifest gives the embedding to shard 0 and to no other
 * (src/model/manifest.ts), so the hop whose span starts there takes the prompt itself as its step
 * input, and no ticket of it may leave the session: the client, which holds the prompt, checks it
 * (src/client/shard-zero-check.ts), and the registry refuses its tickets and audit requests
 * (TICKET_HOLDS_PROMPT).
 */
export const PROMPT_SHARD = 0;

/** The reason the registry refuses a ticket or an audit request of a span that takes the prompt. */
export const TICKET_HOLDS_PROMPT = 'TICKET_HOLDS_PROMPT';

/** Whether a span starting at `shardIndex` (a commitment's or a ticket's first shard) takes the prompt. */
export function takesPrompt(shardIndex: number): boolean {
  return takesTokens({ start: shardIndex, end: shardIndex + 1 });
}
