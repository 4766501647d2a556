// A 3-shard pipeline of real gRPC nodes on 127.0.0.1 against the engine in one process.
import { sha256 } from '../../src/crypto/hash.ts';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { Engine } from '../../src/model/engine.ts';
import { openModel } from '../../src/model/open-model.ts';
import { Sampler } from '../../src/model/sampling.ts';
import type { Tokenizer } from '../../src/model/tokenizer/tokenizer.ts';
import { stepIdOf, tokenBytes, verifyCommitment } from '../../src/protocol/commitment.ts';
import { shardModel } from '../../src/model/shards/shard.ts';
import { positionSeed } from '../../src/node/position-sampler.ts';
import { ENGINE_VERSION } from '../../src/protocol/version.ts';
import { tessera } from '../../src/proto/services.ts';
import type { InfoReply__Output } from '../../src/proto/tessera/v1/InfoReply.ts';
import type { NodeClient } from '../../src/proto/tessera/v1/Node.ts';
import type { StepResult__Output } from '../../src/proto/tessera/v1/StepResult.ts';
import { createWasmBackend } from '../../src/tensor/wasm-backend.ts';
import type { Backend } from '../../src/tensor/backend.ts';
import { ForwardClient, startChain } from '../support/node-cluster.ts';
import { testModel } from '../support/models.ts';

const PROMPT = [1, 403, 407, 261, 378]; // "Once upon a time"
const scratch = mkdtempSync(join(tmpdir(), 'tessera-node-pipeline-'));
const shardsDir = join(scratch, 'shards');
let chain: Awaited<ReturnType<typeof startChain>>;
let backend: Backend;
let local: Engine;
let tokenizer: Tokenizer;
const clients: ForwardClient[] = [];

before(async () => {
  shardModel(testModel('stories260K.gguf'), 3, shardsDir);
  chain = await startChain(shardsDir, 3);
  backend = await createWasmBackend({ threads: 1 });
  const model = openModel(testModel('stories260K.gguf'));
  local = new Engine(
    model.config,
    { start: 0, end: model.config.layers, embedding: true, head: true },
    backend,
    model.weights,
  );
  tokenizer = model.tokenizer;
  model.weights.close();
});

after(async () => {
  for (const client of clients) client.close();
  await chain?.close();
  await backend?.close();
  rmSync(scratch, { recursive: true, force: true });
});

function session(): ForwardClient {
  const client = new ForwardClient(chain.nodes[0]!.endpoint);
  clients.push(client);
  return client;
}

async function step(
  client: ForwardClient,
  n: number,
  startPosition: number,
  tokens: number[],
  history: number[] = [],
): Promise<StepResult__Output> {
  const reply = await client.write({ step: { step: n, startPosition, tokens, history } }).reply();
  assert.equal(reply.kind, 'result');
  return reply.result!;
}

test('3 nodes give the logits bytes, the greedy tokens and the log-probabilities of the engine in one process, with linked signed commitments', async () => {
  const client = session();
  await client.openSession({
    sessionId: 'greedy-1',
    modelId: 'stories260K',
    route: chain.route,
    outputMode: 'off',
    sampling: { temperature: 0, logprobs: 3 },
  });
  const cache = local.createCache(1 << 22);
  let input = PROMPT;
  let position = 0;
  const generated: number[] = [];
  for (let n = 0; n < 12; n++) {
    const logits = local.forward(cache, { tokens: input }, position).logits!;
    const result = await step(client, n, position, input);
    assert.equal(result.step, n);
    assert.equal(result.commitments.length, 3);
    const last = result.commitments[2]!;
    assert.ok(sha256(new Uint8Array(logits.buffer)).equals(last.outputHash), `step ${n}: the last hop's logits hash`);
    assert.ok(result.commitments[0]!.inputHash.equals(sha256(tokenBytes(input))));
    result.commitments.forEach((c, i) => {
      assert.equal(c.nodeId, chain.route[i]!.nodeId);
      assert.deepEqual([c.shardIndex, c.shardEnd], [i, i + 1], `hop ${i} commits to the span it ran`);
      assert.ok(c.stepId.equals(stepIdOf('greedy-1', n)));
      assert.ok(verifyCommitment(c), `commitment of hop ${i} is signed by its node`);
      if (i > 0)
        assert.ok(
          c.inputHash.equals(result.commitments[i - 1]!.outputHash),
          `hop ${i} took what hop ${i - 1} produced`,
        );
    });
    const expected = new Sampler().sample(logits, [], 3);
    assert.equal(result.sampled!.token, expected.id);
    assert.equal(result.sampled!.logprob, Math.fround(expected.logprob));
    assert.deepEqual(
      result.sampled!.top.map((t) => t.token),
      expected.top.map((t) => t.id),
    );
    position += input.length;
    input = [expected.id];
    generated.push(expected.id);
  }
  assert.ok(
    tokenizer.decode(generated).startsWith(', there was a little girl named Lily'),
    'the published continuation',
  );
});

