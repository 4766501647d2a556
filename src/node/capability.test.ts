import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openModel } from '../model/open-model.ts';
import { DEFAULT_MODEL_PATH } from '../model/default-model.ts';
import { createWasmBackend } from '../tensor/wasm-backend.ts';
import { createServer, type Server } from 'node:net';
import {
  band,
  capabilityManifest,
  measureEndpointRttMs,
  measureLayerMs,
  measureRttMs,
  networkBandOf,
  roleFits,
  speedTierOf,
} from './capability.ts';

test('bands are coarse: powers of two, tiers and round-trip bands at their bounds', () => {
  assert.deepEqual([0.5, 1, 3, 8, 15.9, 64].map(band), [0, 1, 2, 8, 8, 64]);
  assert.deepEqual([0.1, 9.99, 10, 49, 50, 199, 200, 999, 1_000, 60_000].map(speedTierOf), [
    'T1',
    'T1',
    'T2',
    'T2',
    'T3',
    'T3',
    'T4',
    'T4',
    'T5',
    'T5',
  ]);
  assert.deepEqual([undefined, 0.3, 2, 29, 30, 149, 150].map(networkBandOf), [
    'unmeasured',
    'lan',
    'regional',
    'regional',
    'continental',
    'continental',
    'global',
  ]);
  const manifest = capabilityManifest({ layerMs: 12, rttMs: 0.5, region: 'eu' });
  assert.equal(manifest.speedTier, 'T2');
  assert.equal(manifest.network, 'lan');
  assert.equal(Math.log2(manifest.memoryGiB) % 1, 0, 'memory is a power-of-two band');
  assert.equal(Math.log2(manifest.cpuCores) % 1, 0, 'cores are a power-of-two band');
});

test('the measured speed tier is the same in at least 9 of 10 runs on one machine', async () => {
  const model = openModel(DEFAULT_MODEL_PATH);
  const backend = await createWasmBackend({ threads: 1 });
  try {
    const tiers = Array.from({ length: 10 }, () => speedTierOf(measureLayerMs(model, backend)));
    const counts = new Map<string, number>();
    for (const t of tiers) counts.set(t, (counts.get(t) ?? 0) + 1);
    assert.ok(Math.max(...counts.values()) >= 9, `tiers over 10 runs: ${tiers.join(' ')}`);
  } finally {
    await backend.close();
    model.weights.close();
  }
});

test('a round trip is the least of ten timed pings after two untimed ones, and three suffice once the budget is spent', async () => {
  let pings = 0;
  const ping = async () => void pings++;
  assert.ok(Number.isFinite(await measureRttMs(ping)));
  assert.equal(pings, 12);
  pings = 0;
  await measureRttMs(ping, { budgetMs: 0 });
  assert.equal(pings, 5);
  pings = 0;
  await measureRttMs(ping, { runs: 4, warmups: 0 });
  assert.equal(pings, 4);
});

/** A loopback TCP listener that counts the connections made to it. */
async function countingListener(): Promise<{ server: Server; port: number; connections: () => number }> {
  let connections = 0;
  const server = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port, connections: () => connections };
}

test('the round trip to an endpoint is made of TCP handshakes: one to resolve its name, two to warm up, ten timed', async () => {
  const listener = await countingListener();
  try {
    const rttMs = await measureEndpointRttMs(`localhost:${listener.port}`);
    assert.ok(rttMs >= 0 && Number.isFinite(rttMs), `round trip ${rttMs}`);
    // The listener accepts each connection a moment after the client saw it made.
    const deadline = Date.now() + 5_000;
    while (listener.connections() < 13 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    assert.equal(listener.connections(), 13);
  } finally {
    await new Promise((resolve) => listener.server.close(resolve));
  }
  await assert.rejects(measureEndpointRttMs(`127.0.0.1:${listener.port}`), { code: 'ECONNREFUSED' });
  await assert.rejects(measureEndpointRttMs('no-port'), /is not HOST:PORT/);
});

test('roles fit by the memory each needs: the embedding for a driver, the head for a validator, a layer and the KV budget for all', () => {
  const model = openModel(DEFAULT_MODEL_PATH);
  try {
    const roomy = roleFits(model, 1 << 30, 1 << 20);
    assert.deepEqual(
      roomy.map((r) => [r.role, r.fits]),
      [
        ['driver', true],
        ['worker', true],
        ['validator', true],
        ['verifier', true],
        ['daemon', true],
      ],
    );
    assert.match(roomy[0]!.why, /up to 5 of 5 layers/);
    // Room for the KV budget and one layer, but not for the embedding or the (tied) head beside it.
    const layer = model.weights.entry('blk.0.attn_q.weight').byteSize;
    const tight = roleFits(model, (1 << 20) + 20 * layer, 1 << 20);
    assert.equal(tight.find((r) => r.role === 'worker')!.fits, true);
    const none = roleFits(model, 1 << 19, 1 << 20);
    assert.deepEqual(
      none.filter((r) => r.fits).map((r) => r.role),
      ['daemon'],
    );
    assert.match(none[1]!.why, /needs \d+ MiB free for one layer, has 0 MiB/);
  } finally {
    model.weights.close();
  }
});
