import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { readKeyFile, writeNewKeyFile, type KeyPair } from '../crypto/keys.ts';
import { MANIFEST_FILE, parseManifest, type Manifest } from '../model/manifest.ts';
import { shardModel } from '../model/shards/shard.ts';
import { RegistryClient } from '../registry/registry-client.ts';
import { RoleProcess } from './role-process.ts';

export interface LocalClusterOptions {
  /** A model file or directory; sharded into `workDir/shards` unless a matching cut is there. */
  readonly modelPath: string;
  readonly shards: number;
  /** Shards that get a second node, ready to take over when the first fails. */
  readonly spareShards: readonly number[];
  readonly workDir: string;
  /** 0: any free port. */
  readonly registryPort: number;
  /** The share-chain daemon's port. Default 0: any free port. */
  readonly daemonPort?: number;
  /** Compute threads per node (the nodes share the machine). */
  readonly threadsPerNode: number;
  /** Progress lines for the operator. */
  readonly say?: (line: string) => void;
  /** The share chain's slot length. Default: the daemon's (10 s). */
  readonly blockIntervalMs?: number;
  /** Blocks per settlement window. Default: the daemon's (60). */
  readonly windowBlocks?: number;
  /** The cluster's audit.samplingRate; default the cluster default. */
  readonly auditSamplingRate?: number;
}

export interface LocalNode {
  readonly shardIndex: number;
  readonly nodeId: string;
  readonly endpoint: string;
  readonly process: RoleProcess;
}

export interface LocalCluster {
  readonly manifest: Manifest;
  readonly registryEndpoint: string;
  readonly registry: RoleProcess;
  /** The share-chain daemon the nodes send their shares to. */
  readonly daemonEndpoint: string;
  readonly daemon: RoleProcess;
  /** Audits the nodes' tickets with the same shards. */
  readonly verifier: RoleProcess;
  readonly nodes: readonly LocalNode[];
  /**
   * The key a gateway's client signs its receipts with: the cluster's operator granted it a deposit,
   * and a stake so that it may file evidence against a shard-0 node its own check catches.
   */
  readonly clientKey: KeyPair;
  /** The model's shards (and manifest.json): the nodes', the verifier's, and the gateway's check of shard 0. */
  readonly shardsDir: string;
  /** Stops the nodes, then the registry (SIGTERM each, SIGKILL after a grace period). */
  close(): Promise<void>;
  /** SIGKILLs every role at once (synchronous: for a process that is exiting). */
  kill(): void;
}

/** A previous cut of the same file into the same number of shards is reused (nodes re-check every hash). */
function reusableManifest(shardsDir: string, modelPath: string, shards: number): Manifest | undefined {
  const path = join(shardsDir, MANIFEST_FILE);
  if (!existsSync(path)) return undefined;
  try {
    const manifest = parseManifest(readFileSync(path, 'utf8'), path);
    const fits =
      manifest.shards.length === shards &&
      manifest.source.file === basename(modelPath) &&
      (statSync(modelPath).isDirectory() || manifest.source.bytes === statSync(modelPath).size);
    return fits ? manifest : undefined;
  } catch {
    return undefined;
  }
}

/** Roles on one machine: their metrics endpoints take free ports rather than clash at the defaults. */
const ANY_METRICS_PORT = ['--metrics-port', '0'];

function keyFile(dir: string, name: string): string {
  const path = join(dir, `${name}.key`);
  if (!existsSync(path)) writeNewKeyFile(path);
  return path;
}

/**
 * Each member role's minimum stake in the generated config: nonzero, so the local network runs the
 * same admission as any other. The cluster's own operator key grants every role it starts ten times
 * its minimum, and the gateway's client a deposit that pays for far more tokens than a session of
 * testing uses.
 */
export const LOCAL_MINIMUM_STAKE = 1_000n;
export const LOCAL_GRANTED_STAKE = 10n * LOCAL_MINIMUM_STAKE;
export const LOCAL_CLIENT_DEPOSIT = 10n ** 24n;

/**
 * Tops the accounts up to what a local network needs, signed by its operator key: a work dir that
 * is reused keeps its registry database, so a second `tessera up` grants only what is missing.
 */
