// A long prompt crosses a 3-shard pipeline of real gRPC nodes in parts (Step.partial): each node
// sends every chunk on as soon as it has run it, and the step is still one step with the bytes of
// the engine in one process.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256 } from '../../src/crypto/hash.ts';
import { Engine, type BatchItem } from '../../src/model/engine.ts';
import { openModel } from '../../src/model/open-model.ts';
import { Sampler } from '../../src/model/sampling.ts';
import { shardModel } from '../../src/model/shards/shard.ts';
import { stepIdOf, tokenBytes, verifyCommitment } from '../../src/protocol/commitment.ts';
import type { StepResult__Output } from '../../src/proto/tessera/v1/StepResult.ts';
import type { Backend } from '../../src/tensor/backend.ts';
import { createWasmBackend } from '../../src/tensor/wasm-backend.ts';
import { promptTokens } from '../support/audit-network.ts';
import { testModel } from '../support/models.ts';
import { ForwardClient, startChain } from '../support/node-cluster.ts';
import { startTestOnlyRewritingHop } from '../support/test-only-rewriting-hop.ts';

/**
 * Positions a batch of shard 0's node runs: a 60-token prompt leaves it in 8 parts. The later nodes
 * would run 64 at once, so that they run it in 8 only if it reaches them in 8.
 */
const BUDGET = 8;
const PROMPT = promptTokens(11, 60);
const scratch = mkdtempSync(join(tmpdir(), 'tessera-prompt-parts-'));
const shardsDir = join(scratch, 'shards');
let chain: Awaited<ReturnType<typeof startChain>>;
let backend: Backend;
let local: Engine;
const clients: ForwardClient[] = [];
/** What each node's engine ran, in the order it ran it (the nodes share this process's event loop). */
const ran: { shard: number; startPos: number; positions: number; partial: boolean }[] = [];

