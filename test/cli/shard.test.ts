// `tessera shard` without --shards: one shard a layer, so the registry can give nodes any run of layers.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readManifest } from '../../src/model/shards/shard-files.ts';
import { testModel } from '../support/models.ts';
import { runTessera } from '../support/tessera-cli.ts';

const scratch = mkdtempSync(join(tmpdir(), 'tessera-shard-cli-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

test('tessera shard cuts one shard a layer unless told how many, the first with the embedding, the last with the head', async () => {
  const out = join(scratch, 'per-layer');
  const run = await runTessera(['shard', testModel('stories260K.gguf'), '--out', out, '--model-id', 'stories']);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^stories: 5 layers in 5 shards$/m);
  const manifest = readManifest(out);
  assert.deepEqual(
    manifest.shards.map((s) => [s.layerStart, s.layerEnd, s.embedding, s.head]),
    [
      [0, 1, true, false],
      [1, 2, false, false],
      [2, 3, false, false],
      [3, 4, false, false],
      [4, 5, false, true],
    ],
  );
  assert.match(run.stdout, /^ {2}shard 4 {2}layers 4-4 \+ head {2}stories\.shard-4-of-5\.gguf/m);
});
