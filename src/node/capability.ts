import { connect } from 'node:net';
import { availableParallelism, freemem, totalmem } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Engine } from '../model/engine.ts';
import type { ModelFiles } from '../model/model-files.ts';
import { engineTensorNames } from '../model/shards/shard-source.ts';
import { CLIENT_VERSION } from '../protocol/version.ts';
import type { Backend } from '../tensor/backend.ts';
import { splitEndpoint } from './endpoint-security.ts';

/**
 * Speed tiers by the time one transformer layer takes for one decode step at the model's
 * dimensions (NeuroShard's bands): T1 below 10 ms, T2 below 50 ms, T3 below 200 ms, T4 below 1 s,
 * T5 beyond.
 */
export const SPEED_TIERS = [
  { tier: 'T1', belowMs: 10 },
  { tier: 'T2', belowMs: 50 },
  { tier: 'T3', belowMs: 200 },
  { tier: 'T4', belowMs: 1_000 },
  { tier: 'T5', belowMs: Infinity },
] as const;
export type SpeedTier = (typeof SPEED_TIERS)[number]['tier'];

/** Round-trip bands to the registry. */
export const NETWORK_BANDS = [
  { band: 'lan', belowMs: 2 },
  { band: 'regional', belowMs: 30 },
  { band: 'continental', belowMs: 150 },
  { band: 'global', belowMs: Infinity },
] as const;
export type NetworkBand = (typeof NETWORK_BANDS)[number]['band'] | 'unmeasured';

/**
 * What a machine says of itself to the network: bands only, so that it routes and assigns well
 * without naming the machine (no serial numbers, no CPU or GPU model, no exact memory).
 */
export interface CapabilityManifest {
  /** Total memory, rounded down to a power of two GiB. */
  readonly memoryGiB: number;
  /** Free memory now, the same way: what a node could load. */
  readonly freeMemoryGiB: number;
  /** Logical cores, rounded down to a power of two. */
  readonly cpuCores: number;
  readonly accelerator: 'none';
  readonly speedTier: SpeedTier;
  /** Median ms of one layer's decode step, as measured (the tier's basis). */
  readonly layerMs: number;
  readonly network: NetworkBand;
  readonly region: string;
  readonly workloads: readonly string[];
  readonly clientVersion: string;
}

/** A role this machine can take for a model, or why not. */
export interface RoleFit {
  readonly role: 'driver' | 'worker' | 'validator' | 'verifier' | 'daemon';
  readonly what: string;
  readonly fits: boolean;
  readonly why: string;
}

/** A power of two at or below `value` (0 below 1): coarse enough not to fingerprint. */
export function band(value: number): number {
  return value < 1 ? 0 : 2 ** Math.floor(Math.log2(value));
}

export function speedTierOf(layerMs: number): SpeedTier {
  return SPEED_TIERS.find((t) => layerMs < t.belowMs)!.tier;
}

export function networkBandOf(rttMs: number | undefined): NetworkBand {
  return rttMs === undefined ? 'unmeasured' : NETWORK_BANDS.find((b) => rttMs < b.belowMs)!.band;
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};

/**
 * The median time of one decode step through one layer of `model` (by default a middle one; a node
 * names one of its own shard's, whose weights alone it holds), after a short prefill: the work a node
 * does per token per layer. Runs are few and short (a second or two on a 7B layer).
 */
export function measureLayerMs(
  model: Pick<ModelFiles, 'config' | 'weights'>,
  backend: Backend,
  runs = 9,
  layer = Math.floor(model.config.layers / 2),
): number {
  const engine = new Engine(
    model.config,
    { start: layer, end: layer + 1, embedding: false, head: false },
    backend,
    model.weights,
  );
  const prompt = 16;
  const hidden = new Float32Array(prompt * model.config.hiddenSize).map((_, i) => Math.sin(i) * 0.1);
  const cache = engine.createCache(64 * 2 ** 20);
  engine.forward(cache, { hidden }, 0);
  const step = new Float32Array(model.config.hiddenSize).map((_, i) => Math.cos(i) * 0.1);
  const times: number[] = [];
  for (let run = 0; run < runs; run++) {
    const start = performance.now();
    engine.forward(cache, { hidden: step }, prompt + run);
    times.push(performance.now() - start);
  }
  cache.release();
  return median(times);
}

export interface RttOptions {
  /** Round trips timed; the least of them counts. */
  readonly runs?: number;
  /** Round trips made first and not timed. */
  readonly warmups?: number;
  /** Timing stops once this much time has passed and three round trips are in. */
  readonly budgetMs?: number;
}

/**
 * The least round trip of `ping` over `runs`: the others add the time the two ends waited for a core
 * (a machine busy starting its roles answers late), which says nothing of the network between them,
 * and would move the band from run to run. The warm-ups go first because a process that has just
 * started runs its first calls through code not yet compiled (several ms each on loopback, enough
 * to read `regional`); the budget keeps a distant registry, where each round trip is a tenth of a
 * second or more, from holding a node's start for seconds when three samples already give its band.
 */
