// A valid manifest.json (version 2) of a 5-layer model in two shards, as `tessera shard` writes one.
import type { Manifest } from '../../src/model/manifest.ts';

export function validManifest(): Manifest {
  const sha = (c: string) => c.repeat(64);
  return {
    version: 2,
    modelId: 'stories',
    architecture: 'llama',
    config: {
      architecture: 'llama',
      vocabSize: 512,
      hiddenSize: 64,
      ffnSize: 172,
      layers: 5,
      heads: 8,
      kvHeads: 4,
      headDim: 8,
      ropeTheta: 10000,
      ropeDim: 8,
      ropeStyle: 'interleaved',
      rmsEps: 1e-5,
      contextLength: 512,
      qkvBias: false,
      tiedEmbeddings: false,
    },
    tokenizerFile: 'stories.tokenizer.gguf',
    tokenizerSha256: sha('a'),
    source: { file: 'stories260K.gguf', bytes: 1_185_376, sha256: sha('b') },
    shards: [
      {
        index: 0,
        layerStart: 0,
        layerEnd: 3,
        embedding: true,
        head: false,
        file: 'stories.shard-0-of-2.gguf',
        bytes: 700_000,
        sha256: sha('c'),
      },
      {
        index: 1,
        layerStart: 3,
        layerEnd: 5,
        embedding: false,
        head: true,
        file: 'stories.shard-1-of-2.gguf',
        bytes: 500_000,
        sha256: sha('d'),
      },
    ],
  };
}
