// Churn (issue 12): six operators' nodes joined with `tessera node --registry --model` (real
// processes, memory for one shard each) and a short --rebalance-interval, killed with -9 and started again at random over
// several rounds. After each round every shard is served again (by restarted nodes joining where
// they are needed, or by nodes moving) and the gateway answers the golden stories260K text. The
// random choices come from a seed printed with the test, so a failing run can be replayed
// (TESSERA_CHURN_SEED=…; CI runs seed 7, so that a red run is the code's, not the draw's).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeNewKeyFile } from '../../src/crypto/keys.ts';
import { startGateway } from '../../src/gateway/gateway.ts';
import { seededRandom } from '../support/fuzz.ts';
import { localGreedy } from '../support/local-reference.ts';
import { oneShardMemoryMb, startModelRegistry } from '../support/model-registry.ts';
import { joinArgs, spawnNodeProcess, type NodeProcess } from '../support/node-process.ts';
import { waitFor } from '../support/registry-fixtures.ts';
import { processScratch } from '../support/process-scratch.ts';

const NODES = 6;
const SHARDS = 3;
const ROUNDS = 3;

const { scratch, children, cleanups } = processScratch('churn');
test('nodes killed and started again at random keep every shard covered and the gateway answering', async (t) => {
  const seed = Number(process.env.TESSERA_CHURN_SEED ?? 7);
  t.diagnostic(`churn seed ${seed}`);
  const random = seededRandom(seed);
  const pick = <T>(from: readonly T[], count: number): T[] => {
    const left = [...from];
    return Array.from(
      { length: Math.min(count, left.length) },
      () => left.splice(Math.floor(random() * left.length), 1)[0]!,
    );
  };

  // Short heartbeats: a killed node drops out of the listing within seconds.
  const { registry, client, manifest, modelId } = await startModelRegistry(scratch, {
    name: 'churn',
    shards: SHARDS,
    quickEviction: true,
    cleanups,
  });
  const gateway = await startGateway({ registries: [registry.endpoint], port: 0, cacheDir: join(scratch, 'gateway') });
  cleanups.push(() => gateway.close());
  const golden = (await localGreedy('Once upon a time', 16)).text;

  const start = (i: number): NodeProcess =>
    spawnNodeProcess(
      [
        ...joinArgs(registry.endpoint, modelId, join(scratch, `node${i}.key`), join(scratch, `data${i}`)),
        ...['--rebalance-interval', '1', '--memory-mb', oneShardMemoryMb(manifest)],
      ],
      children,
    );
  for (let i = 0; i < NODES; i++) writeNewKeyFile(join(scratch, `node${i}.key`));
  const running: (NodeProcess | undefined)[] = Array.from({ length: NODES }, (_, i) => start(i));
  await Promise.all(running.map((n) => n!.started));

  /** Where each running node serves now: its last node_started (a move starts the server again). */
  const endpointsServing = () =>
    new Set(
      running.flatMap((n) => {
        const last = n?.events.filter((e) => e.event === 'node_started').at(-1);
        return last === undefined ? [] : [String(last.endpoint)];
      }),
    );
  /** Every shard listed with a node, and every node listed alive: the killed ones evicted. */
  const settled = async () => {
    const listed = (await client.discover(modelId)).nodes;
    const alive = endpointsServing();
    const shards = new Set(listed.map((n) => n.shardIndex));
    const ok = shards.size === SHARDS && listed.every((n) => alive.has(n.endpoint));
    return ok ? listed : undefined;
  };
  const complete = async () => {
    const response = await fetch(`${gateway.url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: modelId, prompt: 'Once upon a time', max_tokens: 16, temperature: 0 }),
    });
    assert.equal(response.status, 200, await response.clone().text());
    return ((await response.json()) as { choices: { text: string }[] }).choices[0]!.text;
  };

  await waitFor('every shard covered at the start', settled, 60_000);
  assert.equal(await complete(), golden);

  for (let round = 1; round <= ROUNDS; round++) {
    const alive = running.flatMap((n, i) => (n === undefined ? [] : [i]));
    // At least half stay up, so that some node can always take each shard.
    const victims = pick(alive, 1 + Math.floor(random() * (alive.length - SHARDS)));
    for (const i of victims) {
      running[i]!.child.kill('SIGKILL');
      await running[i]!.exited;
      running[i] = undefined;
    }
    const dead = running.flatMap((n, i) => (n === undefined ? [i] : []));
    const restarted = pick(dead, Math.floor(random() * (dead.length + 1)));
    t.diagnostic(`round ${round}: killed ${victims.join(',')}, restarted ${restarted.join(',') || 'none'}`);
    for (const i of restarted) running[i] = start(i);
    await Promise.all(restarted.map((i) => running[i]!.started));
    const listed = await waitFor(`every shard covered after round ${round}`, settled, 60_000);
    assert.deepEqual(
      [...new Set(listed.map((n) => n.shardIndex))].sort(),
      manifest.shards.map((s) => s.index),
      `round ${round}`,
    );
    assert.equal(await complete(), golden, `round ${round}`);
  }
});
