// Starting and stopping a node: shard hash, TLS policy, TLS next hops, registration, draining.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, Server, ServerCredentials, status, type ServerDuplexStream } from '@grpc/grpc-js';
import { sha256 } from '../../src/crypto/hash.ts';
import { generateKeyPair, type KeyPair } from '../../src/crypto/keys.ts';
import { readManifest } from '../../src/model/shards/shard-files.ts';
import { shardModel } from '../../src/model/shards/shard.ts';
import { startNode } from '../../src/node/node-server.ts';
import { resultHashOf, signCommitment, stepIdOf } from '../../src/protocol/commitment.ts';
import { FAILED_NODE_KEY } from '../../src/protocol/forward-status.ts';
import { tessera } from '../../src/proto/services.ts';
import type { ForwardReply } from '../../src/proto/tessera/v1/ForwardReply.ts';
import type { ForwardRequest__Output } from '../../src/proto/tessera/v1/ForwardRequest.ts';
import type { InfoReply__Output } from '../../src/proto/tessera/v1/InfoReply.ts';
import type { NodeClient } from '../../src/proto/tessera/v1/Node.ts';
import { parseClusterConfig } from '../../src/registry/cluster-config.ts';
import { startRegistry } from '../../src/registry/registry.ts';
import { RegistryClient } from '../../src/registry/registry-client.ts';
import { ForwardClient, startChain } from '../support/node-cluster.ts';
import { testModel } from '../support/models.ts';
import { selfSignedCert } from '../support/tls-certs.ts';

const PROMPT = [1, 403, 407, 261, 378];
const scratch = mkdtempSync(join(tmpdir(), 'tessera-node-start-'));
const shardsDir = join(scratch, 'shards');
const cleanups: (() => unknown)[] = [];
const quiet = () => {};

before(() => {
  shardModel(testModel('stories260K.gguf'), 2, shardsDir);
});

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  rmSync(scratch, { recursive: true, force: true });
});

test('a shard file whose SHA-256 differs from the manifest is refused, naming the file and both hashes', async () => {
  const copy = join(scratch, 'corrupt');
  cpSync(shardsDir, copy, { recursive: true });
  const entry = readManifest(copy).shards[1]!;
  const path = join(copy, entry.file);
  const bytes = readFileSync(path);
  bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
  writeFileSync(path, bytes);
  await assert.rejects(
    startNode({ shardsDir: copy, shardIndex: 1, port: 0, key: generateKeyPair(), threads: 1, log: quiet }),
    (error: Error) => {
      assert.match(
        error.message,
        new RegExp(
          `^shard 1 file ${path.replace(/[.]/g, '\\.')} has SHA-256 [0-9a-f]{64}, the manifest expects ${entry.sha256}: `,
        ),
      );
      return true;
    },
  );
  // A node holding a span checks every file of it: the corrupt one is the second.
  await assert.rejects(
    startNode({ shardsDir: copy, shardIndex: 0, shardEnd: 2, port: 0, key: generateKeyPair(), threads: 1, log: quiet }),
    (error: Error) => error.message.startsWith(`shard 1 file ${path} has SHA-256 `),
  );
});

test('a span past the manifest is refused, naming it', async () => {
  await assert.rejects(
    startNode({ shardsDir, shardIndex: 1, shardEnd: 3, port: 0, key: generateKeyPair(), threads: 1, log: quiet }),
    (error: Error) =>
      error instanceof RangeError && error.message === "shards [1, 3) reach past stories260K's 2 shards",
  );
  await assert.rejects(
    startNode({ shardsDir, shardIndex: 1, shardEnd: 1, port: 0, key: generateKeyPair(), threads: 1, log: quiet }),
    (error: Error) => error.message === 'shards [1, 1) is not a span: it needs 0 ≤ start < end',
  );
});

