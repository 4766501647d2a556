import { sha256 } from '../../src/crypto/hash.ts';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { signCommitment, stepIdOf } from '../../src/protocol/commitment.ts';
import { SessionAudit } from '../../src/audit/session-audit.ts';
import { generateKeyPair } from '../../src/crypto/keys.ts';
import { AuditWindow } from '../../src/node/audit-window.ts';
import type { Open } from '../../src/proto/tessera/v1/Open.ts';
import { promptTokens, startAuditNetwork, type AuditNetwork } from '../support/audit-network.ts';
import { ForwardClient } from '../support/node-cluster.ts';
import { waitFor } from '../support/registry-fixtures.ts';

let network: AuditNetwork | undefined;
after(async () => network?.close());

function open(net: AuditNetwork, auditCommitment: Uint8Array): Open {
  return {
    sessionId: randomUUID(),
    modelId: net.manifest.modelId,
    route: net.route,
    outputMode: 'off',
    sampling: { temperature: 0 },
    clientKey: net.clientKey.publicKey,
    auditCommitment,
  };
}

test('nodes ticket only the steps from position 0 committed before the reveal, each hop after shard 0 its own', async () => {
  network = await startAuditNetwork({ shards: 2, audit: { samplingRate: 1 } });
  const net = network;
  const audit = new SessionAudit(1);
  const client = new ForwardClient(net.nodes[0]!.endpoint);
  try {
    await client.openSession(open(net, audit.commitment));
    const prompt = promptTokens(1, 5);
    const prefill = await client.write({ step: { step: 0, startPosition: 0, tokens: prompt } }).reply();
    await client.write({ step: { step: 1, startPosition: 5, tokens: [prefill.result!.sampled!.token] } }).reply();
    client.write(audit.revealRequest());
    // A replay from position 0 after the reveal: the node knows the secret now, so it is not audited.
    await client.write({ step: { step: 2, startPosition: 0, tokens: prompt } }).reply();
    client.write({ close: {} });
    assert.ok('end' in (await client.next()));
  } finally {
    client.close();
  }
  const [prompt, hidden] = await waitFor('the ticket of shard 1', async () => {
    const all = await Promise.all(net.nodes.map((n) => net.audits.status(n.nodeId)));
    return all[1]!.ticketsQueued === 1 && all;
  });
  // Shard 0's step is the prompt: its node keeps it nowhere and tickets nothing (its client checks it).
  assert.deepEqual([prompt!.ticketsQueued, prompt!.ticketsPassed, hidden!.ticketsPassed], [0, 0, 0]);
});

test('a malformed audit commitment or a wrong, repeated or unexpected reveal ends the session with a precise status', async () => {
  const net = network!;
  const audit = new SessionAudit(1);
  const cases: { open: Uint8Array; reveals: Uint8Array[]; code: status; message: RegExp }[] = [
    {
      open: Buffer.alloc(7),
      reveals: [],
      code: status.INVALID_ARGUMENT,
      message: /audit_commitment has 7 bytes; send the 32-byte sha256 of the audit secret, or none/,
    },
    {
      open: audit.commitment,
      reveals: [Buffer.alloc(32)],
      code: status.INVALID_ARGUMENT,
      message: /the revealed audit secret does not hash to the audit commitment sent at Open/,
    },
    {
      open: audit.commitment,
      reveals: [audit.secret, audit.secret],
      code: status.FAILED_PRECONDITION,
      message: /the audit secret was already revealed for this session/,
    },
    {
      open: Buffer.alloc(0),
      reveals: [audit.secret],
      code: status.FAILED_PRECONDITION,
      message: /audit secret revealed for a session opened without an audit commitment/,
    },
  ];
  for (const c of cases) {
    const client = new ForwardClient(net.nodes[0]!.endpoint);
    try {
      client.write({ open: open(net, c.open) });
      for (const secret of c.reveals) client.write({ reveal: { secret } });
      const error = await client.status();
      assert.equal(error.code, c.code, error.details);
      assert.match(error.details, c.message);
    } finally {
      client.close();
    }
  }
});

test('the audit window keeps inputs by count, bytes and age, oldest out first, once past their retention', () => {
  let now = 0;
  const window = new AuditWindow({ maxSteps: 3, maxBytes: 100, maxAgeMs: 1000 }, () => now);
  window.retentionMs = 0; // nothing is owed here: the bounds alone decide
  const key = generateKeyPair();
  const step = (session: string, bytes: number) => ({
    sessionId: session,
    input: { tokens: true as const, positions: bytes / 4, bytes: new Uint8Array(bytes) },
    commitment: signCommitment(key, {
      shardIndex: 0,
      shardEnd: 1,
      stepId: stepIdOf(session, 0),
      inputHash: sha256(new Uint8Array(bytes)),
      outputHash: sha256(new Uint8Array(1)),
    }),
  });
  window.keep(step('a', 40));
  window.keep(step('b', 40));
  window.keep(step('a', 16));
  assert.deepEqual([window.size, window.bytes, window.evicted], [3, 96, 0]);
  window.keep(step('c', 8)); // a fourth step: the oldest goes
  assert.deepEqual([window.size, window.bytes, window.evicted], [3, 64, 1]);
  window.keep(step('c', 60)); // over 100 bytes: the oldest go until it fits
  assert.deepEqual([window.size, window.bytes, window.evicted], [3, 84, 2]);
  assert.deepEqual(
    window.take('a').map((s) => s.input.bytes.length),
    [16],
  );
  assert.deepEqual(window.take('b'), []);
  now = 500;
  window.keep(step('d', 4));
  now = 1200; // 'c' (kept at 0) is too old; 'd' (kept at 500) is not
  assert.deepEqual(window.take('c'), []);
  assert.equal(window.take('d').length, 1);
  assert.deepEqual([window.size, window.bytes], [0, 0]);
});
