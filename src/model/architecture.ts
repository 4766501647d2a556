import type { MetadataView } from './gguf/value.ts';
import type { ModelConfig, RopeStyle } from './model-files.ts';

/**
 * What differs between supported architectures, as data. GGUF stores llama's Q/K rows permuted for
 * adjacent-pair rotation, so a llama GGUF rotates interleaved pairs; qwen2 keeps HF's half rotation.
 */
export interface ArchitectureTraits {
  readonly ropeStyle: RopeStyle;
  readonly qkvBias: boolean;
  readonly defaultRopeTheta: number;
  readonly defaultRmsEps: number;
}

export const ARCHITECTURES: Readonly<Record<string, ArchitectureTraits>> = {
  llama: { ropeStyle: 'interleaved', qkvBias: false, defaultRopeTheta: 10000, defaultRmsEps: 1e-5 },
  qwen2: { ropeStyle: 'neox', qkvBias: true, defaultRopeTheta: 1000000, defaultRmsEps: 1e-6 },
};

export function architectureTraits(name: string, source: string): ArchitectureTraits {
  const traits = ARCHITECTURES[name];
  if (!traits) {
    throw new Error(
      `${source}: architecture "${name}" is not supported (supported: ${Object.keys(ARCHITECTURES).join(', ')})`,
    );
  }
  return traits;
}

/** Reads the hyper-parameters a GGUF file declares under `<architecture>.*`. */
export function configFromGguf(
  meta: MetadataView,
  source: string,
  hasOutputTensor: boolean,
  vocabFromTensor: number,
): ModelConfig {
  const architecture = meta.string('general.architecture');
  const traits = architectureTraits(architecture, source);
  const key = (name: string) => `${architecture}.${name}`;
  const hiddenSize = meta.number(key('embedding_length'));
  const heads = meta.number(key('attention.head_count'));
  const kvHeads = meta.number(key('attention.head_count_kv'), heads);
  const headDim = meta.number(key('attention.key_length'), hiddenSize / heads);
  const config: ModelConfig = {
    architecture,
    vocabSize: meta.optionalNumber(key('vocab_size')) ?? vocabFromTensor,
    hiddenSize,
    ffnSize: meta.number(key('feed_forward_length')),
    layers: meta.number(key('block_count')),
    heads,
    kvHeads,
    headDim,
    ropeTheta: meta.number(key('rope.freq_base'), traits.defaultRopeTheta),
    ropeDim: meta.number(key('rope.dimension_count'), headDim),
    ropeStyle: traits.ropeStyle,
    rmsEps: meta.number(key('attention.layer_norm_rms_epsilon'), traits.defaultRmsEps),
    contextLength: meta.number(key('context_length'), 2048),
    qkvBias: traits.qkvBias,
    tiedEmbeddings: !hasOutputTensor,
  };
  validateConfig(config, source);
  return config;
}

export function validateConfig(config: ModelConfig, source: string): void {
  const problems: string[] = [];
  for (const [name, value] of Object.entries(config)) {
    if (typeof value === 'number' && !(Number.isFinite(value) && value > 0)) problems.push(`${name} is ${value}`);
  }
  if (config.heads % config.kvHeads !== 0)
    problems.push(`${config.heads} heads are not a multiple of ${config.kvHeads} kv heads`);
  if (!Number.isInteger(config.headDim) || config.headDim % 2 !== 0)
    problems.push(`head dimension ${config.headDim} is not an even integer`);
  if (config.ropeDim > config.headDim || config.ropeDim % 2 !== 0)
    problems.push(`rope dimension ${config.ropeDim} does not fit head dimension ${config.headDim}`);
  if (problems.length > 0) throw new Error(`${source}: invalid model hyper-parameters: ${problems.join('; ')}`);
}
