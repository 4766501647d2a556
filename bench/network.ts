// Decode through pipelines of 1, 2 and 4 shard nodes (separate processes on loopback, one compute
// thread each) against the same model in one process, and the cost of one more hop per token.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { connect } from '../src/client/client.ts';
import { launchLocalCluster } from '../src/cli/local-cluster.ts';
import { Engine } from '../src/model/engine.ts';
import { openModel } from '../src/model/open-model.ts';
import { Sampler } from '../src/model/sampling.ts';
import { createWasmBackend } from '../src/tensor/wasm-backend.ts';
import { sharedModel } from '../test/support/shared-models.ts';
import type { BenchRow } from './row.ts';

export interface NetworkBenchOptions {
  /** Fewer tokens, and no 4-shard pipeline for the larger model. */
  readonly quick?: boolean;
  /** A Qwen2.5-0.5B-shape GGUF (bench/index.ts writes one) to measure besides stories260K. */
  readonly qwenShapeModel?: string;
}

const PROMPT = 'Once upon a time';

/** Greedy decode in one process with one thread: tokens per second over `decodeTokens` steps after the prefill. */
async function localDecodeRate(modelPath: string, decodeTokens: number): Promise<number> {
  const model = openModel(modelPath);
  const backend = await createWasmBackend({ threads: 1 });
  try {
    const { config, tokenizer } = model;
    const engine = new Engine(config, { start: 0, end: config.layers, embedding: true, head: true }, backend, model.weights);
    const decode = (steps: number) => {
      const cache = engine.createCache(256 << 20);
      const sampler = new Sampler({});
      const history = tokenizer.encode(PROMPT);
      let logits = engine.forward(cache, { tokens: history }, 0).logits!;
      const started = performance.now();
      for (let i = 0; i < steps; i++) {
        const next = sampler.sample(logits, history).id;
        history.push(next);
        logits = engine.forward(cache, { tokens: [next] }, history.length - 1).logits!;
      }
      return steps / ((performance.now() - started) / 1000);
    };
    // the network's nodes are warm when they are timed (a first generation ran): so is this engine
    decode(decodeTokens);
    return decode(decodeTokens);
  } finally {
    model.weights.close();
    await backend.close();
  }
}

/** Greedy decode through a fresh local network of `shards` node processes: tokens per second between the first and last token. */
async function networkDecodeRate(modelPath: string, shards: number, decodeTokens: number): Promise<number> {
  const workDir = mkdtempSync(join(tmpdir(), 'tessera-bench-network-'));
  const cluster = await launchLocalCluster({ modelPath, shards, spareShards: [], workDir, registryPort: 0, threadsPerNode: 1 });
  const client = await connect({ registries: [cluster.registryEndpoint], cacheDir: join(workDir, 'client') });
  try {
    const model = cluster.manifest.modelId;
    // first contact: manifest, tokenizer, probes, the signature worker
    await client.generate({ model, prompt: PROMPT, maxTokens: 8, temperature: 0 }).collect();
    const stamps: number[] = [];
    for await (const _token of client.generate({ model, prompt: PROMPT, maxTokens: decodeTokens + 1, temperature: 0 })) stamps.push(performance.now());
    if (stamps.length < 2) throw new Error(`${basename(modelPath)} ended after ${stamps.length} token(s): nothing to time`);
    return (stamps.length - 1) / ((stamps.at(-1)! - stamps[0]!) / 1000);
  } finally {
    client.close();
    await cluster.close();
    rmSync(workDir, { recursive: true, force: true });
  }
}

/**
 * One row per pipeline length. Each network measure is paired with a single-process measure taken
 * just before it, since these machines drift over a run.
 */
async function pipelineRows(label: string, modelPath: string, shardCounts: readonly number[], decodeTokens: number): Promise<{ rows: BenchRow[]; rates: Map<number, number> }> {
  const rates = new Map<number, number>();
  const rows: BenchRow[] = [];
  for (const shards of shardCounts) {
    process.stderr.write(`measuring decode of ${label} in one process, then through ${shards} shard node(s) ...\n`);
    const local = await localDecodeRate(modelPath, decodeTokens);
    const rate = await networkDecodeRate(modelPath, shards, decodeTokens);
    rates.set(shards, rate);
    rows.push({ figure: `decode through ${shards} shard${shards > 1 ? 's' : ''} on loopback, ${label}, 1 thread a node`, ours: rate, reference: local, referenceName: 'one process', unit: 'tok/s' });
  }
  return { rows, rates };
}

/**
 * The network rows of `npm run bench`: decode tokens/s through 1-, 2- and 4-shard pipelines against
 * the model in one process (stories260K, and the Qwen2.5-0.5B shape when given), and the time one
 * more hop adds to each decoded token on stories260K, where compute is negligible.
 */
export async function networkBenchRows(options: NetworkBenchOptions = {}): Promise<BenchRow[]> {
  const quick = options.quick ?? false;
  const stories = await pipelineRows('stories260K f32', sharedModel('stories260K.gguf'), [1, 2, 4], quick ? 64 : 200);
  const rows = [...stories.rows];
  const perHopUs = (1e6 / stories.rates.get(4)! - 1e6 / stories.rates.get(1)!) / 3;
  rows.push({ figure: 'per-hop overhead per decoded token, stories260K ((4-shard - 1-shard time) / 3)', ours: perHopUs, reference: 300, referenceName: 'target', unit: 'us' });
  if (options.qwenShapeModel !== undefined) {
    const qwen = await pipelineRows('qwen2.5-0.5B shape q8_0', options.qwenShapeModel, quick ? [1, 2] : [1, 2, 4], quick ? 8 : 24);
    rows.push(...qwen.rows);
  }
  return rows;
}
