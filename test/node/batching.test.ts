// Continuous batching through a 2-shard pipeline of real gRPC nodes on 127.0.0.1: eight sessions
// run at once (their steps batched, long prompts chunked beside other sessions' decodes) give every
// hop's output hash and every sampled token that each session gets when it runs alone.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BatchItem, Engine } from '../../src/model/engine.ts';
import { openModel } from '../../src/model/open-model.ts';
import { shardModel } from '../../src/model/shards/shard.ts';
import type { StepResult__Output } from '../../src/proto/tessera/v1/StepResult.ts';
import { ForwardClient, startChain } from '../support/node-cluster.ts';
import { testModel } from '../support/models.ts';

const scratch = mkdtempSync(join(tmpdir(), 'tessera-node-batching-'));
const shardsDir = join(scratch, 'shards');
/** Positions one batch may hold: small, so the longer prompts run in chunks. */
const BATCH_POSITIONS = 8;
const DECODE_STEPS = 10;
let chain: Awaited<ReturnType<typeof startChain>>;
/** Per node, the sessions' positions of each batch its engine ran (partial: a prompt chunk). */
const batches: { positions: number; partial: boolean }[][][] = [[], []];
const clients: ForwardClient[] = [];

/** Records each batch, then runs it as the node would. */
function recording(shard: number) {
  return (engine: Engine): Engine =>
    new Proxy(engine, {
      get(target, property) {
        if (property === 'forwardBatch')
          return (items: readonly BatchItem[]) => {
            batches[shard]!.push(items.map((i) => ({ positions: target.check(i), partial: i.partial ?? false })));
            return target.forwardBatch(items);
          };
        const value = Reflect.get(target, property, target) as unknown;
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
}

const model = openModel(testModel('stories260K.gguf'));
const PROMPTS = [
  'Once upon a time, there was a little girl named Lily who loved to play outside in the park with her friends.',
  'The cat sat.',
  'Tom had a big red ball and he liked to throw it high.',
  'One day',
  'The sun was hot and the birds sang in the tall green trees near the river.',
  'Sue',
  'A dog ran fast.',
  'Max liked to eat apples and pears.',
].map((text) => model.tokenizer.encode(text));
model.weights.close();

before(async () => {
  shardModel(testModel('stories260K.gguf'), 2, shardsDir);
  chain = await startChain(shardsDir, 2, (shard) => ({
    maxBatchPositions: BATCH_POSITIONS,
    testOnlyWrapEngine: recording(shard),
  }));
});

after(async () => {
  for (const client of clients) client.close();
  await chain?.close();
  rmSync(scratch, { recursive: true, force: true });
});

/** What a session saw at each step: the sampled token and its log-probability, and each hop's output hash. */
type Trace = string[];

/** The next StepResult on the stream (signatures and other replies between are not what this test compares). */
async function result(client: ForwardClient): Promise<StepResult__Output> {
  for (;;) {
    const reply = await client.reply();
    if (reply.kind === 'result') return reply.result!;
  }
}

/** One greedy session: its prompt in one step, then DECODE_STEPS single tokens. */
async function runSession(id: string, prompt: number[]): Promise<Trace> {
  const client = new ForwardClient(chain.nodes[0]!.endpoint);
  clients.push(client);
  await client.openSession({
    sessionId: id,
    modelId: 'stories260K',
    route: chain.route,
    outputMode: 'off',
    sampling: { temperature: 0, logprobs: 2 },
  });
  const trace: Trace = [];
  let input = prompt;
  let position = 0;
  for (let n = 0; n <= DECODE_STEPS; n++) {
    client.write({ step: { step: n, startPosition: position, tokens: input, history: [] } });
    const r = await result(client);
    assert.equal(r.commitments.length, 2, 'a commitment from each hop');
    const sampled = r.sampled!;
    trace.push(
      [
        sampled.token,
        sampled.logprob,
        ...sampled.top.map((t) => `${t.token}:${t.logprob}`),
        ...r.commitments.map((c) => Buffer.from(c.outputHash).toString('hex')),
      ].join(' '),
    );
    position += input.length;
    input = [sampled.token];
  }
  client.write({ close: {} });
  return trace;
}

test('8 sessions batched give each hop output hash and token of each session run alone', async () => {
  const alone: Trace[] = [];
  for (let i = 0; i < PROMPTS.length; i++) alone.push(await runSession(`alone-${i}`, PROMPTS[i]!));
  for (const node of batches) {
    assert.ok(node.length > 0);
    assert.ok(
      node.every((b) => b.length === 1),
      'one session at a time runs alone',
    );
    node.length = 0;
  }

  const together = await Promise.all(PROMPTS.map((prompt, i) => runSession(`together-${i}`, prompt)));
  for (let i = 0; i < PROMPTS.length; i++)
    assert.deepEqual(together[i], alone[i], `session ${i}: every step's token and hop output hashes as alone`);

  for (const [shard, node] of batches.entries()) {
    assert.ok(
      node.some((b) => b.length > 1),
      `node ${shard} ran steps of several sessions in one batch`,
    );
    for (const batch of node)
      assert.ok(batch.reduce((s, i) => s + i.positions, 0) <= BATCH_POSITIONS, 'each batch within its budget');
  }
  assert.ok(
    batches[0]!.some((b) => b.some((i) => i.partial)),
    'the long prompts ran in chunks',
  );
});
