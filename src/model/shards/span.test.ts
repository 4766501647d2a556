import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testModel } from '../../../test/support/models.ts';
import { shardModel } from './shard.ts';
import { ShardIntegrityError } from './shard-files.ts';
import {
  formatSpan,
  openSpanIn,
  parseSpan,
  spanContains,
  spanLayers,
  spanProblem,
  spanSha256,
  takesTokens,
} from './span.ts';

const dir = mkdtempSync(join(tmpdir(), 'tessera-span-'));
// stories260K has 5 layers: one shard a layer
const manifest = shardModel(testModel('stories260K.gguf'), 5, dir, { modelId: 'stories' });
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('a span is a non-empty run of the manifest shards; anything else is named', () => {
  assert.equal(spanProblem(manifest, { start: 0, end: 5 }), undefined);
  assert.equal(spanProblem(manifest, { start: 4, end: 5 }), undefined);
  assert.equal(spanProblem(manifest, { start: 2, end: 2 }), 'shards [2, 2) is not a span: it needs 0 ≤ start < end');
  assert.equal(spanProblem(manifest, { start: 3, end: 1 }), 'shards [3, 1) is not a span: it needs 0 ≤ start < end');
  assert.equal(spanProblem(manifest, { start: -1, end: 1 }), 'shards [-1, 1) is not a span: it needs 0 ≤ start < end');
  assert.equal(
    spanProblem(manifest, { start: 0.5, end: 1 }),
    'shards [0.5, 1) is not a span: it needs 0 ≤ start < end',
  );
  assert.equal(spanProblem(manifest, { start: 3, end: 6 }), "shards [3, 6) reach past stories's 5 shards");
});

test('--shard takes K or A-B, both ends included', () => {
  assert.deepEqual(parseSpan('3'), { start: 3, end: 4 });
  assert.deepEqual(parseSpan('1-3'), { start: 1, end: 4 });
  assert.deepEqual(parseSpan(' 2-2 '), { start: 2, end: 3 });
  for (const bad of ['', '3-1', '-1', '1-', 'a', '1.5', '1-2-3']) assert.equal(parseSpan(bad), undefined, bad);
  assert.equal(formatSpan({ start: 3, end: 4 }), 'shard 3');
  assert.equal(formatSpan({ start: 1, end: 4 }), 'shards 1–3');
  assert.ok(spanContains({ start: 0, end: 3 }, { start: 1, end: 3 }));
  assert.ok(!spanContains({ start: 1, end: 3 }, { start: 0, end: 2 }));
  assert.ok(takesTokens({ start: 0, end: 2 }) && !takesTokens({ start: 1, end: 2 }));
});

test("a span's layers, embedding and head are its shards'", () => {
  assert.deepEqual(spanLayers(manifest, { start: 0, end: 2 }), { start: 0, end: 2, embedding: true, head: false });
  assert.deepEqual(spanLayers(manifest, { start: 1, end: 4 }), { start: 1, end: 4, embedding: false, head: false });
  assert.deepEqual(spanLayers(manifest, { start: 3, end: 5 }), { start: 3, end: 5, embedding: false, head: true });
});

test("a span's weights hash is its file's for one shard, and the hash of its files' digests for more", () => {
  assert.equal(spanSha256(manifest, { start: 2, end: 3 }), manifest.shards[2]!.sha256);
  const digests = manifest.shards.slice(1, 4).map((s) => Buffer.from(s.sha256, 'hex'));
  assert.equal(
    spanSha256(manifest, { start: 1, end: 4 }),
    createHash('sha256').update(Buffer.concat(digests)).digest('hex'),
  );
  assert.notEqual(spanSha256(manifest, { start: 1, end: 4 }), spanSha256(manifest, { start: 1, end: 3 }));
});

test("a span opens its files' tensors as one source, and only its own", () => {
  const opened = openSpanIn(dir, { start: 1, end: 4 });
  try {
    for (const l of [1, 2, 3]) assert.ok(opened.weights.has(`blk.${l}.attn_q.weight`), `layer ${l}`);
    for (const l of [0, 4]) assert.ok(!opened.weights.has(`blk.${l}.attn_q.weight`), `layer ${l}`);
    assert.ok(!opened.weights.has('token_embd.weight'));
    const entry = opened.weights.entry('blk.2.ffn_up.weight');
    const bytes = new Uint8Array(entry.byteSize);
    opened.weights.read('blk.2.ffn_up.weight', bytes);
    assert.ok(bytes.some((b) => b !== 0));
  } finally {
    opened.weights.close();
  }
  const whole = openSpanIn(dir, { start: 0, end: 5 });
  try {
    assert.ok(whole.weights.has('token_embd.weight') && whole.weights.has('output_norm.weight'));
  } finally {
    whole.weights.close();
  }
});

test('a span with a file that is not the manifest one is refused, naming the file', () => {
  const copy = mkdtempSync(join(tmpdir(), 'tessera-span-bad-'));
  try {
    shardModel(testModel('stories260K.gguf'), 5, copy, { modelId: 'stories' });
    appendFileSync(join(copy, manifest.shards[3]!.file), Buffer.from([0]));
    assert.throws(
      () => openSpanIn(copy, { start: 2, end: 5 }),
      (error) => error instanceof ShardIntegrityError && error.message.includes(manifest.shards[3]!.file),
    );
    assert.throws(() => openSpanIn(copy, { start: 2, end: 6 }), /reach past stories's 5 shards/);
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
});
