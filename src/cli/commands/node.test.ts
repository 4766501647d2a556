import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { CliError } from '../cli-error.ts';
import { modelFilesDir, parseShardOption, shardSourceOf } from './node.ts';

test('a node serves pre-cut shards (--shards-dir and --shard) or those the registry assigns (--registry and --model)', () => {
  assert.deepEqual(shardSourceOf({ shardsDir: 'shards', shard: { start: 1, end: 4 } }), {
    kind: 'pre-cut',
    shardsDir: 'shards',
    span: { start: 1, end: 4 },
  });
  assert.deepEqual(shardSourceOf({ shardsDir: 'shards', shardIndex: 1 }), {
    kind: 'pre-cut',
    shardsDir: 'shards',
    span: { start: 1, end: 2 },
  });
  assert.deepEqual(shardSourceOf({ registry: '127.0.0.1:50050', model: 'stories260K' }), {
    kind: 'assigned',
    modelId: 'stories260K',
    registry: '127.0.0.1:50050',
  });
  const usage = (options: Parameters<typeof shardSourceOf>[0], message: RegExp) =>
    assert.throws(
      () => shardSourceOf(options),
      (error: unknown) => error instanceof CliError && message.test(error.message),
    );
  usage({ shardsDir: 'shards' }, /--shards-dir and --shard go together/);
  usage({ shard: { start: 0, end: 1 } }, /--shards-dir and --shard go together/);
  usage({ shardsDir: 'shards', shardIndex: 0, model: 'm', registry: 'r:1' }, /pass one or the other/);
  usage({ shardsDir: 'shards', shard: { start: 0, end: 2 }, model: 'm', registry: 'r:1' }, /pass one or the other/);
  usage(
    { shardsDir: 'shards', shard: { start: 0, end: 2 }, shardIndex: 0 },
    /--shard and --shard-index both name the shards to hold: pass --shard alone/,
  );
  usage({ model: 'm' }, /say which shards to serve: --registry HOST:PORT --model MODEL_ID/);
  usage({}, /say which shards to serve/);
  usage({ model: '../etc', registry: 'r:1' }, /--model must be a model id/);
});

test('an assigned node keeps its model files under --data-dir, else in the user cache', () => {
  assert.equal(modelFilesDir('m', '/var/tessera'), join('/var/tessera', 'models', 'm'));
  assert.match(modelFilesDir('m', undefined), /tessera[/\\]m$/);
});

test('--shard takes K or A-B (both included), and names the mistake in anything else', () => {
  assert.deepEqual(parseShardOption('3'), { start: 3, end: 4 });
  assert.deepEqual(parseShardOption('0-2'), { start: 0, end: 3 });
  assert.deepEqual(parseShardOption('4-4'), { start: 4, end: 5 });
  for (const bad of ['', 'x', '-1', '2-1', '1-', '1-2-3', '1.5', '0,2'])
    assert.throws(
      () => parseShardOption(bad),
      (error: unknown) =>
        error instanceof CliError &&
        error.exitCode === 2 &&
        error.message ===
          `--shard must be a shard K or a run of shards A-B (both included, A ≤ B), as in 3 or 0-2; got "${bad}"`,
    );
});