export async function measureRttMs(
  ping: () => Promise<unknown>,
  { runs = 10, warmups = 2, budgetMs = 1_000 }: RttOptions = {},
): Promise<number> {
  for (let warmup = 0; warmup < warmups; warmup++) await ping();
  const began = performance.now();
  let least = Infinity;
  for (let run = 0; run < runs; run++) {
    const start = performance.now();
    await ping();
    least = Math.min(least, performance.now() - start);
    if (run >= 2 && performance.now() - began >= budgetMs) break;
  }
  return least;
}

/**
 * One TCP handshake with `host`:`port`, closed once made; resolves with the address that answered.
 * A host that drops the handshake would otherwise hold the caller for the kernel's minutes of retries.
 */
export function tcpHandshake(host: string, port: number, timeoutMs = 5_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, timeout: timeoutMs });
    socket.once('connect', () => {
      const address = socket.remoteAddress ?? host;
      socket.destroy();
      resolve(address);
    });
    socket.once('timeout', () => socket.destroy(new Error(`no TCP handshake with ${host}:${port} in ${timeoutMs} ms`)));
    socket.once('error', reject);
  });
}

/**
 * The network round trip to `endpoint` (HOST:PORT), as the network band counts it: TCP handshakes,
 * which the kernel of the far host answers whatever its processes are doing, rather than calls the
 * registry process must be scheduled to serve. On a loaded two-core machine a registry call on
 * loopback took 2 to 20 ms (read as `regional`) while a handshake took 0.15 ms. The name is
 * resolved by the first handshake only, so that no timed one counts a DNS lookup.
 */
export async function measureEndpointRttMs(endpoint: string, options?: RttOptions): Promise<number> {
  const { host, port } = splitEndpoint(endpoint);
  const address = await tcpHandshake(host, port);
  return measureRttMs(() => tcpHandshake(address, port), options);
}

export function capabilityManifest(measured: {
  readonly layerMs: number;
  readonly rttMs?: number;
  readonly region?: string;
}): CapabilityManifest {
  return {
    memoryGiB: band(totalmem() / 2 ** 30),
    freeMemoryGiB: band(freemem() / 2 ** 30),
    cpuCores: band(availableParallelism()),
    accelerator: 'none',
    speedTier: speedTierOf(measured.layerMs),
    layerMs: Math.round(measured.layerMs * 1000) / 1000,
    network: networkBandOf(measured.rttMs),
    region: measured.region ?? '',
    workloads: ['llm-shard'],
    clientVersion: CLIENT_VERSION,
  };
}

/** Bytes of the named tensors `model` holds. */
function tensorBytes(model: ModelFiles, names: readonly string[]): number {
  return names.filter((n) => model.weights.has(n)).reduce((sum, n) => sum + model.weights.entry(n).byteSize, 0);
}

/**
 * Which roles this machine can take for `model` with the memory it has free: a driver holds the
 * embedding and at least one layer, a validator the last layer and the head (and needs the
 * cluster's node stake), a worker at least one layer; each also keeps a KV cache of
 * `kvBudgetBytes`. A verifier needs one shard's worth; a daemon needs no model.
 */
export function roleFits(model: ModelFiles, freeBytes: number, kvBudgetBytes: number): RoleFit[] {
  const names = engineTensorNames(model.config);
  const layer = tensorBytes(
    model,
    names.filter((n) => n.startsWith('blk.0.')),
  );
  const embedding = tensorBytes(model, ['token_embd.weight']);
  const head =
    tensorBytes(model, ['output_norm.weight', 'output.weight']) + (model.config.tiedEmbeddings ? embedding : 0);
  const layersIn = (bytes: number) => Math.max(0, Math.floor((freeBytes - kvBudgetBytes - bytes) / Math.max(1, layer)));
  const fit = (role: RoleFit['role'], what: string, fixed: number, extra = ''): RoleFit => {
    const layers = Math.min(model.config.layers, layersIn(fixed));
    return layers > 0
      ? { role, what, fits: true, why: `up to ${layers} of ${model.config.layers} layers${extra}` }
      : {
          role,
          what,
          fits: false,
          why: `needs ${mib(fixed + layer + kvBudgetBytes)} MiB free for one layer, has ${Math.floor(freeBytes / 2 ** 20)} MiB`,
        };
  };
  return [
    fit('driver', 'layer 0 and the embedding', embedding),
    fit('worker', 'middle layers', 0),
    fit('validator', 'the last layer and the head', head, "; needs the cluster's node stake"),
    fit('verifier', "recomputes audited steps of one shard's layers", 0),
    { role: 'daemon', what: 'keeps the share chain', fits: true, why: 'needs no model; needs the daemon stake' },
  ];
}

const mib = (bytes: number) => Math.ceil(bytes / 2 ** 20);
