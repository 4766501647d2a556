// Attacks on compute nodes, against real processes (a local cluster: registry, daemon, verifier, two
// nodes), each made with the attacker's own valid keys: Opens alone to take every session slot, a
// stream that never opens, an Open that names an arbitrary next hop (SSRF), non-finite activations
// and integers past 2^53. Each is refused with a precise status and reason, leaves the node's
// sessions as they were, and an honest generation through the client succeeds meanwhile and after.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server as TcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  credentials,
  Server,
  ServerCredentials,
  status,
  type ServerDuplexStream,
  type ServerUnaryCall,
  type ServiceError,
  type sendUnaryData,
} from '@grpc/grpc-js';
import { startNode } from '../../src/node/node-server.ts';
import { failedHopMetadata } from '../../src/protocol/forward-status.ts';
import { ENGINE_VERSION, FORWARD_PROTOCOL } from '../../src/protocol/version.ts';
import { RegistryClient } from '../../src/registry/registry-client.ts';
import type { InfoReply } from '../../src/proto/tessera/v1/InfoReply.ts';
import { startAuditNetwork } from '../support/audit-network.ts';
import { nodeBody } from '../support/registry-fixtures.ts';
import { launchLocalCluster, type LocalCluster } from '../../src/cli/local-cluster.ts';
import { connect, type TesseraClient } from '../../src/client/client.ts';
import { generateKeyPair, type KeyPair } from '../../src/crypto/keys.ts';
import { tessera } from '../../src/proto/services.ts';
import type { Hop } from '../../src/proto/tessera/v1/Hop.ts';
import type { InfoReply__Output } from '../../src/proto/tessera/v1/InfoReply.ts';
import type { NodeClient } from '../../src/proto/tessera/v1/Node.ts';
import type { Open } from '../../src/proto/tessera/v1/Open.ts';
import { reasonOf } from '../../src/rpc/status.ts';
import { ForwardClient } from '../support/node-cluster.ts';
import { testModel } from '../support/models.ts';
import { waitFor } from '../support/registry-fixtures.ts';

/** The node's defaults: 64 sessions, a quarter per client key, half per address. */
const PER_CLIENT = 16;
const PER_PEER = 32;
const U64_MAX = '18446744073709551615';
const PROMPT = [1, 403, 407, 261, 378];

const workDir = mkdtempSync(join(tmpdir(), 'tessera-attack-node-'));
let cluster: LocalCluster;
let honest: TesseraClient;
let route: Hop[];
const infoClients: NodeClient[] = [];
const attackers: ForwardClient[] = [];

before(async () => {
  cluster = await launchLocalCluster({
    modelPath: testModel('stories260K.gguf'),
    shards: 2,
    spareShards: [],
    workDir,
    registryPort: 0,
    threadsPerNode: 1,
  });
  route = [...cluster.nodes]
    .sort((a, b) => a.shardIndex - b.shardIndex)
    .map((n) => ({
      nodeId: n.nodeId,
      endpoint: n.endpoint,
      shardIndex: n.shardIndex,
      shardEnd: n.shardIndex + 1,
      tls: false,
    }));
  honest = await connect({ registries: [cluster.registryEndpoint], cacheDir: join(workDir, 'client') });
});

after(async () => {
  for (const a of attackers) a.close();
  for (const c of infoClients) c.close();
  honest?.close();
  await cluster?.close();
  rmSync(workDir, { recursive: true, force: true });
});

const endpointOf = (shard: number) => cluster.nodes.find((n) => n.shardIndex === shard)!.endpoint;

function attacker(endpoint = endpointOf(0)): ForwardClient {
  const client = new ForwardClient(endpoint);
  attackers.push(client);
  return client;
}

function letGo(clients: readonly ForwardClient[]): void {
  for (const c of clients) c.close();
}

const openOf = (key: KeyPair, extra: Partial<Open> = {}): Open => ({
  sessionId: randomUUID(),
  modelId: cluster.manifest.modelId,
  route,
  outputMode: 'off',
  sampling: { temperature: 0 },
  clientKey: key.publicKey,
  ...extra,
});

async function info(shard: number): Promise<InfoReply__Output> {
  const client = new tessera.v1.Node(endpointOf(shard), credentials.createInsecure()) as unknown as NodeClient;
  infoClients.push(client);
  return new Promise((resolve, reject) =>
    client.info({}, { deadline: Date.now() + 5000 }, (error, reply) => (error ? reject(error) : resolve(reply!))),
  );
}

/** Waits until both nodes hold `count` sessions (a closed stream frees its slot a moment later). */
async function sessionsSettle(count: number): Promise<void> {
  await waitFor(`${count} sessions on each node`, async () => {
    const held = await Promise.all([info(0), info(1)]);
    return held.every((i) => i.activeSessions === count) || undefined;
  });
}

