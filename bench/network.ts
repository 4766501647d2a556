// Decode through pipelines of 1, 2 and 4 shard nodes (separate processes on loopback, one compute
// thread each) against the same model in one process, and the cost of one more hop per token.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { connect, type TesseraClient } from '../src/client/client.ts';
import { upThreadsPerNode } from '../src/cli/commands/up-action.ts';
import { launchLocalCluster, type LocalCluster } from '../src/cli/local-cluster.ts';
import { Engine } from '../src/model/engine.ts';
import { openModel } from '../src/model/open-model.ts';
import { Sampler } from '../src/model/sampling.ts';
import { createWasmBackend } from '../src/tensor/wasm-backend.ts';
import { testModel } from '../test/support/models.ts';
import type { BenchRow } from './row.ts';
import { processesCpuUs } from './process-cpu.ts';
import { benchTokens } from './tokens.ts';
import { transportFloorPerHop } from './transport-floor.ts';

export interface NetworkBenchOptions {
  /** Fewer tokens, and no 4-shard pipeline for the larger model. */
  readonly quick?: boolean;
  /** A Qwen2.5-0.5B-shape GGUF (bench/index.ts writes one) to measure besides stories260K. */
  readonly qwenShapeModel?: string;
}

const PROMPT = 'Once upon a time';

/**
 * How long a measure first runs the very work it times, so that it times code V8 has optimised, as
 * in a node that has served for a while. A pipeline's processes take long to settle: their CPU per
 * token halves over the first few thousand stories260K tokens (gRPC, streams and protobuf code
 * paths in every process); one engine in one process settles within a second.
 */
const PIPELINE_WARM_UP_MS = 15_000;
const ENGINE_WARM_UP_MS = 3_000;

/** Runs `work` until `ms` have passed, at least once. */
async function warmUp(ms: number, work: () => unknown): Promise<void> {
  const until = performance.now() + ms;
  do await work();
  while (performance.now() < until);
}

/** The middle of `values` (these machines stall now and then: a mean would count the stalls). */
function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1]!;
}

/** Greedy decode in one process with one thread: tokens per second of the median step (forward and sampling) over `decodeTokens` steps after the prefill. */
async function localDecodeRate(modelPath: string, decodeTokens: number): Promise<number> {
  const model = openModel(modelPath);
  const backend = await createWasmBackend({ threads: 1 });
  try {
    const { config, tokenizer } = model;
    const engine = new Engine(
      config,
      { start: 0, end: config.layers, embedding: true, head: true },
      backend,
      model.weights,
    );
    const decode = (steps: number) => {
      const cache = engine.createCache(256 << 20);
      const sampler = new Sampler({});
      const history = tokenizer.encode(PROMPT);
      let logits = engine.forward(cache, { tokens: history }, 0).logits!;
      const stepMs: number[] = [];
      for (let i = 0; i < steps; i++) {
        const started = performance.now();
        const next = sampler.sample(logits, history).id;
        history.push(next);
        logits = engine.forward(cache, { tokens: [next] }, history.length - 1).logits!;
        stepMs.push(performance.now() - started);
      }
      return 1000 / median(stepMs);
    };
    await warmUp(ENGINE_WARM_UP_MS, () => decode(decodeTokens));
    return decode(decodeTokens);
  } finally {
    model.weights.close();
    await backend.close();
  }
}

/** The CPU the node processes and this client (the bench's process) have run, in µs; undefined off Linux. */
function pipelineCpuUs(cluster: LocalCluster): number | undefined {
  return processesCpuUs([...cluster.nodes.map((n) => n.process.pid), process.pid]);
}

/** One measured generation: decode rate of its median token, and what CPU each of its tokens took. */
interface PipelineMeasure {
  /** Tokens per second of the median time between two tokens. */
  readonly rate: number;
  /**
   * CPU of the node processes and the client over the generation, per token it produced (undefined
   * off Linux). Other work on the machine lengthens a token's wall time more than its CPU.
   */
  readonly cpuUsPerToken?: number;
}

/**
 * Greedy decode through a fresh local network of `shards` node processes: tokens per second of the
 * median time between two tokens. Audits are off: the verifier would recompute sampled steps on the
 * same two cores as the pipeline (the audit rows measure what audits cost).
 */
