// llama.cpp through node-llama-cpp (a dev dependency): the outside reference for correctness tests
// and the baseline of the benchmark. Its default thread count oversubscribes small machines, so
// every context here names its threads.
import { getLlama, type Llama, type LlamaModel, type Token } from 'node-llama-cpp';

let llamaPromise: Promise<Llama> | undefined;

function llama(): Promise<Llama> {
  llamaPromise ??= getLlama({ gpu: false, build: 'never', logLevel: 'error' as never });
  return llamaPromise;
}

export interface ReferenceModel {
  readonly model: LlamaModel;
  /** Token ids of the text alone (no BOS). */
  tokenize(text: string): number[];
  /** Greedy continuation of the prompt tokens. */
  greedy(promptTokens: readonly number[], maxTokens: number, threads: number): Promise<number[]>;
  /** The next-token distribution after `tokens`, as natural-log probabilities per token id. */
  nextTokenLogprobs(tokens: readonly number[], vocabSize: number, threads: number): Promise<Float64Array>;
  /** Seconds to prefill `tokens` and to decode `decodeTokens` more, in one fresh context. */
  time(
    tokens: readonly number[],
    decodeTokens: number,
    threads: number,
  ): Promise<{ prefillSeconds: number; decodeSeconds: number }>;
  dispose(): Promise<void>;
}

export async function loadReference(modelPath: string): Promise<ReferenceModel> {
  const model = await (await llama()).loadModel({ modelPath, gpuLayers: 0 });
  // An f32 KV cache and no flash attention (which rounds Q and K to f16 on the CPU), as our engine
  // computes attention, so differences come from the matrix kernels alone.
  const context = (threads: number, size: number) =>
    model.createContext({
      threads,
      contextSize: size,
      batchSize: Math.min(size, 512),
      sequences: 1,
      experimentalKvCacheKeyType: 'F32',
      experimentalKvCacheValueType: 'F32',
      flashAttention: false,
    });
  return {
    model,
    tokenize: (text) => [...model.tokenize(text, false)].map(Number),
    async greedy(promptTokens, maxTokens, threads) {
      const ctx = await context(threads, promptTokens.length + maxTokens + 8);
      try {
        const generated: number[] = [];
        for await (const token of ctx.getSequence().evaluate(promptTokens as Token[], { temperature: 0 })) {
          if (model.isSpecialToken(token) && model.tokens.eos === token) break;
          generated.push(Number(token));
          if (generated.length >= maxTokens) break;
        }
        return generated;
      } finally {
        await ctx.dispose();
      }
    },
    async nextTokenLogprobs(tokens, vocabSize, threads) {
      const ctx = await context(threads, tokens.length + 8);
      try {
        const input = tokens.map((t, i) =>
          i === tokens.length - 1 ? [t, { generateNext: { probabilities: true } }] : t,
        );
        const out = await ctx.getSequence().controlledEvaluate(input as never);
        const probabilities = out[tokens.length - 1]?.next?.probabilities;
        if (!probabilities) throw new Error('llama.cpp returned no probabilities');
        const result = new Float64Array(vocabSize).fill(-Infinity);
        for (const [id, p] of probabilities) result[Number(id)] = Math.log(p);
        return result;
      } finally {
        await ctx.dispose();
      }
    },
    async time(tokens, decodeTokens, threads) {
      const ctx = await context(threads, tokens.length + decodeTokens + 8);
      try {
        const sequence = ctx.getSequence();
        const start = process.hrtime.bigint();
        await sequence.evaluateWithoutGeneratingNewTokens(tokens.slice(0, -1) as Token[]);
        const prefilled = process.hrtime.bigint();
        let produced = 0;
        for await (const _ of sequence.evaluate(tokens.slice(-1) as Token[], { temperature: 0 })) {
          if (++produced >= decodeTokens) break;
        }
        const done = process.hrtime.bigint();
        return { prefillSeconds: Number(prefilled - start) / 1e9, decodeSeconds: Number(done - prefilled) / 1e9 };
      } finally {
        await ctx.dispose();
      }
    },
    dispose: () => model.dispose(),
  };
}
