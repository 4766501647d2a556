import { status, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import { TesseraError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import type { Manifest } from '../model/manifest.ts';
import type { AssignShardReply } from '../proto/tessera/v1/AssignShardReply.ts';
import type { Signed__Output } from '../proto/tessera/v1/Signed.ts';
import { toStatusObject } from '../rpc/status.ts';
import {
  AdmissionError,
  checkNonce,
  checkTimestamp,
  openOrRefuse,
  rememberNonce,
  silenceLimitMs,
  type AdmissionContext,
} from './admission.ts';
import { capabilityOf } from './node-listing.ts';
import { openAssignShardRequest, type AssignShardRequest } from './shard-assignment-request.ts';
import { roleOfShard, ShardAssigner, type ShardHolder } from './shard-assignment.ts';
import { sameSpan, spanLayers, spanOf, spanProblem, type ShardSpan } from '../model/shards/span.ts';

/**
 * AssignShard: checked as every signed call (signer, freshness, one-time nonce, per-key rate, not
 * banned) and, since the node will serve, for the node stake minimum; only then is a span of shards
 * chosen and held, so a refused request leaves the holds as they were. With the assigner's holds full a
 * joiner is refused ASSIGNMENT_HOLDS_FULL, its nonce not spent.
 */
export function assignShardHandler(
  context: AdmissionContext & {
    readonly log: Logger;
    /** The served models' manifests. */
    readonly manifests: ReadonlyMap<string, Manifest>;
    readonly assigner?: ShardAssigner;
  },
): (call: ServerUnaryCall<Signed__Output, AssignShardReply>, callback: sendUnaryData<AssignShardReply>) => void {
  const assigner = context.assigner ?? new ShardAssigner();
  const { store, config, manifests, log } = context;
  const assign = async (call: ServerUnaryCall<Signed__Output, AssignShardReply>): Promise<AssignShardReply> => {
    const request = openOrRefuse(() =>
      openAssignShardRequest({ payload: call.request.payload, signature: call.request.signature }),
    );
    context.takeKey?.(request.nodeId);
    const banned = context.banReason?.(request.nodeId);
    if (banned !== undefined) throw new AdmissionError(status.PERMISSION_DENIED, banned, 'NODE_BANNED');
    checkTimestamp(context, request, Date.now(), 'assignment request');
    checkNonce(context, request, 'assignment request');
    const manifest = manifests.get(request.modelId);
    if (manifest === undefined)
      throw new AdmissionError(
        status.NOT_FOUND,
        `unknown model "${request.modelId}": this registry serves ${[...manifests.keys()].map((id) => `"${id}"`).join(', ')}`,
        'UNKNOWN_MODEL',
      );
    if (context.stakeGate !== undefined) {
      let refusal: string | undefined;
      try {
        refusal = await context.stakeGate.belowMinimum(request.nodeId, 'node');
      } catch (error) {
        throw new AdmissionError(
          status.UNAVAILABLE,
          `stakes cannot be read: ${(error as Error).message}`,
          'STAKES_UNAVAILABLE',
        );
      }
      if (refusal !== undefined) throw new AdmissionError(status.FAILED_PRECONDITION, refusal, 'STAKE_BELOW_MINIMUM');
      // A copy of this request may have been admitted while the stake was read.
      checkNonce(context, request, 'assignment request');
    }
    const nowMs = Date.now();
    const registered = store.liveNodes(request.modelId, nowMs - silenceLimitMs(config)).map((n) => ({
      nodeId: n.nodeId,
      span: spanOf(n),
      tier: capabilityOf(n, 'tier'),
    }));
    const serving = servingSpan(manifest, request, registered);
    // A serving node measured its tier on its own layers and announced it: that counts, not its guess.
    const announced = registered.find((r) => r.nodeId === request.nodeId)?.tier;
    const tier = request.tier === 'unmeasured' && announced ? announced : request.tier;
    const { span, untilMs } = assigner.assign(
      manifest,
      registered,
      {
        nodeId: request.nodeId,
        freeBytes: request.freeBytes,
        kvBudgetBytes: request.kvBudgetBytes,
        tier,
        held: request.held,
        ...(serving === undefined ? {} : { serving }),
      },
      nowMs,
    );
    store.transaction(() => rememberNonce(context, request, nowMs));
    const kept = serving !== undefined && sameSpan(span, serving);
    log(serving === undefined ? 'shard_assigned' : kept ? 'shard_kept' : 'shard_move', {
      nodeId: request.nodeId,
      modelId: request.modelId,
      shard: span.start,
      shardEnd: span.end,
      tier,
      held: request.held,
      ...(serving === undefined ? {} : { serving: serving.start, servingEnd: serving.end }),
    });
    const layers = spanLayers(manifest, span);
    return {
      shardIndex: span.start,
      shardEnd: span.end,
      layerStart: layers.start,
      layerEnd: layers.end,
      embedding: layers.embedding,
      head: layers.head,
      role: roleOfShard(layers),
      heldUntilMs: untilMs,
    };
  };
  return (call, callback) => {
    assign(call).then(
      (reply) => callback(null, reply),
      (error: unknown) => {
        if (error instanceof TesseraError)
          log('assignment_refused', { peer: call.getPeer(), code: error.code, reason: error.message });
        else log('internal_error', { call: 'AssignShard', error: (error as Error).message });
        callback(toStatusObject(error) as never);
      },
    );
  };
}

/**
 * The span a node asking whether to move holds: its registration's, when that starts at the shard
 * it names, else the run of shards it says it holds from there (the request names only the start).
 */
function servingSpan(
  manifest: Manifest,
  request: AssignShardRequest,
  registered: readonly ShardHolder[],
): ShardSpan | undefined {
  if (request.serving === undefined) return undefined;
  const start = request.serving;
  const shards = manifest.shards.length;
  if (start >= shards)
    throw new AdmissionError(
      status.INVALID_ARGUMENT,
      `unknown shard ${start} of model "${request.modelId}": it has shards 0 to ${shards - 1}`,
      'UNKNOWN_SHARD',
    );
  const own = registered.find((r) => r.nodeId === request.nodeId && r.span.start === start);
  if (own !== undefined && spanProblem(manifest, own.span) === undefined) return own.span;
  const held = new Set(request.held);
  let end = start + 1;
  while (end < shards && held.has(end)) end++;
  return { start, end };
}
