import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createWasmBackend } from '../tensor/wasm-backend.ts';
import type { Backend } from '../tensor/backend.ts';
import { TesseraError } from '../core/errors.ts';
import { sha256Hex } from '../crypto/hash.ts';
import { Engine, EngineInputError, type LayerRange } from './engine.ts';
import { ENGINE_VERSION } from './engine-version.ts';
import { CacheFullError } from './kv-cache.ts';
import { openModel } from './open-model.ts';
import type { ModelFiles, WeightSource } from './model-files.ts';
import { testModel } from '../../test/support/models.ts';
import { syntheticQwen2 } from '../../test/support/synthetic.ts';

const PROMPT = 'Once upon a time, a little fox met a bear in the woods.';

function bytesOf(values: Float32Array): Buffer {
  return Buffer.from(values.buffer, values.byteOffset, values.byteLength);
}

function whole(model: ModelFiles): LayerRange {
  return { start: 0, end: model.config.layers, embedding: true, head: true };
}

/** Runs the prompt through consecutive pieces of the model, passing hidden states between them. */
function runPieces(model: ModelFiles, backend: Backend, cuts: number[], tokens: number[]): Float32Array {
  const bounds = [0, ...cuts, model.config.layers];
  let hidden: Float32Array | undefined;
  for (let i = 0; i + 1 < bounds.length; i++) {
    const range = { start: bounds[i]!, end: bounds[i + 1]!, embedding: i === 0, head: i + 2 === bounds.length };
    const engine = new Engine(model.config, range, backend, model.weights);
    const result = engine.forward(engine.createCache(1 << 24), hidden ? { hidden } : { tokens }, 0, {
      allLogits: true,
    });
    if (result.logits) return result.logits;
    hidden = result.hidden!;
  }
  throw new Error('no piece had the head');
}

for (const [name, open] of [
  ['stories260K', async () => openModel(testModel('stories260K.gguf'))],
  ['random-weight qwen2', async () => openModel(await syntheticQwen2('q8_0'))],
] as const) {
  test(`${name}: output bytes do not depend on the thread count, the layer split, or prefill vs decode`, async () => {
    const model = await open();
    const one = await createWasmBackend({ threads: 1 });
    const two = await createWasmBackend({ threads: 2 });
    try {
      const tokens = model.tokenizer.encode(PROMPT);
      const reference = new Engine(model.config, whole(model), one, model.weights);
      const unsplit = reference.forward(reference.createCache(1 << 24), { tokens }, 0, { allLogits: true }).logits!;
      assert.ok(unsplit.every(Number.isFinite), 'logits are finite');

      const threaded = new Engine(model.config, whole(model), two, model.weights);
      const withTwoThreads = threaded.forward(threaded.createCache(1 << 24), { tokens }, 0, {
        allLogits: true,
      }).logits!;
      assert.ok(bytesOf(withTwoThreads).equals(bytesOf(unsplit)), '2 threads give the bytes of 1 thread');

      const layers = model.config.layers;
      for (const cuts of [[1], [layers - 1], [1, 2], Array.from({ length: layers - 1 }, (_, i) => i + 1)]) {
        const pieces = runPieces(model, two, cuts, tokens);
        assert.ok(bytesOf(pieces).equals(bytesOf(unsplit)), `split at ${cuts.join(',')} gives the unsplit bytes`);
      }

      const cache = reference.createCache(1 << 24);
      const stepwise: Float32Array[] = [];
      for (let t = 0; t < tokens.length; t++)
        stepwise.push(reference.forward(cache, { tokens: [tokens[t]!] }, t).logits!);
      const vocab = model.config.vocabSize;
      for (let t = 0; t < tokens.length; t++) {
        assert.ok(
          bytesOf(stepwise[t]!).equals(bytesOf(unsplit.subarray(t * vocab, (t + 1) * vocab))),
          `decode step ${t} equals prefill row ${t}`,
        );
      }
    } finally {
      model.weights.close();
      await one.close();
      await two.close();
    }
  });
}

test('a layer range reads only its own tensors', async () => {
  const model = openModel(testModel('stories260K.gguf'));
  const read: string[] = [];
  const recording: WeightSource = {
    ...model.weights,
    read: (name, into) => {
      read.push(name);
      model.weights.read(name, into);
    },
  };
  const backend = await createWasmBackend({ threads: 1 });
  try {
    new Engine(model.config, { start: 2, end: 4, embedding: false, head: false }, backend, recording);
    assert.ok(read.length > 0);
    assert.deepEqual(
      read.filter((n) => !/^blk\.[23]\./.test(n)),
      [],
    );
  } finally {
    model.weights.close();
    await backend.close();
  }
});