test('a non-loopback advertised endpoint without TLS is refused before anything starts', async () => {
  for (const advertise of ['10.1.2.3:50052', 'node.example.org:443', '[2001:db8::1]:50052']) {
    await assert.rejects(
      startNode({ shardsDir, shardIndex: 0, port: 0, advertise, key: generateKeyPair(), threads: 1, log: quiet }),
      new RegExp(
        `^Error: advertised endpoint ${advertise.replace(/[.[\]]/g, '\\$&')} is not a loopback address, so it must be served over TLS: pass --tls-cert FILE --tls-key FILE`,
      ),
    );
  }
  await assert.rejects(
    startNode({ shardsDir, shardIndex: 0, port: 0, host: '0.0.0.0', key: generateKeyPair(), threads: 1, log: quiet }),
    /pass --advertise HOST:PORT/,
  );
});

test('TLS: a node with a certificate may advertise a public name, serves TLS, and the hop before it connects over TLS', async () => {
  const { cert, key } = selfSignedCert(scratch, 'node1', ['localhost', '127.0.0.1']);
  const publicNode = await startNode({
    shardsDir,
    shardIndex: 1,
    port: 0,
    advertise: 'node1.example.org:50052',
    tls: { cert, key },
    key: generateKeyPair(),
    threads: 1,
    log: quiet,
  });
  cleanups.push(() => publicNode.close());
  assert.equal(publicNode.endpoint, 'node1.example.org:50052');

  const chain = await startChain(shardsDir, 2, (shard) => (shard === 1 ? { tls: { cert, key } } : { tlsCa: cert }));
  cleanups.push(() => chain.close());
  const route = [chain.route[0]!, { ...chain.route[1]!, endpoint: `localhost:${chain.nodes[1]!.port}`, tls: true }];
  const client = new ForwardClient(chain.nodes[0]!.endpoint);
  cleanups.push(() => client.close());
  await client.openSession({ sessionId: 'tls', modelId: 'stories260K', route, outputMode: 'off' });
  const reply = await client.write({ step: { step: 0, startPosition: 0, tokens: PROMPT } }).reply();
  assert.equal(reply.result!.commitments.length, 2);
  // The TLS node does not speak plaintext.
  const plain = new ForwardClient(`127.0.0.1:${chain.nodes[1]!.port}`);
  cleanups.push(() => plain.close());
  plain.write({ open: { sessionId: 'plain', modelId: 'stories260K', route, outputMode: 'off' } });
  assert.equal((await plain.status()).code, status.UNAVAILABLE);
});

test('a node registers with its registry, reports its load, and unregisters when it closes', async () => {
  const clusterConfig = parseClusterConfig(
    { clusterId: 'test', models: [{ id: 'stories260K', manifest: 'shards', pricePer1kTokens: 3 }] },
    scratch,
  );
  const registry = await startRegistry({ port: 0, dbPath: join(scratch, 'registry.db'), clusterConfig });
  cleanups.push(() => registry.close());
  const client = new RegistryClient(registry.endpoint);
  cleanups.push(() => client.close());
  const node = await startNode({
    shardsDir,
    shardIndex: 1,
    port: 0,
    registry: registry.endpoint,
    key: generateKeyPair(),
    threads: 1,
    maxSessions: 7,
    pricePer1kTokens: 5,
    log: quiet,
  });
  const listed = (await client.discover('stories260K')).nodes;
  assert.equal(listed.length, 1);
  assert.equal(listed[0]!.nodeId, node.nodeId);
  assert.equal(listed[0]!.endpoint, node.endpoint);
  assert.deepEqual([listed[0]!.shardIndex, listed[0]!.shardEnd], [1, 2]);
  assert.equal(listed[0]!.maxSessions, 7);
  assert.equal(listed[0]!.tls, false);
  assert.ok(listed[0]!.computeUsPerToken > 0, 'a measured compute time');
  await node.close();
  assert.deepEqual((await client.discover('stories260K')).nodes, []);
});

