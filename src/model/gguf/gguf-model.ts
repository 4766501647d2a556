import { configFromGguf } from '../architecture.ts';
import type { ModelFiles, WeightSource } from '../model-files.ts';
import { tokenizerFromGguf } from '../tokenizer/from-gguf.ts';
import { openGguf, type GgufFile } from './reader.ts';
import { MetadataView } from './value.ts';

export function ggufWeightSource(file: GgufFile): WeightSource {
  return {
    path: file.path,
    has: (name) => file.tensors.has(name),
    entry(name) {
      const info = file.tensors.get(name);
      if (!info) throw new Error(`${file.path}: tensor ${name} is missing`);
      return info;
    },
    read: (name, into) => void file.readTensor(name, into),
    close: () => file.close(),
  };
}

/** Opens a GGUF model: header, hyper-parameters and tokenizer now; tensor data on demand. */
export function openGgufModel(path: string): ModelFiles {
  const file = openGguf(path);
  try {
    const meta = new MetadataView(file.metadata, path);
    const embedding = file.tensors.get('token_embd.weight');
    if (!embedding) throw new Error(`${path}: tensor token_embd.weight is missing`);
    const config = configFromGguf(meta, path, file.tensors.has('output.weight'), embedding.dims[1] ?? 0);
    return {
      path,
      config,
      tokenizer: tokenizerFromGguf(meta, path),
      chatTemplate: meta.optionalString('tokenizer.chat_template'),
      weights: ggufWeightSource(file),
    };
  } catch (error) {
    file.close();
    throw error;
  }
}
