import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createWasmBackend } from '../tensor/wasm-backend.ts';
import type { Backend } from '../tensor/backend.ts';
import { Engine, EngineInputError, type BatchItem } from '../model/engine.ts';
import { openModel } from '../model/open-model.ts';
import type { ModelFiles } from '../model/model-files.ts';
import { testModel } from '../../test/support/models.ts';
import { StepBatcher } from './step-batcher.ts';

let backend: Backend;
const model: ModelFiles = openModel(testModel('stories260K.gguf'));

before(async () => {
  backend = await createWasmBackend({ threads: 1 });
});

after(async () => {
  model.weights.close();
  await backend.close();
});

const bytesOf = (values: Float32Array) => Buffer.from(values.buffer, values.byteOffset, values.byteLength);

/** An engine whose forwardBatch calls are recorded: the positions and partial flag of each item. */
function recordingEngine(head: boolean): { engine: Engine; batches: { positions: number; partial: boolean }[][] } {
  const { config } = model;
  const engine = new Engine(
    config,
    { start: 0, end: head ? config.layers : 2, embedding: true, head },
    backend,
    model.weights,
  );
  const batches: { positions: number; partial: boolean }[][] = [];
  const forwardBatch = engine.forwardBatch.bind(engine);
  engine.forwardBatch = (items: readonly BatchItem[]) => {
    batches.push(items.map((i) => ({ positions: engine.check(i), partial: i.partial ?? false })));
    return forwardBatch(items);
  };
  return { engine, batches };
}

const prompts = [
  'Once upon a time, there was a little girl named Lily who loved to play outside in the park.',
  'The cat sat.',
  'Tom had a big red ball.',
  'One day',
  'The sun was hot and the birds sang in the tall green trees near the river.',
  'Sue',
  'A dog ran fast.',
  'Max liked to eat apples.',
].map((text) => model.tokenizer.encode(text));

for (const head of [true, false]) {
  test(`8 steps queued together run as one batch and each gets the bytes of forward alone (${head ? 'logits' : 'hidden states'})`, async () => {
    const { engine, batches } = recordingEngine(head);
    const batcher = new StepBatcher({ maxBatchPositions: 4096 });
    const caches = prompts.map(() => engine.createCache(1 << 22));
    const results = await Promise.all(
      prompts.map((tokens, i) => batcher.run({ engine, cache: caches[i]!, input: { tokens }, startPos: 0 })),
    );
    assert.deepEqual(
      batches.map((b) => b.length),
      [8],
      'one batch of all eight',
    );
    results.forEach(({ output, computeMicroseconds }, i) => {
      const alone = engine.forward(engine.createCache(1 << 22), { tokens: prompts[i]! }, 0);
      assert.ok(bytesOf(output).equals(bytesOf(alone.logits ?? alone.hidden!)), `step ${i}: the bytes alone`);
      assert.ok(computeMicroseconds > 0);
      assert.equal(caches[i]!.length, prompts[i]!.length);
    });
  });
}

test('a prompt over the position budget runs in chunks beside decodes, and gives the bytes of one unchunked step', async () => {
  const { engine, batches } = recordingEngine(true);
  const budget = 6;
  const batcher = new StepBatcher({ maxBatchPositions: budget });
  // three sessions prefilled, then decoding one token at a time while a long prompt arrives
  const short = prompts.slice(1, 4);
  const caches = short.map(() => engine.createCache(1 << 22));
  for (let i = 0; i < short.length; i++)
    await batcher.run({ engine, cache: caches[i]!, input: { tokens: short[i]! }, startPos: 0 });
  batches.length = 0;
  const long = prompts[0]!;
  const longCache = engine.createCache(1 << 22);
  const longDone = batcher.run({ engine, cache: longCache, input: { tokens: long }, startPos: 0 });
  const decoded: Buffer[][] = short.map(() => []);
  const decodes = short.map(async (tokens, i) => {
    for (let j = 0; j < 6; j++) {
      const { output } = await batcher.run({
        engine,
        cache: caches[i]!,
        input: { tokens: [7 + j] },
        startPos: tokens.length + j,
      });
      decoded[i]!.push(Buffer.from(bytesOf(output)));
    }
  });
  const [{ output: longOutput }] = await Promise.all([longDone, ...decodes]);

  for (const batch of batches) assert.ok(batch.reduce((s, i) => s + i.positions, 0) <= budget, 'within the budget');
  assert.ok(
    batches.some((b) => b.some((i) => i.partial) && b.some((i) => i.positions === 1 && !i.partial)),
    'a batch held a prompt chunk and decodes',
  );
  assert.ok(batches.filter((b) => b.some((i) => i.partial)).length >= Math.floor(long.length / budget) - 1);

  const alone = engine.forward(engine.createCache(1 << 22), { tokens: long }, 0).logits!;
  assert.ok(bytesOf(longOutput).equals(bytesOf(alone)), 'the chunked prompt gives the unchunked bytes');
  short.forEach((tokens, i) => {
    const cache = engine.createCache(1 << 22);
    engine.forward(cache, { tokens }, 0);
    for (let j = 0; j < 6; j++) {
      const logits = engine.forward(cache, { tokens: [7 + j] }, tokens.length + j).logits!;
      assert.ok(bytesOf(logits).equals(decoded[i]![j]!), `session ${i} decode ${j}: the bytes alone`);
    }
  });
});

