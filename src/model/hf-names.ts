/**
 * Tensor names of Hugging Face llama/qwen2 checkpoints and their GGUF equivalents (as llama.cpp's
 * converter names them). The engine only knows GGUF names.
 */
const GLOBAL: Readonly<Record<string, string>> = {
  'model.embed_tokens.weight': 'token_embd.weight',
  'model.norm.weight': 'output_norm.weight',
  'lm_head.weight': 'output.weight',
};

const BLOCK: Readonly<Record<string, string>> = {
  'input_layernorm.weight': 'attn_norm.weight',
  'post_attention_layernorm.weight': 'ffn_norm.weight',
  'self_attn.q_proj.weight': 'attn_q.weight',
  'self_attn.q_proj.bias': 'attn_q.bias',
  'self_attn.k_proj.weight': 'attn_k.weight',
  'self_attn.k_proj.bias': 'attn_k.bias',
  'self_attn.v_proj.weight': 'attn_v.weight',
  'self_attn.v_proj.bias': 'attn_v.bias',
  'self_attn.o_proj.weight': 'attn_output.weight',
  'mlp.gate_proj.weight': 'ffn_gate.weight',
  'mlp.up_proj.weight': 'ffn_up.weight',
  'mlp.down_proj.weight': 'ffn_down.weight',
};

const invert = (table: Readonly<Record<string, string>>) =>
  Object.fromEntries(Object.entries(table).map(([hf, gguf]) => [gguf, hf]));
const GLOBAL_TO_HF: Readonly<Record<string, string>> = invert(GLOBAL);
const BLOCK_TO_HF: Readonly<Record<string, string>> = invert(BLOCK);

/** The GGUF name of a Hugging Face tensor, or undefined for tensors the engine does not use. */
export function ggufNameOf(hfName: string): string | undefined {
  const global = GLOBAL[hfName];
  if (global !== undefined) return global;
  const match = /^model\.layers\.(\d+)\.(.+)$/.exec(hfName);
  const suffix = match && BLOCK[match[2]!];
  return suffix ? `blk.${match[1]}.${suffix}` : undefined;
}

/** The Hugging Face name of a GGUF tensor, or undefined when a llama/qwen2 checkpoint has none. */
export function hfNameOf(ggufName: string): string | undefined {
  const global = GLOBAL_TO_HF[ggufName];
  if (global !== undefined) return global;
  const match = /^blk\.(\d+)\.(.+)$/.exec(ggufName);
  const suffix = match && BLOCK_TO_HF[match[2]!];
  return suffix ? `model.layers.${match[1]}.${suffix}` : undefined;
}