async function honestGeneration(): Promise<void> {
  const { tokens, summary } = await honest
    .generate({ model: cluster.manifest.modelId, prompt: 'Once upon a time', maxTokens: 6, temperature: 0 })
    .collect();
  assert.ok(tokens.length > 0, 'the honest client got tokens');
  assert.deepEqual(
    summary.route.map((h) => h.nodeId),
    route.map((h) => h.nodeId),
  );
}

function assertRefused(error: ServiceError, code: status, reason: string): void {
  assert.equal(error.code, code, `status ${status[error.code]} (${error.details}), expected ${status[code]}`);
  assert.equal(reasonOf(error), reason, error.details);
}

test('Opens alone from one client key take only that key’s share of the node; the honest client is served, and at once after the attacker lets go', async () => {
  await sessionsSettle(0);
  const key = generateKeyPair();
  const held: ForwardClient[] = [];
  for (let i = 0; i < PER_CLIENT; i++) {
    const client = attacker();
    await client.openSession(openOf(key));
    held.push(client);
  }
  const refused = attacker();
  refused.write({ open: openOf(key) });
  assertRefused(await refused.status(), status.RESOURCE_EXHAUSTED, 'CLIENT_SESSION_LIMIT');
  assert.equal((await info(0)).activeSessions, PER_CLIENT, 'the refused Open took no slot');

  await honestGeneration();

  letGo(held);
  await sessionsSettle(0);
  await honestGeneration();
});

test('Opens from many keys of one address take only that address’s share; refused precisely, freed on letting go', async () => {
  await sessionsSettle(0);
  const held: ForwardClient[] = [];
  for (let i = 0; i < PER_PEER; i++) {
    const client = attacker();
    await client.openSession(openOf(generateKeyPair()));
    held.push(client);
  }
  const refused = attacker();
  refused.write({ open: openOf(generateKeyPair()) });
  assertRefused(await refused.status(), status.RESOURCE_EXHAUSTED, 'PEER_SESSION_LIMIT');
  const during = await info(0);
  assert.equal(during.activeSessions, PER_PEER);
  assert.ok(during.activeSessions < during.maxSessions, 'slots are left for other addresses');
  // The honest client shares the attacker's address here (loopback), so it is served once the attacker lets go.
  letGo(held);
  await sessionsSettle(0);
  await honestGeneration();
});

test('a stream that never sends Open is ended DEADLINE_EXCEEDED (OPEN_TIMEOUT) and holds nothing', async () => {
  await sessionsSettle(0);
  const silent = attacker();
  const ended = silent.status();
  await honestGeneration();
  assertRefused(await ended, status.DEADLINE_EXCEEDED, 'OPEN_TIMEOUT');
  await sessionsSettle(0);
});