test('bad input is refused with a precise error and leaves the cache as it was', async () => {
  const model = openModel(testModel('stories260K.gguf'));
  const backend = await createWasmBackend({ threads: 1 });
  try {
    const first = new Engine(model.config, { start: 0, end: 2, embedding: true, head: false }, backend, model.weights);
    const middle = new Engine(model.config, { start: 2, end: 5, embedding: false, head: true }, backend, model.weights);
    const cache = first.createCache(1 << 20);
    assert.throws(
      () => first.forward(cache, { tokens: [1, 512] }, 0),
      (e: unknown) =>
        e instanceof EngineInputError &&
        e instanceof TesseraError &&
        e.code === 'ENGINE_INPUT_INVALID' &&
        e.kind === 'invalid' &&
        /token id 512 is outside the vocabulary of 512/.test(e.message),
    );
    assert.throws(() => first.forward(cache, { hidden: new Float32Array(64) }, 0), /send token ids/);
    assert.throws(() => first.forward(cache, { tokens: [1] }, 3), /position 3 skips ahead of the cache, which holds 0/);
    assert.equal(cache.length, 0);
    const middleCache = middle.createCache(1 << 20);
    assert.throws(
      () => middle.forward(middleCache, { hidden: new Float32Array(100) }, 0),
      /100 values are not a whole number of positions of hidden size 64/,
    );
    assert.throws(() => middle.forward(middleCache, { tokens: [1] }, 0), /send hidden states/);
    const tiny = first.createCache(2 * 4 * 8 * 4 * 2 * 3); // room for 3 positions of 2 layers
    assert.throws(
      () => first.forward(tiny, { tokens: [1, 2, 3, 4] }, 0),
      (e: unknown) =>
        e instanceof CacheFullError &&
        e.code === 'KV_CACHE_FULL' &&
        e.kind === 'resource_exhausted' &&
        /needs 4 positions, the KV cache holds at most 3/.test(e.message),
    );
    assert.equal(tiny.length, 0);
    assert.throws(
      () => new Engine(model.config, { start: 4, end: 6, embedding: false, head: true }, backend, model.weights),
      (e: unknown) =>
        e instanceof EngineInputError && /layer range \[4, 6\) is outside the model's 5 layers/.test(e.message),
    );
  } finally {
    model.weights.close();
    await backend.close();
  }
});

// Recorded with the engine of RECORDED_ENGINE (f32 exponentials): a change to the forward pass that
// changes these bytes makes nodes of one version disagree with each other's verifiers, so it must
// come with a new ENGINE_VERSION (src/model/engine-version.ts) and these bytes recorded again.
const RECORDED_ENGINE = 'tessera-engine/3';
const RECORDED_LOGITS_SHA256 = {
  'stories260K.gguf': 'c22968717ff591d5d6d4ccd58a2ffeb1b53cfe69a5fa3c0f81c5615fe92e430b',
  'stories260K-q8_0.gguf': 'ae0f259ca5677a9457a28847c6c5745400b965bd234e59ce9fb362a609306396',
} as const;

test('the recorded logits are those of the engine version nodes report', () => {
  assert.equal(ENGINE_VERSION, RECORDED_ENGINE);
});

for (const [file, expected] of Object.entries(RECORDED_LOGITS_SHA256)) {
  test(`${file}: the logits of every position of "Once upon a time" are the recorded bytes`, async () => {
    const model = openModel(testModel(file as keyof typeof RECORDED_LOGITS_SHA256));
    const backend = await createWasmBackend({ threads: 2 });
    try {
      const engine = new Engine(model.config, whole(model), backend, model.weights);
      const tokens = model.tokenizer.encode('Once upon a time');
      const logits = engine.forward(engine.createCache(1 << 24), { tokens }, 0, { allLogits: true }).logits!;
      assert.equal(sha256Hex(bytesOf(logits)), expected);
    } finally {
      model.weights.close();
      await backend.close();
    }
  });
}

test('an engine reuses its buffers: results stay with the caller, a short input after a long one is unaffected', async () => {
  const model = openModel(await syntheticQwen2('q8_0'));
  const backend = await createWasmBackend({ threads: 1 });
  try {
    const tokens = model.tokenizer.encode(PROMPT);
    const fresh = (input: number[]) => {
      const engine = new Engine(model.config, whole(model), backend, model.weights);
      return engine.forward(engine.createCache(1 << 24), { tokens: input }, 0).logits!;
    };
    const expectedShort = Buffer.from(bytesOf(fresh(tokens.slice(0, 2))));

    const engine = new Engine(model.config, whole(model), backend, model.weights);
    const long = engine.forward(engine.createCache(1 << 24), { tokens }, 0).logits!;
    const longBytes = Buffer.from(bytesOf(long));
    const short = engine.forward(engine.createCache(1 << 24), { tokens: tokens.slice(0, 2) }, 0).logits!;
    assert.ok(
      bytesOf(short).equals(expectedShort),
      'a short prompt after a long one gives the bytes of a fresh engine',
    );
    assert.ok(bytesOf(long).equals(longBytes), 'a later call leaves an earlier result alone');

    const first = new Engine(model.config, { start: 0, end: 1, embedding: true, head: false }, backend, model.weights);
    const hidden = first.forward(first.createCache(1 << 24), { tokens }, 0).hidden!;
    const hiddenBytes = Buffer.from(bytesOf(hidden));
    first.forward(first.createCache(1 << 24), { tokens: [3] }, 0);
    assert.ok(bytesOf(hidden).equals(hiddenBytes), 'hidden states handed out are not overwritten');
  } finally {
    model.weights.close();
    await backend.close();
  }
});

test('a decode step allocates no buffer but the logits it returns', async () => {
  const model = openModel(await syntheticQwen2('q8_0'));
  const backend = await createWasmBackend({ threads: 1 });
  const Native = Float32Array;
  let allocated = 0;
  // Counts arrays that own new memory; views over an existing buffer (subarray, wasm memory) are free.
  class Counting extends Native {
    constructor(...args: unknown[]) {
      super(...(args as []));
      if (!(args[0] instanceof ArrayBuffer || args[0] instanceof SharedArrayBuffer)) allocated++;
    }
  }
  try {
    const engine = new Engine(model.config, whole(model), backend, model.weights);
    const cache = engine.createCache(1 << 24);
    const tokens = model.tokenizer.encode(PROMPT);
    engine.forward(cache, { tokens }, 0);
    cache.reserve(tokens.length + 64);
    globalThis.Float32Array = Counting as Float32ArrayConstructor;
    try {
      for (let i = 0; i < 8; i++) engine.forward(cache, { tokens: [i + 1] }, tokens.length + i);
    } finally {
      globalThis.Float32Array = Native;
    }
    assert.equal(allocated, 8, 'one logits array per step');
  } finally {
    model.weights.close();
    await backend.close();
  }
});
