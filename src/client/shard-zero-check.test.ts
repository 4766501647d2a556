import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditClient } from '../audit/audit-client.ts';
import { recomputeOutputHash } from '../audit/recompute.ts';
import { SessionAudit } from '../audit/session-audit.ts';
import { sha256 } from '../crypto/hash.ts';
import { generateKeyPair } from '../crypto/keys.ts';
import { DEFAULT_MODEL_PATH } from '../model/default-model.ts';
import { Engine } from '../model/engine.ts';
import { MANIFEST_FILE } from '../model/manifest.ts';
import { openModel } from '../model/open-model.ts';
import { shardModel } from '../model/shards/shard.ts';
import { spanLayers, spanSha256, type ShardSpan } from '../model/shards/span.ts';
import type { FraudProof } from '../proto/tessera/v1/FraudProof.ts';
import type { Commitment__Output } from '../proto/tessera/v1/Commitment.ts';
import { isAudited } from '../protocol/audit-selection.ts';
import { signCommitment, stepIdOf, tokenBytes } from '../protocol/commitment.ts';
import { createWasmBackend } from '../tensor/wasm-backend.ts';
import { ShardZeroCheck } from './shard-zero-check.ts';

// stories260K cut one shard per layer: the prompt hop of the routes here runs layers 0–1, two files
const dir = mkdtempSync(join(tmpdir(), 'shard-zero-check-'));
const manifest = shardModel(DEFAULT_MODEL_PATH, 5, dir);
const SPAN: ShardSpan = { start: 0, end: 2 };
const node = generateKeyPair();
const checks: ShardZeroCheck[] = [];
after(async () => {
  for (const check of checks) await check.close();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * What the prompt hop really outputs for `tokens` over `span`: the unsplit model's weights, run over
 * the span's layers in one engine (the check recomputes from the span's shard files on its worker).
 */
async function trueOutput(tokens: readonly number[], span: ShardSpan = SPAN): Promise<Buffer> {
  const model = openModel(DEFAULT_MODEL_PATH);
  const backend = await createWasmBackend({ threads: 1 });
  try {
    const engine = new Engine(model.config, spanLayers(manifest, span), backend, model.weights);
    return recomputeOutputHash(engine, { tokens: true, positions: tokens.length, bytes: tokenBytes(tokens) });
  } finally {
    model.weights.close();
    await backend.close();
  }
}

/** The prompt hop's signed commitment to a step of a session opened with `audit`, as the proto carries it. */
function committed(
  audit: SessionAudit,
  tokens: readonly number[],
  outputHash: Uint8Array,
  span: ShardSpan = SPAN,
): Commitment__Output {
  const c = signCommitment(node, {
    shardIndex: span.start,
    shardEnd: span.end,
    stepId: stepIdOf(`session-${Math.random()}`, 0),
    inputHash: sha256(tokenBytes(tokens)),
    outputHash,
    auditCommitment: audit.commitment,
  });
  return { ...c, resultHash: Buffer.alloc(0), relayedHash: Buffer.alloc(0) } as unknown as Commitment__Output;
}

function harness(shardsDir = dir) {
  const banned: string[] = [];
  const filed: FraudProof[] = [];
  const events: { event: string; fields: Record<string, unknown> }[] = [];
  const filer = generateKeyPair();
  const check = new ShardZeroCheck({
    shardsDir,
    key: filer,
    log: (event, fields) => events.push({ event, fields: (fields ?? {}) as Record<string, unknown> }),
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
  return { check, banned, filed, events, filer, names: () => events.map((e) => e.event) };
}

const step = (audit: SessionAudit, tokens: number[], commitment: Commitment__Output, span: ShardSpan = SPAN) => ({
  registry: 'registry:1',
  modelId: manifest.modelId,
  span,
  shardSha256: spanSha256(manifest, span),
  secret: audit.secret,
  rate: audit.rate,
  tokens,
  commitment,
});

test("a selected step whose signed output is the prompt hop's over its whole span passes; one the secret does not select is not recomputed", async () => {
  const tokens = [1, 40, 7, 300];
  const output = await trueOutput(tokens);
  // the output of shard 0 alone is not the span's: a check that ran only shard 0 would call this a mismatch
  assert.notDeepEqual(output, await trueOutput(tokens, { start: 0, end: 1 }));
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

test('a selected step whose signed output differs bans the node and files that step, with its span and the secret, as evidence', async () => {
  const tokens = [5, 6, 7];
  const { check, banned, filed, names, filer } = harness();
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
  assert.deepEqual(
    [proof!.ticket!.shardIndex, proof!.ticket!.shardEnd, proof!.ticket!.shardSha256],
    [0, 2, spanSha256(manifest, SPAN)],
  );
  assert.deepEqual(names(), ['shard_zero_mismatch', 'shard_zero_evidence_filed']);
});

test("weights that are not the route's judge nobody: the step is left unchecked and said so once", async () => {
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
  assert.deepEqual(banned, []);
  assert.deepEqual(
    events.map((e) => e.event),
    ['shard_zero_not_checked'],
  );
  assert.match(
    String(events[0]!.fields.reason),
    /the weights of shards 0–1 in .* have SHA-256 [0-9a-f]{64}, the route's manifest says (ab){32}/,
  );
});

test('a directory lacking a file of the span checks only the spans it holds whole', async () => {
  const partial = mkdtempSync(join(tmpdir(), 'shard-zero-partial-'));
  try {
    copyFileSync(join(dir, MANIFEST_FILE), join(partial, MANIFEST_FILE));
    copyFileSync(join(dir, manifest.shards[0]!.file), join(partial, manifest.shards[0]!.file));
    const { check, events } = harness(partial);
    const audit = new SessionAudit(1);
    const tokens = [3, 4];
    check.check(step(audit, tokens, committed(audit, tokens, Buffer.alloc(32, 3))));
    const one = { start: 0, end: 1 };
    check.check(step(audit, tokens, committed(audit, tokens, await trueOutput(tokens, one), one), one));
    await check.settled();
    assert.deepEqual(check.stats, { matched: 1, mismatched: 0, skipped: 0 });
    assert.deepEqual(
      events.map((e) => e.event),
      ['shard_zero_not_checked'],
    );
    assert.match(
      String(events[0]!.fields.reason),
      new RegExp(`lacks the file of shard 1 \\(${manifest.shards[1]!.file}\\), needed for shards 0–1`),
    );
  } finally {
    rmSync(partial, { recursive: true, force: true });
  }
});

test("a file of the span that is not the manifest's judges nobody: the check is skipped, naming it", async () => {
  const corrupt = mkdtempSync(join(tmpdir(), 'shard-zero-corrupt-'));
  try {
    for (const file of [MANIFEST_FILE, manifest.shards[0]!.file]) copyFileSync(join(dir, file), join(corrupt, file));
    writeFileSync(join(corrupt, manifest.shards[1]!.file), 'not the weights');
    const { check, banned, filed, events } = harness(corrupt);
    const audit = new SessionAudit(1);
    const tokens = [3, 4];
    check.check(step(audit, tokens, committed(audit, tokens, Buffer.alloc(32, 4))));
    await check.settled();
    assert.deepEqual(check.stats, { matched: 0, mismatched: 0, skipped: 1 });
    assert.deepEqual([banned, filed], [[], []]);
    const skipped = events.find((e) => e.event === 'shard_zero_check_skipped');
    assert.match(String(skipped?.fields.error), new RegExp(`${manifest.shards[1]!.file}.*SHA-256`));
  } finally {
    rmSync(corrupt, { recursive: true, force: true });
  }
});
