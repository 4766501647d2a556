// A node keeps every step the cluster may still audit (the registry's auditRetentionMs): when such
// steps fill its audit window, it turns new work away with RESOURCE_EXHAUSTED instead of dropping
// one, so a client that floods it with sessions cannot push a step out and then request its audit.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import type { Commitment__Output } from '../../src/proto/tessera/v1/Commitment.ts';
import type { Open } from '../../src/proto/tessera/v1/Open.ts';
import { auditCommitmentOf } from '../../src/protocol/audit-selection.ts';
import { waitFor } from '../support/registry-fixtures.ts';
import { startAuditNetwork, type AuditNetwork } from '../support/audit-network.ts';
import { ForwardClient } from '../support/node-cluster.ts';

// Retention = requestWindowMs 150 s + ticketDeadlineMs 60 s + maxClockSkewMs 30 s.
const RETENTION_S = 240;

let network: AuditNetwork | undefined;
after(async () => network?.close());

/** An Open that commits to `secret` for audits, or to none. */
function open(net: AuditNetwork, secret?: Buffer): Open {
  return {
    sessionId: randomUUID(),
    modelId: net.manifest.modelId,
    route: net.route,
    outputMode: 'off',
    sampling: { temperature: 0 },
    clientKey: net.clientKey.publicKey,
    auditCommitment: secret === undefined ? Buffer.alloc(0) : auditCommitmentOf(secret),
  };
}

/** Made-up hidden states (f32) of `positions` positions, as shard 0 would send shard 1. */
function hidden(net: AuditNetwork, seed: number, positions: number) {
  const width = net.manifest.config.hiddenSize;
  const values = Float32Array.from({ length: positions * width }, (_, i) => Math.sin(seed * 1000 + i));
  return { hidden: { dtype: 'DTYPE_F32' as const, shape: [positions, width], data: new Uint8Array(values.buffer) } };
}

test('a node whose audit window is full of steps it may still owe refuses new sessions and replays with RESOURCE_EXHAUSTED, keeps those steps, and answers their audits', async () => {
  // Shard 1's window holds 2 steps (shard 0 keeps none: its steps are prompts, which its clients
  // check); at rate 1 every step is selected by any secret.
  network = await startAuditNetwork({
    shards: 2,
    audit: { samplingRate: 1, requestWindowMs: 150_000 },
    node: (shard) => (shard === 1 ? { auditWindow: { maxSteps: 2 } } : {}),
  });
  const net = network;
  const kept: Commitment__Output[] = [];
  const secrets = [randomBytes(32), randomBytes(32)];
  const full = new RegExp(
    `^audit window full: 2 steps \\(0\\.0 MiB; bounds 2 steps, 256\\.0 MiB\\) younger than ${RETENTION_S} s, which this node must keep to answer audit requests; try another node$`,
  );

  // One session, one prefill, closed: its step stays kept.
  const first = new ForwardClient(net.nodes[1]!.endpoint);
  try {
    await first.openSession(open(net, secrets[0]));
    kept.push(
      (
        await first.write({ step: { step: 0, startPosition: 0, ...hidden(net, 1, 4) } }).reply()
      ).result!.commitments.find((c) => c.shardIndex === 1)!,
    );
    first.write({ close: {} });
    assert.ok('end' in (await first.next()));
  } finally {
    first.close();
  }

  // A second session fills the window with its prefill; its replay from position 0 would add a third step.
  const second = new ForwardClient(net.nodes[1]!.endpoint);
  try {
    await second.openSession(open(net, secrets[1]));
    kept.push(
      (
        await second.write({ step: { step: 0, startPosition: 0, ...hidden(net, 2, 4) } }).reply()
      ).result!.commitments.find((c) => c.shardIndex === 1)!,
    );
    const refused = await second.write({ step: { step: 1, startPosition: 0, ...hidden(net, 3, 4) } }).status();
    assert.equal(refused.code, status.RESOURCE_EXHAUSTED, refused.details);
    assert.match(refused.details, full);
  } finally {
    second.close();
  }

  // A new audited session is refused at Open.
  const third = new ForwardClient(net.nodes[1]!.endpoint);
  try {
    const refused = await third.write({ open: open(net, randomBytes(32)) }).status();
    assert.equal(refused.code, status.RESOURCE_EXHAUSTED, refused.details);
    assert.match(refused.details, full);
  } finally {
    third.close();
  }
  // A session without an audit commitment binds no secret, so none of its steps can be asked for: it takes no room.
  const unaudited = new ForwardClient(net.nodes[1]!.endpoint);
  try {
    await unaudited.openSession(open(net));
    await unaudited.write({ step: { step: 0, startPosition: 0, ...hidden(net, 4, 4) } }).reply();
  } finally {
    unaudited.close();
  }

  // Both kept steps are still held: the client's requests for them (each with its session's secret) are answered with tickets.
  for (const [i, commitment] of kept.entries()) await net.audits.requestAudit(net.clientKey, commitment, secrets[i]!);
  await waitFor(
    'both tickets of shard 1',
    async () => (await net.audits.status(net.nodes[1]!.nodeId)).ticketsQueued === 2,
  );
  const s = await net.audits.status(net.nodes[1]!.nodeId);
  assert.deepEqual([s.refusals, s.requestsPending], [0, 0]);

  // The tickets took the steps out of the window: a new session opens again.
  const fourth = new ForwardClient(net.nodes[1]!.endpoint);
  try {
    await fourth.openSession(open(net, randomBytes(32)));
  } finally {
    fourth.close();
  }
});