test('an Open naming a next hop that is not a registered node of the next shard: refused before any connection is made (SSRF)', async () => {
  await sessionsSettle(0);
  const connections: string[] = [];
  const listener: TcpServer = createServer((socket) => {
    connections.push(String(socket.remoteAddress));
    socket.destroy();
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  try {
    const target = `127.0.0.1:${(listener.address() as { port: number }).port}`;
    const self = generateKeyPair();
    const routes: Hop[][] = [
      // a stranger's address under the attacker's own node id
      [route[0]!, { nodeId: self.address, endpoint: target, shardIndex: 1, shardEnd: 2, tls: false }],
      // the registered node of shard 1, but at the attacker's address
      [route[0]!, { ...route[1]!, endpoint: target }],
      // the registered node of shard 1 at its address, but over TLS it never registered
      [route[0]!, { ...route[1]!, tls: true }],
    ];
    for (const named of routes) {
      const client = attacker();
      client.write({ open: openOf(self, { route: named }) });
      assertRefused(await client.status(), status.FAILED_PRECONDITION, 'NEXT_HOP_NOT_REGISTERED');
    }
    await honestGeneration();
    assert.deepEqual(connections, [], 'the node never dialled the attacker’s listener');
    // No refused Open holds a session; the honest one ends once the node reads the client's
    // half-close, just after its generation returns.
    await sessionsSettle(0);
  } finally {
    await new Promise((resolve) => listener.close(resolve));
  }
});

test('non-finite activations and integers past 2^53 or the vocabulary: INVALID_ARGUMENT with a precise reason, never INTERNAL', async () => {
  await sessionsSettle(0);
  const key = generateKeyPair();
  const width = cluster.manifest.config.hiddenSize;
  const nanF32 = Buffer.from(new Float32Array(2 * width).fill(0.5).buffer);
  nanF32.writeFloatLE(Number.NaN, 4 * (width + 3));
  const infF16 = Buffer.alloc(2 * width * 2);
  infF16.writeUInt16LE(0x7c00, 10); // +Infinity in f16
  const hiddenCases: [Buffer, 'DTYPE_F32' | 'DTYPE_F16'][] = [
    [nanF32, 'DTYPE_F32'],
    [infF16, 'DTYPE_F16'],
  ];
  for (const [data, dtype] of hiddenCases) {
    const client = attacker(endpointOf(1));
    await client.openSession(openOf(key));
    client.write({ step: { step: 0, startPosition: 0, hidden: { dtype, shape: [2, width], data } } });
    assertRefused(await client.status(), status.INVALID_ARGUMENT, 'NON_FINITE_ACTIVATION');
  }
  const stepCases: [Record<string, unknown>, string][] = [
    [{ step: U64_MAX, tokens: PROMPT }, 'INTEGER_OUT_OF_RANGE'],
    [{ step: 0, tokens: [1, 4294967295] }, 'TOKEN_OUT_OF_VOCABULARY'],
    [{ step: 0, tokens: PROMPT, history: [...PROMPT, 70000] }, 'TOKEN_OUT_OF_VOCABULARY'],
  ];
  for (const [fields, reason] of stepCases) {
    const client = attacker();
    await client.openSession(openOf(key));
    client.write({ step: { startPosition: 0, ...fields } });
    assertRefused(await client.status(), status.INVALID_ARGUMENT, reason);
  }
  const seeded = attacker();
  seeded.write({ open: openOf(key, { sampling: { temperature: 1, seed: U64_MAX } }) });
  assertRefused(await seeded.status(), status.INVALID_ARGUMENT, 'INTEGER_OUT_OF_RANGE');
  await honestGeneration();
  await sessionsSettle(0);
});

test('a hop that blames an honest deeper node in the failed-node trailer gets itself set aside, not that node', async () => {
  const net = await startAuditNetwork({ shards: 2, audit: { samplingRate: 0 } });
  const servers: Server[] = [];
  const extra: { close(): Promise<void> }[] = [];
  const client = await connect({
    registries: [net.registry.endpoint],
    cacheDir: join(net.dir, 'client'),
    routeWaitMs: 500,
  });
  const registry = new RegistryClient(net.registry.endpoint);
  try {
    const [honestFirst, honestSecond] = net.nodes as [(typeof net.nodes)[0], (typeof net.nodes)[0]];
    await honestFirst.close();
    // The attacker's own registered shard-0 node: it answers Info truly and ends every session
    // naming the honest shard-1 node as the one that failed.
    const rogueKey = generateKeyPair();
    const entry = net.manifest.shards[0]!;
    const rogue = new Server();
    servers.push(rogue);
    rogue.addService(tessera.v1.Node.service, {
      Forward(call: ServerDuplexStream<unknown, unknown>) {
        call.once('data', () =>
          call.emit('error', {
            code: status.UNAVAILABLE,
            details: `next hop 1 (shard 1, ${honestSecond.nodeId}) failed: it ended the stream`,
            metadata: failedHopMetadata(honestSecond.nodeId, 1),
          }),
        );
      },
      Info(_call: ServerUnaryCall<unknown, InfoReply>, done: sendUnaryData<InfoReply>) {
        done(null, {
          nodeId: rogueKey.address,
          modelId: net.manifest.modelId,
          shardIndex: 0,
          shardEnd: 1,
          layerStart: entry.layerStart,
          layerEnd: entry.layerEnd,
          activeSessions: 0,
          maxSessions: 8,
          engineVersion: ENGINE_VERSION,
          forwardProtocol: FORWARD_PROTOCOL,
        });
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      rogue.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    await registry.register(
      rogueKey,
      nodeBody(rogueKey, { modelId: net.manifest.modelId, shardIndex: 0, endpoint: `127.0.0.1:${port}` }),
    );
    const generate = () =>
      client
        .generate({ model: net.manifest.modelId, prompt: 'Once upon a time', maxTokens: 4, temperature: 0 })
        .collect();

    // Only the rogue serves shard 0: the generation fails, and the rogue is what the client sets aside.
    await assert.rejects(generate(), (error: unknown) => (error as { code?: string }).code === 'NO_ROUTE');

    // An honest shard-0 node joins: the honest shard-1 node was never banned, so the route through it works now.
    const replacement = await startNode({
      shardsDir: net.shardsDir,
      shardIndex: 0,
      port: 0,
      registry: net.registry.endpoint,
      key: generateKeyPair(),
      threads: 1,
      log: () => {},
    });
    extra.push(replacement);
    const { tokens, summary } = await generate();
    assert.ok(tokens.length > 0);
    assert.deepEqual(
      summary.route.map((h) => h.nodeId),
      [replacement.nodeId, honestSecond.nodeId],
    );
  } finally {
    client.close();
    registry.close();
    for (const server of servers) server.forceShutdown();
    for (const node of extra) await node.close();
    await net.close();
  }
});
