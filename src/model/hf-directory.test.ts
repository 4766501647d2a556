import assert from 'node:assert/strict';
import { testModel } from '../../test/support/models.ts';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { GgmlType } from '../tensor/ggml-type.ts';
import { exportGgufAsHf } from './export-hf.ts';
import { openGgufModel } from './gguf/gguf-model.ts';
import { configFromHf, isHfDirectory, openHfDirectory } from './hf-directory.ts';
import { ggufNameOf, hfNameOf } from './hf-names.ts';
import { writeSafetensors } from './safetensors.ts';

const STORIES = testModel('stories260K.gguf');
const dir = mkdtempSync(join(tmpdir(), 'hf-directory-'));
const stories = join(dir, 'stories260K');
before(() => exportGgufAsHf(STORIES, stories));
after(() => rmSync(dir, { recursive: true, force: true }));

const QWEN_CONFIG = {
  architectures: ['Qwen2ForCausalLM'],
  model_type: 'qwen2',
  hidden_act: 'silu',
  hidden_size: 896,
  intermediate_size: 4864,
  num_hidden_layers: 24,
  num_attention_heads: 14,
  num_key_value_heads: 2,
  rope_theta: 1000000.0,
  rms_norm_eps: 1e-6,
  max_position_embeddings: 32768,
  vocab_size: 151936,
  tie_word_embeddings: true,
  use_sliding_window: false,
  rope_scaling: null,
};

test('Hugging Face tensor names map to GGUF names and back', () => {
  const pairs: [string, string][] = [
    ['model.embed_tokens.weight', 'token_embd.weight'],
    ['model.norm.weight', 'output_norm.weight'],
    ['lm_head.weight', 'output.weight'],
    ['model.layers.12.input_layernorm.weight', 'blk.12.attn_norm.weight'],
    ['model.layers.0.post_attention_layernorm.weight', 'blk.0.ffn_norm.weight'],
    ['model.layers.3.self_attn.q_proj.bias', 'blk.3.attn_q.bias'],
    ['model.layers.3.self_attn.o_proj.weight', 'blk.3.attn_output.weight'],
    ['model.layers.7.mlp.down_proj.weight', 'blk.7.ffn_down.weight'],
  ];
  for (const [hf, gguf] of pairs) {
    assert.equal(ggufNameOf(hf), gguf);
    assert.equal(hfNameOf(gguf), hf);
  }
  assert.equal(ggufNameOf('model.layers.0.self_attn.rotary_emb.inv_freq'), undefined);
  assert.equal(hfNameOf('rope_freqs.weight'), undefined);
});

test('config.json maps to the engine config: neox rope, qwen2 QKV bias, tied embeddings', () => {
  assert.deepEqual(configFromHf(QWEN_CONFIG, 'config.json', false), {
    architecture: 'qwen2',
    vocabSize: 151936,
    hiddenSize: 896,
    ffnSize: 4864,
    layers: 24,
    heads: 14,
    kvHeads: 2,
    headDim: 64,
    ropeTheta: 1000000,
    ropeDim: 64,
    ropeStyle: 'neox',
    rmsEps: 1e-6,
    contextLength: 32768,
    qkvBias: true,
    tiedEmbeddings: true,
  });
  const llama = configFromHf(
    { ...QWEN_CONFIG, model_type: 'llama', tie_word_embeddings: undefined, head_dim: 128, num_attention_heads: 8 },
    'config.json',
    true,
  );
  assert.deepEqual([llama.qkvBias, llama.tiedEmbeddings, llama.headDim, llama.ropeStyle], [false, false, 128, 'neox']);

  const refuses = (patch: Record<string, unknown>, message: RegExp, hasLmHead = false) =>
    assert.throws(
      () => configFromHf({ ...QWEN_CONFIG, ...patch }, '/m/config.json', hasLmHead),
      (error: Error) => error.message.startsWith('/m/config.json: ') && message.test(error.message),
    );
  refuses({ model_type: 'mistral' }, /architecture "mistral" is not supported/);
  refuses(
    { rope_scaling: { rope_type: 'llama3', factor: 32 } },
    /rope_scaling .*llama3.* which the engine does not support/,
  );
  refuses({ use_sliding_window: true }, /use_sliding_window/);
  refuses({ hidden_act: 'gelu' }, /hidden_act gelu/);
  refuses({ hidden_size: undefined }, /hidden_size is missing/);
  refuses({ num_key_value_heads: 3 }, /14 heads are not a multiple of 3 kv heads/);
  refuses({ tie_word_embeddings: false }, /tie_word_embeddings is false, but there is no lm_head.weight/);
});

