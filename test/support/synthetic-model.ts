import { ggmlTypeName, GgmlType } from '../../src/tensor/ggml-type.ts';
import { quantize } from '../../src/tensor/quantize.ts';
import { writeGguf, GgufMetadataBuilder, type GgufTensorSpec } from '../../src/model/gguf/writer.ts';
import { GgufValueType } from '../../src/model/gguf/value.ts';
import { FILE_TYPE, tensorTypeFor, type QuantMix } from '../../src/model/quant-mix.ts';
import { buildSyntheticBpeVocab } from './synthetic-vocab.ts';
import { TokenType } from '../../src/model/tokenizer/vocab-tokenizer.ts';

/** The hyper-parameters and tokenizer conventions of a published model, without its weights. */
export interface ModelShape {
  readonly name: string;
  readonly architecture: 'llama' | 'qwen2';
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly ffnSize: number;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly contextLength: number;
  readonly ropeTheta: number;
  readonly rmsEps: number;
  readonly qkvBias: boolean;
  readonly tiedEmbeddings: boolean;
  /** llama.cpp's pre-tokenizer name (`tokenizer.ggml.pre`). */
  readonly tokenizerPre: string;
  /** Control tokens beyond the synthetic vocabulary's own ChatML ones, appended at its end. */
  readonly extraControlTokens: readonly string[];
  readonly bosToken: string;
  readonly eosToken: string;
  readonly addBos: boolean;
  readonly chatTemplate: string;
}

const CHATML_TEMPLATE =
  "{%- for message in messages %}{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}{%- endfor %}" +
  "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";

// Qwen2.5's template without its tool-calling branches: a default system turn, then ChatML.
const QWEN2_5_TEMPLATE =
  "{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}" +
  "{%- else %}{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}{%- endif %}" +
  "{%- for message in messages %}{%- if not (message['role'] == 'system' and loop.first) %}" +
  "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}{%- endif %}{%- endfor %}" +
  "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";

const LLAMA3_TEMPLATE =
  '{{- bos_token }}{%- for message in messages %}' +
  "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{%- endfor %}" +
  "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}";

/** Qwen/Qwen2.5-0.5B-Instruct. */
export const QWEN2_5_0_5B: ModelShape = {
  name: 'Qwen2.5-0.5B',
  architecture: 'qwen2',
  vocabSize: 151936,
  hiddenSize: 896,
  ffnSize: 4864,
  layers: 24,
  heads: 14,
  kvHeads: 2,
  headDim: 64,
  contextLength: 32768,
  ropeTheta: 1000000,
  rmsEps: 1e-6,
  qkvBias: true,
  tiedEmbeddings: true,
  tokenizerPre: 'qwen2',
  extraControlTokens: [],
  bosToken: '<|endoftext|>',
  eosToken: '<|im_end|>',
  addBos: false,
  chatTemplate: QWEN2_5_TEMPLATE,
};

/** HuggingFaceTB/SmolLM-135M (v1: rope theta 10000, context 2048). */
export const SMOLLM_135M: ModelShape = {
  name: 'SmolLM-135M',
  architecture: 'llama',
  vocabSize: 49152,
  hiddenSize: 576,
  ffnSize: 1536,
  layers: 30,
  heads: 9,
  kvHeads: 3,
  headDim: 64,
  contextLength: 2048,
  ropeTheta: 10000,
  rmsEps: 1e-5,
  qkvBias: false,
  tiedEmbeddings: true,
  tokenizerPre: 'smollm',
  extraControlTokens: [],
  bosToken: '<|endoftext|>',
  eosToken: '<|im_end|>',
  addBos: false,
  chatTemplate: CHATML_TEMPLATE,
};

/**
 * meta-llama/Llama-3.2-1B-Instruct. Its llama3 rope scaling (the `rope_freqs` tensor) is left out:
 * the synthetic model uses plain rope with theta 500000.
 */
export const LLAMA_3_2_1B: ModelShape = {
  name: 'Llama-3.2-1B',
  architecture: 'llama',
  vocabSize: 128256,
  hiddenSize: 2048,
  ffnSize: 8192,
  layers: 16,
  heads: 32,
  kvHeads: 8,
  headDim: 64,
  contextLength: 131072,
  ropeTheta: 500000,
  rmsEps: 1e-5,
  qkvBias: false,
  tiedEmbeddings: true,
  tokenizerPre: 'llama-bpe',
  extraControlTokens: [
    '<|begin_of_text|>',
    '<|end_of_text|>',
    '<|start_header_id|>',
    '<|end_header_id|>',
    '<|eot_id|>',
  ],
  bosToken: '<|begin_of_text|>',
  eosToken: '<|eot_id|>',
  addBos: true,
  chatTemplate: LLAMA3_TEMPLATE,
};