/** Records every item an engine runs. */
function recording(shard: number) {
  return (engine: Engine): Engine =>
    new Proxy(engine, {
      get(target, property) {
        if (property === 'forwardBatch')
          return (items: readonly BatchItem[]) => {
            for (const item of items)
              ran.push({
                shard,
                startPos: item.startPos,
                positions: target.check(item),
                partial: item.partial === true,
              });
            return target.forwardBatch(items);
          };
        const value = Reflect.get(target, property, target) as unknown;
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
}

before(async () => {
  const manifest = shardModel(testModel('stories260K.gguf'), 3, shardsDir);
  assert.equal(manifest.shards.length, 3);
  chain = await startChain(shardsDir, 3, (shard) => ({
    maxBatchPositions: shard === 0 ? BUDGET : 64,
    testOnlyWrapEngine: recording(shard),
  }));
  backend = await createWasmBackend({ threads: 1 });
  const model = openModel(testModel('stories260K.gguf'));
  local = new Engine(
    model.config,
    { start: 0, end: model.config.layers, embedding: true, head: true },
    backend,
    model.weights,
  );
  model.weights.close();
});

after(async () => {
  for (const client of clients) client.close();
  await chain?.close();
  await backend?.close();
  rmSync(scratch, { recursive: true, force: true });
});

function session(endpoint = chain.nodes[0]!.endpoint): ForwardClient {
  const client = new ForwardClient(endpoint);
  clients.push(client);
  return client;
}

async function step(client: ForwardClient, n: number, startPosition: number, tokens: number[]) {
  const reply = await client.write({ step: { step: n, startPosition, tokens, history: [] } }).reply();
  assert.equal(reply.kind, 'result');
  return reply.result!;
}

function checkChain(result: StepResult__Output, sessionId: string, n: number, input: number[], logits: Float32Array) {
  assert.equal(result.commitments.length, 3);
  assert.ok(result.commitments[0]!.inputHash.equals(sha256(tokenBytes(input))), 'shard 0 committed to the input');
  assert.ok(
    sha256(new Uint8Array(logits.buffer)).equals(result.commitments[2]!.outputHash),
    `step ${n}: the last hop's logits hash`,
  );
  result.commitments.forEach((c, i) => {
    assert.equal(c.nodeId, chain.route[i]!.nodeId);
    assert.ok(c.stepId.equals(stepIdOf(sessionId, n)));
    assert.ok(verifyCommitment(c), `commitment of hop ${i} is signed by its node`);
    if (i > 0)
      assert.ok(c.inputHash.equals(result.commitments[i - 1]!.outputHash), `hop ${i} took hop ${i - 1}'s output`);
  });
  const expected = new Sampler().sample(logits, [], 3);
  assert.equal(result.sampled!.token, expected.id);
  assert.equal(result.sampled!.logprob, Math.fround(expected.logprob));
  assert.deepEqual(
    result.sampled!.top.map((t) => [t.token, t.logprob]),
    expected.top.map((t) => [t.id, Math.fround(t.logprob)]),
  );
  return expected.id;
}

test('a long prompt crosses the route in parts as one step with the bytes of one process; decode and a replay follow', async () => {
  const client = session();
  const sessionId = 'parts-1';
  await client.openSession({
    sessionId,
    modelId: 'stories260K',
    route: chain.route,
    outputMode: 'off',
    sampling: { temperature: 0, logprobs: 3 },
  });
  const cache = local.createCache(1 << 22);
  ran.length = 0;
  const prefill = await step(client, 0, 0, PROMPT);
  let token = checkChain(prefill, sessionId, 0, PROMPT, local.forward(cache, { tokens: PROMPT }, 0).logits!);

  // Each later shard ran the prompt as the parts it was sent, in order, and the last shard computed
  // logits for the last part only.
  const parts = Math.ceil(PROMPT.length / BUDGET);
  for (const shard of [0, 1, 2]) {
    const mine = ran.filter((r) => r.shard === shard);
    assert.deepEqual(
      mine.map((r) => [r.startPos, r.positions, r.partial]),
      Array.from({ length: parts }, (_, i) => [
        i * BUDGET,
        Math.min(BUDGET, PROMPT.length - i * BUDGET),
        i < parts - 1,
      ]),
      `shard ${shard} ran the prompt in parts of ${BUDGET}`,
    );
  }

  let position = PROMPT.length;
  const context = [...PROMPT];
  for (let n = 1; n < 5; n++) {
    context.push(token);
    const logits = local.forward(cache, { tokens: [token] }, position).logits!;
    token = checkChain(await step(client, n, position, [token]), sessionId, n, [token], logits);
    position++;
  }
  // A replay from position 0 (what a client does on a new route) crosses in parts again.
  const replayCache = local.createCache(1 << 22);
  const replayed = await step(client, 5, 0, context);
  checkChain(replayed, sessionId, 5, context, local.forward(replayCache, { tokens: context }, 0).logits!);
  assert.equal(replayed.sampled!.token, token);
});

/** Opens a session at shard 1's node, as shard 0's node would. */
test('a next hop whose Opened does not say it takes parts (one that predates them) gets the step whole', async () => {
  // In front of shard 2's node, a hop that answers Open as a node without parts would.
  const steps: { startPosition: number; partial: boolean }[] = [];
  const older = await startTestOnlyRewritingHop(
    () => {},
    (request) => {
      if (request.step) steps.push({ startPosition: request.step.startPosition, partial: request.step.partial });
    },
    (reply) => [reply.opened ? { ...reply, opened: { ...reply.opened, takesParts: false } } : reply],
  );
  const client = session();
  try {
    older.setUpstream(chain.nodes[2]!.endpoint);
    const route = chain.route.map((hop, i) => (i === 2 ? { ...hop, endpoint: older.endpoint } : hop));
    const sessionId = 'parts-to-an-older-node';
    await client.openSession({
      sessionId,
      modelId: 'stories260K',
      route,
      outputMode: 'off',
      sampling: { temperature: 0, logprobs: 3 },
    });
    ran.length = 0;
    const result = await step(client, 0, 0, PROMPT);
    checkChain(result, sessionId, 0, PROMPT, local.forward(local.createCache(1 << 22), { tokens: PROMPT }, 0).logits!);
    assert.deepEqual(steps, [{ startPosition: 0, partial: false }], 'one whole step reached shard 2');
    assert.equal(ran.filter((r) => r.shard === 1).length, Math.ceil(PROMPT.length / BUDGET), 'shard 1 took parts');
    assert.deepEqual(
      ran.filter((r) => r.shard === 2).map((r) => [r.startPos, r.positions, r.partial]),
      [[0, PROMPT.length, false]],
    );
  } finally {
    // the hop shuts down once the session through it has ended
    client.close();
    await older.close();
  }
});
