import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dequantize } from '../tensor/dequantize.ts';
import { configFromGguf } from './architecture.ts';
import { openGguf } from './gguf/reader.ts';
import { MetadataView } from './gguf/value.ts';
import { hfNameOf } from './hf-names.ts';
import { spmTokenizerJson } from './hf-tokenizer-json.ts';
import { writeSafetensors, type SafetensorsTensorSpec } from './safetensors.ts';

/**
 * Undoes llama.cpp's converter permutation of a Q or K projection: GGUF llama stores each head's rows
 * so that rotated pairs are adjacent (row 2i + h of a head), Hugging Face keeps them half a head apart
 * (row h·d/2 + i). `rows` holds `heads · headDim` rows of `rowLength` values.
 */
export function unpermuteRopeRows(rows: Float32Array, heads: number, rowLength: number): Float32Array {
  const headDim = rows.length / rowLength / heads;
  if (!Number.isInteger(headDim) || headDim % 2 !== 0)
    throw new Error(`${rows.length / rowLength} rows do not split into ${heads} heads of even size`);
  const out = new Float32Array(rows.length);
  const half = headDim / 2;
  for (let head = 0; head < heads; head++) {
    for (let i = 0; i < half; i++) {
      for (let h = 0; h < 2; h++) {
        const from = (head * headDim + 2 * i + h) * rowLength;
        const to = (head * headDim + h * half + i) * rowLength;
        out.set(rows.subarray(from, from + rowLength), to);
      }
    }
  }
  return out;
}

/**
 * Writes a GGUF llama model (any tensor type, SentencePiece vocabulary) as a Hugging Face directory:
 * model.safetensors (f32, Q/K rows back in Hugging Face order), config.json, tokenizer.json and
 * tokenizer_config.json. Reads the whole model into memory: meant for small models and tests.
 */
export function exportGgufAsHf(ggufPath: string, outDir: string): void {
  const file = openGguf(ggufPath);
  try {
    const meta = new MetadataView(file.metadata, ggufPath);
    const embedding = file.tensors.get('token_embd.weight');
    if (!embedding) throw new Error(`${ggufPath}: tensor token_embd.weight is missing`);
    const config = configFromGguf(meta, ggufPath, file.tensors.has('output.weight'), embedding.dims[1] ?? 0);
    if (config.architecture !== 'llama')
      throw new Error(`${ggufPath}: only llama models can be exported, this one is ${config.architecture}`);
    if (meta.string('tokenizer.ggml.model') !== 'llama')
      throw new Error(`${ggufPath}: only SentencePiece (tokenizer.ggml.model = llama) vocabularies can be exported`);

    const tensors: SafetensorsTensorSpec[] = [];
    for (const info of file.tensors.values()) {
      const name = hfNameOf(info.name);
      if (name === undefined) throw new Error(`${ggufPath}: tensor ${info.name} has no Hugging Face llama equivalent`);
      const count = info.dims.reduce((a, b) => a * b, 1);
      let values = dequantize(info.type, file.readTensor(info.name), count);
      if (/\.attn_q\.weight$/.test(info.name)) values = unpermuteRopeRows(values, config.heads, info.dims[0]!);
      if (/\.attn_k\.weight$/.test(info.name)) values = unpermuteRopeRows(values, config.kvHeads, info.dims[0]!);
      tensors.push({
        name,
        dtype: 'F32',
        shape: [...info.dims].reverse(),
        data: new Uint8Array(values.buffer, values.byteOffset, values.byteLength),
      });
    }

    const tokens = meta.array('tokenizer.ggml.tokens') as string[] | undefined;
    const scores = meta.array('tokenizer.ggml.scores') as number[] | undefined;
    const tokenTypes = meta.array('tokenizer.ggml.token_type') as number[] | undefined;
    if (!tokens || !scores || !tokenTypes)
      throw new Error(`${ggufPath}: the vocabulary needs tokenizer.ggml.tokens, scores and token_type`);
    const bosId = meta.optionalNumber('tokenizer.ggml.bos_token_id');
    const eosId = meta.optionalNumber('tokenizer.ggml.eos_token_id');
    const unkId = meta.optionalNumber('tokenizer.ggml.unknown_token_id');
    const addBos = meta.bool('tokenizer.ggml.add_bos_token', true);
    const chatTemplate = meta.optionalString('tokenizer.chat_template');

    mkdirSync(outDir, { recursive: true });
    writeSafetensors(join(outDir, 'model.safetensors'), tensors, { format: 'pt' });
    const json = (name: string, value: unknown) =>
      writeFileSync(join(outDir, name), `${JSON.stringify(value, null, 2)}\n`);
    json('config.json', {
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      hidden_act: 'silu',
      hidden_size: config.hiddenSize,
      intermediate_size: config.ffnSize,
      num_hidden_layers: config.layers,
      num_attention_heads: config.heads,
      num_key_value_heads: config.kvHeads,
      head_dim: config.headDim,
      rms_norm_eps: config.rmsEps,
      rope_theta: config.ropeTheta,
      rope_scaling: null,
      max_position_embeddings: config.contextLength,
      vocab_size: config.vocabSize,
      tie_word_embeddings: config.tiedEmbeddings,
      bos_token_id: bosId ?? null,
      eos_token_id: eosId ?? null,
      torch_dtype: 'float32',
    });
    json('tokenizer.json', spmTokenizerJson({ tokens, scores, tokenTypes, bosId, eosId, unkId, addBos }));
    const tokenText = (id: number | undefined) => (id === undefined ? null : (tokens[id] ?? null));
    json('tokenizer_config.json', {
      tokenizer_class: 'LlamaTokenizerFast',
      add_bos_token: addBos,
      add_eos_token: false,
      bos_token: tokenText(bosId),
      eos_token: tokenText(eosId),
      unk_token: tokenText(unkId),
      model_max_length: config.contextLength,
      ...(chatTemplate === undefined ? {} : { chat_template: chatTemplate }),
    });
  } finally {
    file.close();
  }
}
