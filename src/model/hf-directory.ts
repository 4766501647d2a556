import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { architectureTraits, validateConfig } from './architecture.ts';
import { ggufNameOf } from './hf-names.ts';
import type { ModelConfig, ModelFiles, WeightSource } from './model-files.ts';
import { openSafetensors, type SafetensorsFile, type SafetensorsTensorInfo } from './safetensors.ts';
import { tokenizerFromHfJson } from './tokenizer/from-hf-json.ts';

/** Whether `path` is a directory laid out like a Hugging Face model (it has a config.json). */
export function isHfDirectory(path: string): boolean {
  return existsSync(join(path, 'config.json')) && statSync(path).isDirectory();
}

function readJson(path: string, what: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new Error(`${path}: cannot read the ${what}: ${reason}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new Error(`${path}: the ${what} is not a JSON object`);
  return parsed as Record<string, unknown>;
}

/** Maps a config.json to the engine's hyper-parameters, refusing features the engine does not implement. */
export function configFromHf(json: Record<string, unknown>, source: string, hasLmHead: boolean): ModelConfig {
  const modelType = json.model_type;
  if (typeof modelType !== 'string') throw new Error(`${source}: config.json has no model_type`);
  const traits = architectureTraits(modelType, source);
  const number = (key: string, fallback?: number): number => {
    const value = json[key] ?? fallback;
    if (typeof value !== 'number')
      throw new Error(`${source}: config.json ${key} ${value === undefined ? 'is missing' : 'is not a number'}`);
    return value;
  };
  const unsupported = (feature: string) =>
    new Error(`${source}: config.json asks for ${feature}, which the engine does not support`);
  if (json.hidden_act !== undefined && json.hidden_act !== 'silu')
    throw unsupported(`hidden_act ${String(json.hidden_act)}`);
  if (json.rope_scaling !== undefined && json.rope_scaling !== null)
    throw unsupported(`rope_scaling ${JSON.stringify(json.rope_scaling)}`);
  if (json.attention_bias === true && modelType === 'llama') throw unsupported('attention_bias');
  if (json.mlp_bias === true) throw unsupported('mlp_bias');
  if (json.use_sliding_window === true) throw unsupported('use_sliding_window');
  if (json.partial_rotary_factor !== undefined && json.partial_rotary_factor !== 1)
    throw unsupported(`partial_rotary_factor ${String(json.partial_rotary_factor)}`);

  const hiddenSize = number('hidden_size');
  const heads = number('num_attention_heads');
  const headDim = number('head_dim', hiddenSize / heads);
  const tied = json.tie_word_embeddings === undefined ? !hasLmHead : json.tie_word_embeddings === true;
  if (!tied && !hasLmHead)
    throw new Error(`${source}: config.json says tie_word_embeddings is false, but there is no lm_head.weight`);
  const config: ModelConfig = {
    architecture: modelType,
    vocabSize: number('vocab_size'),
    hiddenSize,
    ffnSize: number('intermediate_size'),
    layers: number('num_hidden_layers'),
    heads,
    kvHeads: number('num_key_value_heads', heads),
    headDim,
    ropeTheta: number('rope_theta', traits.defaultRopeTheta),
    ropeDim: headDim,
    // Hugging Face's llama and qwen2 both rotate halves (rotate_half); only GGUF llama files are permuted.
    ropeStyle: 'neox',
    rmsEps: number('rms_norm_eps', traits.defaultRmsEps),
    contextLength: number('max_position_embeddings', 2048),
    qkvBias: traits.qkvBias,
    tiedEmbeddings: tied,
  };
  validateConfig(config, source);
  return config;
}

function weightsFile(dir: string): string {
  for (const name of ['model.safetensors.index.json', 'model.safetensors']) {
    if (existsSync(join(dir, name))) return join(dir, name);
  }
  throw new Error(`${dir}: no model.safetensors or model.safetensors.index.json in the directory`);
}

/** Exposes a checkpoint's tensors under their GGUF names; an untied head's lm_head becomes output.weight. */
function hfWeightSource(file: SafetensorsFile, tied: boolean): WeightSource {
  const byGgufName = new Map<string, SafetensorsTensorInfo>();
  for (const info of file.tensors.values()) {
    const name = ggufNameOf(info.name);
    if (name === undefined || (tied && name === 'output.weight')) continue;
    byGgufName.set(name, info);
  }
  const lookup = (name: string): SafetensorsTensorInfo => {
    const info = byGgufName.get(name);
    if (!info) throw new Error(`${file.path}: tensor ${name} is missing`);
    return info;
  };
  return {
    path: file.path,
    has: (name) => byGgufName.has(name),
    entry: (name) => lookup(name),
    read: (name, into) => void file.readTensor(lookup(name).name, into),
    close: () => file.close(),
  };
}

function chatTemplateOf(dir: string, tokenizerConfig: Record<string, unknown> | undefined): string | undefined {
  const template = tokenizerConfig?.chat_template;
  if (typeof template === 'string') return template;
  // Some configs list named templates; the engine renders the default one.
  if (Array.isArray(template)) {
    const named = template.find((t: { name?: unknown }) => t?.name === 'default') as { template?: unknown } | undefined;
    if (typeof named?.template === 'string') return named.template;
  }
  const file = join(dir, 'chat_template.jinja');
  return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
}

/**
 * Opens a Hugging Face model directory (config.json, *.safetensors, tokenizer.json and optionally
 * tokenizer_config.json) as the same `ModelFiles` a GGUF file gives: tensors under GGUF names, read
 * on demand.
 */
export function openHfDirectory(dir: string): ModelFiles {
  const configJson = readJson(join(dir, 'config.json'), 'model config');
  const tokenizerJson = readJson(join(dir, 'tokenizer.json'), 'tokenizer');
  const tokenizerConfigPath = join(dir, 'tokenizer_config.json');
  const tokenizerConfig = existsSync(tokenizerConfigPath)
    ? readJson(tokenizerConfigPath, 'tokenizer config')
    : undefined;

  const file = openSafetensors(weightsFile(dir));
  try {
    const config = configFromHf(configJson, join(dir, 'config.json'), file.tensors.has('lm_head.weight'));
    const weights = hfWeightSource(file, config.tiedEmbeddings);
    const embedding = weights.entry('token_embd.weight');
    if (embedding.dims[0] !== config.hiddenSize || embedding.dims[1] !== config.vocabSize) {
      throw new Error(
        `${dir}: model.embed_tokens.weight is [${[...embedding.dims].reverse().join(', ')}], config.json says vocab_size ${config.vocabSize} × hidden_size ${config.hiddenSize}`,
      );
    }
    return {
      path: dir,
      config,
      tokenizer: tokenizerFromHfJson(tokenizerJson, tokenizerConfig, join(dir, 'tokenizer.json')),
      chatTemplate: chatTemplateOf(dir, tokenizerConfig),
      weights,
    };
  } catch (error) {
    file.close();
    throw error;
  }
}
