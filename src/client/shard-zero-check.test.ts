import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditClient } from '../audit/audit-client.ts';
import { recomputeOutputHash, ShardEngines } from '../audit/recompute.ts';
import { SessionAudit } from '../audit/session-audit.ts';
import { sha256 } from '../crypto/hash.ts';
import { generateKeyPair } from '../crypto/keys.ts';
import { DEFAULT_MODEL_PATH } from '../model/default-model.ts';
import { shardModel } from '../model/shards/shard.ts';
import type { FraudProof } from '../proto/tessera/v1/FraudProof.ts';
import type { Commitment__Output } from '../proto/tessera/v1/Commitment.ts';
import { isAudited } from '../protocol/audit-selection.ts';
import { signCommitment, stepIdOf, tokenBytes } from '../protocol/commitment.ts';
import { createWasmBackend } from '../tensor/wasm-backend.ts';
import { ShardZeroCheck } from './shard-zero-check.ts';

const dir = mkdtempSync(join(tmpdir(), 'shard-zero-check-'));
const manifest = shardModel(DEFAULT_MODEL_PATH, 2, dir);
const node = generateKeyPair();
const checks: ShardZeroCheck[] = [];
after(async () => {
  for (const check of checks) await check.close();
  rmSync(dir, { recursive: true, force: true });
});

/** What shard 0 really outputs for `tokens` (the check recomputes the same on its worker). */
async function trueOutput(tokens: readonly number[]): Promise<Buffer> {
  const backend = await createWasmBackend({ threads: 1 });
  try {
    const engine = new ShardEngines([{ manifest, dir }], backend).engine(manifest.modelId, 0);
    return recomputeOutputHash(engine, { tokens: true, positions: tokens.length, bytes: tokenBytes(tokens) });
  } finally {
    await backend.close();
  }
}

/** Shard 0's signed commitment to a step of a session opened with `audit`, as the proto carries it. */
function committed(audit: SessionAudit, tokens: readonly number[], outputHash: Uint8Array): Commitment__Output {
  const c = signCommitment(node, {
    shardIndex: 0,
    stepId: stepIdOf(`session-${Math.random()}`, 0),
    inputHash: sha256(tokenBytes(tokens)),
    outputHash,
    auditCommitment: audit.commitment,
  });
  return { ...c, resultHash: Buffer.alloc(0) } as unknown as Commitment__Output;
}

function harness() {
  const banned: string[] = [];
  const filed: FraudProof[] = [];
  const events: string[] = [];
  const filer = generateKeyPair();
  const check = new ShardZeroCheck({
    shardsDir: dir,
    key: filer,
    log: (event) => events.push(event),
    ban: (nodeId) => banned.push(nodeId),
    registry: () =>
      ({
        submitFraudProof: async (proof: FraudProof) => {
          filed.push(proof);
          return { proofId: 'p', accused: node.address, status: 'PROOF_CONFIRMED', detail: '', slashedAmount: '500' };
        },
      }) as unknown as AuditClient,
  });
  checks.push(check);
  return { check, banned, filed, events, filer };
}

const step = (audit: SessionAudit, tokens: number[], commitment: Commitment__Output) => ({
  registry: 'registry:1',
  modelId: manifest.modelId,
  shardSha256: manifest.shards[0]!.sha256,
  secret: audit.secret,
  rate: audit.rate,
  tokens,
  commitment,
});

test("a selected step whose signed output is shard 0's passes; one the secret does not select is not recomputed", async () => {
  const tokens = [1, 40, 7, 300];
  const output = await trueOutput(tokens);
  const { check, banned, filed } = harness();
  const audit = new SessionAudit(1);
  check.check(step(audit, tokens, committed(audit, tokens, output)));
  // At rate 0 nothing is selected: a wrong output goes unchecked, as any unselected step.
  const none = new SessionAudit(0);
  check.check(step(none, tokens, committed(none, tokens, Buffer.alloc(32, 7))));
  await check.settled();
  assert.deepEqual(check.stats, { matched: 1, mismatched: 0, skipped: 0 });
  assert.deepEqual([banned, filed], [[], []]);
});

test('a selected step whose signed output differs bans the node and files that step, with the secret, as evidence', async () => {
  const tokens = [5, 6, 7];
  const { check, banned, filed, events, filer } = harness();
  const audit = new SessionAudit(0.5);
  let commitment: Commitment__Output;
  do commitment = committed(audit, tokens, Buffer.alloc(32, 1));
  while (!isAudited(audit.secret, commitment, 0.5));
  check.check(step(audit, tokens, commitment));
  await check.settled();
  assert.deepEqual(check.stats, { matched: 0, mismatched: 1, skipped: 0 });
  assert.deepEqual(banned, [node.address]);
  assert.equal(filed.length, 1);
  const [proof] = filed;
  assert.equal(proof!.verifierId, filer.address);
  assert.deepEqual(Buffer.from(proof!.recomputedOutputHash as Uint8Array), await trueOutput(tokens));
  assert.deepEqual(Buffer.from(proof!.ticket!.auditSecret as Uint8Array), audit.secret);
  assert.deepEqual(events, ['shard_zero_mismatch', 'shard_zero_evidence_filed']);
});

test("weights that are not the route's shard 0 judge nobody: the step is left unchecked and said so once", async () => {
  const { check, banned, events } = harness();
  const audit = new SessionAudit(1);
  const tokens = [9, 9];
  for (let i = 0; i < 2; i++)
    check.check({
      ...step(audit, tokens, committed(audit, tokens, Buffer.alloc(32, 2))),
      shardSha256: 'ab'.repeat(32),
    });
  await check.settled();
  assert.deepEqual(check.stats, { matched: 0, mismatched: 0, skipped: 0 });
  assert.deepEqual([banned, events], [[], ['shard_zero_not_checked']]);
});
