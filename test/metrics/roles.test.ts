// Every long-running role as a real process (registry, daemon, verifier, two shard nodes, gateway),
// each with its /metrics and /healthz endpoint: a generation through the gateway moves the counters
// by exactly what it did, and /healthz turns 503 when the registry goes away.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { RoleProcess } from '../../src/cli/role-process.ts';
import { metricsPortBeside } from '../../src/cli/serve.ts';
import { writeNewKeyFile } from '../../src/crypto/keys.ts';
import type { Manifest } from '../../src/model/manifest.ts';
import { shardModel } from '../../src/model/shards/shard.ts';
import { waitFor } from '../support/registry-fixtures.ts';
import { runTessera } from '../support/tessera-cli.ts';
import { testModel } from '../support/models.ts';

const workDir = mkdtempSync(join(tmpdir(), 'tessera-role-metrics-'));
// The gateway process keeps its tokenizer cache here, not in the user's.
process.env.TESSERA_CACHE = join(workDir, 'cache');
const roles: RoleProcess[] = [];
let manifest: Manifest;
let registry: RoleProcess;
let daemon: RoleProcess;
let verifier: RoleProcess;
let nodes: RoleProcess[];
let gateway: RoleProcess;

function start(name: string, args: string[], startEvent: string): RoleProcess {
  const role = new RoleProcess({
    name,
    args: [...args, '--metrics-port', '0'],
    startEvent,
    logFile: join(workDir, `${name}.log`),
  });
  roles.push(role);
  return role;
}

const keyFile = (name: string) => {
  const path = join(workDir, `${name}.key`);
  writeNewKeyFile(path);
  return path;
};

before(async () => {
  const shardsDir = join(workDir, 'shards');
  manifest = shardModel(testModel('stories260K.gguf'), 2, shardsDir);
  const clusterConfig = join(workDir, 'cluster.json');
  // Only a staked daemon leads slots: the cluster's operator grants the daemon its stake.
  const operatorKey = join(workDir, 'operator.key');
  const operator = writeNewKeyFile(operatorKey);
  writeFileSync(
    clusterConfig,
    JSON.stringify({
      clusterId: 'metrics',
      operatorKeys: [operator.address],
      models: [{ id: manifest.modelId, manifest: 'shards' }],
      heartbeat: { intervalMs: 300, evictAfterMissed: 3 },
      // every prefill step is audited, so each node tickets exactly one step per session
      audit: { samplingRate: 1, canaryRate: 0 },
    }),
  );
  registry = start(
    'registry',
    ['registry', '--port', '0', '--cluster-config', clusterConfig, '--db', join(workDir, 'registry.db')],
    'registry_started',
  );
  await registry.ready;
  const registryEndpoint = String(registry.started.endpoint);
  const daemonKey = join(workDir, 'daemon.key');
  const grant = await runTessera([
    'grant',
    '--key',
    operatorKey,
    '--to',
    writeNewKeyFile(daemonKey).address,
    '--stake',
    '1',
    '--registry',
    registryEndpoint,
  ]);
  assert.equal(grant.code, 0, grant.stderr);
  // Only a staked verifier leases tickets.
  const verifierKey = join(workDir, 'verifier.key');
  const verifierGrant = await runTessera([
    'grant',
    '--key',
    operatorKey,
    '--to',
    writeNewKeyFile(verifierKey).address,
    '--stake',
    '1',
    '--registry',
    registryEndpoint,
  ]);
  assert.equal(verifierGrant.code, 0, verifierGrant.stderr);
  daemon = start(
    'daemon',
    [
      'daemon',
      '--port',
      '0',
      '--registry',
      registryEndpoint,
      '--db',
      join(workDir, 'chain.db'),
      '--key',
      daemonKey,
      '--verify-threads',
      '1',
      '--block-interval-ms',
      '300',
    ],
    'daemon_started',
  );
  verifier = start(
    'verifier',
    ['verifier', '--registry', registryEndpoint, '--shards-dir', shardsDir, '--key', verifierKey, '--threads', '1'],
    'verifier_started',
  );
  await Promise.all([daemon.ready, verifier.ready]);
  nodes = [0, 1].map((shard) =>
    start(
      `node-${shard}`,
      [
        'node',
        '--shard-index',
        String(shard),
        '--shards-dir',
        shardsDir,
        '--registry',
        registryEndpoint,
        '--daemon',
        String(daemon.started.endpoint),
        '--port',
        '0',
        '--key',
        keyFile(`node-${shard}`),
        '--threads',
        '1',
      ],
      'node_started',
    ),
  );
  gateway = start('gateway', ['gateway', '--registry', registryEndpoint, '--port', '0'], 'gateway_started');
  await Promise.all([...nodes, gateway].map((r) => r.ready));
});

after(async () => {
  await Promise.all(roles.map((r) => r.stop()));
  rmSync(workDir, { recursive: true, force: true });
});

