// A client given one registry learns the others by ExchangePeers and keeps working through them
// when the one it knew goes away.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { connect, type TesseraClient } from '../../src/client/client.ts';
import { generateKeyPair } from '../../src/crypto/keys.ts';
import { startRegistry, type RegistryHandle } from '../../src/registry/registry.ts';
import { removeDir, tempDir, testClusterConfig, waitFor, writeShardsDir } from '../support/registry-fixtures.ts';

const dir = tempDir('network-registries');
let first: RegistryHandle | undefined;
let second: RegistryHandle;
let client: TesseraClient;
// Registries gossip only with seeds and registries whose identity a key of the cluster config signed.
const keys = [generateKeyPair(), generateKeyPair()];
const registryKeys = keys.map((k) => k.address);

before(async () => {
  writeShardsDir(join(dir, 'tiny'), 'tiny', 3);
  first = await startRegistry({
    port: 0,
    host: '127.0.0.1',
    dbPath: join(dir, 'first.db'),
    clusterConfig: testClusterConfig(dir, { gossipIntervalMs: 100, registryKeys }),
    key: keys[0]!,
  });
  second = await startRegistry({
    port: 0,
    host: '127.0.0.1',
    dbPath: join(dir, 'second.db'),
    clusterConfig: testClusterConfig(dir, { gossipIntervalMs: 100, registryKeys }),
    key: keys[1]!,
    seeds: [first.endpoint],
  });
});

after(async () => {
  client?.close();
  await first?.close();
  await second?.close();
  removeDir(dir);
});

test('a client that knows one registry learns the other and fails over to it', async () => {
  client = await connect({ registries: [first!.endpoint], registryDeadlineMs: 2000 });
  // the first registry passes the second on once it has heard back from it
  await waitFor('the client to learn the second registry', async () =>
    (await client.status()).registries.includes(second.endpoint),
  );
  assert.equal(client.registries[0], first!.endpoint);
  await first!.close();
  first = undefined;
  assert.deepEqual(
    (await client.models()).map((m) => m.modelId),
    ['tiny'],
  );
  assert.equal(client.registries[0], second.endpoint);
});
