// A node's metrics in process: what a failed stream and a served session count, and its health.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { generateKeyPair } from '../../src/crypto/keys.ts';
import { Metrics } from '../../src/metrics/metrics.ts';
import { startNode, type NodeHandle } from '../../src/node/node-server.ts';
import { shardModel } from '../../src/model/shards/shard.ts';
import { ForwardClient } from '../support/node-cluster.ts';
import { testModel } from '../support/models.ts';

const scratch = mkdtempSync(join(tmpdir(), 'tessera-node-metrics-'));
const metrics = new Metrics();
const clients: ForwardClient[] = [];
let node: NodeHandle;

before(async () => {
  const shardsDir = join(scratch, 'shards');
  shardModel(testModel('stories260K.gguf'), 1, shardsDir);
  node = await startNode({
    shardsDir,
    shardIndex: 0,
    port: 0,
    key: generateKeyPair(),
    threads: 1,
    log: () => {},
    metrics,
  });
});

after(async () => {
  for (const client of clients) client.close();
  await node.close();
  rmSync(scratch, { recursive: true, force: true });
});

function connect(): ForwardClient {
  const client = new ForwardClient(node.endpoint);
  clients.push(client);
  return client;
}

const sample = async (line: string) =>
  Number(new RegExp(`^${line.replace(/[{}"]/g, '\\$&')} (\\S+)$`, 'm').exec(await metrics.render())?.[1] ?? NaN);

test('a stream that ends in an error counts under its gRPC code', async () => {
  const early = connect();
  const ended = await early.write({ step: { step: 0, startPosition: 0, tokens: [1, 2] } }).status();
  assert.equal(ended.code, status.FAILED_PRECONDITION);
  assert.equal(await sample('tessera_node_stream_errors_total{code="FAILED_PRECONDITION"}'), 1);
  assert.equal(await sample('tessera_node_forward_steps_total{kind="prefill"}'), 0, 'a refused step is no step');
});

test('an open session holds KV-cache bytes, counts its steps by kind, and lets go when it ends', async () => {
  const client = connect();
  await client.openSession({
    sessionId: 's',
    modelId: 'stories260K',
    route: [{ nodeId: node.nodeId, endpoint: node.endpoint, shardIndex: 0, shardEnd: 1 }],
    outputMode: 'off',
  });
  assert.equal(await sample('tessera_node_sessions_open'), 1);
  // a one-token prompt is one position, like a decode step, but it starts at 0: the prefill
  await client.write({ step: { step: 0, startPosition: 0, tokens: [1] } }).reply();
  await client.write({ step: { step: 1, startPosition: 1, tokens: [300] } }).reply();
  await client.write({ step: { step: 2, startPosition: 2, tokens: [301] } }).reply();
  assert.equal(await sample('tessera_node_forward_steps_total{kind="prefill"}'), 1);
  assert.equal(await sample('tessera_node_forward_steps_total{kind="decode"}'), 2);
  assert.equal(await sample('tessera_node_tokens_processed_total'), 3);
  assert.equal(await sample('tessera_node_forward_seconds_count{kind="decode"}'), 2);
  assert.ok((await sample('tessera_node_kv_cache_bytes')) > 0, 'the session holds cache');
  assert.equal(await sample('tessera_node_shard{model="stories260K",shard="0",layers="0-4",role="driver"}'), 1);
  assert.deepEqual(node.health(), {
    healthy: true,
    details: {
      nodeId: node.nodeId,
      model: 'stories260K',
      shard: 0,
      shardEnd: 1,
      endpoint: node.endpoint,
      registry: null,
      sessions: 1,
    },
  });

  client.write({ close: {} });
  assert.ok('end' in (await client.next()), 'the stream ends after close');
  assert.equal(await sample('tessera_node_sessions_open'), 0);
  assert.equal(await sample('tessera_node_kv_cache_bytes'), 0);
});

test('a closing node is unhealthy: it drains its sessions', async () => {
  const closing = node.close();
  assert.deepEqual(
    { healthy: node.health().healthy, reason: node.health().reason },
    { healthy: false, reason: 'shutting down: draining its sessions' },
  );
  await closing;
});