test('sessions of a 2-shard route are run in two micro-batches, so the next shard has one to work on meanwhile', async () => {
  const { engine, batches } = recordingEngine(false);
  const batcher = new StepBatcher({ activeSessions: () => 8 });
  const runs = prompts.map((tokens) =>
    batcher.run({ engine, cache: engine.createCache(1 << 22), input: { tokens }, startPos: 0, pipelineDepth: 2 }),
  );
  await Promise.all(runs);
  assert.deepEqual(
    batches.map((b) => b.length),
    [4, 4],
  );
});

test('a step the engine cannot take is refused alone; the others of its batch run', async () => {
  const { engine } = recordingEngine(true);
  const batcher = new StepBatcher();
  const good = engine.createCache(1 << 22);
  const bad = batcher.run({ engine, cache: engine.createCache(1 << 22), input: { tokens: [1, 2] }, startPos: 5 });
  const full = batcher.run({ engine, cache: engine.createCache(1 << 10), input: { tokens: prompts[0]! }, startPos: 0 });
  const ok = batcher.run({ engine, cache: good, input: { tokens: prompts[1]! }, startPos: 0 });
  await assert.rejects(bad, (e: unknown) => e instanceof EngineInputError && e.code === 'ENGINE_INPUT_INVALID');
  await assert.rejects(full, (e: unknown) => (e as { code?: string }).code === 'KV_CACHE_FULL');
  const { output } = await ok;
  const alone = engine.forward(engine.createCache(1 << 22), { tokens: prompts[1]! }, 0).logits!;
  assert.ok(bytesOf(output).equals(bytesOf(alone)));
  assert.equal(batcher.pending, 0);
});

test('a prompt is not starved by decodes that fill every batch: the oldest step runs in each', async () => {
  const { engine, batches } = recordingEngine(true);
  const budget = 4;
  const batcher = new StepBatcher({ maxBatchPositions: budget });
  const short = prompts.slice(1, 5);
  const caches = short.map(() => engine.createCache(1 << 22));
  await Promise.all(
    short.map((tokens, i) => batcher.run({ engine, cache: caches[i]!, input: { tokens }, startPos: 0 })),
  );
  let longDone = false;
  let decodeSteps = 0;
  // four sessions decoding without pause: by themselves they fill every batch's budget
  const decodes = short.map(async (tokens, i) => {
    for (let j = 0; !longDone && j < 100; j++) {
      await batcher.run({ engine, cache: caches[i]!, input: { tokens: [5 + j] }, startPos: tokens.length + j });
      decodeSteps++;
    }
  });
  batches.length = 0;
  const long = prompts[0]!;
  const { output } = await batcher.run({
    engine,
    cache: engine.createCache(1 << 22),
    input: { tokens: long },
    startPos: 0,
  });
  longDone = true;
  assert.ok(decodeSteps < 4 * 100, `the prompt finished while the decodes went on (after ${decodeSteps} of them)`);
  await Promise.all(decodes);
  const alone = engine.forward(engine.createCache(1 << 22), { tokens: long }, 0).logits!;
  assert.ok(bytesOf(output).equals(bytesOf(alone)));
  const chunks = batches.flatMap((b, k) => (b.some((i) => i.partial) ? [k] : []));
  assert.ok(chunks.length > 1, 'the prompt ran in chunks');
  assert.equal(chunks.at(-1)! - chunks[0]! + 1, chunks.length, 'once begun, the prompt advanced in every batch');
});

/** Two sessions' prompts queued on one batcher before it runs: the first's step is the one a test takes away. */
function twoQueuedPrompts() {
  const { engine, batches } = recordingEngine(true);
  const batcher = new StepBatcher({ maxBatchPositions: 4096 });
  const [first, kept] = [engine.createCache(1 << 22), engine.createCache(1 << 22)];
  const queued = batcher.run({ engine, cache: first, input: { tokens: prompts[0]! }, startPos: 0 });
  const served = batcher.run({ engine, cache: kept, input: { tokens: prompts[1]! }, startPos: 0 });
  return { engine, batches, batcher, first, kept, queued, served };
}

test("a session that ends drops its queued steps: they are refused and never run, the others' steps run", async () => {
  const { batches, batcher, first: gone, queued: dropped, served } = twoQueuedPrompts();
  batcher.cancel(gone);
  await assert.rejects(dropped, /the session ended before its step ran/);
  const { output } = await served;
  assert.equal(output.length, model.config.vocabSize);
  assert.deepEqual(batches, [[{ positions: prompts[1]!.length, partial: false }]]);
  assert.equal(gone.length, 0, 'the dropped step wrote nothing to its cache');
  assert.equal(batcher.pending, 0);
});

