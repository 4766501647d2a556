import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startRegistry, type RegistryHandle } from '../../src/registry/registry.ts';
import { RegistryClient } from '../../src/registry/registry-client.ts';
import {
  removeDir,
  snapshot,
  tempDir,
  testClusterConfig,
  waitFor,
  writeShardsDir,
} from '../support/registry-fixtures.ts';

const dir = tempDir('gossip');
writeShardsDir(join(dir, 'tiny'), 'tiny', 3);
const handles: RegistryHandle[] = [];
const clients = new Map<string, RegistryClient>();
after(async () => {
  for (const client of clients.values()) client.close();
  for (const handle of handles) await handle.close();
  removeDir(dir);
});

async function start(name: string, seeds: string[], clusterId = 'test'): Promise<RegistryHandle> {
  const handle = await startRegistry({
    port: 0,
    dbPath: join(dir, `${name}.db`),
    // Each round's call must finish within one interval: 30 ms was too short on a loaded 2-core machine.
    clusterConfig: testClusterConfig(dir, { clusterId, gossipIntervalMs: 250 }),
    seeds,
  });
  handles.push(handle);
  return handle;
}

/** What a client that knows only `endpoint` learns from it, itself included. */
async function learned(endpoint: string): Promise<string[]> {
  return (await clientOf(endpoint).exchangePeers()).map((p) => p.endpoint).sort();
}

function clientOf(endpoint: string): RegistryClient {
  if (!clients.has(endpoint)) clients.set(endpoint, new RegistryClient(endpoint));
  return clients.get(endpoint)!;
}

test('registries learn each other through seeds and ExchangePeers, so a client that knows one learns all', async () => {
  const b = await start('b', []);
  const a = await start('a', [b.endpoint]);
  const c = await start('c', [a.endpoint]);
  const all = [a.endpoint, b.endpoint, c.endpoint].sort();
  for (const registry of [a, b, c]) {
    await waitFor(
      `${registry.endpoint} to know all three registries`,
      async () => JSON.stringify(await learned(registry.endpoint)) === JSON.stringify(all),
    );
  }
  // The answering registry comes first, with its cluster id.
  const fromC = await clientOf(c.endpoint).exchangePeers();
  assert.equal(fromC[0]!.endpoint, c.endpoint);
  assert.ok(fromC.every((p) => p.clusterId === 'test'));

  // A registry of another cluster is asked once and never passed on.
  const stranger = await start('stranger', [a.endpoint], 'elsewhere');
  await waitFor('a to hear back from the other cluster', () =>
    snapshot(join(dir, 'a.db')).peers!.some(
      (p) =>
        (p as { endpoint: string; cluster_id: string }).endpoint === stranger.endpoint &&
        (p as { cluster_id: string }).cluster_id === 'elsewhere',
    ),
  );
  assert.deepEqual(await learned(a.endpoint), all);
});