test('stories260K exported to a Hugging Face directory opens as the same model, tokenizer included', () => {
  assert.equal(isHfDirectory(stories), true);
  assert.equal(isHfDirectory(STORIES), false);
  const hf = openHfDirectory(stories);
  const gguf = openGgufModel(STORIES);
  try {
    assert.deepEqual(hf.config, { ...gguf.config, ropeStyle: 'neox' });
    assert.equal(gguf.config.ropeStyle, 'interleaved');
    const prompt = 'Once upon a time';
    assert.deepEqual(hf.tokenizer.encode(prompt), [1, 403, 407, 261, 378]);
    assert.deepEqual(hf.tokenizer.encode(prompt), gguf.tokenizer.encode(prompt));
    const story = 'Lily saw a big dog. "Hi!" she said, and they played in the park all day.\nThe end.';
    assert.deepEqual(hf.tokenizer.encode(story), gguf.tokenizer.encode(story));
    assert.equal(hf.tokenizer.decode(hf.tokenizer.encode(story, { addBos: false })), story);
    assert.equal(hf.tokenizer.eosId, 2);

    for (const name of [
      'token_embd.weight',
      'output.weight',
      'blk.4.ffn_up.weight',
      'blk.0.attn_norm.weight',
      'blk.2.attn_q.weight',
    ]) {
      assert.equal(hf.weights.has(name), true, name);
      const [a, b] = [hf.weights.entry(name), gguf.weights.entry(name)];
      assert.deepEqual([a.type, a.dims, a.byteSize], [b.type, b.dims, b.byteSize], name);
    }
    const read = (source: typeof hf.weights, name: string) => {
      const bytes = new Uint8Array(source.entry(name).byteSize);
      source.read(name, bytes);
      return bytes;
    };
    assert.deepEqual(read(hf.weights, 'blk.4.ffn_up.weight'), read(gguf.weights, 'blk.4.ffn_up.weight'));
    assert.notDeepEqual(read(hf.weights, 'blk.2.attn_k.weight'), read(gguf.weights, 'blk.2.attn_k.weight'));
    assert.throws(() => hf.weights.entry('blk.9.attn_q.weight'), /tensor blk\.9\.attn_q\.weight is missing/);
  } finally {
    hf.weights.close();
    gguf.weights.close();
  }
});

test('a tied checkpoint hides lm_head; missing files and bad shapes are named', () => {
  const tied = join(dir, 'tied');
  mkdirSync(tied);
  const config = {
    model_type: 'llama',
    hidden_size: 4,
    intermediate_size: 8,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    vocab_size: 3,
    tie_word_embeddings: true,
  };
  writeFileSync(join(tied, 'config.json'), JSON.stringify(config));
  writeFileSync(
    join(tied, 'tokenizer.json'),
    JSON.stringify({ model: { type: 'BPE', vocab: { a: 0, b: 1, ab: 2 }, merges: ['a b'] } }),
  );
  const f32 = (n: number) => new Uint8Array(n * 4);
  writeSafetensors(join(tied, 'model.safetensors'), [
    { name: 'model.embed_tokens.weight', dtype: 'BF16', shape: [3, 4], data: new Uint8Array(24) },
    { name: 'lm_head.weight', dtype: 'F32', shape: [3, 4], data: f32(12) },
  ]);
  const model = openHfDirectory(tied);
  assert.equal(model.config.tiedEmbeddings, true);
  assert.equal(model.weights.has('output.weight'), false);
  assert.equal(model.weights.entry('token_embd.weight').type, GgmlType.BF16);
  assert.equal(model.chatTemplate, undefined);
  model.weights.close();

  writeFileSync(join(tied, 'config.json'), JSON.stringify({ ...config, vocab_size: 5 }));
  assert.throws(
    () => openHfDirectory(tied),
    /model\.embed_tokens\.weight is \[3, 4\], config\.json says vocab_size 5 × hidden_size 4/,
  );
  rmSync(join(tied, 'model.safetensors'));
  assert.throws(
    () => openHfDirectory(tied),
    new RegExp(`${tied}: no model.safetensors or model.safetensors.index.json`),
  );
  rmSync(join(tied, 'tokenizer.json'));
  assert.throws(() => openHfDirectory(tied), /tokenizer\.json: cannot read the tokenizer: ENOENT/);
});
