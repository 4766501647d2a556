import assert from 'node:assert/strict';
import { testModel } from '../../test/support/models.ts';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { exportGgufAsHf, unpermuteRopeRows } from './export-hf.ts';
import { openGguf } from './gguf/reader.ts';
import { openSafetensors } from './safetensors.ts';

const STORIES = testModel('stories260K.gguf');
const dir = mkdtempSync(join(tmpdir(), 'export-hf-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const asF32 = (bytes: Uint8Array) =>
  new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));

test('unpermuteRopeRows puts adjacent rope pairs half a head apart', () => {
  // One head of dimension 4 stored as GGUF rows [hf0, hf2, hf1, hf3], each row of length 2; then a second head.
  const gguf = new Float32Array([0, 0, 2, 2, 1, 1, 3, 3, 4, 4, 6, 6, 5, 5, 7, 7]);
  assert.deepEqual([...unpermuteRopeRows(gguf, 2, 2)], [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7]);
  assert.throws(() => unpermuteRopeRows(new Float32Array(6), 1, 2), /3 rows do not split into 1 heads of even size/);
});

/** Rotates pairs (2i, 2i+1) (GGUF llama) or (i, i + d/2) (Hugging Face) of each head by position·theta^(-2i/d). */
function rope(vector: Float32Array, headDim: number, position: number, interleaved: boolean): Float32Array {
  const out = new Float32Array(vector.length);
  const half = headDim / 2;
  for (let head = 0; head < vector.length / headDim; head++) {
    for (let i = 0; i < half; i++) {
      const angle = position * Math.pow(10000, (-2 * i) / headDim);
      const [a, b] = interleaved
        ? [head * headDim + 2 * i, head * headDim + 2 * i + 1]
        : [head * headDim + i, head * headDim + i + half];
      out[a] = vector[a]! * Math.cos(angle) - vector[b]! * Math.sin(angle);
      out[b] = vector[a]! * Math.sin(angle) + vector[b]! * Math.cos(angle);
    }
  }
  return out;
}

function matvec(weights: Float32Array, x: Float32Array): Float32Array {
  const out = new Float32Array(weights.length / x.length);
  for (let r = 0; r < out.length; r++) {
    let sum = 0;
    for (let c = 0; c < x.length; c++) sum += weights[r * x.length + c]! * x[c]!;
    out[r] = sum;
  }
  return out;
}

test('stories260K exported to a Hugging Face directory: same tensors, and rotary attention scores unchanged', () => {
  const out = join(dir, 'stories260K');
  exportGgufAsHf(STORIES, out);
  const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
  assert.deepEqual(
    [
      config.model_type,
      config.hidden_size,
      config.intermediate_size,
      config.num_hidden_layers,
      config.num_attention_heads,
      config.num_key_value_heads,
      config.vocab_size,
      config.tie_word_embeddings,
    ],
    ['llama', 64, 172, 5, 8, 4, 512, false],
  );
  const tokenizerConfig = JSON.parse(readFileSync(join(out, 'tokenizer_config.json'), 'utf8'));
  assert.deepEqual(
    [tokenizerConfig.add_bos_token, tokenizerConfig.bos_token, tokenizerConfig.eos_token],
    [true, '<s>', '</s>'],
  );

  const gguf = openGguf(STORIES);
  const hf = openSafetensors(join(out, 'model.safetensors'));
  try {
    assert.equal(hf.tensors.size, gguf.tensors.size);
    assert.deepEqual(hf.readTensor('model.layers.2.mlp.down_proj.weight'), gguf.readTensor('blk.2.ffn_down.weight'));
    assert.deepEqual(hf.tensors.get('model.layers.2.mlp.down_proj.weight')!.shape, [64, 172]);
    assert.deepEqual(hf.readTensor('lm_head.weight'), gguf.readTensor('output.weight'));
    assert.notDeepEqual(
      hf.readTensor('model.layers.0.self_attn.q_proj.weight'),
      gguf.readTensor('blk.0.attn_q.weight'),
    );

    // Interleaved rope on GGUF's rows must give the attention scores that half rope gives on the exported rows.
    const x = new Float32Array(64).map((_, i) => Math.sin(i * 1.7));
    const headDim = 8;
    const scores = (q: Float32Array, k: Float32Array, interleaved: boolean) => {
      const rq = rope(q, headDim, 5, interleaved);
      const rk = rope(k, headDim, 2, interleaved);
      return Array.from({ length: 8 }, (_, head) => {
        const kvHead = Math.floor(head / 2);
        let dot = 0;
        for (let d = 0; d < headDim; d++) dot += rq[head * headDim + d]! * rk[kvHead * headDim + d]!;
        return dot;
      });
    };
    const ggufScores = scores(
      matvec(asF32(gguf.readTensor('blk.0.attn_q.weight')), x),
      matvec(asF32(gguf.readTensor('blk.0.attn_k.weight')), x),
      true,
    );
    const hfScores = scores(
      matvec(asF32(hf.readTensor('model.layers.0.self_attn.q_proj.weight')), x),
      matvec(asF32(hf.readTensor('model.layers.0.self_attn.k_proj.weight')), x),
      false,
    );
    for (let h = 0; h < 8; h++)
      assert.ok(Math.abs(ggufScores[h]! - hfScores[h]!) < 1e-4, `head ${h}: ${ggufScores[h]} vs ${hfScores[h]}`);
    assert.ok(
      ggufScores.some((s) => Math.abs(s) > 0.01),
      'scores are not trivially zero',
    );
  } finally {
    gguf.close();
    hf.close();
  }

  const tokenizer = JSON.parse(readFileSync(join(out, 'tokenizer.json'), 'utf8'));
  assert.equal(tokenizer.model.type, 'BPE');
  assert.equal(tokenizer.model.byte_fallback, true);
  assert.equal(Object.keys(tokenizer.model.vocab).length, 512);
  assert.equal(tokenizer.model.vocab['<0x0A>'], 13);
  // The best-scored merge comes first: token 259 "▁t" (score 0) from "▁" + "t".
  assert.equal(tokenizer.model.merges[0], '▁ t');
  assert.deepEqual(
    tokenizer.added_tokens.map((t: { content: string }) => t.content),
    ['<unk>', '<s>', '</s>'],
  );
});

test('a quantized GGUF exports as f32: Q8_0 and F16 tensors are decoded', () => {
  const out = join(dir, 'stories260K-q8_0');
  exportGgufAsHf(testModel('stories260K-q8_0.gguf'), out);
  const reference = openGguf(STORIES);
  const hf = openSafetensors(join(out, 'model.safetensors'));
  try {
    for (const [hfName, ggufName] of [
      ['model.embed_tokens.weight', 'token_embd.weight'],
      ['model.layers.1.mlp.down_proj.weight', 'blk.1.ffn_down.weight'],
    ]) {
      assert.equal(hf.tensors.get(hfName)!.dtype, 'F32');
      const decoded = asF32(hf.readTensor(hfName));
      const exact = asF32(reference.readTensor(ggufName));
      let error = 0;
      for (let i = 0; i < exact.length; i++) error = Math.max(error, Math.abs(decoded[i]! - exact[i]!));
      assert.ok(error > 0 && error < 0.02, `${hfName}: max error ${error} against the f32 model`);
    }
  } finally {
    reference.close();
    hf.close();
  }
});
