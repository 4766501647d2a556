import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPair } from '../crypto/keys.ts';
import { shardModel } from '../model/shards/shard.ts';
import { parseClusterConfig } from '../registry/cluster-config.ts';
import { startRegistry } from '../registry/registry.ts';
import { removeDir, snapshot, tempDir } from '../../test/support/registry-fixtures.ts';
import { testModel } from '../../test/support/models.ts';
import { startVerifier } from './verifier.ts';

const dir = tempDir('verifier');
after(() => removeDir(dir));

test('a verifier needs a key and at least one shard file it can recompute', async () => {
  const shards = join(dir, 'empty');
  const manifest = shardModel(testModel('stories260K.gguf'), 2, shards);
  for (const entry of manifest.shards) rmSync(join(shards, entry.file));
  await assert.rejects(
    startVerifier({ registry: '127.0.0.1:1', shardsDirs: [shards] }),
    /a verifier needs a key: pass key or keyPath/,
  );
  await assert.rejects(
    startVerifier({ registry: '127.0.0.1:1', shardsDirs: [], key: generateKeyPair() }),
    /at least one shards directory/,
  );
  await assert.rejects(
    startVerifier({ registry: '127.0.0.1:1', shardsDirs: [shards], key: generateKeyPair(), log: () => {} }),
    /no shard files found in .*empty: a verifier recomputes the shards it holds/,
  );
});

test('a verifier registers as role "verifier" and unregisters when closed', async () => {
  const shards = join(dir, 'shards');
  const manifest = shardModel(testModel('stories260K.gguf'), 2, shards);
  const dbPath = join(dir, 'registry.db');
  const registry = await startRegistry({
    port: 0,
    host: '127.0.0.1',
    dbPath,
    clusterConfig: parseClusterConfig({ clusterId: 'v', models: [{ id: manifest.modelId, manifest: 'shards' }] }, dir),
  });
  try {
    const key = generateKeyPair();
    const verifier = await startVerifier({
      registry: registry.endpoint,
      shardsDirs: [shards],
      key,
      pollMs: 10,
      log: () => {},
    });
    assert.equal(verifier.verifierId, key.address);
    const [row] = snapshot(dbPath).nodes as { node_id: string; role: string; status: string }[];
    assert.deepEqual([row?.node_id, row?.role, row?.status], [key.address, 'verifier', 'live']);
    await verifier.close();
    assert.deepEqual(snapshot(dbPath).nodes, []);
    assert.deepEqual(verifier.stats(), { passed: 0, proofs: 0, errors: 0 });
  } finally {
    await registry.close();
  }
});
