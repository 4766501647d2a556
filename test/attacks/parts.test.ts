// Attacks on a step sent in parts (Step.partial, proto/tessera/v1/node.proto) against real node
// servers on loopback: a caller that opened a session at shard 1 sends parts that do not continue
// their step (another step, a replay, a gap, a Close in between, another dtype) or parts that
// together carry more positions than a step may. Each ends the stream with its precise reason, and
// the node goes on serving an honest step in parts meanwhile and after.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import type { Manifest } from '../../src/model/manifest.ts';
import { shardModel } from '../../src/model/shards/shard.ts';
import { ForwardReason } from '../../src/protocol/forward-status.ts';
import { reasonOf } from '../../src/rpc/status.ts';
import { testModel } from '../support/models.ts';
import { ForwardClient, startChain } from '../support/node-cluster.ts';

/** Positions one step may carry at shard 1, over all its parts. */
const MAX_STEP_POSITIONS = 16;
const scratch = mkdtempSync(join(tmpdir(), 'tessera-attack-parts-'));
let manifest: Manifest;
let chain: Awaited<ReturnType<typeof startChain>>;
const clients: ForwardClient[] = [];

before(async () => {
  manifest = shardModel(testModel('stories260K.gguf'), 2, join(scratch, 'shards'));
  chain = await startChain(join(scratch, 'shards'), 2, (shard) =>
    shard === 1 ? { maxStepPositions: MAX_STEP_POSITIONS } : {},
  );
});

after(async () => {
  for (const client of clients) client.close();
  await chain?.close();
  rmSync(scratch, { recursive: true, force: true });
});

async function atShardOne(sessionId: string): Promise<ForwardClient> {
  const client = new ForwardClient(chain.nodes[1]!.endpoint);
  clients.push(client);
  await client.openSession({ sessionId, modelId: manifest.modelId, route: chain.route, outputMode: 'off' });
  return client;
}

const hidden = (positions: number, dtype: 'DTYPE_F32' | 'DTYPE_F16' = 'DTYPE_F32') => {
  const width = manifest.config.hiddenSize;
  return {
    dtype,
    shape: [positions, width],
    data: new Uint8Array(positions * width * (dtype === 'DTYPE_F32' ? 4 : 2)),
  };
};

/** An honest step of `positions` sent in two parts: its one result. */
async function honestParts(sessionId: string, positions: number) {
  const client = await atShardOne(sessionId);
  const first = positions >> 1;
  client.write({ step: { step: 0, startPosition: 0, hidden: hidden(first), partial: true } });
  return client.write({ step: { step: 0, startPosition: first, hidden: hidden(positions - first) } }).reply();
}

test('parts that do not continue their step, or carry more than a step may, are refused with a reason; honest parts are served meanwhile and after', async () => {
  const cases = [
    {
      what: 'another step',
      next: { step: 1, startPosition: 4, hidden: hidden(4) },
      reason: ForwardReason.OUT_OF_SEQUENCE,
    },
    // past what the cache holds: refused as any such step is
    { what: 'a gap', next: { step: 0, startPosition: 5, hidden: hidden(4) }, reason: ForwardReason.INVALID_STEP },
    { what: 'a replay', next: { step: 0, startPosition: 0, hidden: hidden(4) }, reason: ForwardReason.OUT_OF_SEQUENCE },
    { what: 'a Close', next: undefined, reason: ForwardReason.OUT_OF_SEQUENCE },
    {
      what: 'another dtype',
      next: { step: 0, startPosition: 4, hidden: hidden(4, 'DTYPE_F16') },
      reason: ForwardReason.INVALID_STEP,
    },
    // each part within the bound, together past it
    {
      what: 'too many positions over the parts',
      next: { step: 0, startPosition: 4, hidden: hidden(MAX_STEP_POSITIONS - 3), partial: true },
      reason: ForwardReason.INVALID_STEP,
      details: /carries 17 positions over its parts, this node takes at most 16 per step/,
    },
  ];
  for (const [i, { what, next, reason, details }] of cases.entries()) {
    const client = await atShardOne(`bad-parts-${i}`);
    const meanwhile = honestParts(`meanwhile-${i}`, 6);
    client.write({ step: { step: 0, startPosition: 0, hidden: hidden(4), partial: true } });
    client.write(next ? { step: next } : { close: {} });
    const error = await client.status();
    assert.equal(reasonOf(error), reason, what);
    assert.notEqual(error.code, status.OK, what);
    if (details) assert.match(error.details, details, what);
    const served = await meanwhile;
    assert.equal(served.kind, 'result', what);
    // shard 1's own commitment, over the two parts as one step
    assert.equal(served.result!.commitments.length, 1, what);
    assert.equal(served.result!.commitments[0]!.nodeId, chain.nodes[1]!.nodeId, what);
  }
  // The refused sessions hold nothing: only the honest ones were opened and kept.
  const after = await honestParts('after', MAX_STEP_POSITIONS);
  assert.equal(after.kind, 'result');
  assert.equal(after.result!.step, 0);
});