/** One scrape: every sample line, keyed by its name and labels exactly as written. */
async function scrape(role: RoleProcess): Promise<Map<string, number>> {
  const response = await fetch(role.metricsUrl!);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  const samples = new Map<string, number>();
  for (const line of (await response.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

const series = (samples: Map<string, number>, prefix: string) =>
  [...samples.keys()].filter((k) => k.startsWith(prefix));

async function health(
  role: RoleProcess,
): Promise<{ status: number; body: { status: string; role: string; reason?: string } }> {
  const response = await fetch(role.metricsUrl!.replace(/\/metrics$/, '/healthz'));
  return {
    status: response.status,
    body: (await response.json()) as { status: string; role: string; reason?: string },
  };
}

test('every role logs its metrics URL and answers /healthz 200 once it serves', async () => {
  for (const role of roles) {
    assert.match(role.metricsUrl ?? '', /^http:\/\/127\.0\.0\.1:\d+\/metrics$/, role.name);
    const { status, body } = await health(role);
    assert.equal(status, 200, `${role.name}: ${JSON.stringify(body)}`);
    assert.equal(body.role, role.name.replace(/-\d+$/, ''));
    const samples = await scrape(role);
    assert.ok(samples.get('process_resident_memory_bytes')! > 0, `${role.name} reports its memory`);
  }
  const registered = await scrape(registry);
  assert.equal(
    registered.get('tessera_registry_admissions_total{kind="register",result="accepted"}'),
    4,
    'a daemon, a verifier and two nodes registered',
  );
  assert.equal(registered.get(`tessera_registry_live_nodes{model="${manifest.modelId}",shard="0"}`), 1);
  assert.equal(registered.get(`tessera_registry_live_nodes{model="${manifest.modelId}",shard="1"}`), 1);
  assert.equal(registered.get('tessera_registry_live_members{role="daemon"}'), 1);
  assert.equal(registered.get('tessera_registry_live_members{role="verifier"}'), 1);
});

test("a generation moves every role's counters by exactly what it did", async () => {
  const response = await fetch(`${gateway.started.url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: manifest.modelId, prompt: 'Once upon a time', max_tokens: 12, temperature: 0 }),
  });
  assert.equal(response.status, 200);
  const body = (await response.json()) as {
    choices: { finish_reason: string }[];
    usage: { prompt_tokens: number; completion_tokens: number };
  };
  const { prompt_tokens: promptTokens, completion_tokens: completionTokens } = body.usage;
  const finish = body.choices[0]!.finish_reason;
  // The prefill makes the first token; each later token is one decode step; a stop token costs a step too.
  const steps = completionTokens + (finish === 'stop' ? 1 : 0);
  // The last token generated at the length limit is never fed back through the layers.
  const positions = promptTokens + completionTokens - (finish === 'length' ? 1 : 0);

  const gatewayed = await scrape(gateway);
  assert.equal(gatewayed.get('tessera_gateway_requests_total{route="/v1/completions",status="200"}'), 1);
  assert.equal(gatewayed.get('tessera_gateway_tokens_generated_total'), completionTokens);
  assert.equal(gatewayed.get('tessera_gateway_time_to_first_token_seconds_count'), 1);
  assert.equal(gatewayed.get('tessera_gateway_time_to_first_token_seconds_bucket{le="+Inf"}'), 1);

  for (const [shard, node] of nodes.entries()) {
    // The session closes on every node once the gateway has its answer.
    const samples = await waitFor(`${node.name}'s session closed`, async () => {
      const s = await scrape(node);
      return s.get('tessera_node_sessions_open') === 0 ? s : undefined;
    });
    assert.equal(samples.get('tessera_node_forward_steps_total{kind="prefill"}'), 1, node.name);
    assert.equal(samples.get('tessera_node_forward_steps_total{kind="decode"}'), steps - 1, node.name);
    assert.equal(samples.get('tessera_node_tokens_processed_total'), positions, node.name);
    assert.equal(samples.get('tessera_node_forward_seconds_count{kind="prefill"}'), 1);
    assert.equal(samples.get('tessera_node_forward_seconds_bucket{kind="decode",le="+Inf"}'), steps - 1);
    assert.equal(samples.get('tessera_node_kv_cache_bytes'), 0, 'a closed session lets go of its cache');
    assert.equal(samples.get('tessera_node_kv_cache_budget_bytes'), 512 * 1024 * 1024);
    assert.deepEqual(series(samples, 'tessera_node_stream_errors_total{'), [], 'no stream ended in an error');
    const settled = await waitFor(`${node.name}'s shares acknowledged and its ticket taken`, async () => {
      const s = await scrape(node);
      return s.get('tessera_node_shares_acknowledged_total') === steps &&
        // shard 0's step is the prompt: it tickets nothing
        s.get('tessera_node_tickets_submitted_total') === (shard === 0 ? 0 : 1)
        ? s
        : undefined;
    });
    assert.equal(settled.get('tessera_node_shares_submitted_total'), steps, 'one share per step');
  }

  const chained = await waitFor('the shares in blocks', async () => {
    const s = await scrape(daemon);
    return s.get('tessera_daemon_pending_shares') === 0 && s.get('tessera_daemon_chain_height')! > 0 ? s : undefined;
  });
  assert.equal(chained.get('tessera_daemon_shares_total{result="accepted"}'), steps * nodes.length);
  assert.deepEqual(
    series(chained, 'tessera_daemon_shares_total{').filter((k) => !k.includes('"accepted"')),
    [],
    'no share refused',
  );
  // The only daemon produces every block above genesis.
  assert.equal(chained.get('tessera_daemon_blocks_produced_total'), chained.get('tessera_daemon_chain_height'));
  assert.ok(chained.get('tessera_daemon_base_fee_per_token')! > 0);

  // Shard 0's step holds the prompt and leaves no ticket; the verifier audits shard 1's.
  const audited = await waitFor('the ticket audited', async () => {
    const s = await scrape(verifier);
    return s.get('tessera_verifier_passes_reported_total') === nodes.length - 1 ? s : undefined;
  });
  assert.equal(audited.get('tessera_verifier_tickets_audited_total{result="match"}'), nodes.length - 1);
  assert.equal(audited.get('tessera_verifier_tickets_audited_total{result="mismatch"}'), 0);
  assert.equal(audited.get('tessera_verifier_recompute_seconds_count'), nodes.length - 1);
  await waitFor(
    'no ticket left queued',
    async () => (await scrape(registry)).get('tessera_registry_tickets_queued') === 0,
  );
  const registered = await scrape(registry);
  assert.equal(registered.get('tessera_registry_tickets_queued'), 0);
  assert.equal(registered.get('tessera_registry_fraud_proofs_total{outcome="confirmed"}'), 0);
});

/** A `tessera` command that is expected to fail: its exit code and stderr. */
async function failing(args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    await promisify(execFile)(process.execPath, ['bin/tessera.js', ...args]);
  } catch (error) {
    return error as { code: number; stderr: string };
  }
  throw new Error(`tessera ${args.join(' ')} succeeded`);
}

