import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { TesseraClient } from '../../client/client.ts';
import { apiKeysOf } from '../../gateway/api-keys.ts';
import { startGateway, type GatewayHandle } from '../../gateway/gateway.ts';
import { CliError } from '../cli-error.ts';
import { launchLocalCluster, type LocalCluster } from '../local-cluster.ts';
import { cacheDirectory, openModelOption } from '../model-option.ts';
import { choosePort } from '../port-choice.ts';
import { DEFAULT_REGISTRY } from '../registry-option.ts';
import { serveRoleMetrics, type RoleMetrics } from '../serve.ts';
import type { UpOptions } from './up.ts';

/**
 * Compute threads of each node `tessera up` starts: every core, as a session's step runs on one
 * node at a time, so with one user each node in turn has the machine (one user's decode through 2
 * shards on 2 cores: 18-24 tok/s at a thread a node, 25-36 at two); with many, a pool's threads
 * take work only while they run. At most 8: each pool thread is a JavaScript isolate of about
 * 30 MiB, and a step's products stop gaining from more threads long before a large machine's
 * core count.
 */
export function upThreadsPerNode(): number {
  return Math.min(availableParallelism(), 8);
}

const SAMPLE_PROMPT = 'Once upon a time';

const say = (line: string) => process.stdout.write(`${line}\n`);

/** Resolves once every shard has a live node and every node of the cluster is listed. */
async function waitForCoverage(
  client: TesseraClient,
  cluster: LocalCluster,
  timeoutMs: number,
  interrupted: () => boolean,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (interrupted()) throw new CliError('interrupted while the network was starting');
    const status = await client.status().catch(() => undefined);
    const model = status?.models.find((m) => m.modelId === cluster.manifest.modelId);
    const listed = model?.shardsCoverage.reduce((n, s) => n + s.nodes.length, 0) ?? 0;
    if (model && model.uncovered.length === 0 && listed >= cluster.nodes.length) return;
    const dead = cluster.nodes.find((n) => !n.process.running);
    if (dead)
      throw new CliError(`${dead.process.name} exited while the network was starting${dead.process.tailText()}`);
    if (Date.now() > deadline)
      throw new CliError(`not every shard got a node within ${timeoutMs / 1000} s (see the logs)`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** A completion through the gateway's own HTTP API, as a user's first request would go. */
async function sampleCompletion(gatewayUrl: string, modelId: string, apiKey: string | undefined): Promise<string> {
  const response = await fetch(`${gatewayUrl}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) },
    body: JSON.stringify({ model: modelId, prompt: SAMPLE_PROMPT, max_tokens: 32, temperature: 0 }),
  });
  const body = (await response.json()) as { choices?: { text: string }[]; error?: { message: string } };
  if (!response.ok || !body.choices)
    throw new CliError(`the sample completion failed: ${body.error?.message ?? response.status}`);
  return body.choices[0]!.text;
}

export async function upCommand(options: UpOptions): Promise<void> {
  let interrupted = false;
  const signalled = new Promise<void>((resolve) => {
    const onSignal = () => {
      if (interrupted) process.exit(130); // a second Ctrl-C: no more waiting (the exit handler kills the roles)
      interrupted = true;
      resolve();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  // before the slow work: a port the user named and cannot have ends the command at once
  const ports = {
    registry: await choosePort({
      role: 'the registry',
      host: '127.0.0.1',
      explicit: options.registryPort,
      preferred: options.defaultPorts.registry,
      flag: '--registry-port',
    }),
    daemon: await choosePort({
      role: 'the daemon',
      host: '127.0.0.1',
      explicit: options.daemonPort,
      preferred: options.defaultPorts.daemon,
      flag: '--daemon-port',
    }),
    gateway: await choosePort({
      role: 'the gateway',
      host: options.host,
      explicit: options.port,
      preferred: options.defaultPorts.gateway,
      flag: '--port',
    }),
  };
  for (const { notice } of Object.values(ports)) if (notice !== undefined) say(notice);
  // the model only needs resolving here (download with progress, or a clear error naming --model)
  const files = await openModelOption(options.model);
  files.weights.close();
  const shards = Math.min(options.shards, files.config.layers);
  const workDir = options.workDir ?? join(cacheDirectory(), 'up');
  const threadsPerNode = upThreadsPerNode();
  const cluster = await launchLocalCluster({
    modelPath: files.path,
    shards,
    spareShards: [shards - 1],
    workDir,
    registryPort: ports.registry.port,
    daemonPort: ports.daemon.port,
    threadsPerNode,
    say,
  });
  // the roles run in their own process groups: whatever way this process ends, they end with it
  process.on('exit', () => cluster.kill());
  let gateway: GatewayHandle | undefined;
  let gatewayMetrics: RoleMetrics | undefined;
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      say('stopping ...');
      await gateway?.close();
      await gatewayMetrics?.server.close();
      await cluster.close();
      say('stopped');
    })();
    return stopping;
  };
  try {
    const apiKeys = apiKeysOf(options.apiKey, options.apiKeysFile);
    gatewayMetrics = await serveRoleMetrics('gateway', options.host, 0);
    gateway = await startGateway({
      registries: [cluster.registryEndpoint],
      port: ports.gateway.port,
      host: options.host,
      cacheDir: join(workDir, 'tokenizers'),
      metrics: gatewayMetrics.metrics,
      apiKeys,
      // The key the cluster's operator granted a deposit: its receipts are what settlement debits.
      key: cluster.clientKey,
      // This machine holds shard 0: the gateway checks its audited steps, which no one else may see.
      auditShardZero: cluster.shardsDir,
    });
    gatewayMetrics.watch(gateway.health);
    await waitForCoverage(gateway.client, cluster, options.readyTimeout * 1000, () => interrupted);
    const modelId = cluster.manifest.modelId;
    say(
      `gateway     ${gateway.url}/v1  (OpenAI-compatible; model "${modelId}")  metrics ${gatewayMetrics.server.url}/metrics`,
    );
    say(`logs        ${join(workDir, 'logs')}`);
    say('');
    const bearer = apiKeys.length > 0 ? ` -H "authorization: Bearer $TESSERA_API_KEY"` : '';
    say(
      `try:  curl ${gateway.url}/v1/completions${bearer} -H 'content-type: application/json' -d '{"model": "${modelId}", "prompt": "${SAMPLE_PROMPT}", "max_tokens": 32, "temperature": 0}'`,
    );
    // the CLI finds the registry at its default endpoint, and the daemon through the registry
    const registryFlag = cluster.registryEndpoint === DEFAULT_REGISTRY ? '' : ` --registry ${cluster.registryEndpoint}`;
    say(`      tessera chat "${SAMPLE_PROMPT}"${registryFlag}`);
    say(`      tessera chain blocks${registryFlag}`);
    say(
      `sample completion of "${SAMPLE_PROMPT}": ${JSON.stringify(await sampleCompletion(gateway.url, modelId, apiKeys[0]))}`,
    );
    say('ready; Ctrl-C stops everything');
    for (const role of [cluster.registry, ...cluster.nodes.map((n) => n.process)]) {
      void role.exited.then(({ code, signal }) => {
        if (!stopping) say(`${role.name} (pid ${role.pid}) exited (${signal ?? `code ${code}`}); the others carry on`);
      });
    }
  } catch (error) {
    await stop();
    throw error;
  }
  await signalled;
  await stop();
}
