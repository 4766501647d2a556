import type { Manifest } from '../model/manifest.ts';
import type { Hop__Output } from '../proto/tessera/v1/Hop.ts';
import type { Open__Output } from '../proto/tessera/v1/Open.ts';
import { ForwardReason, NodeStatusError } from '../protocol/forward-status.ts';
import { MAX_LOGPROBS } from './position-sampler.ts';

const MAX_SESSION_ID_LENGTH = 256;

const invalid = (message: string, code: ForwardReason = ForwardReason.INVALID_OPEN) =>
  new NodeStatusError(code, 'invalid', message);

/**
 * Checks an Open against this node: model, output mode, sampling and a route that names this node
 * at this shard's place. Returns the next hop, or undefined on the last shard.
 */
export function checkOpen(
  open: Open__Output,
  self: { nodeId: string; manifest: Manifest; shardIndex: number },
): Hop__Output | undefined {
  const { manifest, shardIndex } = self;
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
  if (route.length !== manifest.shards.length)
    throw invalid(`route has ${route.length} hops, model ${manifest.modelId} has ${manifest.shards.length} shards`);
  route.forEach((hop, i) => {
    if (hop.shardIndex !== i)
      throw invalid(
        `route hop ${i} is shard ${hop.shardIndex}; hops must list shards 0 to ${route.length - 1} in order`,
      );
  });
  const mine = route[shardIndex]!;
  if (mine.nodeId !== self.nodeId)
    throw invalid(`route names node ${mine.nodeId} for shard ${shardIndex}, this node is ${self.nodeId}`);
  return route[shardIndex + 1];
}
