/**
 * The shard that takes token ids: a manifest gives the embedding to shard 0 and to no other
 * (src/model/manifest.ts). Its step input is the prompt itself, so no ticket of it may leave the
 * session: the client, which holds the prompt, checks it (src/client/shard-zero-check.ts), and the
 * registry refuses its tickets and audit requests (TICKET_HOLDS_PROMPT).
 */
export const PROMPT_SHARD = 0;

/** The reason the registry refuses a ticket or an audit request of the prompt shard. */
export const TICKET_HOLDS_PROMPT = 'TICKET_HOLDS_PROMPT';

export function takesPrompt(shardIndex: number): boolean {
  return shardIndex === PROMPT_SHARD;
}