test('a registry that refuses the node stops it from starting, with the reason', async () => {
  // A registry serving another model only.
  const otherDir = join(scratch, 'other');
  cpSync(shardsDir, otherDir, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(otherDir, 'manifest.json'), 'utf8'));
  writeFileSync(join(otherDir, 'manifest.json'), JSON.stringify({ ...manifest, modelId: 'other' }));
  const clusterConfig = parseClusterConfig(
    { clusterId: 'other', models: [{ id: 'other', manifest: 'other' }] },
    scratch,
  );
  const registry = await startRegistry({ port: 0, dbPath: join(scratch, 'registry-empty.db'), clusterConfig });
  cleanups.push(() => registry.close());
  await assert.rejects(
    startNode({
      shardsDir,
      shardIndex: 0,
      port: 0,
      registry: registry.endpoint,
      key: generateKeyPair(),
      threads: 1,
      log: quiet,
    }),
    new RegExp(`^Error: registry ${registry.endpoint} refused or did not answer the registration: .*stories260K`),
  );
});

/**
 * A stand-in next hop that holds each step until the test releases it, then answers token 42 with a
 * commitment signed by `key` (the node relays only results whose commitments check out); with
 * `failAfterReply` it ends the stream INTERNAL (naming nobody) right after its first result.
 */