async function grantLocalAccounts(
  registryEndpoint: string,
  operator: KeyPair,
  members: readonly string[],
  client: string,
): Promise<void> {
  const registry = new RegistryClient(registryEndpoint);
  try {
    for (const member of members) {
      const { stake } = await registry.account(member);
      if (stake < LOCAL_GRANTED_STAKE) await registry.grant(operator, member, { stake: LOCAL_GRANTED_STAKE - stake });
    }
    const { deposited } = await registry.account(client);
    if (deposited < LOCAL_CLIENT_DEPOSIT)
      await registry.grant(operator, client, { deposit: LOCAL_CLIENT_DEPOSIT - deposited });
  } finally {
    registry.close();
  }
}

/**
 * A whole network on this machine: the model cut into shards, a registry, and one node per shard
 * plus the spares, each role in its own `tessera` process (so one can be killed without the
 * others), logging into `workDir/logs`.
 */
export async function launchLocalCluster(options: LocalClusterOptions): Promise<LocalCluster> {
  const say = options.say ?? (() => {});
  const { workDir } = options;
  const shardsDir = join(workDir, 'shards');
  const logs = join(workDir, 'logs');
  const keys = join(workDir, 'keys');
  mkdirSync(logs, { recursive: true });
  mkdirSync(keys, { recursive: true });

  let manifest = reusableManifest(shardsDir, options.modelPath, options.shards);
  if (manifest) say(`reusing the ${options.shards} shards of ${manifest.modelId} in ${shardsDir}`);
  else {
    say(`cutting ${options.modelPath} into ${options.shards} shards in ${shardsDir} ...`);
    manifest = shardModel(options.modelPath, options.shards, shardsDir);
  }

  const clusterConfig = join(workDir, 'cluster.json');
  // The registry signs its identity in gossip with this key; the config lists it as the cluster's registry key.
  const registryKey = keyFile(keys, 'registry');
  // This network's operator: the config names it, and it grants the stake and deposit below.
  const operatorKey = readKeyFile(keyFile(keys, 'operator'));
  const plan = [
    ...manifest.shards.map((s) => ({ shard: s.index, name: `node-${s.index}` })),
    ...options.spareShards.map((shard) => ({ shard, name: `node-${shard}-spare` })),
  ];
  const memberKeys = {
    daemon: keyFile(keys, 'daemon'),
    verifier: keyFile(keys, 'verifier'),
    ...Object.fromEntries(plan.map(({ name }) => [name, keyFile(keys, name)])),
  } as Record<string, string>;
  const clientKey = readKeyFile(keyFile(keys, 'gateway'));
  writeFileSync(
    clusterConfig,
    `${JSON.stringify(
      {
        clusterId: 'local',
        models: [{ id: manifest.modelId, manifest: 'shards', pricePer1kTokens: 0 }],
        // Each heartbeat costs every role a signature and the registry a synced write, so 1 s beats
        // kept an idle cluster busy. Nothing here waits on eviction: a client that loses a node
        // avoids it and fails over on its own (src/client), and owed audits reach a node within one
        // interval, far inside audit.ticketDeadlineMs. A dead node leaves discovery within 15 s.
        heartbeat: { intervalMs: 5000, evictAfterMissed: 3 },
        registryKeys: [readKeyFile(registryKey).address],
        operatorKeys: [operatorKey.address],
        stake: {
          minimum: {
            node: Number(LOCAL_MINIMUM_STAKE),
            daemon: Number(LOCAL_MINIMUM_STAKE),
            verifier: Number(LOCAL_MINIMUM_STAKE),
          },
        },
        ...(options.auditSamplingRate === undefined ? {} : { audit: { samplingRate: options.auditSamplingRate } }),
      },
      null,
      2,
    )}\n`,
  );

  const started: RoleProcess[] = [];
  // Nodes first (they flush their shares to the daemon), then the daemon and verifier, then the registry.
  const stopAll = async () => {
    await Promise.all(started.slice(3).map((p) => p.stop()));
    await Promise.all(started.slice(1, 3).map((p) => p.stop()));
    await started[0]?.stop();
  };
  try {
    const registry = new RoleProcess({
      name: 'registry',
      args: [
        'registry',
        '--port',
        String(options.registryPort),
        '--cluster-config',
        clusterConfig,
        '--db',
        join(workDir, 'registry.db'),
        '--key',
        registryKey,
        ...ANY_METRICS_PORT,
      ],
      startEvent: 'registry_started',
      logFile: join(logs, 'registry.log'),
    });
    started.push(registry);
    await registry.ready;
    const registryEndpoint = String(registry.started.endpoint);
    say(`registry    ${registryEndpoint}  (pid ${registry.pid})  metrics ${registry.metricsUrl}`);
    // Before any role registers: below its minimum stake the registry would refuse it.
    await grantLocalAccounts(
      registryEndpoint,
      operatorKey,
      [...Object.values(memberKeys).map((path) => readKeyFile(path).address), clientKey.address],
      clientKey.address,
    );
    say(
      `operator    ${operatorKey.address}  granted stake ${LOCAL_GRANTED_STAKE} to each role and the gateway's client ${clientKey.address}, deposit ${LOCAL_CLIENT_DEPOSIT} to that client`,
    );

    // The daemon and the verifier run from the first request on, so every share and audit is recorded.
    const daemon = new RoleProcess({
      name: 'daemon',
      args: [
        'daemon',
        '--port',
        String(options.daemonPort ?? 0),
        '--registry',
        registryEndpoint,
        '--db',
        join(workDir, 'chain.db'),
        '--key',
        memberKeys.daemon!,
        '--verify-threads',
        '1',
        ...ANY_METRICS_PORT,
        ...(options.blockIntervalMs === undefined ? [] : ['--block-interval-ms', String(options.blockIntervalMs)]),
        ...(options.windowBlocks === undefined ? [] : ['--window-blocks', String(options.windowBlocks)]),
      ],
      startEvent: 'daemon_started',
      logFile: join(logs, 'daemon.log'),
    });
    started.push(daemon);
    const verifier = new RoleProcess({
      name: 'verifier',
      args: [
        'verifier',
        '--registry',
        registryEndpoint,
        '--shards-dir',
        shardsDir,
        '--key',
        memberKeys.verifier!,
        '--threads',
        String(options.threadsPerNode),
        ...ANY_METRICS_PORT,
      ],
      startEvent: 'verifier_started',
      logFile: join(logs, 'verifier.log'),
    });
    started.push(verifier);
    await Promise.all([daemon.ready, verifier.ready]);
    const daemonEndpoint = String(daemon.started.endpoint);
    say(`daemon      ${daemonEndpoint}  (pid ${daemon.pid})  metrics ${daemon.metricsUrl}`);
    say(`verifier    ${String(verifier.started.verifierId)}  (pid ${verifier.pid})  metrics ${verifier.metricsUrl}`);

    const nodes = await Promise.all(
      plan.map(async ({ shard, name }): Promise<LocalNode> => {
        const process = new RoleProcess({
          name,
          args: [
            'node',
            '--shard',
            String(shard),
            '--shards-dir',
            shardsDir,
            '--registry',
            registryEndpoint,
            '--daemon',
            daemonEndpoint,
            '--port',
            '0',
            '--key',
            memberKeys[name]!,
            // Owed audit steps and unsent shares outlive a crash of the node.
            '--data-dir',
            join(workDir, name),
            '--threads',
            String(options.threadsPerNode),
            ...ANY_METRICS_PORT,
          ],
          startEvent: 'node_started',
          logFile: join(logs, `${name}.log`),
        });
        started.push(process);
        await process.ready;
        return {
          shardIndex: shard,
          nodeId: String(process.started.nodeId),
          endpoint: String(process.started.endpoint),
          process,
        };
      }),
    );
    for (const n of nodes)
      say(
        `node        ${n.endpoint}  shard ${n.shardIndex}  ${n.nodeId}  (pid ${n.process.pid})  metrics ${n.process.metricsUrl}`,
      );
    return {
      manifest,
      registryEndpoint,
      registry,
      daemonEndpoint,
      daemon,
      verifier,
      nodes,
      clientKey,
      shardsDir,
      close: stopAll,
      kill: () => started.forEach((p) => p.kill('SIGKILL')),
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
