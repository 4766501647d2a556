import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomValues } from '../../test/support/tensor-data.ts';
import { createWasmBackend } from '../tensor/wasm-backend.ts';
import { testModel } from '../../test/support/models.ts';
import { Engine } from './engine.ts';
import { openModel } from './open-model.ts';
import { Rng, Sampler, topIndices } from './sampling.ts';

const backend = await createWasmBackend({ threads: 1 });
after(() => backend.close());

const logits = new Float32Array([0.5, 3, 2.9, -1, 1, 2.9]);

test('greedy picks the largest logit, lowest id on ties, and reports log-probabilities', () => {
  const sampled = new Sampler().sample(logits, [], 3);
  assert.equal(sampled.id, 1);
  assert.deepEqual(
    sampled.top.map((t) => t.id),
    [1, 2, 5],
  );
  const total = Array.from(logits).reduce((a, v) => a + Math.exp(v), 0);
  // f32 exponentials (see src/tensor/softmax.ts): within 1e-6, not to the last bit of an f64
  assert.ok(Math.abs(sampled.logprob - (3 - Math.log(total))) < 1e-6);
});

test('topIndices orders best first', () => {
  assert.deepEqual(topIndices(new Float32Array([1, 5, 3, 5, 0]), 3), [1, 3, 2]);
});

test('the same seed gives the same draws; another seed differs', () => {
  const draw = (seed: number) => {
    const sampler = new Sampler({ temperature: 1.5, seed });
    return Array.from({ length: 64 }, () => sampler.sample(logits, []).id);
  };
  assert.deepEqual(draw(7), draw(7));
  assert.notDeepEqual(draw(7), draw(8));
});

test('top-k, top-p and min-p restrict the draw', () => {
  const seen = (options: ConstructorParameters<typeof Sampler>[0]) => {
    const sampler = new Sampler({ temperature: 1, seed: 3, ...options });
    return new Set(Array.from({ length: 400 }, () => sampler.sample(logits, []).id));
  };
  assert.deepEqual([...seen({ topK: 1 })], [1]);
  assert.deepEqual([...seen({ topK: 3 })].sort(), [1, 2, 5]);
  // p(1) ≈ 0.34, p(2) = p(5) ≈ 0.31: top-p 0.5 keeps the two best
  assert.deepEqual([...seen({ topP: 0.5 })].sort(), [1, 2]);
  // min-p 0.5 drops tokens less than half as likely as the best (ids 0, 3, 4)
  assert.deepEqual([...seen({ minP: 0.5 })].sort(), [1, 2, 5]);
  assert.equal(seen({}).size, 6);
});

test('repetition penalty lowers tokens already generated', () => {
  const sampled = new Sampler({ repetitionPenalty: 1.5 }).sample(logits, [1]);
  assert.equal(sampled.id, 2);
});

test('Rng is uniform enough', () => {
  const rng = new Rng(1);
  let sum = 0;
  for (let i = 0; i < 10000; i++) sum += rng.next();
  assert.ok(Math.abs(sum / 10000 - 0.5) < 0.02);
});

/** log Σ e^logit with the platform's exp in f64, one term at a time. */
function logSumExpTermByTerm(logits: Float32Array): number {
  let max = -Infinity;
  for (const v of logits) if (v > max) max = v;
  let sum = 0;
  for (const v of logits) sum += Math.exp(v - max);
  return max + Math.log(sum);
}

function assertLogprobsClose(logits: Float32Array, label: string): void {
  const lse = logSumExpTermByTerm(logits);
  const sampled = new Sampler().sample(logits, [], 5);
  for (const t of [sampled, ...sampled.top]) {
    const error = Math.abs(t.logprob - (logits[t.id]! - lse));
    assert.ok(error < 1e-6, `${label}: log p(${t.id}) off by ${error}`);
  }
}

