import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { SessionAudit } from '../../src/audit/session-audit.ts';
import { generateKeyPair } from '../../src/crypto/keys.ts';
import { f32ToBf16Array, f32ToF16Array } from '../../src/tensor/half.ts';
import { startVerifier, type VerifierHandle } from '../../src/verifier/verifier.ts';
import {
  auditedSession,
  openAuditedStream,
  promptTokens,
  startAuditNetwork,
  type AuditNetwork,
} from '../support/audit-network.ts';
import { waitFor } from '../support/registry-fixtures.ts';

let network: AuditNetwork | undefined;
let verifier: VerifierHandle | undefined;
after(async () => {
  await verifier?.close();
  await network?.close();
});

/** Hidden states of moderate size, as a previous shard would send them, in f32. */
function hiddenStates(seed: number, positions: number, width: number): Float32Array {
  let x = seed * 2654435761;
  return Float32Array.from({ length: positions * width }, () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return (x / 2 ** 32 - 0.5) * 4;
  });
}

test('honest nodes draw no fraud proof over more than 1000 audited passes (hidden states from real prompts, and in f32, f16 and bf16)', async (t) => {
  // Every position-0 step is audited here (the cluster's rate is 1, which the nodes learn when they
  // register), so the audit path runs 1000 times quickly.
  network = await startAuditNetwork({ shards: 3, audit: { samplingRate: 1 } });
  const net = network;
  // Only a staked verifier leases tickets.
  const verifierKey = generateKeyPair();
  await net.ledger.grant(verifierKey.address, { stake: 1000n }, `0x${randomBytes(32).toString('hex')}`);
  verifier = await startVerifier({
    registry: net.registry.endpoint,
    shardsDirs: [net.shardsDir],
    key: verifierKey,
    batch: 32,
    // Idle pulls within the key's PullTickets rate (10/s).
    pollMs: 150,
    log: () => {},
  });

  let expected = 0;
  // Shard 0's steps (token ids: prompts) leave no ticket: their clients check them.
  for (let session = 0; session < 60; session++) {
    const prompts = Array.from({ length: 8 }, (_, i) => promptTokens(session * 8 + i, 1 + ((session + i) % 24)));
    await auditedSession(net, prompts, new SessionAudit(1));
    expected += prompts.length * (net.nodes.length - 1);
  }
  // Later shards take hidden states in whatever dtype the previous hop sent: f16 and bf16 tickets
  // must be recomputed exactly as the node decoded them.
  const width = net.manifest.config.hiddenSize;
  const encodings = [
    { dtype: 'DTYPE_F32' as const, encode: (v: Float32Array) => new Uint8Array(v.buffer) },
    { dtype: 'DTYPE_F16' as const, encode: (v: Float32Array) => new Uint8Array(f32ToF16Array(v).buffer) },
    { dtype: 'DTYPE_BF16' as const, encode: (v: Float32Array) => new Uint8Array(f32ToBf16Array(v).buffer) },
  ];
  for (const shard of [1, 2]) {
    for (const { dtype, encode } of encodings) {
      const steps = Array.from({ length: 6 }, (_, i) => {
        const positions = 1 + ((shard * 7 + i) % 12);
        return {
          hidden: { dtype, shape: [positions, width], data: encode(hiddenStates(shard * 100 + i, positions, width)) },
        };
      });
      // Opened at this shard's node, the route goes on from there.
      await openAuditedStream(net.nodes[shard]!.endpoint, net, new SessionAudit(1), steps);
      expected += steps.length * (net.nodes.length - shard);
    }
  }
  assert.ok(expected >= 1000, `${expected} audited passes planned`);

  const totals = await waitFor(
    'every ticket to be audited',
    async () => {
      const all = await Promise.all(net.nodes.map((n) => net.audits.status(n.nodeId)));
      const passed = all.reduce((sum, s) => sum + s.ticketsPassed, 0);
      return passed === expected && all.every((s) => s.ticketsQueued === 0) && all;
    },
    120_000,
  );
  t.diagnostic(`${expected} audited passes`);
  for (const s of totals) {
    assert.equal(s.proofsConfirmed + s.proofsUnconfirmed + s.proofsRefuted, 0);
    assert.equal(s.banned, false);
    assert.equal(s.slashedAmount, '0');
  }
  // The verifier's only fraud proofs are against the registry's canaries (audit.canaryRate 0.05):
  // every one it was leased is caught, none passed, and its stake is whole.
  const db = new Database(net.dbPath, { readonly: true });
  let canaries: { outcome: string | null; n: number }[];
  try {
    canaries = db
      .prepare('SELECT outcome, COUNT(*) AS n FROM audit_canaries WHERE verifier_id = ? GROUP BY outcome')
      .all(verifierKey.address) as { outcome: string | null; n: number }[];
  } finally {
    db.close();
  }
  const caught = canaries.find((c) => c.outcome === 'caught')?.n ?? 0;
  assert.deepEqual(
    canaries.filter((c) => c.outcome !== 'caught'),
    [],
  );
  const verified = expected;
  t.diagnostic(
    `${caught} canaries caught beside ${verified} verifier passes (${((100 * caught) / verified).toFixed(1)} % more verifier work)`,
  );
  assert.equal(totals[0]!.ticketsPassed, 0, "no ticket of shard 0's prompts");
  assert.deepEqual(verifier.stats(), { passed: verified, proofs: caught, errors: 0 });
  assert.equal((await net.ledger.stakeOf(verifierKey.address)).amount, 1000n);
});
