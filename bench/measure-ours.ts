// One benchmark measurement of our engine, in its own process so peak RSS belongs to it alone.
// argv: MODEL THREADS PROMPT_TOKENS DECODE_TOKENS [START END]; prints one JSON line.
import { Engine } from '../src/model/engine.ts';
import { openModel } from '../src/model/open-model.ts';
import { Sampler } from '../src/model/sampling.ts';
import { createWasmBackend } from '../src/tensor/wasm-backend.ts';
import { benchTokens } from './tokens.ts';

const [modelPath, threadsArg, promptArg, decodeArg, startArg, endArg] = process.argv.slice(2);
const model = openModel(modelPath!);
const backend = await createWasmBackend({ threads: Number(threadsArg) });
const layers = model.config.layers;
const start = startArg ? Number(startArg) : 0;
const end = endArg ? Number(endArg) : layers;
// An empty range [k, k) loads nothing: the process's baseline memory.
const empty = start === end;
const engine = new Engine(
  model.config,
  { start, end, embedding: !empty && start === 0, head: !empty && end === layers },
  backend,
  model.weights,
);
const rssAfterLoad = process.memoryUsage().rss;
const prompt = benchTokens(model.config.vocabSize, Number(promptArg));
const decodeTokens = Number(decodeArg);
let prefillSeconds = 0;
let decodeSeconds = 0;
if (prompt.length > 0 && start === 0 && end === layers) {
  const cache = engine.createCache(1 << 30);
  const sampler = new Sampler();
  const t0 = process.hrtime.bigint();
  let logits = engine.forward(cache, { tokens: prompt }, 0).logits!;
  const t1 = process.hrtime.bigint();
  for (let i = 0; i < decodeTokens; i++) {
    const { id } = sampler.sample(logits, []);
    logits = engine.forward(cache, { tokens: [id] }, prompt.length + i).logits!;
  }
  const t2 = process.hrtime.bigint();
  prefillSeconds = Number(t1 - t0) / 1e9;
  decodeSeconds = Number(t2 - t1) / 1e9;
}
await backend.close();
process.stdout.write(
  `${JSON.stringify({
    prefillTokensPerSecond: prompt.length / prefillSeconds,
    decodeTokensPerSecond: decodeTokens / decodeSeconds,
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    rssAfterLoadBytes: rssAfterLoad,
  })}\n`,
);
