// One benchmark measurement of llama.cpp (node-llama-cpp) in its own process.
// argv: MODEL THREADS PROMPT_TOKENS DECODE_TOKENS [SEQUENCES]; prints one JSON line.
// With SEQUENCES, SEQUENCES generations run at once on one context (llama.cpp batches them): each
// prefills its own prompt, then all decode together, and the line holds their aggregate decode rate
// and the time to the first token of one prompt alone (prefill and one decode step).
import type { LlamaContext, Token } from 'node-llama-cpp';
import { loadReference } from '../test/support/llama-cpp.ts';
import { openModel } from '../src/model/open-model.ts';
import { benchTokens } from './tokens.ts';

const [modelPath, threadsArg, promptArg, decodeArg, sequencesArg] = process.argv.slice(2);
const info = openModel(modelPath!);
const vocabSize = info.config.vocabSize;
info.weights.close();
const reference = await loadReference(modelPath!);
const prompt = benchTokens(vocabSize, Number(promptArg));
const decodeTokens = Number(decodeArg);
const threads = Number(threadsArg);

if (sequencesArg === undefined) {
  const { prefillSeconds, decodeSeconds } = await reference.time(prompt, decodeTokens, threads);
  await reference.dispose();
  process.stdout.write(
    `${JSON.stringify({
      prefillTokensPerSecond: (prompt.length - 1) / prefillSeconds,
      decodeTokensPerSecond: decodeTokens / decodeSeconds,
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
    })}\n`,
  );
} else {
  const sequences = Number(sequencesArg);
  // The settings of loadReference's contexts (f32 KV cache, no flash attention), with `sequences`.
  const context = (count: number): Promise<LlamaContext> =>
    reference.model.createContext({
      threads,
      contextSize: prompt.length + decodeTokens + 16,
      batchSize: Math.min(512, prompt.length + decodeTokens + 16),
      sequences: count,
      experimentalKvCacheKeyType: 'F32',
      experimentalKvCacheValueType: 'F32',
      flashAttention: false,
    });

  /** Decodes `count` tokens on a sequence already holding its prompt but the last token. */
  const decode = async (sequence: ReturnType<LlamaContext['getSequence']>, last: number, count: number) => {
    let produced = 0;
    for await (const _ of sequence.evaluate([last as Token], { temperature: 0 })) if (++produced >= count) break;
  };

  const ctx = await context(sequences);
  const all = Array.from({ length: sequences }, () => ctx.getSequence());
  // each its own prompt: the pseudo-random prompt rotated
  const prompts = all.map((_, i) => [...prompt.slice(i), ...prompt.slice(0, i)]);
  await Promise.all(
    all.map((sequence, i) => sequence.evaluateWithoutGeneratingNewTokens(prompts[i]!.slice(0, -1) as Token[])),
  );
  const started = process.hrtime.bigint();
  await Promise.all(all.map((sequence, i) => decode(sequence, prompts[i]!.at(-1)!, decodeTokens)));
  const decodeSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  await ctx.dispose();

  const single = await context(1);
  const sequence = single.getSequence();
  const t0 = process.hrtime.bigint();
  await sequence.evaluateWithoutGeneratingNewTokens(prompt.slice(0, -1) as Token[]);
  await decode(sequence, prompt.at(-1)!, 1);
  const firstTokenSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  await single.dispose();
  await reference.dispose();
  process.stdout.write(
    `${JSON.stringify({
      aggregateDecodeTokensPerSecond: (sequences * decodeTokens) / decodeSeconds,
      firstTokenSeconds,
    })}\n`,
  );
}