test("a session evicted while its step waited (its cache given back) has that step refused; the others' steps run and give their bytes", async () => {
  const { engine, batches, batcher, first: evicted, kept, queued: refused, served } = twoQueuedPrompts();
  // what the session store does on eviction: the memory goes back at once, and may serve another cache
  evicted.release();
  const other = engine.createCache(1 << 22);
  await assert.rejects(refused, /given back before its step ran/);
  const { output } = await served;
  const alone = engine.forward(other, { tokens: prompts[1]! }, 0).logits!;
  assert.ok(bytesOf(output).equals(bytesOf(alone)));
  assert.deepEqual(batches.slice(0, 1), [[{ positions: prompts[1]!.length, partial: false }]]);
  assert.equal(batcher.pending, 0);
  other.release();
  kept.release();
});

test('each chunk but the last leaves through onChunk as soon as it has run; a partial request computes no logits', async () => {
  const ranges = recordingEngine(false);
  const batcher = new StepBatcher({ maxBatchPositions: 8 });
  const tokens = prompts[0]!;
  const chunks: Float32Array[] = [];
  const { output } = await batcher.run({
    engine: ranges.engine,
    cache: ranges.engine.createCache(1 << 22),
    input: { tokens },
    startPos: 0,
    onChunk: (hidden) => void chunks.push(hidden.slice()),
  });
  const H = model.config.hiddenSize;
  const whole = Math.ceil(tokens.length / 8);
  assert.equal(chunks.length, whole - 1);
  chunks.forEach((chunk, i) =>
    assert.ok(bytesOf(chunk).equals(bytesOf(output.subarray(i * 8 * H, (i + 1) * 8 * H))), `chunk ${i}`),
  );

  const { engine, batches } = recordingEngine(true);
  const headBatcher = new StepBatcher({ maxBatchPositions: 64 });
  const cache = engine.createCache(1 << 22);
  const part = await headBatcher.run({
    engine,
    cache,
    input: { tokens: tokens.slice(0, 5) },
    startPos: 0,
    partial: true,
  });
  assert.equal(part.output.length, 0, 'no logits for a part');
  assert.deepEqual(batches.at(-1), [{ positions: 5, partial: true }]);
  const rest = await headBatcher.run({ engine, cache, input: { tokens: tokens.slice(5) }, startPos: 5 });
  const alone = engine.forward(engine.createCache(1 << 22), { tokens }, 0).logits!;
  assert.ok(bytesOf(rest.output).equals(bytesOf(alone)), 'the last part gives the logits of the whole step');
});

test("the only session's step runs at once, not a turn of the event loop later; with more sessions it waits for that turn's arrivals", async () => {
  for (const sessions of [1, 2]) {
    const { engine, batches } = recordingEngine(true);
    const batcher = new StepBatcher({ activeSessions: () => sessions });
    const order: string[] = [];
    setImmediate(() => order.push('next turn'));
    const { output } = await batcher.run({
      engine,
      cache: engine.createCache(1 << 22),
      input: { tokens: prompts[2]! },
      startPos: 0,
    });
    order.push('step');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(order, sessions === 1 ? ['step', 'next turn'] : ['next turn', 'step'], `${sessions} session(s)`);
    assert.equal(batches.length, 1);
    const alone = engine.forward(engine.createCache(1 << 22), { tokens: prompts[2]! }, 0).logits!;
    assert.ok(bytesOf(output).equals(bytesOf(alone)));
  }
});

test('steps of different engine views of one node never share a batch; each still gets the bytes of forward alone', async () => {
  const { config } = model;
  const whole = new Engine(
    config,
    { start: 0, end: config.layers, embedding: true, head: true },
    backend,
    model.weights,
  );
  const views = [whole, whole.slice({ start: 0, end: 2, embedding: true, head: false })];
  const batches: string[][] = [];
  for (const [name, view] of views.entries()) {
    const forwardBatch = view.forwardBatch.bind(view);
    view.forwardBatch = (items: readonly BatchItem[]) => {
      batches.push(items.map(() => `view ${name}`));
      return forwardBatch(items);
    };
  }
  const batcher = new StepBatcher({ maxBatchPositions: 4096 });
  // queued alternately: view 0, view 1, view 0, …
  const steps = prompts.map((tokens, i) => ({ engine: views[i % 2]!, tokens }));
  const results = await Promise.all(
    steps.map(({ engine, tokens }) =>
      batcher.run({ engine, cache: engine.createCache(1 << 22), input: { tokens }, startPos: 0 }),
    ),
  );
  assert.deepEqual(batches, [Array(4).fill('view 0'), Array(4).fill('view 1')], 'one batch per view, each whole');
  results.forEach(({ output }, i) => {
    const { engine, tokens } = steps[i]!;
    const alone = engine.forward(engine.createCache(1 << 22), { tokens }, 0);
    assert.ok(bytesOf(output).equals(bytesOf(alone.logits ?? alone.hidden!)), `step ${i}: the bytes alone`);
  });
});
