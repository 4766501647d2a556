// Every bad request gets its own precise status, and the node keeps serving the sessions beside it.
import { sha256 } from '../../src/crypto/hash.ts';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { Server, ServerCredentials, status, type ServiceError } from '@grpc/grpc-js';
import { tessera } from '../../src/proto/services.ts';
import { reasonOf } from '../../src/rpc/status.ts';

import { shardModel } from '../../src/model/shards/shard.ts';
import { FAILED_NODE_KEY, FAILED_SHARD_KEY } from '../../src/protocol/forward-status.ts';
import type { Hop } from '../../src/proto/tessera/v1/Hop.ts';
import type { Open } from '../../src/proto/tessera/v1/Open.ts';
import { ForwardClient, startChain } from '../support/node-cluster.ts';
import { testModel } from '../support/models.ts';

const PROMPT = [1, 403, 407, 261, 378];
const scratch = mkdtempSync(join(tmpdir(), 'tessera-node-limits-'));
const shardsDir = join(scratch, 'shards');
const clients: ForwardClient[] = [];
const chains: Awaited<ReturnType<typeof startChain>>[] = [];
let chain: Awaited<ReturnType<typeof startChain>>;
let healthy: ForwardClient;
let healthyPosition = 0;

function connect(endpoint: string): ForwardClient {
  const client = new ForwardClient(endpoint);
  clients.push(client);
  return client;
}

async function newChain(options: Parameters<typeof startChain>[2]) {
  const started = await startChain(shardsDir, 2, options);
  chains.push(started);
  return started;
}

const openOf = (sessionId: string, route: Hop[], extra: Partial<Open> = {}): Open => ({
  sessionId,
  modelId: 'stories260K',
  route,
  outputMode: 'off',
  ...extra,
});

before(async () => {
  shardModel(testModel('stories260K.gguf'), 2, shardsDir);
  chain = await newChain({ maxStepPositions: 32, maxMessageBytes: 64 * 1024 });
  healthy = connect(chain.nodes[0]!.endpoint);
  await healthy.openSession(openOf('healthy', chain.route));
});

after(async () => {
  for (const client of clients) client.close();
  await Promise.all(chains.map((c) => c.close()));
  rmSync(scratch, { recursive: true, force: true });
});

/** The session opened first goes on working after every failure beside it. */
async function assertHealthyStillServed(): Promise<void> {
  const tokens = healthyPosition === 0 ? PROMPT : [300];
  const reply = await healthy
    .write({ step: { step: healthyPosition, startPosition: healthyPosition, tokens } })
    .reply();
  assert.equal(reply.kind, 'result');
  assert.equal(reply.result!.commitments.length, 2);
  healthyPosition += tokens.length;
}

function assertStatus(error: ServiceError, code: status, message: RegExp | string, failedNodeId?: string): void {
  assert.equal(error.code, code, `status ${status[error.code]} (${error.details}), expected ${status[code]}`);
  if (typeof message === 'string') assert.equal(error.details, message);
  else assert.match(error.details, message);
  if (failedNodeId !== undefined) assert.equal(error.metadata.get(FAILED_NODE_KEY)[0], failedNodeId);
}

/** A session opened directly on the last node, whose steps take hidden states. */
async function lastShardSession(id: string): Promise<ForwardClient> {
  const client = connect(chain.nodes[1]!.endpoint);
  await client.openSession(openOf(id, chain.route));
  return client;
}

const hidden = (
  shape: number[],
  bytes: number,
  dtype: 'DTYPE_F32' | 'DTYPE_F16' | 'DTYPE_UNSPECIFIED' = 'DTYPE_F32',
) => ({ dtype, shape, data: Buffer.alloc(bytes) });

test('step before open: FAILED_PRECONDITION', async () => {
  const client = connect(chain.nodes[0]!.endpoint);
  client.write({ step: { step: 0, startPosition: 0, tokens: PROMPT } });
  assertStatus(
    await client.status(),
    status.FAILED_PRECONDITION,
    'step before open: the first message of a Forward stream must be Open',
    chain.nodes[0]!.nodeId,
  );
  await assertHealthyStillServed();
});

