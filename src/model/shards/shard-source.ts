import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { basename, join } from 'node:path';
import { byteSize, type GgmlType } from '../../tensor/ggml-type.ts';
import { architectureTraits, configFromGguf } from '../architecture.ts';
import { openGguf } from '../gguf/reader.ts';
import { MetadataView } from '../gguf/value.ts';
import { GgufMetadataBuilder, type GgufMetadataEntry } from '../gguf/writer.ts';
import { isHfDirectory, openHfDirectory } from '../hf-directory.ts';
import type { ModelConfig } from '../model-files.ts';
import { sha256File } from '../../crypto/hash.ts';
import { modelMetadata } from './shard-layout.ts';

/** Where the tokenizer of a converted Hugging Face model lives in a GGUF (the GGUF spec's key). */
export const HF_TOKENIZER_JSON_KEY = 'tokenizer.huggingface.json';
/** tokenizer_config.json of a converted Hugging Face model (BOS/EOS and template settings). */
export const HF_TOKENIZER_CONFIG_KEY = 'tessera.tokenizer_config_json';

export interface SourceTensor {
  readonly type: GgmlType;
  /** GGML order: dims[0] is the row length. */
  readonly dims: readonly number[];
  readonly byteSize: number;
  /** Where its bytes lie in the source file, as they are: a GGUF source's tensors only. */
  readonly offset?: number;
  read(): Uint8Array;
}

/** A model to cut into shards, seen as GGUF: metadata with value types, tensors under GGUF names. */
export interface ShardSource {
  readonly config: ModelConfig;
  readonly alignment: number;
  /** Copied into every shard and into the tokenizer file. */
  readonly metadata: readonly GgufMetadataEntry[];
  readonly tensorNames: readonly string[];
  tensor(name: string): SourceTensor;
  /** The file (or directory) the shards are cut from, for the manifest. */
  readonly origin: { readonly file: string; readonly bytes: number; readonly sha256: string };
  close(): void;
}

function openGgufSource(path: string): ShardSource {
  const file = openGguf(path);
  try {
    const embedding = file.tensors.get('token_embd.weight');
    if (!embedding) throw new Error(`${path}: tensor token_embd.weight is missing`);
    const config = configFromGguf(
      new MetadataView(file.metadata, path),
      path,
      file.tensors.has('output.weight'),
      embedding.dims[1] ?? 0,
    );
    const metadata = modelMetadata(file.metadata, file.metadataTypes);
    return {
      config,
      alignment: file.alignment,
      metadata,
      tensorNames: [...file.tensors.keys()],
      tensor(name) {
        const info = file.tensors.get(name);
        if (!info) throw new Error(`${path}: tensor ${name} is missing`);
        return {
          type: info.type,
          dims: info.dims,
          byteSize: info.byteSize,
          offset: info.offset,
          read: () => file.readTensor(name),
        };
      },
      origin: { file: basename(path), bytes: statSync(path).size, sha256: sha256File(path) },
      close: () => file.close(),
    };
  } catch (error) {
    file.close();
    throw error;
  }
}

/** The GGUF names the engine reads for a whole model of this configuration. */
export function engineTensorNames(config: ModelConfig): string[] {
  const names = ['token_embd.weight', 'rope_freqs.weight'];
  for (let l = 0; l < config.layers; l++) {
    const p = `blk.${l}.`;
    names.push(`${p}attn_norm.weight`, `${p}attn_q.weight`, `${p}attn_k.weight`, `${p}attn_v.weight`);
    if (config.qkvBias) names.push(`${p}attn_q.bias`, `${p}attn_k.bias`, `${p}attn_v.bias`);
    names.push(
      `${p}attn_output.weight`,
      `${p}ffn_norm.weight`,
      `${p}ffn_gate.weight`,
      `${p}ffn_up.weight`,
      `${p}ffn_down.weight`,
    );
  }
  names.push('output_norm.weight');
  if (!config.tiedEmbeddings) names.push('output.weight');
  return names;
}

/**
 * Hugging Face keeps rotated pairs half a head apart; llama.cpp's converter interleaves them (row
 * 2i + h of a head comes from row h·d/2 + i). Whole rows move, so any element type works.
 */
