import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng, Sampler, topIndices } from './sampling.ts';

const logits = new Float32Array([0.5, 3, 2.9, -1, 1, 2.9]);

test('greedy picks the largest logit, lowest id on ties, and reports log-probabilities', () => {
  const sampled = new Sampler().sample(logits, [], 3);
  assert.equal(sampled.id, 1);
  assert.deepEqual(sampled.top.map((t) => t.id), [1, 2, 5]);
  const total = Array.from(logits).reduce((a, v) => a + Math.exp(v), 0);
  assert.ok(Math.abs(sampled.logprob - (3 - Math.log(total))) < 1e-9);
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
