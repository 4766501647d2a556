// A node says what it is doing: READY, EXECUTING while it holds a session, READY again after, and
// UNSTAKING once the registry's ledger puts its stake in cooldown. Each state is visible at the
// registry (`tessera status`), in the node's /metrics and as one `node_state` log line per change; an
// unstaking node gets no session from a client and refuses an Open sent to it directly; a heartbeat
// naming no known state is refused and changes nothing. A registry on
// 127.0.0.1 keeping its stakes in its own ledger, in-process nodes serving stories260K in one shard.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { status, type ServiceError } from '@grpc/grpc-js';
import { connect, type TesseraClient } from '../../src/client/client.ts';
import { generateKeyPair, type KeyPair } from '../../src/crypto/keys.ts';
import { LedgerBackend } from '../../src/escrow/ledger-backend.ts';
import { Metrics } from '../../src/metrics/metrics.ts';
import { shardModel } from '../../src/model/shards/shard.ts';
import { startNode, type NodeHandle } from '../../src/node/node-server.ts';
import { parseClusterConfig } from '../../src/registry/cluster-config.ts';
import { startRegistry, type RegistryHandle } from '../../src/registry/registry.ts';
import { RegistryClient, type DiscoveredNode } from '../../src/registry/registry-client.ts';
import { reasonOf } from '../../src/rpc/status.ts';
import { ForwardClient } from '../support/node-cluster.ts';
import { testModel } from '../support/models.ts';
import { nodeBody, removeDir, tempDir, waitFor } from '../support/registry-fixtures.ts';
import { runTessera } from '../support/tessera-cli.ts';

const dir = tempDir('node-status');
const shardsDir = join(dir, 'shards');
const MODEL = 'stories260K';
const COOLDOWN_S = 3600;
const cleanups: (() => Promise<void> | void)[] = [];
let registry: RegistryHandle;
let ledger: LedgerBackend;
let registryClient: RegistryClient;
let client: TesseraClient;

/** A node with its own figures and the `node_state` lines it logged. */
interface StatusNode {
  readonly handle: NodeHandle;
  readonly metrics: Metrics;
  readonly states: Record<string, unknown>[];
}

before(async () => {
  shardModel(testModel('stories260K.gguf'), 1, shardsDir);
  const operator = generateKeyPair();
  const dbPath = join(dir, 'registry.db');
  ledger = new LedgerBackend({ path: dbPath, unstakeCooldownS: COOLDOWN_S, challengeWindowS: 0 });
  registry = await startRegistry({
    port: 0,
    host: '127.0.0.1',
    dbPath,
    settlement: ledger,
    stakes: ledger,
    accounts: ledger,
    clusterConfig: parseClusterConfig(
      {
        clusterId: 'status',
        models: [{ id: MODEL, manifest: 'shards', pricePer1kTokens: 5 }],
        // States reach the registry at each heartbeat: fast here, never evicted while the test runs.
        heartbeat: { intervalMs: 100, evictAfterMissed: 600 },
        stake: { minimum: { node: 10 }, unstakeCooldownS: COOLDOWN_S },
        challengeWindowS: 0,
        operatorKeys: [operator.address],
        rateLimit: { perSecond: 1000, burst: 1000 },
      },
      dir,
    ),
  });
  registryClient = new RegistryClient(registry.endpoint);
  cleanups.push(async () => {
    registryClient.close();
    await registry.close();
    await ledger.close();
  });
  grant = (key) => registryClient.grant(operator, key.address, { stake: 10n });
  client = await connect({ registries: [registry.endpoint], cacheDir: join(dir, 'client-cache') });
  cleanups.push(() => client.close());
});

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  removeDir(dir);
});

let grant: (key: KeyPair) => Promise<unknown>;

async function startStatusNode(): Promise<StatusNode> {
  const key = generateKeyPair();
  await grant(key);
  const metrics = new Metrics();
  const states: Record<string, unknown>[] = [];
  const handle = await startNode({
    shardsDir,
    shardIndex: 0,
    port: 0,
    registry: registry.endpoint,
    key,
    threads: 1,
    metrics,
    log: (event, fields) => {
      if (event === 'node_state') states.push(fields ?? {});
    },
  });
  cleanups.push(() => handle.close());
  return { handle, metrics, states };
}

const sample = async (node: StatusNode, line: string) =>
  Number(new RegExp(`^${line.replace(/[{}"]/g, '\\$&')} (\\S+)$`, 'm').exec(await node.metrics.render())?.[1] ?? NaN);