function permuteRopeRows(bytes: Uint8Array, heads: number, rowBytes: number): Uint8Array {
  const rows = bytes.length / rowBytes;
  const headDim = rows / heads;
  const half = headDim / 2;
  const out = new Uint8Array(bytes.length);
  for (let head = 0; head < heads; head++) {
    for (let i = 0; i < half; i++) {
      for (let h = 0; h < 2; h++) {
        const from = (head * headDim + h * half + i) * rowBytes;
        out.set(bytes.subarray(from, from + rowBytes), (head * headDim + 2 * i + h) * rowBytes);
      }
    }
  }
  return out;
}

function directoryOrigin(dir: string): ShardSource['origin'] {
  const hash = createHash('sha256');
  let bytes = 0;
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    const stat = statSync(path);
    if (!stat.isFile()) continue;
    bytes += stat.size;
    hash.update(`${name}\0${sha256File(path)}\n`);
  }
  return { file: basename(dir), bytes, sha256: hash.digest('hex') };
}

/**
 * A Hugging Face directory as a GGUF model: llama.cpp's metadata keys from config.json, the
 * tokenizer.json carried whole, and llama's Q/K rows permuted as llama.cpp's converter does, so the
 * shards run with the same rotation as any llama GGUF.
 */
function openHfSource(dir: string): ShardSource {
  const files = openHfDirectory(dir);
  try {
    const hf = files.config;
    const traits = architectureTraits(hf.architecture, dir);
    const permute = traits.ropeStyle === 'interleaved';
    const config: ModelConfig = { ...hf, ropeStyle: traits.ropeStyle };
    const arch = config.architecture;
    const meta = new GgufMetadataBuilder()
      .string('general.architecture', arch)
      .string('general.name', basename(dir))
      .u32(`${arch}.vocab_size`, config.vocabSize)
      .u32(`${arch}.context_length`, config.contextLength)
      .u32(`${arch}.embedding_length`, config.hiddenSize)
      .u32(`${arch}.feed_forward_length`, config.ffnSize)
      .u32(`${arch}.block_count`, config.layers)
      .u32(`${arch}.attention.head_count`, config.heads)
      .u32(`${arch}.attention.head_count_kv`, config.kvHeads)
      .u32(`${arch}.attention.key_length`, config.headDim)
      .u32(`${arch}.attention.value_length`, config.headDim)
      .u32(`${arch}.rope.dimension_count`, config.ropeDim)
      .f32(`${arch}.rope.freq_base`, config.ropeTheta)
      .f32(`${arch}.attention.layer_norm_rms_epsilon`, config.rmsEps)
      .string(HF_TOKENIZER_JSON_KEY, readFileSync(join(dir, 'tokenizer.json'), 'utf8'));
    const tokenizerConfig = join(dir, 'tokenizer_config.json');
    if (statSync(tokenizerConfig, { throwIfNoEntry: false })?.isFile())
      meta.string(HF_TOKENIZER_CONFIG_KEY, readFileSync(tokenizerConfig, 'utf8'));
    if (files.chatTemplate !== undefined) meta.string('tokenizer.chat_template', files.chatTemplate);

    const { weights } = files;
    return {
      config,
      alignment: 32,
      metadata: [...meta],
      tensorNames: engineTensorNames(config).filter((name) => weights.has(name)),
      tensor(name) {
        const entry = weights.entry(name);
        const heads = /\.attn_q\.weight$/.test(name)
          ? config.heads
          : /\.attn_k\.weight$/.test(name)
            ? config.kvHeads
            : 0;
        return {
          type: entry.type,
          dims: entry.dims,
          byteSize: entry.byteSize,
          read() {
            const bytes = new Uint8Array(entry.byteSize);
            weights.read(name, bytes);
            return permute && heads > 0 ? permuteRopeRows(bytes, heads, byteSize(entry.type, entry.dims[0]!)) : bytes;
          },
        };
      },
      origin: directoryOrigin(dir),
      close: () => weights.close(),
    };
  } catch (error) {
    files.weights.close();
    throw error;
  }
}

/** Opens a GGUF file or a Hugging Face directory for sharding. */
export function openShardSource(path: string): ShardSource {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (!stat) throw new Error(`${path}: no such file or directory`);
  if (stat.isDirectory()) {
    if (!isHfDirectory(path))
      throw new Error(`${path}: a directory must hold a Hugging Face model (config.json, safetensors, tokenizer.json)`);
    return openHfSource(path);
  }
  return openGgufSource(path);
}
