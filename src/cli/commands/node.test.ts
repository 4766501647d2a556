import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { CliError } from '../cli-error.ts';
import { modelFilesDir, shardSourceOf } from './node.ts';

test('a node serves a pre-cut shard (--shards-dir and --shard-index) or one the registry assigns (--registry and --model)', () => {
  assert.deepEqual(shardSourceOf({ shardsDir: 'shards', shardIndex: 1 }), {
    kind: 'pre-cut',
    shardsDir: 'shards',
    shardIndex: 1,
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
  usage({ shardsDir: 'shards' }, /--shards-dir and --shard-index go together/);
  usage({ shardsDir: 'shards', shardIndex: 0, model: 'm', registry: 'r:1' }, /pass one or the other/);
  usage({ model: 'm' }, /say which shard to serve: --registry HOST:PORT --model MODEL_ID/);
  usage({}, /say which shard to serve/);
  usage({ model: '../etc', registry: 'r:1' }, /--model must be a model id/);
});

test('an assigned node keeps its model files under --data-dir, else in the user cache', () => {
  assert.equal(modelFilesDir('m', '/var/tessera'), join('/var/tessera', 'models', 'm'));
  assert.match(modelFilesDir('m', undefined), /tessera[/\\]m$/);
});