/** The one state whose gauge is 1, after checking that every other one is 0. */
async function metricState(node: StatusNode): Promise<string> {
  const text = await node.metrics.render();
  const values = Object.fromEntries(
    [...text.matchAll(/^tessera_node_state\{state="([A-Z]+)"\} (\S+)$/gm)].map((m) => [m[1]!, Number(m[2])]),
  );
  assert.deepEqual(Object.keys(values).sort(), ['EXECUTING', 'IDLE', 'READY', 'UNSTAKING']);
  const current = Object.entries(values).filter(([, v]) => v === 1);
  assert.equal(current.length, 1, `exactly one state at 1: ${JSON.stringify(values)}`);
  assert.equal(
    Object.values(values).reduce((a, b) => a + b, 0),
    1,
  );
  return current[0]![0];
}

/** The node as the registry lists it for `tessera status` (nodes getting no new work included). */
async function listed(nodeId: string): Promise<DiscoveredNode | undefined> {
  return (await registryClient.discover(MODEL, { includeIneligible: true })).nodes.find((n) => n.nodeId === nodeId);
}

const waitForListedState = (node: StatusNode, state: string) =>
  waitFor(`the registry to list ${node.handle.nodeId} as ${state}`, async () => {
    const found = await listed(node.handle.nodeId);
    return found?.state === state ? found : undefined;
  });

/** `tessera status --json`: the node's entry, as an operator reads it. */
async function cliStatus(nodeId: string): Promise<Record<string, unknown>> {
  const run = await runTessera(['status', '--json', '--registry', registry.endpoint]);
  assert.equal(run.code, 0, run.stderr);
  const parsed = JSON.parse(run.stdout) as {
    models: { shardsCoverage: { nodes: Record<string, unknown>[] }[]; uncovered: number[] }[];
  };
  const found = parsed.models[0]!.shardsCoverage.flatMap((s) => s.nodes).find((n) => n.nodeId === nodeId);
  assert.ok(found, `tessera status lists ${nodeId}: ${run.stdout}`);
  return found;
}

let first: StatusNode;

test('a node is READY, EXECUTING while a generation runs through it, READY after: at the registry, in /metrics and in its log', async () => {
  first = await startStatusNode();
  assert.equal(await metricState(first), 'READY');
  const ready = await waitForListedState(first, 'READY');
  assert.match(ready.tier!, /^T[1-5]$/, 'it announces the speed tier it measured on its own layer');
  // a band, never 'unmeasured': it timed its round trips to the registry (which band depends on load)
  assert.ok(
    ['lan', 'regional', 'continental', 'global'].includes(ready.network!),
    `it announces the band of the round trip it measured to its registry, not ${ready.network}`,
  );
  assert.equal(ready.eligible, true);

  const generation = client.generate({ model: MODEL, prompt: 'Once upon a time', maxTokens: 12 });
  const tokens = generation[Symbol.asyncIterator]();
  // The first token is out and the rest are not read: the session stays open on the node.
  assert.equal((await tokens.next()).done, false);
  assert.equal(await metricState(first), 'EXECUTING');
  assert.equal(await sample(first, 'tessera_node_sessions_open'), 1);
  await waitForListedState(first, 'EXECUTING');
  const shown = await cliStatus(first.handle.nodeId);
  assert.equal(shown.state, 'EXECUTING');
  assert.match(String(shown.tier), /^T[1-5]$/);

  while (!(await tokens.next()).done);
  await waitFor('the node to hold no session', async () => (await metricState(first)) === 'READY');
  await waitForListedState(first, 'READY');
  assert.equal((await cliStatus(first.handle.nodeId)).state, 'READY');
  assert.deepEqual(
    first.states.map((s) => [s.previous, s.state]),
    [
      ['READY', 'EXECUTING'],
      ['EXECUTING', 'READY'],
    ],
    'one console line per change',
  );
});

