import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createWasmBackend } from '../tensor/wasm-backend.ts';
import { Engine, EngineInputError, type BatchItem, type LayerRange } from './engine.ts';
import { CacheFullError } from './kv-cache.ts';
import { openModel } from './open-model.ts';
import type { ModelFiles } from './model-files.ts';
import { testModel } from '../../test/support/models.ts';
import { syntheticQwen2 } from '../../test/support/synthetic.ts';

function bytesOf(values: Float32Array): Buffer {
  return Buffer.from(values.buffer, values.byteOffset, values.byteLength);
}

/** One session's steps: a prompt, then single tokens; `chunk` splits its prompt in the batched run. */
interface Script {
  readonly prompt: number[];
  readonly decode: number[];
  readonly chunk: number;
}

function scriptsFor(model: ModelFiles): Script[] {
  const texts = [
    'Once upon a time, a little fox met a bear in the woods.',
    'The sun was hot.',
    'Lily had a red ball and a big dog named Max who liked to run.',
    'One day',
    'Tom and Sue went to the park to play on the swings.',
  ];
  const vocab = model.config.vocabSize;
  return texts.map((text, i) => ({
    prompt: model.tokenizer.encode(text),
    decode: Array.from({ length: 3 + i }, (_, j) => (17 * (i + 1) + 31 * j) % vocab),
    chunk: [3, 100, 5, 1, 4][i]!,
  }));
}

/** Each session's outputs, step by step, run alone through `forward`. */
function runAlone(engine: Engine, scripts: Script[]): Buffer[][] {
  return scripts.map(({ prompt, decode }) => {
    const cache = engine.createCache(1 << 24);
    const out = [Buffer.from(bytesOf(outputOf(engine.forward(cache, { tokens: prompt }, 0))))];
    decode.forEach((token, j) => {
      out.push(Buffer.from(bytesOf(outputOf(engine.forward(cache, { tokens: [token] }, prompt.length + j)))));
    });
    return out;
  });
}

function outputOf(result: { logits?: Float32Array; hidden?: Float32Array }): Float32Array {
  return result.logits ?? result.hidden!;
}

/**
 * All sessions at once: every round each unfinished session contributes its next piece (a chunk
 * of its prompt, or one decode token) to one forwardBatch call, so prefill chunks and decodes mix
 * and sessions join (a short prompt finishes early) and leave (a short script ends) between rounds.
 * A head range's chunked prompt yields logits with its last chunk; a hidden range's, the chunks'
 * hidden states joined.
 */
function runBatched(engine: Engine, scripts: Script[]): Buffer[][] {
  const sessions = scripts.map((script) => ({
    script,
    cache: engine.createCache(1 << 24),
    at: 0,
    pending: [] as Buffer[],
    out: [] as Buffer[],
  }));
  for (;;) {
    const round = sessions.flatMap((session) => {
      const { prompt, decode, chunk } = session.script;
      if (session.at < prompt.length) {
        const tokens = prompt.slice(session.at, session.at + chunk);
        return [{ session, tokens, partial: session.at + tokens.length < prompt.length }];
      }
      const j = session.at - prompt.length;
      return j < decode.length ? [{ session, tokens: [decode[j]!], partial: false }] : [];
    });
    if (round.length === 0) break;
    const items: BatchItem[] = round.map(({ session, tokens, partial }) => ({
      cache: session.cache,
      input: { tokens },
      startPos: session.at,
      partial,
    }));
    const results = engine.forwardBatch(items);
    round.forEach(({ session, tokens, partial }, i) => {
      session.at += tokens.length;
      const result = results[i]!;
      if (result.hidden) session.pending.push(Buffer.from(bytesOf(result.hidden)));
      else assert.equal(result.logits === undefined, partial, 'a head range gives logits for the last chunk alone');
      if (partial) return;
      session.out.push(result.logits ? Buffer.from(bytesOf(result.logits)) : Buffer.concat(session.pending));
      session.pending = [];
    });
  }
  return sessions.map((session) => session.out);
}