test('malformed tensors: data length against shape × dtype, shape rank, dtype', async () => {
  const cases: [ReturnType<typeof hidden>, string][] = [
    [hidden([3, 64], 700), 'hidden tensor of shape [3, 64] in DTYPE_F32 needs 768 bytes, data has 700'],
    [hidden([3, 64], 768, 'DTYPE_F16'), 'hidden tensor of shape [3, 64] in DTYPE_F16 needs 384 bytes, data has 768'],
    [hidden([192], 768), 'hidden tensor has shape [192]; expected [positions, 64]'],
    [
      hidden([3, 64], 768, 'DTYPE_UNSPECIFIED'),
      'hidden tensor has dtype DTYPE_UNSPECIFIED; send DTYPE_F32, DTYPE_F16 or DTYPE_BF16',
    ],
    [hidden([0, 64], 0), 'hidden tensor holds no positions'],
  ];
  for (const [i, [tensor, message]] of cases.entries()) {
    const client = await lastShardSession(`malformed-${i}`);
    client.write({ step: { step: 0, startPosition: 0, hidden: tensor } });
    assertStatus(await client.status(), status.INVALID_ARGUMENT, message, chain.nodes[1]!.nodeId);
  }
  await assertHealthyStillServed();
});

test('f16 and bf16 hidden states are accepted, and committed to as received', async () => {
  for (const dtype of ['DTYPE_F16', 'DTYPE_BF16'] as const) {
    const client = await lastShardSession(`half-${dtype}`);
    // 0x3c00 is 1.0 in f16; 0x3f80 is 1.0 in bf16.
    const data = Buffer.alloc(2 * 64 * 2);
    for (let i = 0; i < 128; i++) data.writeUInt16LE(dtype === 'DTYPE_F16' ? 0x3c00 : 0x3f80, i * 2);
    const reply = await client
      .write({ step: { step: 0, startPosition: 0, hidden: { dtype, shape: [2, 64], data } } })
      .reply();
    assert.ok(reply.result!.commitments[0]!.inputHash.equals(sha256(data)));
    const f32 = connect(chain.nodes[1]!.endpoint);
    await f32.openSession(openOf(`f32-for-${dtype}`, chain.route));
    const ones = Buffer.from(new Float32Array(128).fill(1).buffer);
    const same = await f32
      .write({ step: { step: 0, startPosition: 0, hidden: { dtype: 'DTYPE_F32', shape: [2, 64], data: ones } } })
      .reply();
    assert.ok(
      same.result!.commitments[0]!.outputHash.equals(reply.result!.commitments[0]!.outputHash),
      `${dtype} 1.0 computes what f32 1.0 does`,
    );
  }
});

test('wrong hidden size: INVALID_ARGUMENT naming both sizes', async () => {
  const client = await lastShardSession('wide');
  client.write({ step: { step: 0, startPosition: 0, hidden: hidden([1, 512], 2048) } });
  const error = await client.status();
  assertStatus(error, status.INVALID_ARGUMENT, 'hidden size 512, this node expects 64', chain.nodes[1]!.nodeId);
  assert.equal(error.metadata.get(FAILED_SHARD_KEY)[0], '1');
  await assertHealthyStillServed();
});

test('oversized message: RESOURCE_EXHAUSTED from the message limit', async () => {
  const client = await lastShardSession('huge');
  client.write({ step: { step: 0, startPosition: 0, hidden: hidden([300, 64], 300 * 64 * 4) } });
  assertStatus(await client.status(), status.RESOURCE_EXHAUSTED, /^Received message larger than max \(\d+ vs 65536\)$/);
  await assertHealthyStillServed();
});

test('positions: per-step limit, a start ahead of the cache, the context, and token ids outside the vocabulary', async () => {
  const cases: [Record<string, unknown>, status, string | RegExp][] = [
    [
      { tokens: new Array(33).fill(5) },
      status.INVALID_ARGUMENT,
      'step carries 33 positions, this node takes at most 32 per step',
    ],
    [
      { tokens: [5], startPosition: 3 },
      status.INVALID_ARGUMENT,
      "step starts at position 3, the session's cache holds only 0 positions",
    ],
    [
      { tokens: [5], startPosition: 0, hidden: hidden([1, 64], 256) },
      status.INVALID_ARGUMENT,
      'a hop running shard 0 takes token ids, not hidden states',
    ],
    [{ tokens: [] }, status.INVALID_ARGUMENT, 'step has no token ids'],
    [{ tokens: [1, 9999] }, status.INVALID_ARGUMENT, 'token id 9999 is outside the vocabulary of 512'],
  ];
  for (const [stepFields, code, message] of cases) {
    const client = connect(chain.nodes[0]!.endpoint);
    await client.openSession(openOf(`positions-${String(message).slice(0, 20)}`, chain.route));
    client.write({ step: { step: 0, startPosition: 0, ...stepFields } });
    assertStatus(await client.status(), code, message, chain.nodes[0]!.nodeId);
  }
  const tokensOnLast = await lastShardSession('tokens-on-last');
  tokensOnLast.write({ step: { step: 0, startPosition: 0, tokens: [5] } });
  assertStatus(
    await tokensOnLast.status(),
    status.INVALID_ARGUMENT,
    'a hop running shard 1 takes hidden states, not token ids',
  );
  await assertHealthyStillServed();
});