test('bad metrics flags are refused with what to do, and change nothing', async () => {
  const config = join(workDir, 'cluster.json');
  const outOfRange = await failing([
    'registry',
    '--cluster-config',
    config,
    '--db',
    join(workDir, 'other.db'),
    '--metrics-port',
    '70000',
  ]);
  assert.equal(outOfRange.code, 2);
  assert.match(outOfRange.stderr, /--metrics-port must be an integer from 0 to 65535, got "70000"/);
  const taken = Number(new URL(registry.metricsUrl!).port);
  const clash = await failing([
    'registry',
    '--port',
    '0',
    '--cluster-config',
    config,
    '--db',
    join(workDir, 'other.db'),
    '--metrics-port',
    String(taken),
  ]);
  assert.equal(clash.code, 1);
  assert.match(
    clash.stderr,
    new RegExp(
      `cannot serve metrics on 127\\.0\\.0\\.1:${taken}: listen EADDRINUSE.*; choose another --metrics-port \\(0: any free port\\)`,
    ),
  );
  assert.equal(existsSync(join(workDir, 'other.db')), false, 'refused before any database is made');
  assert.equal((await health(registry)).status, 200, 'the registry whose port was asked for serves on');
  // Without the flag, the endpoint sits 1000 above the role's port (any free port beside port 0).
  assert.deepEqual([50050, 50052, 8000, 0, 65000].map(metricsPortBeside), [51050, 51052, 9000, 0, 0]);
});

test('/healthz turns 503, with the reason, when the registry goes away', async () => {
  assert.equal((await registry.stop()).code, 0);
  for (const node of nodes) {
    const { body } = await waitFor(`${node.name} unhealthy`, async () => {
      const h = await health(node);
      return h.status === 503 ? h : undefined;
    });
    assert.equal(body.status, 'unhealthy');
    assert.match(body.reason!, /^not listed: the heartbeat to registry 127\.0\.0\.1:\d+ failed: /);
  }
  const verifierHealth = await waitFor('verifier unhealthy', async () => {
    const h = await health(verifier);
    return h.status === 503 ? h : undefined;
  });
  assert.match(verifierHealth.body.reason!, /^the last pull of tickets from registry 127\.0\.0\.1:\d+ failed: /);
  const daemonHealth = await waitFor('daemon unhealthy', async () => {
    const h = await health(daemon);
    return h.status === 503 ? h : undefined;
  });
  assert.match(daemonHealth.body.reason!, /^the registry's membership did not answer: /);
  // The gateway serves on (its clients see errors per request); its metrics stay readable.
  assert.equal((await health(gateway)).status, 200);
  assert.equal((await scrape(nodes[0]!)).get('tessera_node_sessions_open'), 0);
});