function assertSameBytes(batched: Buffer[][], alone: Buffer[][], what: string): void {
  assert.equal(batched.length, alone.length);
  for (let s = 0; s < alone.length; s++) {
    assert.equal(batched[s]!.length, alone[s]!.length, `${what}: session ${s} step count`);
    for (let k = 0; k < alone[s]!.length; k++)
      assert.ok(batched[s]![k]!.equals(alone[s]![k]!), `${what}: session ${s} step ${k} has the bytes it gets alone`);
  }
}

for (const [name, open] of [
  ['stories260K f32', async () => openModel(testModel('stories260K.gguf'))],
  ['random-weight qwen2 q8_0 (GQA 14/2, QKV bias)', async () => openModel(await syntheticQwen2('q8_0'))],
] as const) {
  test(`${name}: forwardBatch gives each session the bytes of forward alone, chunked prefill and decodes mixed`, async () => {
    const model = await open();
    const backend = await createWasmBackend({ threads: 2 });
    try {
      const scripts = scriptsFor(model);
      const layers = model.config.layers;
      const ranges: [string, LayerRange][] = [
        ['whole model', { start: 0, end: layers, embedding: true, head: true }],
        ['first layer, hidden out', { start: 0, end: 1, embedding: true, head: false }],
      ];
      for (const [what, range] of ranges) {
        const engine = new Engine(model.config, range, backend, model.weights);
        const alone = runAlone(engine, scripts);
        assertSameBytes(runBatched(engine, scripts), alone, what);
      }

      // a later range takes hidden states: stack two sessions' prompts through it at once
      const first = new Engine(model.config, ranges[1]![1], backend, model.weights);
      const rest = new Engine(
        model.config,
        { start: 1, end: layers, embedding: false, head: true },
        backend,
        model.weights,
      );
      const hidden = scripts.map((s) => first.forward(first.createCache(1 << 24), { tokens: s.prompt }, 0).hidden!);
      const alone = hidden.map((h) =>
        Buffer.from(bytesOf(rest.forward(rest.createCache(1 << 24), { hidden: h }, 0).logits!)),
      );
      const batched = rest.forwardBatch(
        hidden.map((h, i) => ({
          cache: rest.createCache(1 << 24),
          input: { hidden: h },
          startPos: 0,
          allLogits: i === 0,
        })),
      );
      batched.forEach((result, i) => {
        const logits = result.logits!;
        const last = i === 0 ? logits.subarray(logits.length - model.config.vocabSize) : logits;
        assert.ok(bytesOf(last).equals(alone[i]!), `hidden-state session ${i} has the bytes it gets alone`);
      });
    } finally {
      model.weights.close();
      await backend.close();
    }
  });
}

test('a batch with one bad item is refused whole, before any cache changes', async () => {
  const model = openModel(testModel('stories260K.gguf'));
  const backend = await createWasmBackend({ threads: 1 });
  try {
    const engine = new Engine(
      model.config,
      { start: 0, end: model.config.layers, embedding: true, head: true },
      backend,
      model.weights,
    );
    const good = engine.createCache(1 << 24);
    engine.forward(good, { tokens: [1, 2, 3] }, 0);
    const small = engine.createCache(1 << 12);
    assert.throws(
      () =>
        engine.forwardBatch([
          { cache: good, input: { tokens: [4] }, startPos: 3 },
          { cache: small, input: { tokens: Array.from({ length: 64 }, (_, i) => i + 1) }, startPos: 0 },
        ]),
      (e: unknown) => e instanceof CacheFullError && e.code === 'KV_CACHE_FULL',
    );
    assert.throws(
      () =>
        engine.forwardBatch([
          { cache: good, input: { tokens: [4] }, startPos: 3 },
          { cache: good, input: { tokens: [5] }, startPos: 3 },
        ]),
      (e: unknown) => e instanceof EngineInputError && /share a KV cache/.test(e.message),
    );
    assert.throws(
      () => engine.forwardBatch([{ cache: good, input: { tokens: [4] }, startPos: 9 }]),
      (e: unknown) => e instanceof EngineInputError && /skips ahead of the cache/.test(e.message),
    );
    assert.equal(good.length, 3, 'the good session kept its positions');
    assert.equal(small.length, 0);
  } finally {
    model.weights.close();
    await backend.close();
  }
});