async function networkDecodeRate(modelPath: string, shards: number, decodeTokens: number): Promise<PipelineMeasure> {
  return withLoopbackCluster(modelPath, shards, 'network', 1, async (cluster, client) => {
    const model = cluster.manifest.modelId;
    const generate = () => client.generate({ model, prompt: PROMPT, maxTokens: decodeTokens + 1, temperature: 0 });
    await warmUp(PIPELINE_WARM_UP_MS, () => generate().collect());
    const stamps: number[] = [];
    const cpuBefore = pipelineCpuUs(cluster);
    for await (const _token of generate()) stamps.push(performance.now());
    const cpuAfter = pipelineCpuUs(cluster);
    if (stamps.length < 2)
      throw new Error(`${basename(modelPath)} ended after ${stamps.length} token(s): nothing to time`);
    return {
      rate: 1000 / median(stamps.slice(1).map((stamp, i) => stamp - stamps[i]!)),
      ...(cpuBefore === undefined || cpuAfter === undefined
        ? {}
        : { cpuUsPerToken: (cpuAfter - cpuBefore) / stamps.length }),
    };
  });
}

/**
 * Runs `measure` against `tessera up`'s topology on loopback (`shards` nodes, no spare,
 * `threadsPerNode` compute threads each, audits off) and a client of it, then takes it all down.
 */
async function withLoopbackCluster<T>(
  modelPath: string,
  shards: number,
  name: string,
  threadsPerNode: number,
  measure: (cluster: LocalCluster, client: TesseraClient) => Promise<T>,
): Promise<T> {
  const workDir = mkdtempSync(join(tmpdir(), `tessera-bench-${name}-`));
  const cluster = await launchLocalCluster({
    modelPath,
    shards,
    spareShards: [],
    workDir,
    registryPort: 0,
    threadsPerNode,
    auditSamplingRate: 0,
  });
  const client = await connect({ registries: [cluster.registryEndpoint], cacheDir: join(workDir, 'client') });
  try {
    return await measure(cluster, client);
  } finally {
    client.close();
    await cluster.close();
    rmSync(workDir, { recursive: true, force: true });
  }
}

/**
 * One row per pipeline length. Single-process measures are taken between the network measures,
 * since these machines drift over a run; each network measure is set against the faster of the two
 * taken just before and just after it, so a stall in one of them cannot flatter the ratio.
 */