test('the model context bounds positions: OUT_OF_RANGE', async () => {
  // The same shards under a manifest whose context is 40 positions.
  const shortDir = join(scratch, 'short-context');
  cpSync(shardsDir, shortDir, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(shortDir, 'manifest.json'), 'utf8'));
  manifest.config.contextLength = 40;
  writeFileSync(join(shortDir, 'manifest.json'), JSON.stringify(manifest));
  const short = await startChain(shortDir, 2);
  chains.push(short);
  const client = connect(short.nodes[0]!.endpoint);
  await client.openSession(openOf('context', short.route));
  assert.equal(
    (await client.write({ step: { step: 0, startPosition: 0, tokens: new Array(32).fill(7) } }).reply()).kind,
    'result',
  );
  assert.equal(
    (await client.write({ step: { step: 1, startPosition: 32, tokens: new Array(8).fill(7) } }).reply()).kind,
    'result',
    'positions 32..39 still fit',
  );
  client.write({ step: { step: 2, startPosition: 38, tokens: [7, 7, 7] } });
  assertStatus(
    await client.status(),
    status.OUT_OF_RANGE,
    "positions 38 to 40 exceed the model's context of 40",
    short.nodes[0]!.nodeId,
  );
  await assertHealthyStillServed();
});

test('Open: retired and unknown output modes, another model, a route short of the last shard, a route without this node', async () => {
  const cases: [Partial<Open>, string][] = [
    [
      { outputMode: 'server_sample' },
      'output mode "server_sample" is retired: it exposed sampled tokens to the last node; use "off"',
    ],
    [
      { outputMode: 'decode_client_sample' },
      'output mode "decode_client_sample" is not served by this node (only "off")',
    ],
    [{ modelId: 'llama-70b' }, 'model "llama-70b" is not served here: this node serves stories260K'],
    [{ route: [chain.route[0]!] }, "route ends before shard 1: no hop runs shard 1 of stories260K's 2 shards"],
    [
      { route: [{ ...chain.route[0]!, nodeId: '0x0000000000000000000000000000000000000001' }, chain.route[1]!] },
      `route does not name this node ${chain.nodes[0]!.nodeId}`,
    ],
    [
      { route: [{ ...chain.route[0]!, shardEnd: 0 }, chain.route[1]!] },
      `route hop 0 (node ${chain.nodes[0]!.nodeId}): shards [0, 0) is not a span: it needs 0 ≤ start < end`,
    ],
    [{ sampling: { logprobs: 21 } }, 'logprobs 21 exceeds the maximum of 20'],
  ];
  for (const [fields, message] of cases) {
    const client = connect(chain.nodes[0]!.endpoint);
    client.write({ open: openOf('bad-open', chain.route, fields) });
    assertStatus(await client.status(), status.INVALID_ARGUMENT, message, chain.nodes[0]!.nodeId);
  }
  await assertHealthyStillServed();
});

test('max sessions: RESOURCE_EXHAUSTED, and the open sessions carry on', async () => {
  // Per-client and per-address shares above the total, so that the total is what refuses.
  const small = await newChain({ maxSessions: 2, maxSessionsPerClient: 3, maxSessionsPerPeer: 3 });
  const first = connect(small.nodes[0]!.endpoint);
  await first.openSession(openOf('s1', small.route));
  const second = connect(small.nodes[0]!.endpoint);
  await second.openSession(openOf('s2', small.route));
  const third = connect(small.nodes[0]!.endpoint);
  third.write({ open: openOf('s3', small.route) });
  const full = await third.status();
  assert.equal(reasonOf(full), 'NODE_FULL');
  assertStatus(
    full,
    status.RESOURCE_EXHAUSTED,
    'node is serving its maximum of 2 sessions; try another node holding these shards',
    small.nodes[0]!.nodeId,
  );
  for (const client of [first, second])
    assert.equal((await client.write({ step: { step: 0, startPosition: 0, tokens: PROMPT } }).reply()).kind, 'result');
});