test('a tampered commitment no longer verifies', async () => {
  const client = session();
  await client.openSession({ sessionId: 'tamper', modelId: 'stories260K', route: chain.route, outputMode: 'off' });
  const result = await step(client, 0, 0, PROMPT);
  const c = result.commitments[1]!;
  assert.ok(verifyCommitment(c));
  const flipped = Buffer.from(c.outputHash);
  flipped[0] = flipped[0]! ^ 1;
  assert.equal(verifyCommitment({ ...c, outputHash: flipped }), false);
  assert.equal(verifyCommitment({ ...c, nodeId: String(chain.route[0]!.nodeId) }), false);
});

test('sampling is seeded per position: replaying from a position draws the same tokens', async () => {
  const sampling = { temperature: 1.2, topK: 40, seed: 1234 };
  const client = session();
  await client.openSession({
    sessionId: 'sampled',
    modelId: 'stories260K',
    route: chain.route,
    outputMode: 'off',
    sampling,
  });
  const tokens: number[] = [];
  let result = await step(client, 0, 0, PROMPT);
  tokens.push(result.sampled!.token);
  for (let n = 1; n < 8; n++) {
    result = await step(client, n, PROMPT.length + n - 1, [tokens[n - 1]!]);
    tokens.push(result.sampled!.token);
  }
  // The same draws as a local sampler seeded for each position.
  const cache = local.createCache(1 << 22);
  let logits = local.forward(cache, { tokens: PROMPT }, 0).logits!;
  for (let n = 0; n < 8; n++) {
    const position = PROMPT.length + n;
    assert.equal(
      tokens[n],
      new Sampler({ ...sampling, seed: positionSeed(1234, position) }).sample(logits, []).id,
      `token at position ${position}`,
    );
    logits = local.forward(cache, { tokens: [tokens[n]!] }, position).logits!;
  }
  // Replay from position PROMPT.length + 3 on the same session: the cache is cut back and the draws repeat.
  for (let n = 3; n < 8; n++) {
    result = await step(client, 100 + n, PROMPT.length + n - 1, [tokens[n - 1]!]);
    assert.equal(result.sampled!.token, tokens[n]);
  }
  // And on a new session from scratch.
  const again = session();
  await again.openSession({
    sessionId: 'sampled-again',
    modelId: 'stories260K',
    route: chain.route,
    outputMode: 'off',
    sampling,
  });
  assert.equal((await step(again, 0, 0, PROMPT)).sampled!.token, tokens[0]);
});

function info(endpoint: string): Promise<InfoReply__Output> {
  const client = new tessera.v1.Node(endpoint, credentials.createInsecure()) as unknown as NodeClient;
  return new Promise<InfoReply__Output>((resolve, reject) =>
    client.info({}, (error, reply) => (error ? reject(error) : resolve(reply!))),
  ).finally(() => client.close());
}

test('Info names the node, its model, the span of shards it holds, its layers and its sessions', async () => {
  const node = chain.nodes[1]!;
  const reply = await info(node.endpoint);
  assert.equal(reply.nodeId, node.nodeId);
  assert.equal(reply.modelId, 'stories260K');
  assert.deepEqual([reply.shardIndex, reply.shardEnd], [1, 2]);
  assert.deepEqual([reply.layerStart, reply.layerEnd], [2, 4]);
  assert.equal(reply.maxSessions, 64);
  assert.equal(reply.engineVersion, ENGINE_VERSION);
  assert.ok(reply.activeSessions >= 1, 'the sessions of the tests before are still open');
});

test('Close ends the session on every hop', async () => {
  const sessionsOnEveryHop = () => Promise.all(chain.nodes.map(async (n) => (await info(n.endpoint)).activeSessions));
  const before = await sessionsOnEveryHop();
  const client = session();
  await client.openSession({ sessionId: 'closing', modelId: 'stories260K', route: chain.route, outputMode: 'off' });
  await step(client, 0, 0, PROMPT);
  assert.deepEqual(
    await sessionsOnEveryHop(),
    before.map((n) => n + 1),
  );
  client.write({ close: {} });
  const ended = await client.next();
  assert.ok('end' in ended, 'the stream ends with OK');
  // Each hop lets go when the Close reaches it, a moment after the first one answered.
  const deadline = Date.now() + 10_000;
  while ((await sessionsOnEveryHop()).some((n, i) => n !== before[i])) {
    assert.ok(Date.now() < deadline, 'every hop released the session within 10 s');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
});
