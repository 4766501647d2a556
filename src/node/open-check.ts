import type { Manifest } from '../model/manifest.ts';
import { formatSpan, spanContains, spanOf, spanProblem, type ShardSpan } from '../model/shards/span.ts';
import type { Hop__Output } from '../proto/tessera/v1/Hop.ts';
import type { Open__Output } from '../proto/tessera/v1/Open.ts';
import { ForwardReason, NodeStatusError } from '../protocol/forward-status.ts';
import { MAX_LOGPROBS } from './position-sampler.ts';

const MAX_SESSION_ID_LENGTH = 256;

const invalid = (message: string, code: ForwardReason = ForwardReason.INVALID_OPEN) =>
  new NodeStatusError(code, 'invalid', message);

/** Where an Open puts this node: its hop's place in the route, the span it runs, and the hops around it. */
export interface RoutePlace {
  /** The hop's index in the route: what commitments, receipts and shares count by. */
  readonly position: number;
  /** The shards this node runs for the session, a span of those it holds. */
  readonly span: ShardSpan;
  /** The hop before this one (none: this node takes the prompt). */
  readonly previous?: Hop__Output;
  /** The hop after this one (none: this node samples). */
  readonly next?: Hop__Output;
}

/**
 * Checks an Open against this node: model, output mode, sampling, and a route whose spans tile the
 * model (from shard 0, each hop starting where the one before ended, to the last shard, through
 * distinct nodes) and that names this node for a span of the shards it holds.
 */
export function checkOpen(
  open: Open__Output,
  self: { nodeId: string; manifest: Manifest; held: ShardSpan },
): RoutePlace {
  const { manifest } = self;
  if (open.sessionId === '' || open.sessionId.length > MAX_SESSION_ID_LENGTH)
    throw invalid(`session id must have 1 to ${MAX_SESSION_ID_LENGTH} characters`);
  if (open.modelId !== manifest.modelId)
    throw invalid(`model "${open.modelId}" is not served here: this node serves ${manifest.modelId}`);
  if (open.outputMode === 'server_sample')
    throw invalid('output mode "server_sample" is retired: it exposed sampled tokens to the last node; use "off"');
  if (open.outputMode !== 'off')
    throw invalid(`output mode "${open.outputMode}" is not served by this node (only "off")`);
  const sampling = open.sampling;
  if (sampling) {
    if (!(sampling.temperature >= 0 && Number.isFinite(sampling.temperature)))
      throw invalid(`temperature ${sampling.temperature} must be a finite number ≥ 0`);
    if (sampling.logprobs > MAX_LOGPROBS)
      throw invalid(`logprobs ${sampling.logprobs} exceeds the maximum of ${MAX_LOGPROBS}`);
    // 64-bit fields arrive as doubles: past 2^53 the value is no longer the one sent.
    if (!Number.isSafeInteger(sampling.seed) || sampling.seed < 0)
      throw invalid(
        `seed ${sampling.seed} is beyond ${Number.MAX_SAFE_INTEGER}, the largest this node takes`,
        ForwardReason.INTEGER_OUT_OF_RANGE,
      );
    for (const [name, value] of [
      ['top_p', sampling.topP],
      ['min_p', sampling.minP],
      ['repetition_penalty', sampling.repetitionPenalty],
    ] as const) {
      if (!Number.isFinite(value)) throw invalid(`${name} ${value} must be a finite number`);
    }
  }
  const route = open.route;
  const shards = manifest.shards.length;
  if (route.length === 0)
    throw invalid(`route has no hops; it must run ${manifest.modelId}'s shards 0 to ${shards - 1}`);
  let end = 0;
  const positions = new Map<string, number>();
  route.forEach((hop, i) => {
    const span = spanOf(hop);
    const problem = spanProblem(manifest, span);
    if (problem !== undefined) throw invalid(`route hop ${i} (node ${hop.nodeId}): ${problem}`);
    if (span.start > end)
      throw invalid(
        `route hop ${i} starts at shard ${span.start}, ${i === 0 ? 'not at shard 0' : `hop ${i - 1} ends before shard ${end}`}: no hop runs ${formatSpan({ start: end, end: span.start })}`,
      );
    if (span.start < end)
      throw invalid(
        `route hop ${i} starts at shard ${span.start}, hop ${i - 1} ends before shard ${end}: both run ${formatSpan({ start: span.start, end })}`,
      );
    const twice = positions.get(hop.nodeId);
    if (twice !== undefined)
      throw invalid(`route names node ${hop.nodeId} for hops ${twice} and ${i}; a node runs one hop of a route`);
    positions.set(hop.nodeId, i);
    end = span.end;
  });
  if (end !== shards)
    throw invalid(
      `route ends before shard ${end}: no hop runs ${formatSpan({ start: end, end: shards })} of ${manifest.modelId}'s ${shards} shards`,
    );
  const position = positions.get(self.nodeId);
  if (position === undefined) throw invalid(`route does not name this node ${self.nodeId}`);
  const span = spanOf(route[position]!);
  if (!spanContains(self.held, span))
    throw invalid(
      `route hop ${position} asks node ${self.nodeId} for ${formatSpan(span)}; it holds ${formatSpan(self.held)}`,
    );
  return {
    position,
    span,
    ...(position > 0 ? { previous: route[position - 1]! } : {}),
    ...(position + 1 < route.length ? { next: route[position + 1]! } : {}),
  };
}