test('an evicted session answers SESSION_EXPIRED, named after the node that evicted it, through the hop before it', async () => {
  // Room on the last node for one session's cache (16 positions × 2 layers × 256 bytes), not two.
  const tight = await startChain(shardsDir, 2, (shard) => (shard === 1 ? { cacheBytes: 16 * 2 * 256 + 100 } : {}));
  chains.push(tight);
  const older = connect(tight.nodes[0]!.endpoint);
  await older.openSession(openOf('older', tight.route));
  assert.equal((await older.write({ step: { step: 0, startPosition: 0, tokens: PROMPT } }).reply()).kind, 'result');
  const newer = connect(tight.nodes[0]!.endpoint);
  await newer.openSession(openOf('newer', tight.route));
  assert.equal((await newer.write({ step: { step: 0, startPosition: 0, tokens: PROMPT } }).reply()).kind, 'result');
  older.write({ step: { step: 1, startPosition: 5, tokens: [300] } });
  const error = await older.status();
  assertStatus(
    error,
    status.NOT_FOUND,
    /^session older is not open on this node \(evicted or never opened\); reopen and replay$/,
  );
  assert.equal(error.metadata.get(FAILED_NODE_KEY)[0], tight.nodes[1]!.nodeId, 'the last node evicted it');
  assert.equal((await newer.write({ step: { step: 1, startPosition: 5, tokens: [300] } }).reply()).kind, 'result');
});

test('a next hop that cannot be reached: UNAVAILABLE naming that hop', async () => {
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as { port: number }).port;
  await new Promise((resolve) => closed.close(resolve));
  const route = [
    chain.route[0]!,
    { nodeId: '0x00000000000000000000000000000000000000aa', endpoint: `127.0.0.1:${port}`, shardIndex: 1, shardEnd: 2 },
  ];
  const client = connect(chain.nodes[0]!.endpoint);
  client.write({ open: openOf('dead-next', route) });
  const error = await client.status();
  assertStatus(
    error,
    status.UNAVAILABLE,
    new RegExp(`^next hop 1 \\(shard 1, 0x0+aa at 127\\.0\\.0\\.1:${port}\\) failed: UNAVAILABLE: `),
    '0x00000000000000000000000000000000000000aa',
  );
  assert.equal(error.metadata.get(FAILED_SHARD_KEY)[0], '1');
  await assertHealthyStillServed();
});

test('a next hop that never answers Open: DEADLINE_EXCEEDED (NEXT_HOP_TIMEOUT) naming that hop, and the slot is freed', async () => {
  const silentHop = new Server();
  // Takes the stream and never answers.
  silentHop.addService(tessera.v1.Node.service, { Forward() {}, Info() {} });
  const port = await new Promise<number>((resolve, reject) =>
    silentHop.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  try {
    const quick = await newChain({ nextHopOpenedTimeoutMs: 300 });
    const route = [
      quick.route[0]!,
      {
        nodeId: '0x00000000000000000000000000000000000000bb',
        endpoint: `127.0.0.1:${port}`,
        shardIndex: 1,
        shardEnd: 2,
      },
    ];
    const client = connect(quick.nodes[0]!.endpoint);
    client.write({ open: openOf('silent-next', route) });
    const error = await client.status();
    assertStatus(
      error,
      status.DEADLINE_EXCEEDED,
      /^next hop 1 \(shard 1, 0x0+bb at 127\.0\.0\.1:\d+\) failed: it did not answer Open within 300 ms$/,
      '0x00000000000000000000000000000000000000bb',
    );
    assert.equal(reasonOf(error), 'NEXT_HOP_TIMEOUT');
    const opened = connect(quick.nodes[0]!.endpoint);
    await opened.openSession(openOf('after-silent', quick.route));
    assert.equal((await opened.write({ step: { step: 0, startPosition: 0, tokens: PROMPT } }).reply()).kind, 'result');
  } finally {
    silentHop.forceShutdown();
  }
});

test('reason codes travel with the status, relayed from the hop that failed', async () => {
  const client = await lastShardSession('reason-nan');
  const data = Buffer.from(new Float32Array(64).fill(Number.POSITIVE_INFINITY).buffer);
  client.write({ step: { step: 0, startPosition: 0, hidden: { dtype: 'DTYPE_F32', shape: [1, 64], data } } });
  const direct = await client.status();
  assertStatus(direct, status.INVALID_ARGUMENT, /^hidden states hold Infinity at position 0, index 0/);
  assert.equal(reasonOf(direct), 'NON_FINITE_ACTIVATION');
  const viaFirst = connect(chain.nodes[0]!.endpoint);
  await viaFirst.openSession(openOf('reason-history', chain.route));
  viaFirst.write({ step: { step: 0, startPosition: 0, tokens: PROMPT, history: [600] } });
  const relayed = await viaFirst.status();
  assertStatus(relayed, status.INVALID_ARGUMENT, 'history token id 600 is outside the vocabulary of 512');
  assert.equal(reasonOf(relayed), 'TOKEN_OUT_OF_VOCABULARY');
  await assertHealthyStillServed();
});
