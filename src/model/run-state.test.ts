import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RunState } from './run-state.ts';
import type { ModelConfig } from './model-files.ts';

const config: ModelConfig = {
  architecture: 'llama',
  vocabSize: 32,
  hiddenSize: 8,
  ffnSize: 12,
  layers: 2,
  heads: 4,
  kvHeads: 2,
  headDim: 2,
  ropeTheta: 10000,
  ropeDim: 2,
  ropeStyle: 'interleaved',
  rmsEps: 1e-5,
  contextLength: 100,
  qkvBias: false,
  tiedEmbeddings: false,
};

test('run-state buffers have their shapes and are reused until a longer input arrives', () => {
  const state = new RunState(config).ensure(4);
  assert.equal(state.x.length, 4 * 8);
  assert.equal(state.q.length, 4 * 4 * 2);
  assert.equal(state.k.length, 4 * 2 * 2);
  assert.equal(state.gate.length, 4 * 12);
  const { x, q, gate } = state;

  // shorter inputs: nothing is reallocated
  state.ensure(1).ensure(3);
  assert.equal(state.x, x);
  assert.equal(state.q, q);
  assert.equal(state.gate, gate);

  // a longer prompt grows every per-position buffer
  state.ensure(6);
  assert.notEqual(state.x, x);
  assert.equal(state.x.length, 6 * 8);
  assert.equal(state.up.length, 6 * 12);
  assert.equal(state.positions, 6);
});