async function pipelineRows(
  label: string,
  modelPath: string,
  shardCounts: readonly number[],
  decodeTokens: number,
): Promise<{ rows: BenchRow[]; rates: Map<number, PipelineMeasure> }> {
  const rates = new Map<number, PipelineMeasure>();
  const rows: BenchRow[] = [];
  process.stderr.write(`measuring decode of ${label} in one process ...\n`);
  let localBefore = await localDecodeRate(modelPath, decodeTokens);
  for (const shards of shardCounts) {
    process.stderr.write(`measuring decode of ${label} through ${shards} shard node(s), then in one process ...\n`);
    const measure = await networkDecodeRate(modelPath, shards, decodeTokens);
    const localAfter = await localDecodeRate(modelPath, decodeTokens);
    rates.set(shards, measure);
    rows.push({
      figure: `decode through ${shards} shard${shards > 1 ? 's' : ''} on loopback, ${label}, 1 thread a node, audits off (median token)`,
      ours: measure.rate,
      reference: Math.max(localBefore, localAfter),
      referenceName: 'one process',
      unit: 'tok/s',
    });
    localBefore = localAfter;
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
  const storiesModel = testModel('stories260K.gguf');
  const storiesTokens = quick ? 64 : 300;
  const stories = await pipelineRows('stories260K f32', storiesModel, [1, 2, 4], storiesTokens);
  const rows = [...stories.rows];
  const perHopUs = (oneShard: PipelineMeasure, fourShards: PipelineMeasure) =>
    (1e6 / fourShards.rate - 1e6 / oneShard.rate) / 3;
  const perHopCpuUs = (oneShard: PipelineMeasure, fourShards: PipelineMeasure) =>
    oneShard.cpuUsPerToken === undefined || fourShards.cpuUsPerToken === undefined
      ? undefined
      : (fourShards.cpuUsPerToken - oneShard.cpuUsPerToken) / 3;
  // Launches of the same pipeline differ by more than the figure's target here (one launch of each
  // gave 349 µs, another 727 µs): the figure is the middle of three launches of each.
  const launches = [[stories.rates.get(1)!, stories.rates.get(4)!] as const];
  for (let i = 1; i < (quick ? 1 : 3); i++) {
    process.stderr.write(`measuring decode of stories260K f32 through 1, then 4 shard node(s) again ...\n`);
    launches.push([
      await networkDecodeRate(storiesModel, 1, storiesTokens),
      await networkDecodeRate(storiesModel, 4, storiesTokens),
    ]);
  }
  const perHop = median(launches.map(([one, four]) => perHopUs(one, four)));
  rows.push({
    figure: `per-hop overhead per decoded token, stories260K ((4-shard - 1-shard median token time) / 3, middle of ${launches.length} launches)`,
    ours: perHop,
    reference: 300,
    referenceName: 'target',
    unit: 'us',
  });
  process.stderr.write(`measuring what one more hop costs grpc-js alone (relay chains of 1 and 4 processes) ...\n`);
  const floor = await transportFloorPerHop({ launches: launches.length, tokens: quick ? 500 : 2000 });
  const floorFigure = `grpc-js relays passing the same 3 messages a hop as raw bytes, no work`;
  rows.push({
    figure: `per-hop overhead per decoded token, stories260K, against the transport's own (${floorFigure})`,
    ours: perHop,
    reference: floor.us,
    referenceName: 'grpc-js alone',
    unit: 'us',
  });
  // The work behind that figure, which other load on a shared machine moves less than its wall time
  // (one launch of each gave 902 µs a hop, the next 3406 µs, while their CPU gave 1818 and 2848).
  const perHopCpu = launches.map(([one, four]) => perHopCpuUs(one, four));
  if (perHopCpu.every((us) => us !== undefined))
    rows.push({
      figure: `per-hop CPU per decoded token, stories260K (node processes and client, (4-shard - 1-shard) / 3, middle of ${launches.length} launches), against the transport's own`,
      ours: median(perHopCpu as number[]),
      ...(floor.cpuUs === undefined ? {} : { reference: floor.cpuUs, referenceName: 'grpc-js alone' }),
      unit: 'us',
    });
  if (options.qwenShapeModel !== undefined) {
    const qwen = await pipelineRows(
      'qwen2.5-0.5B shape q8_0',
      options.qwenShapeModel,
      quick ? [1, 2] : [1, 2, 4],
      quick ? 8 : 48,
    );
    rows.push(...qwen.rows);
  }
  return rows;
}

export interface BatchingBenchOptions {
  readonly quick?: boolean;
  /** The model both run; bench/index.ts passes the Qwen2.5-0.5B-shape q8_0 GGUF. */
  readonly modelPath: string;
  readonly label: string;
  /** Measures llama.cpp in its own process: argv of bench/measure-llama-cpp.ts after MODEL. */
  readonly llamaCpp: (args: number[]) => { aggregateDecodeTokensPerSecond: number; firstTokenSeconds: number };
}

/** The sessions' prompts: distinct short texts, so no two sessions share a cache or a route's step. */
function sessionPrompt(i: number): string {
  return `${PROMPT}, story number ${i + 1} begins`;
}

/**
 * Tokens per second of `sessions` greedy generations run at once through the cluster: the decoded
 * tokens after each session's first, over the time from the first first token to the last token
 * (the other sessions' prefills fall inside that span: it counts against us).
 */
async function aggregateDecodeRate(
  generate: (prompt: string, maxTokens: number) => AsyncIterable<unknown>,
  sessions: number,
  decodeTokens: number,
): Promise<number> {
  const runs = await Promise.all(
    Array.from({ length: sessions }, async (_, i) => {
      const stamps: number[] = [];
      for await (const _token of generate(sessionPrompt(i), decodeTokens + 1)) stamps.push(performance.now());
      return stamps;
    }),
  );
  const decoded = runs.reduce((sum, stamps) => sum + Math.max(0, stamps.length - 1), 0);
  const from = Math.min(...runs.map((stamps) => stamps[0] ?? Infinity));
  const to = Math.max(...runs.map((stamps) => stamps.at(-1) ?? -Infinity));
  if (decoded === 0 || !(to > from)) throw new Error(`${sessions} sessions decoded nothing: nothing to time`);
  return (decoded * 1000) / (to - from);
}

/**
 * A text of about `count` tokens in the model's vocabulary: the bench's pseudo-random ids, decoded.
 * Decoded text tokenizes a little differently, so it is cut back to `count` tokens a few times.
 */
function textOfTokens(modelPath: string, count: number): string {
  const model = openModel(modelPath);
  try {
    let text = model.tokenizer.decode(benchTokens(model.config.vocabSize, count));
    for (let i = 0; i < 4; i++) {
      const ids = model.tokenizer.encode(text);
      if (ids.length <= count) break;
      text = model.tokenizer.decode(ids.slice(0, count));
    }
    return text;
  } finally {
    model.weights.close();
  }
}

/**
 * Issue 11's rows: aggregate decode of 1, 4 and 8 sessions at once through `tessera up`'s topology
 * (2 shard nodes on loopback, each with a compute thread per core as `tessera up` gives them, audits
 * off) against llama.cpp decoding as many sequences at once on one context with 2 threads (the same
 * two cores), and the time to the first token of a 512-token prompt.
 */
export async function batchingBenchRows(options: BatchingBenchOptions): Promise<BenchRow[]> {
  const quick = options.quick ?? false;
  const decodeTokens = quick ? 8 : 24;
  const sessionCounts = [1, 4, 8];
  const promptTokens = 512;
  const threads = upThreadsPerNode();
  const ours = new Map<number, number>();
  const llama = new Map<number, number>();
  const { firstTokenMs, longPromptTokens, llamaFirstTokenSeconds } = await withLoopbackCluster(
    options.modelPath,
    2,
    'batching',
    threads,
    async (cluster, client) => {
      const model = cluster.manifest.modelId;
      const generate = (prompt: string, maxTokens: number) =>
        client.generate({ model, prompt, maxTokens, temperature: 0 });
      process.stderr.write(`warming up ${options.label} through 2 shard nodes with 8 sessions ...\n`);
      await warmUp(quick ? 2_000 : 10_000, () => aggregateDecodeRate(generate, 8, 2));
      // Each figure beside its reference, taken just after it while the cluster idles, the better of
      // two of each: these machines drift over a run and stall now and then.
      for (const sessions of sessionCounts) {
        for (let i = 0; i < (quick ? 1 : 2); i++) {
          process.stderr.write(`measuring aggregate decode of ${sessions} session(s) of ${options.label} ...\n`);
          ours.set(
            sessions,
            Math.max(ours.get(sessions) ?? 0, await aggregateDecodeRate(generate, sessions, decodeTokens)),
          );
          process.stderr.write(`measuring llama.cpp with ${sessions} sequence(s) at once, 2 threads ...\n`);
          const rate = options.llamaCpp([2, 16, decodeTokens, sessions]).aggregateDecodeTokensPerSecond;
          llama.set(sessions, Math.max(llama.get(sessions) ?? 0, rate));
        }
      }
      const longPrompt = textOfTokens(options.modelPath, promptTokens);
      process.stderr.write(`measuring time to first token of a ${promptTokens}-token prompt of ${options.label} ...\n`);
      const generation = generate(longPrompt, 1);
      const started = performance.now();
      for await (const _token of generation) break;
      const firstTokenMs = performance.now() - started;
      const longPromptTokens = generation.promptTokens ?? promptTokens;
      process.stderr.write(
        `measuring llama.cpp's time to first token of a ${promptTokens}-token prompt, 2 threads ...\n`,
      );
      const llamaFirstTokenSeconds = options.llamaCpp([2, longPromptTokens, 1, 1]).firstTokenSeconds;
      return { firstTokenMs, longPromptTokens, llamaFirstTokenSeconds };
    },
  );

  const rows: BenchRow[] = [];
  for (const sessions of sessionCounts) {
    rows.push({
      figure: `aggregate decode, ${sessions} session${sessions > 1 ? 's' : ''} at once, 2 shards on loopback (${threads} thread${threads > 1 ? 's' : ''} a node, audits off) vs llama.cpp ${sessions} sequence${sessions > 1 ? 's' : ''}, 2 threads, ${options.label}`,
      ours: ours.get(sessions)!,
      reference: llama.get(sessions)!,
      referenceName: 'llama.cpp',
      unit: 'tok/s',
    });
  }
  rows.push({
    figure: `aggregate decode, 8 sessions at once against 1 (target ≥ 2.5), ${options.label}`,
    ours: ours.get(8)! / ours.get(1)!,
    reference: 2.5,
    referenceName: 'target',
    unit: 'x',
  });
  rows.push({
    figure: `time to first token, ${longPromptTokens}-token prompt, 2 shards on loopback vs llama.cpp 2 threads, ${options.label}`,
    ours: firstTokenMs / 1000,
    reference: llamaFirstTokenSeconds,
    referenceName: 'llama.cpp',
    unit: 's',
  });
  return rows;
}
