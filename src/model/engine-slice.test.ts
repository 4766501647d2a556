import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createWasmBackend } from '../tensor/wasm-backend.ts';
import { Engine, EngineInputError, type ForwardInput, type LayerRange } from './engine.ts';
import { openModel } from './open-model.ts';
import type { ModelFiles } from './model-files.ts';
import { testModel } from '../../test/support/models.ts';
import { syntheticQwen2 } from '../../test/support/synthetic.ts';

const PROMPT = 'Once upon a time, a little fox met a bear in the woods.';

const bytesOf = (values: Float32Array) => Buffer.from(values.buffer, values.byteOffset, values.byteLength);

/** Every sub-range of [0, layers) that is not empty, with the embedding and head where it reaches them. */
function subRanges(layers: number): LayerRange[] {
  const ranges: LayerRange[] = [];
  for (let start = 0; start < layers; start++)
    for (let end = start + 1; end <= layers; end++)
      ranges.push({ start, end, embedding: start === 0, head: end === layers });
  return ranges;
}

/** A prefill of every position's output, then two decode steps: what one engine gives, as bytes. */
function run(engine: Engine, input: (start: number, end: number) => ForwardInput): Buffer[] {
  const cache = engine.createCache(1 << 24);
  const out = (r: { hidden?: Float32Array; logits?: Float32Array }) => Buffer.from(bytesOf(r.logits ?? r.hidden!));
  const outputs = [out(engine.forward(cache, input(0, 6), 0, { allLogits: true }))];
  outputs.push(out(engine.forward(cache, input(6, 7), 6)));
  outputs.push(out(engine.forward(cache, input(7, 8), 7)));
  return outputs;
}

for (const [name, open] of [
  ['stories260K', async () => openModel(testModel('stories260K.gguf'))],
  ['random-weight qwen2 (tied embeddings, QKV biases)', async () => openModel(await syntheticQwen2('q8_0'))],
] as const) {
  test(`${name}: a slice of an engine gives the bytes of a fresh engine over its range, and caches only its layers`, async () => {
    const model: ModelFiles = await open();
    const backend = await createWasmBackend({ threads: 1 });
    try {
      const { layers, hiddenSize } = model.config;
      const tokens = model.tokenizer.encode(PROMPT).slice(0, 8);
      assert.equal(tokens.length, 8);
      const whole = new Engine(
        model.config,
        { start: 0, end: layers, embedding: true, head: true },
        backend,
        model.weights,
      );
      // Hidden states entering layer l, from the whole model's first l layers (fresh engines).
      const hiddenBefore = (layer: number) => {
        const front = new Engine(
          model.config,
          { start: 0, end: layer, embedding: true, head: false },
          backend,
          model.weights,
        );
        return front.forward(front.createCache(1 << 24), { tokens }, 0).hidden!;
      };
      for (const range of subRanges(layers)) {
        const hidden = range.embedding ? undefined : hiddenBefore(range.start);
        const input = (start: number, end: number): ForwardInput =>
          hidden
            ? { hidden: hidden.subarray(start * hiddenSize, end * hiddenSize) }
            : { tokens: tokens.slice(start, end) };
        const fresh = new Engine(model.config, range, backend, model.weights);
        const slice = whole.slice(range);
        assert.deepEqual(slice.range, range);
        assert.equal(slice.createCache(1 << 20).layerCount, range.end - range.start, 'its cache holds its layers only');
        const expected = run(fresh, input);
        // Slices run interleaved with the engine they share arrays and scratch buffers with.
        const got = run(slice, input);
        run(whole, (s, e) => ({ tokens: tokens.slice(s, e) }));
        const again = run(slice, input);
        expected.forEach((bytes, i) => {
          assert.ok(
            got[i]!.equals(bytes),
            `[${range.start}, ${range.end}) call ${i}: the slice's bytes are a fresh engine's`,
          );
          assert.ok(
            again[i]!.equals(bytes),
            `[${range.start}, ${range.end}) call ${i}: unchanged after the whole engine ran`,
          );
        });
      }
      // A slice of a slice is a slice of the engine it came from.
      if (layers >= 3) {
        const middle = whole.slice({ start: 1, end: layers, embedding: false, head: true });
        const inner = middle.slice({ start: 1, end: 2, embedding: false, head: false });
        const fresh = new Engine(model.config, inner.range, backend, model.weights);
        const hidden = hiddenBefore(1);
        const input = (s: number, e: number): ForwardInput => ({
          hidden: hidden.subarray(s * hiddenSize, e * hiddenSize),
        });
        run(fresh, input).forEach((bytes, i) => assert.ok(run(inner, input)[i]!.equals(bytes)));
      }
    } finally {
      model.weights.close();
      await backend.close();
    }
  });
}

test('a slice is refused, with a precise error, outside its engine or with an embedding or head it lacks', async () => {
  const model = openModel(testModel('stories260K.gguf'));
  const backend = await createWasmBackend({ threads: 1 });
  try {
    const middle = new Engine(
      model.config,
      { start: 1, end: 4, embedding: false, head: false },
      backend,
      model.weights,
    );
    const refused = (range: LayerRange, message: RegExp) =>
      assert.throws(
        () => middle.slice(range),
        (e: unknown) => e instanceof EngineInputError && message.test(e.message),
      );
    refused(
      { start: 0, end: 2, embedding: false, head: false },
      /layer range \[0, 2\) is not within this engine's layers \[1, 4\)/,
    );
    refused(
      { start: 3, end: 5, embedding: false, head: false },
      /layer range \[3, 5\) is not within this engine's layers \[1, 4\)/,
    );
    refused({ start: 3, end: 2, embedding: false, head: false }, /layer range \[3, 2\) is not within/);
    refused({ start: 1, end: 2, embedding: true, head: false }, /no embedding before layer 1 to share/);
    refused({ start: 2, end: 4, embedding: false, head: true }, /no head after layer 3 to share/);
    const whole = new Engine(model.config, { start: 0, end: 5, embedding: true, head: true }, backend, model.weights);
    assert.throws(() => whole.slice({ start: 0, end: 3, embedding: false, head: true }), /no head after layer 2/);
    assert.throws(() => whole.slice({ start: 1, end: 5, embedding: true, head: false }), /no embedding before layer 1/);
  } finally {
    model.weights.close();
    await backend.close();
  }
});
