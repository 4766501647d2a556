import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startRegistry, type RegistryHandle } from '../../src/registry/registry.ts';
import { RegistryClient } from '../../src/registry/registry-client.ts';
import { generateKeyPair, type KeyPair } from '../../src/crypto/keys.ts';
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

/** The keys of the test cluster's registries, as its config lists them. */
const keys = new Map(['a', 'b', 'c'].map((name) => [name, generateKeyPair()]));
const registryKeys = [...keys.values()].map((k) => k.address);

async function start(
  name: string,
  seeds: string[],
  clusterId = 'test',
  key: KeyPair | undefined = keys.get(name),
  log?: (event: string, fields?: Record<string, unknown>) => void,
): Promise<RegistryHandle> {
  const handle = await startRegistry({
    port: 0,
    dbPath: join(dir, `${name}.db`),
    // Each round's call must finish within one interval: 30 ms was too short on a loaded 2-core machine.
    clusterConfig: testClusterConfig(dir, { clusterId, gossipIntervalMs: 250, registryKeys }),
    seeds,
    ...(key === undefined ? {} : { key }),
    ...(log === undefined ? {} : { log }),
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

  // A registry whose key the config does not list is refused, however it signs, and never learned.
  const refused: unknown[] = [];
  const stranger = await start('stranger', [a.endpoint], 'test', generateKeyPair(), (event, fields) => {
    if (event === 'peer_unreachable') refused.push(fields?.error);
  });
  await waitFor('a to refuse the stranger', () => refused.length > 0);
  assert.match(String(refused[0]), /PERMISSION_DENIED: .* is neither a seed of this registry nor shows an identity/);
  assert.ok(
    !snapshot(join(dir, 'a.db')).peers!.some((p) => (p as { endpoint: string }).endpoint === stranger.endpoint),
  );
  assert.deepEqual(await learned(a.endpoint), all);
});

test('a seed of another cluster refuses this cluster and is never passed on', async () => {
  const other = await start('other', [], 'elsewhere', undefined);
  const refused: unknown[] = [];
  const d = await start('d', [other.endpoint], 'test', undefined, (event, fields) => {
    if (event === 'peer_unreachable') refused.push(fields?.error);
  });
  await waitFor('d to be refused by the other cluster', () => refused.length > 0);
  assert.match(String(refused[0]), /PERMISSION_DENIED: .* of cluster "elsewhere"/);
  assert.deepEqual(await learned(d.endpoint), [d.endpoint]);
});
