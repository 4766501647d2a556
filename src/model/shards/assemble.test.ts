import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256File } from '../../crypto/hash.ts';
import { testModel } from '../../../test/support/models.ts';
import type { ManifestTensor } from '../manifest.ts';
import { assembleShard, shardTensors, ShardHashMismatchError } from './assemble.ts';
import { shardModel } from './shard.ts';

const STORIES = testModel('stories260K.gguf');
const scratch = mkdtempSync(join(tmpdir(), 'tessera-assemble-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** A tensor's bytes read from the source file at the manifest's offset, in chunks as a download gives them. */
function* fromSource(tensor: ManifestTensor): Iterable<Uint8Array> {
  const fd = openSync(STORIES, 'r');
  try {
    for (let at = 0; at < tensor.bytes; at += 4096) {
      const chunk = new Uint8Array(Math.min(4096, tensor.bytes - at));
      readSync(fd, chunk, 0, chunk.length, tensor.offset + at);
      yield chunk;
    }
  } finally {
    closeSync(fd);
  }
}

for (const shards of [2, 3]) {
  test(`every shard of stories260K cut in ${shards}, assembled from the source's tensors, is the cut file byte for byte`, () => {
    const cutDir = join(scratch, `cut-${shards}`);
    const manifest = shardModel(STORIES, shards, cutDir);
    assert.ok(manifest.tensors !== undefined && manifest.tensors.length > 0);
    const out = join(scratch, `assembled-${shards}`);
    mkdirSync(out);
    for (const entry of manifest.shards) {
      const path = join(out, entry.file);
      const bytes = assembleShard({
        manifest,
        entry,
        tokenizerPath: join(cutDir, manifest.tokenizerFile),
        path,
        read: fromSource,
      });
      assert.equal(bytes, entry.bytes);
      assert.equal(sha256File(path), entry.sha256, `shard ${entry.index}`);
      assert.equal(sha256File(path), sha256File(join(cutDir, entry.file)));
    }
  });
}

test('a tensor whose bytes differ from the manifest is refused by name, and no file appears', () => {
  const cutDir = join(scratch, 'cut-tamper');
  const manifest = shardModel(STORIES, 2, cutDir);
  const entry = manifest.shards[1]!;
  const victim = shardTensors(manifest, entry)[3]!;
  const out = join(scratch, 'assembled-tamper');
  mkdirSync(out);
  const path = join(out, entry.file);
  assert.throws(
    () =>
      assembleShard({
        manifest,
        entry,
        tokenizerPath: join(cutDir, manifest.tokenizerFile),
        path,
        read: (tensor) => {
          const bytes = Buffer.concat([...fromSource(tensor)]);
          if (tensor.name === victim.name) bytes[bytes.length >> 1] ^= 1;
          return bytes;
        },
      }),
    (error) =>
      error instanceof ShardHashMismatchError && error.code === 'SHARD_HASH_MISMATCH' && error.tensor === victim.name,
  );
  assert.equal(existsSync(path), false);
  assert.deepEqual(readdirSync(out), [], 'no partial file left behind');
  // The same call with honest bytes succeeds.
  assembleShard({ manifest, entry, tokenizerPath: join(cutDir, manifest.tokenizerFile), path, read: fromSource });
  assert.equal(sha256File(path), entry.sha256);
});

test('the manifest lists every tensor of the source once, with its offset, size and hash', () => {
  const manifest = shardModel(STORIES, 3, join(scratch, 'cut-describe'));
  const tensors = manifest.tensors!;
  const names = tensors.map((t) => t.name);
  assert.equal(new Set(names).size, names.length);
  assert.deepEqual(
    tensors.filter((t) => typeof t.layer === 'number').length % manifest.config.layers,
    0,
    'the same tensors in every layer',
  );
  const embedding = tensors.find((t) => t.name === 'token_embd.weight')!;
  assert.equal(embedding.layer, 'embedding');
  assert.equal(embedding.bytes, Buffer.concat([...fromSource(embedding)]).length);
  // Each shard's tensors together are what it holds: its layers' plus the embedding or head.
  const all = manifest.shards.flatMap((s) => shardTensors(manifest, s).map((t) => t.name));
  for (const name of names) assert.ok(all.includes(name), name);
});
