import { BLOCK_LAYOUT, GgmlType } from '../tensor/ggml-type.ts';

/** What a whole file is quantized to; a single type per tensor comes from `tensorTypeFor`. */
export type QuantMix = 'f32' | 'q8_0' | 'q4_K';

/** GGUF `general.file_type` (llama.cpp's LLAMA_FTYPE) for each mix. */
export const FILE_TYPE: Readonly<Record<QuantMix, number>> = { f32: 0, q8_0: 7, q4_K: 15 };

export interface TensorRole {
  /** The GGUF name, e.g. `blk.3.ffn_down.weight`. */
  readonly name: string;
  /** GGML order: dims[0] is the row length. */
  readonly dims: readonly number[];
  readonly layers: number;
  /** Whether the LM head reuses token_embd (then token_embd is quantized like an output tensor). */
  readonly tiedEmbeddings: boolean;
}

// llama.cpp's Q4_K_M gives the first and last eighth of the layers, and every third in between, more bits.
function usesMoreBits(layer: number, layers: number): boolean {
  const eighth = Math.trunc(layers / 8);
  return layer < eighth || layer >= Math.trunc((7 * layers) / 8) || (layer - eighth) % 3 === 2;
}

/**
 * llama.cpp demotes a type whose block does not divide the row length. It picks Q5_0 for Q4_K; the
 * engine has no Q5_0, so Q4_K demotes to Q4_0, the nearest 4-bit type with 32-element blocks. Q6_K
 * demotes to Q8_0 as in llama.cpp, and a row that even 32 does not divide is stored as F16.
 */
function fitRow(type: GgmlType, rowLength: number): GgmlType {
  if (rowLength % BLOCK_LAYOUT[type].elements === 0) return type;
  const demoted = type === GgmlType.Q4_K ? GgmlType.Q4_0 : type === GgmlType.Q6_K ? GgmlType.Q8_0 : type;
  return rowLength % BLOCK_LAYOUT[demoted].elements === 0 ? demoted : GgmlType.F16;
}

/**
 * The type llama-quantize gives one tensor: vectors (norms, biases) stay F32; `q8_0` is Q8_0 throughout;
 * `q4_K` follows llama.cpp's Q4_K_M mix (Q4_K, with Q6_K for the output head, for attn_v and ffn_down
 * in the layers `usesMoreBits` picks, and a Q8_0 head when Q6_K does not fit its rows).
 */
export function tensorTypeFor(mix: QuantMix, role: TensorRole): GgmlType {
  const rowLength = role.dims[0]!;
  if (mix === 'f32' || role.dims.length < 2) return GgmlType.F32;
  if (mix === 'q8_0') return fitRow(GgmlType.Q8_0, rowLength);

  const isHead = role.name === 'output.weight' || (role.tiedEmbeddings && role.name === 'token_embd.weight');
  if (isHead) return rowLength % BLOCK_LAYOUT[GgmlType.Q4_K].elements === 0 ? GgmlType.Q6_K : GgmlType.Q8_0;
  const block = /^blk\.(\d+)\.(attn_v|ffn_down)\.weight$/.exec(role.name);
  const wanted = block && usesMoreBits(Number(block[1]), role.layers) ? GgmlType.Q6_K : GgmlType.Q4_K;
  return fitRow(wanted, rowLength);
}