test('log-probabilities within 1e-6 of an exp per logit: stories260K at every position of a prompt', () => {
  const model = openModel(testModel('stories260K.gguf'));
  try {
    const { config } = model;
    const engine = new Engine(
      config,
      { start: 0, end: config.layers, embedding: true, head: true },
      backend,
      model.weights,
    );
    const tokens = model.tokenizer.encode('Once upon a time, a little fox met a bear in the woods.');
    const logits = engine.forward(engine.createCache(1 << 24), { tokens }, 0, { allLogits: true }).logits!;
    for (let t = 0; t < tokens.length; t++) {
      assertLogprobsClose(logits.subarray(t * config.vocabSize, (t + 1) * config.vocabSize), `position ${t}`);
    }
  } finally {
    model.weights.close();
  }
});

test('log-probabilities within 1e-6 of an exp per logit, and the greedy choice, on a 151 936-entry vocabulary', () => {
  for (const seed of [1, 2, 3]) {
    const logits = randomValues(151936, seed, 10);
    for (let i = 0; i < logits.length; i += 101) logits[i] = logits[i]! + 9;
    assertLogprobsClose(logits, `seed ${seed}`);
    // A tie for the best: the lower id wins.
    const best = topIndices(logits, 1)[0]!;
    logits[best + 7] = logits[best]!;
    assert.equal(new Sampler().sample(logits, []).id, best);
    logits[best - 5] = logits[best]!;
    assert.equal(new Sampler().sample(logits, []).id, best - 5);
  }
});

test('temperature draws follow the softmax of logits / T', () => {
  const temperature = 0.8;
  const sampler = new Sampler({ temperature, seed: 5 });
  const draws = 20000;
  const counts = new Array<number>(logits.length).fill(0);
  for (let i = 0; i < draws; i++) counts[sampler.sample(logits, []).id]!++;
  const weights = Array.from(logits, (v) => Math.exp(v / temperature));
  const total = weights.reduce((a, b) => a + b, 0);
  weights.forEach((w, id) => {
    // 4 standard deviations of a binomial count
    const p = w / total;
    assert.ok(
      Math.abs(counts[id]! / draws - p) < 4 * Math.sqrt((p * (1 - p)) / draws),
      `token ${id}: ${counts[id]! / draws} drawn, p = ${p}`,
    );
  });
});

test('top-k and top-p on a 151 936-entry vocabulary draw only from the best tokens', () => {
  const logits = randomValues(151936, 8, 10);
  for (let i = 0; i < logits.length; i += 89) logits[i] = logits[i]! + 6;
  const sorted = [...logits.keys()].sort((a, b) => logits[b]! - logits[a]! || a - b);
  const drawn = (options: ConstructorParameters<typeof Sampler>[0]) => {
    const sampler = new Sampler({ temperature: 1, seed: 4, ...options });
    return new Set(Array.from({ length: 200 }, () => sampler.sample(logits, []).id));
  };
  const best100 = new Set(sorted.slice(0, 100));
  const topK = drawn({ topK: 100 });
  assert.ok(
    [...topK].every((id) => best100.has(id)),
    'top-k 100 drew outside the best 100',
  );
  assert.ok(topK.size > 10, `top-k 100 drew only ${topK.size} distinct tokens`);
  // the nucleus of half the mass, by exact weights in sorted order
  const weights = sorted.map((id) => Math.exp(logits[id]! - logits[sorted[0]!]!));
  const total = weights.reduce((a, b) => a + b, 0);
  let mass = 0;
  const nucleus = new Set(sorted.slice(0, weights.findIndex((w) => (mass += w) >= 0.5 * total) + 1));
  const topP = drawn({ topP: 0.5 });
  assert.ok(
    [...topP].every((id) => nucleus.has(id)),
    'top-p 0.5 drew outside the nucleus',
  );
  assert.ok(topP.size > 10, `top-p 0.5 drew only ${topP.size} distinct tokens`);
});
