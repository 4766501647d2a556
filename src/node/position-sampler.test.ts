import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Sampler } from '../model/sampling.ts';
import { randomValues } from '../../test/support/tensor-data.ts';
import { positionSeed, sampleAt } from './position-sampler.ts';

const logits = randomValues(4096, 11, 6);
const GREEDY = { temperature: 0, topK: 0, topP: 0, minP: 0, repetitionPenalty: 0, seed: 0, logprobs: 3 };

test("greedy: the largest logit whatever the seed and position, with the model's log-probabilities", () => {
  const expected = new Sampler().sample(logits, [], 3);
  for (const [seed, position] of [
    [0, 5],
    [99, 5],
    [99, 1234],
  ] as const) {
    const sampled = sampleAt(logits, { ...GREEDY, seed }, position, []);
    assert.equal(sampled.token, expected.id);
    assert.equal(sampled.logprob, expected.logprob);
    assert.deepEqual(
      sampled.top,
      expected.top.map((t) => ({ token: t.id, logprob: t.logprob })),
    );
  }
});

test('greedy with a repetition penalty passes over the repeated best token', () => {
  const best = sampleAt(logits, GREEDY, 7, []).token!;
  const penalized = sampleAt(logits, { ...GREEDY, repetitionPenalty: 100 }, 7, [best]);
  assert.notEqual(penalized.token, best);
  assert.equal(penalized.token, new Sampler({ repetitionPenalty: 100 }).sample(logits, [best]).id);
});

test('temperature: the draw of a sampler seeded for the position, so a replay draws it again', () => {
  const sampling = { ...GREEDY, temperature: 1.1, topK: 50, seed: 42 };
  const tokens = new Set<number>();
  for (let position = 10; position < 40; position++) {
    const sampled = sampleAt(logits, sampling, position, []);
    const expected = new Sampler({ temperature: 1.1, topK: 50, seed: positionSeed(42, position) }).sample(logits, []);
    assert.equal(sampled.token, expected.id, `position ${position}`);
    assert.equal(sampleAt(logits, sampling, position, []).token, sampled.token);
    tokens.add(sampled.token);
  }
  assert.ok(tokens.size > 1, 'positions draw with different seeds');
});
