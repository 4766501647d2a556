// One benchmark measurement of llama.cpp (node-llama-cpp) in its own process.
// argv: MODEL THREADS PROMPT_TOKENS DECODE_TOKENS; prints one JSON line.
import { loadReference } from '../test/support/llama-cpp.ts';
import { openModel } from '../src/model/open-model.ts';
import { benchTokens } from './tokens.ts';

const [modelPath, threadsArg, promptArg, decodeArg] = process.argv.slice(2);
const info = openModel(modelPath!);
const vocabSize = info.config.vocabSize;
info.weights.close();
const reference = await loadReference(modelPath!);
const prompt = benchTokens(vocabSize, Number(promptArg));
const decodeTokens = Number(decodeArg);
const { prefillSeconds, decodeSeconds } = await reference.time(prompt, decodeTokens, Number(threadsArg));
await reference.dispose();
process.stdout.write(
  `${JSON.stringify({
    prefillTokensPerSecond: (prompt.length - 1) / prefillSeconds,
    decodeTokensPerSecond: decodeTokens / decodeSeconds,
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
  })}\n`,
);