test('an unstaking node says UNSTAKING with its cooldown end, gets no session from a client and refuses an Open with NODE_UNSTAKING', async () => {
  const leaving = await startStatusNode();
  await waitForListedState(leaving, 'READY');
  const untilMs = await ledger.requestUnstake(leaving.handle.nodeId);
  assert.ok(untilMs > Date.now() + (COOLDOWN_S - 60) * 1000, 'the cooldown is still running');

  // The registry says so at once (its own stakes); the node hears it at its next heartbeat.
  const atRegistry = await listed(leaving.handle.nodeId);
  assert.deepEqual(
    [atRegistry?.state, atRegistry?.unstakingUntilMs, atRegistry?.eligible],
    ['UNSTAKING', untilMs, false],
  );
  await waitFor('the node to hear it is unstaking', async () => (await metricState(leaving)) === 'UNSTAKING');
  assert.deepEqual(leaving.states, [
    { state: 'UNSTAKING', previous: 'READY', sessions: 0, unstakingUntil: new Date(untilMs).toISOString() },
  ]);
  const shown = await cliStatus(leaving.handle.nodeId);
  assert.deepEqual([shown.state, shown.unstakingUntilMs, shown.eligible], ['UNSTAKING', untilMs, false]);
  const text = await runTessera(['status', '--registry', registry.endpoint]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(
    text.stdout,
    new RegExp(`${leaving.handle.nodeId}  UNSTAKING until ${new Date(untilMs).toISOString().replace(/\./g, '\\.')}`),
  );
  assert.match(text.stdout, /coverage: every shard has a node/, 'the other node still covers the shard');
  assert.deepEqual(
    (await registryClient.discover(MODEL)).nodes.map((n) => n.nodeId),
    [first.handle.nodeId],
    'routing never sees it',
  );

  // A client's generations all go to the other node.
  const servedBefore = await sample(first, 'tessera_node_tokens_processed_total');
  for (let i = 0; i < 3; i++) {
    const { tokens } = await client.generate({ model: MODEL, prompt: `Lily had ${i} cats`, maxTokens: 4 }).collect();
    assert.equal(tokens.length, 4);
  }
  assert.ok((await sample(first, 'tessera_node_tokens_processed_total')) > servedBefore);
  assert.equal(await sample(leaving, 'tessera_node_tokens_processed_total'), 0);

  // An Open sent to it directly is refused; an honest Open to the other node meanwhile is taken.
  const open = (node: StatusNode) => ({
    sessionId: randomBytes(8).toString('hex'),
    modelId: MODEL,
    route: [{ nodeId: node.handle.nodeId, endpoint: node.handle.endpoint, shardIndex: 0, shardEnd: 1 }],
    outputMode: 'off' as const,
  });
  const direct = new ForwardClient(leaving.handle.endpoint);
  const honest = new ForwardClient(first.handle.endpoint);
  cleanups.push(() => {
    direct.close();
    honest.close();
  });
  const [answer] = await Promise.all([direct.write({ open: open(leaving) }).next(), honest.openSession(open(first))]);
  assert.ok('error' in answer, `the unstaking node answered the Open with ${JSON.stringify(answer)}`);
  const refusal = answer.error;
  assert.equal(status[refusal.code], status[status.UNAVAILABLE], refusal.details);
  assert.equal(reasonOf(refusal), 'NODE_UNSTAKING', refusal.details);
  assert.match(refusal.details, new RegExp(`takes no new session; open it on another node holding shard 0$`));
  assert.equal(await sample(leaving, 'tessera_node_sessions_open'), 0, 'it holds nothing for the refused Open');
  assert.equal(await metricState(leaving), 'UNSTAKING');
  assert.equal(await sample(first, 'tessera_node_sessions_open'), 1, 'the honest Open was taken');
});

test('the registry keeps the state each heartbeat reports and refuses one that names no state, changing nothing', async () => {
  const key = generateKeyPair();
  await grant(key);
  const body = (state: string) =>
    nodeBody(key, {
      modelId: MODEL,
      shardIndex: 0,
      endpoint: '127.0.0.1:50999',
      load: { activeSessions: 1, maxSessions: 8, computeUsPerToken: 100, state: state as 'READY' },
    });
  await registryClient.register(key, body('READY'));
  await registryClient.heartbeat(key, body('EXECUTING'));
  assert.equal((await listed(key.address))?.state, 'EXECUTING');
  const refused = await registryClient.heartbeat(key, body('BUSY')).then(
    () => assert.fail('a heartbeat naming state BUSY was taken'),
    (error: ServiceError) => error,
  );
  assert.equal(status[refused.code], status[status.INVALID_ARGUMENT], refused.details);
  assert.equal(reasonOf(refused), 'MALFORMED_REQUEST', refused.details);
  assert.match(refused.details, /load/);
  assert.equal((await listed(key.address))?.state, 'EXECUTING', 'the stored state is unchanged');
  await registryClient.unregister(key, body('READY'));
});