async function holdingNextHop(key: KeyPair, failAfterReply = false) {
  const nodeId = key.address;
  let sessionId = '';
  let openSampling = { temperature: 0, topK: 0, topP: 1, minP: 0, repetitionPenalty: 1, seed: 0, logprobs: 0 };
  const held: (() => void)[] = [];
  let received = 0;
  let onReceived = () => {};
  const server = new Server();
  server.addService(tessera.v1.Node.service, {
    Forward(call: ServerDuplexStream<ForwardRequest__Output, ForwardReply>) {
      call.on('data', (request: ForwardRequest__Output) => {
        if (request.kind === 'open') {
          sessionId = request.open!.sessionId;
          openSampling = request.open!.sampling ?? openSampling;
          call.write({ opened: { nodeId } });
        }
        if (request.kind === 'step') {
          const step = request.step!.step;
          const sampled = { token: 42, logprob: 0, top: [] };
          const commitment = signCommitment(key, {
            shardIndex: 1,
            shardEnd: 2,
            stepId: stepIdOf(sessionId, step),
            inputHash: sha256(request.step!.hidden!.data),
            outputHash: sha256(Buffer.from('logits')),
            resultHash: resultHashOf(sampled, {
              position: request.step!.startPosition + request.step!.hidden!.shape[0]!,
              sampling: openSampling,
              history: request.step!.history,
            }),
          });
          held.push(() => {
            call.write({ result: { step, sampled, commitments: [commitment] } });
            if (failAfterReply) call.emit('error', { code: status.INTERNAL, details: 'disk on fire' });
          });
          received++;
          onReceived();
        }
      });
      call.on('end', () => call.end());
    },
    Info: (_call: unknown, callback: (e: null, r: object) => void) => callback(null, {}),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  return {
    endpoint: `127.0.0.1:${port}`,
    stepArrived: () => new Promise<void>((resolve) => (received > 0 ? resolve() : (onReceived = resolve))),
    release: () => held.splice(0).forEach((send) => send()),
    close: () => server.forceShutdown(),
  };
}

/**
 * A shard-0 node whose next hop holds each step until released, with one session open and its first
 * step waiting at the next hop.
 */
async function stepHeldAtNextHop(
  nextKey: KeyPair,
  sessionId: string,
  options: { failAfterReply?: boolean; drainGraceMs?: number; closeNode?: boolean } = {},
) {
  const nextId = nextKey.address;
  const next = await holdingNextHop(nextKey, options.failAfterReply ?? false);
  cleanups.push(() => next.close());
  const node = await startNode({
    shardsDir,
    shardIndex: 0,
    port: 0,
    key: generateKeyPair(),
    threads: 1,
    log: quiet,
    ...(options.drainGraceMs === undefined ? {} : { drainGraceMs: options.drainGraceMs }),
  });
  if (options.closeNode ?? true) cleanups.push(() => node.close());
  const route = [
    { nodeId: node.nodeId, endpoint: node.endpoint, shardIndex: 0, shardEnd: 1 },
    { nodeId: nextId, endpoint: next.endpoint, shardIndex: 1, shardEnd: 2 },
  ];
  const client = new ForwardClient(node.endpoint);
  cleanups.push(() => client.close());
  await client.openSession({ sessionId, modelId: 'stories260K', route, outputMode: 'off' });
  client.write({ step: { step: 0, startPosition: 0, tokens: PROMPT } });
  await next.stepArrived();
  return { next, node, client, route };
}

test('close drains: the step in flight completes, then the session ends UNAVAILABLE naming the node', async () => {
  const { next, node, client, route } = await stepHeldAtNextHop(generateKeyPair(), 'drained');
  const closed = node.close();
  // New sessions are refused while it drains.
  const late = new ForwardClient(node.endpoint);
  cleanups.push(() => late.close());
  late.write({ open: { sessionId: 'late', modelId: 'stories260K', route, outputMode: 'off' } });
  assert.equal((await late.status()).code, status.UNAVAILABLE);
  next.release();
  const reply = await client.reply();
  assert.equal(reply.result!.sampled!.token, 42);
  const error = await client.status();
  assert.equal(error.code, status.UNAVAILABLE);
  assert.match(error.details, /is shutting down; continue the session on another node holding shard 0$/);
  assert.equal(error.metadata.get(FAILED_NODE_KEY)[0], node.nodeId);
  await closed;
});

test('close gives up a step whose next hop never answers, after the grace period', async () => {
  const nextKey = generateKeyPair();
  const { node, client } = await stepHeldAtNextHop(nextKey, 'stuck', { drainGraceMs: 50, closeNode: false });
  await node.close();
  const error = await client.status();
  assert.equal(error.code, status.UNAVAILABLE);
  assert.match(error.details, /is shutting down/);
});

test('a next hop that fails between steps: the next step ends UNAVAILABLE naming it, and the node carries on', async () => {
  const nextKey = generateKeyPair();
  const nextId = nextKey.address;
  const { next, node, client } = await stepHeldAtNextHop(nextKey, 'broken-next', { failAfterReply: true });
  next.release();
  assert.equal((await client.reply()).result!.sampled!.token, 42);
  client.write({ step: { step: 1, startPosition: 5, tokens: [42] } });
  const error = await client.status();
  assert.equal(error.code, status.UNAVAILABLE);
  assert.equal(error.details, `next hop 1 (shard 1, ${nextId} at ${next.endpoint}) failed: INTERNAL: disk on fire`);
  assert.equal(error.metadata.get(FAILED_NODE_KEY)[0], nextId);
  const info = new tessera.v1.Node(node.endpoint, credentials.createInsecure()) as unknown as NodeClient;
  cleanups.push(() => info.close());
  const reply = await new Promise<InfoReply__Output>((resolve, reject) =>
    info.info({}, (e, r) => (e ? reject(e) : resolve(r!))),
  );
  assert.equal(reply.nodeId, node.nodeId, 'the node still serves');
});

test('Info answers without a session, naming the span the node holds', async () => {
  for (const [shardEnd, layerEnd] of [
    [1, 3],
    [2, 5],
  ] as const) {
    const node = await startNode({
      shardsDir,
      shardIndex: 0,
      shardEnd,
      port: 0,
      key: generateKeyPair(),
      threads: 1,
      log: quiet,
    });
    cleanups.push(() => node.close());
    const client = new tessera.v1.Node(node.endpoint, credentials.createInsecure()) as unknown as NodeClient;
    cleanups.push(() => client.close());
    const info = await new Promise<InfoReply__Output>((resolve, reject) =>
      client.info({}, (e, r) => (e ? reject(e) : resolve(r!))),
    );
    assert.deepEqual(
      [info.nodeId, info.shardIndex, info.shardEnd, info.layerStart, info.layerEnd, info.activeSessions],
      [node.nodeId, 0, shardEnd, 0, layerEnd, 0],
    );
  }
});