export interface SyntheticModelOptions {
  readonly type: QuantMix;
  readonly seed: number;
  /** Fewer layers than the shape has, for small test models. */
  readonly layers?: number;
  /** A smaller vocabulary than the shape has, for small test models. */
  readonly vocabSize?: number;
}

export interface SyntheticModelInfo {
  readonly bytes: number;
  /** GGML type name of every tensor, by GGUF name. */
  readonly tensorTypes: ReadonlyMap<string, string>;
}

/** Applies the size overrides of `options` to `shape`. */
function resizeShape(shape: ModelShape, options: Pick<SyntheticModelOptions, 'layers' | 'vocabSize'>): ModelShape {
  return { ...shape, layers: options.layers ?? shape.layers, vocabSize: options.vocabSize ?? shape.vocabSize };
}

/** sfc32: a small, fast generator whose stream depends only on its seed words. */
class Sfc32 {
  private a: number;
  private b: number;
  private c: number;
  private d = 1;

  constructor(seed: number, stream: number) {
    this.a = seed | 0;
    this.b = stream | 0;
    this.c = 0x9e3779b9;
    for (let i = 0; i < 15; i++) this.next();
  }

  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }
}

/** FNV-1a, so each tensor's values depend on the seed and its name, not on the order tensors are written. */
function nameHash(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Values uniform in [center - spread, center + spread]. */
interface Distribution {
  readonly center: number;
  readonly spread: number;
}

// Uniform with the standard deviation of a typical init (0.02): spread = 0.02 * sqrt(3).
const WEIGHTS: Distribution = { center: 0, spread: 0.02 * Math.sqrt(3) };
const NORMS: Distribution = { center: 1, spread: 0.1 };

function fill(values: Float32Array, rng: Sfc32, { center, spread }: Distribution): void {
  const scale = (2 * spread) / 4294967296;
  const low = center - spread;
  for (let i = 0; i < values.length; i++) values[i] = low + rng.next() * scale;
}

interface PlannedTensor {
  readonly name: string;
  readonly dims: readonly number[];
  readonly distribution: Distribution;
}

function planTensors(shape: ModelShape): PlannedTensor[] {
  const { hiddenSize: hidden, ffnSize: ffn, heads, kvHeads, headDim } = shape;
  const q = heads * headDim;
  const kv = kvHeads * headDim;
  const plan: PlannedTensor[] = [{ name: 'token_embd.weight', dims: [hidden, shape.vocabSize], distribution: WEIGHTS }];
  for (let layer = 0; layer < shape.layers; layer++) {
    const tensor = (suffix: string, dims: number[], distribution = WEIGHTS) =>
      plan.push({ name: `blk.${layer}.${suffix}`, dims, distribution });
    tensor('attn_norm.weight', [hidden], NORMS);
    tensor('attn_q.weight', [hidden, q]);
    tensor('attn_k.weight', [hidden, kv]);
    tensor('attn_v.weight', [hidden, kv]);
    if (shape.qkvBias) {
      tensor('attn_q.bias', [q]);
      tensor('attn_k.bias', [kv]);
      tensor('attn_v.bias', [kv]);
    }
    tensor('attn_output.weight', [q, hidden]);
    tensor('ffn_norm.weight', [hidden], NORMS);
    tensor('ffn_gate.weight', [hidden, ffn]);
    tensor('ffn_up.weight', [hidden, ffn]);
    tensor('ffn_down.weight', [ffn, hidden]);
  }
  plan.push({ name: 'output_norm.weight', dims: [hidden], distribution: NORMS });
  if (!shape.tiedEmbeddings)
    plan.push({ name: 'output.weight', dims: [hidden, shape.vocabSize], distribution: WEIGHTS });
  return plan;
}

// Values per chunk (whole rows): enough to amortize the per-chunk work, small enough to keep memory flat.
const CHUNK_ELEMENTS = 1 << 20;

function* tensorChunks(tensor: PlannedTensor, type: GgmlType, seed: number): Iterable<Uint8Array> {
  const rng = new Sfc32(seed, nameHash(tensor.name));
  const rowLength = tensor.dims[0]!;
  const rows = tensor.dims.slice(1).reduce((a, b) => a * b, 1);
  const rowsPerChunk = Math.max(1, Math.floor(CHUNK_ELEMENTS / rowLength));
  for (let row = 0; row < rows; row += rowsPerChunk) {
    const values = new Float32Array(Math.min(rowsPerChunk, rows - row) * rowLength);
    fill(values, rng, tensor.distribution);
    yield type === GgmlType.F32 ? new Uint8Array(values.buffer) : quantize(type, values);
  }
}

function tokenizerMetadata(meta: GgufMetadataBuilder, shape: ModelShape, seed: number): void {
  const extra = shape.extraControlTokens;
  const vocab = buildSyntheticBpeVocab(shape.vocabSize - extra.length, seed);
  const tokens = [...vocab.tokens, ...extra];
  const idOf = (token: string) => {
    const id = tokens.lastIndexOf(token);
    if (id < 0) throw new Error(`${shape.name}: special token ${token} is not in the synthetic vocabulary`);
    return id;
  };
  meta
    .string('tokenizer.ggml.model', 'gpt2')
    .string('tokenizer.ggml.pre', shape.tokenizerPre)
    .array('tokenizer.ggml.tokens', GgufValueType.STRING, tokens)
    .array('tokenizer.ggml.token_type', GgufValueType.INT32, [
      ...vocab.tokenTypes,
      ...extra.map(() => TokenType.CONTROL),
    ])
    .array('tokenizer.ggml.merges', GgufValueType.STRING, vocab.merges)
    .u32('tokenizer.ggml.bos_token_id', idOf(shape.bosToken))
    .u32('tokenizer.ggml.eos_token_id', idOf(shape.eosToken))
    .u32('tokenizer.ggml.padding_token_id', idOf(shape.bosToken))
    .bool('tokenizer.ggml.add_bos_token', shape.addBos)
    .string('tokenizer.chat_template', shape.chatTemplate);
}

/**
 * Writes a GGUF model with deterministic random weights (uniform, std 0.02; norm weights near 1) and a
 * synthetic byte-level BPE vocabulary, laid out and described as llama.cpp's converter and
 * llama-quantize would (see `tensorTypeFor` for which tensor gets which type). Tensors are generated
 * while being written, so memory stays flat whatever the model size.
 */
export function writeSyntheticModel(
  path: string,
  baseShape: ModelShape,
  options: SyntheticModelOptions,
): SyntheticModelInfo {
  const shape = resizeShape(baseShape, options);
  const arch = shape.architecture;
  const meta = new GgufMetadataBuilder()
    .string('general.architecture', arch)
    .string('general.type', 'model')
    .string('general.name', `${shape.name} (synthetic, seed ${options.seed})`)
    .u32(`${arch}.block_count`, shape.layers)
    .u32(`${arch}.context_length`, shape.contextLength)
    .u32(`${arch}.embedding_length`, shape.hiddenSize)
    .u32(`${arch}.feed_forward_length`, shape.ffnSize)
    .u32(`${arch}.attention.head_count`, shape.heads)
    .u32(`${arch}.attention.head_count_kv`, shape.kvHeads)
    .f32(`${arch}.rope.freq_base`, shape.ropeTheta)
    .f32(`${arch}.attention.layer_norm_rms_epsilon`, shape.rmsEps);
  if (shape.headDim !== shape.hiddenSize / shape.heads) {
    meta.u32(`${arch}.attention.key_length`, shape.headDim).u32(`${arch}.attention.value_length`, shape.headDim);
  }
  if (arch === 'llama') meta.u32('llama.vocab_size', shape.vocabSize).u32('llama.rope.dimension_count', shape.headDim);
  meta.u32('general.file_type', FILE_TYPE[options.type]).u32('general.quantization_version', 2);
  tokenizerMetadata(meta, shape, options.seed);

  const tensorTypes = new Map<string, string>();
  const tensors: GgufTensorSpec[] = planTensors(shape).map((tensor) => {
    const type = tensorTypeFor(options.type, {
      name: tensor.name,
      dims: tensor.dims,
      layers: shape.layers,
      tiedEmbeddings: shape.tiedEmbeddings,
    });
    tensorTypes.set(tensor.name, ggmlTypeName(type));
    return { name: tensor.name, dims: tensor.dims, type, data: () => tensorChunks(tensor, type, options.seed) };
  });
  const bytes = writeGguf(path, { metadata: meta, tensors });
  return { bytes, tensorTypes };
}
