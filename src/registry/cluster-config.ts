import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { COMMITMENT_CLOCK_TOLERANCE_MS } from '../protocol/commitment.ts';
import { MANIFEST_FILE, parseManifest, type Manifest } from '../model/manifest.ts';
import type { Role } from './announcement.ts';
import { ENDPOINT_PATTERN } from './endpoint-pattern.ts';
import { DEFAULT_CHALLENGE_WINDOW_S, DEFAULT_UNSTAKE_COOLDOWN_S } from './settlement-backend.ts';

/** A model this cluster serves, with its manifest read and checked. */
export interface ServedModel {
  readonly id: string;
  readonly manifest: Manifest;
  /** manifest.json exactly as on disk: what GetManifest and Discover send. */
  readonly manifestJson: string;
  readonly manifestPath: string;
  readonly tokenizerPath: string;
  readonly pricePer1kTokens: number;
}

export interface ClusterConfig {
  readonly clusterId: string;
  readonly models: readonly ServedModel[];
  readonly heartbeat: { readonly intervalMs: number; readonly evictAfterMissed: number };
  readonly maxClockSkewMs: number;
  /** Token bucket per peer address over Register, Heartbeat and Unregister, and one over the operator calls (src/rpc/method-policy.ts). */
  readonly rateLimit: { readonly perSecond: number; readonly burst: number };
  /** Hard cap on remembered nonces (they are also pruned once older than the clock-skew window). */
  readonly nonceCacheMax: number;
  /** Stakes in the cluster's smallest unit (wei on an EVM escrow); enforced by the trust layer. */
  readonly stake: {
    readonly minimum: Readonly<Record<Role, bigint>>;
    readonly slashFractions: { readonly fraud: number; readonly auditRefusal: number };
    /** How long an unstaking node waits before it may withdraw (and gets no new work meanwhile). */
    readonly unstakeCooldownS: number;
  };
  /** How long a posted settlement stays open to challenges before it may be finalized. */
  readonly challengeWindowS: number;
  /** Audits (docs/ARCHITECTURE.md §6): tickets, leases, fraud proofs. */
  readonly audit: AuditConfig;
  /** Where stakes and settlements live: the TesseraEscrow contract at `contract` on `rpcUrl`; none: the registry's ledger. */
  readonly escrow?: { readonly rpcUrl: string; readonly contract: string };
  readonly seeds: readonly string[];
  /**
   * Addresses (lowercase 0x) of the keys that sign this cluster's registries' identities: besides
   * its seeds, a registry gossips only with registries whose identity one of these keys signed.
   */
  readonly registryKeys: readonly string[];
  /**
   * Addresses (lowercase 0x) of the cluster operator's keys: a Grant signed by one of them credits
   * stake or a client deposit on the registry's ledger, the only way value enters it besides earnings.
   */
  readonly operatorKeys: readonly string[];
  readonly gossipIntervalMs: number;
}

export interface AuditConfig {
  /** Fraction of position-0 steps (per shard) a client's revealed secret selects. */
  readonly samplingRate: number;
  /** How long after a client's audit request the node's ticket may come before it counts as refused. */
  readonly ticketDeadlineMs: number;
  /**
   * How long after a commitment's signed time a client may request its audit; later requests are
   * refused, so a node owes a ticket for a step only until then plus the ticket deadline (see
   * auditRetentionMs), and keeps its steps that long.
   */
  readonly requestWindowMs: number;
  /** How long a verifier holds the tickets it pulled before they return to the queue. */
  readonly leaseMs: number;
  /** Largest ticket input accepted (uncompressed). */
  readonly maxTicketBytes: number;
  /** Tickets one node may have waiting in the queue. */
  readonly maxQueuedPerNode: number;
  /** Tickets waiting in the queue that came from one host (several nodes may share one). */
  readonly maxQueuedPerSubmitter: number;
  /**
   * Verifiers drawn for each ticket (src/registry/validator-draw.ts, stake-weighted, seeded by the
   * latest settled window): only they may lease it until it has waited drawGraceMs, so no verifier
   * picks which nodes it audits.
   */
  readonly drawnVerifiers: number;
  /** How long a ticket waits for its drawn verifiers before any staked verifier may lease it. */
  readonly drawGraceMs: number;
  /**
   * Fraction of a verifier's verdicts that are canaries: copies of real tickets whose committed
   * output the registry altered, so the honest verdict is a fraud proof; a pass costs the verifier
   * its stake (stake.slashFractions.fraud). At most 0.5.
   */
  readonly canaryRate: number;
}

export class ClusterConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: readonly string[],
  ) {
    super(
      `${source}: ${problems.length === 1 ? 'invalid cluster config' : `${problems.length} problems in cluster config`}:\n  ${problems.join('\n  ')}`,
    );
  }
}

export { ENDPOINT_PATTERN };

const DEFAULTS = {
  // Every 30 s (issue 12): a silent node leaves discovery after 90 s. Local clusters and tests
  // that need faster eviction set their own.
  heartbeat: { intervalMs: 30_000, evictAfterMissed: 3 },
  maxClockSkewMs: 30_000,
  rateLimit: { perSecond: 20, burst: 100 },
  nonceCacheMax: 100_000,
  stake: {
    minimum: { node: 0n, daemon: 0n, verifier: 0n },
    slashFractions: { fraud: 0.5, auditRefusal: 0.1 },
    unstakeCooldownS: DEFAULT_UNSTAKE_COOLDOWN_S,
  },
  challengeWindowS: DEFAULT_CHALLENGE_WINDOW_S,
  gossipIntervalMs: 10_000,
  audit: {
    samplingRate: 0.05,
    ticketDeadlineMs: 60_000,
    requestWindowMs: 120_000,
    leaseMs: 60_000,
    maxTicketBytes: 32 * 1024 * 1024,
    maxQueuedPerNode: 10_000,
    maxQueuedPerSubmitter: 40_000,
    drawnVerifiers: 2,
    drawGraceMs: 30_000,
    canaryRate: 0.05,
  },
} as const;

/**
 * The least audit.ticketDeadlineMs, in heartbeat intervals. Left out, the deadline is the larger of
 * its default and this many intervals (4 at the default 30 s heartbeat).
 */
export const MIN_TICKET_DEADLINE_HEARTBEATS = 4;

/** The least time an honest client has to request an audit, whatever the clocks (see parseClusterConfig). */
export const MIN_AUDIT_FILING_MS = 30_000;

/**
 * How long a node must keep a step it committed to: the registry takes requests for it until
 * requestWindowMs after the commitment's time (on the node's clock, which may be maxClockSkewMs
 * behind the registry's), and the last one is due ticketDeadlineMs later.
 */
export function auditRetentionMs(config: ClusterConfig): number {
  return config.audit.requestWindowMs + config.audit.ticketDeadlineMs + config.maxClockSkewMs;
}

/** Reads and validates cluster.json; paths in it are relative to its directory. */
export function clusterConfigFromFile(path: string): ClusterConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new ClusterConfigError(path, [`file not found: ${resolve(path)}`]);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ClusterConfigError(path, [`not valid JSON: ${(error as Error).message}`]);
  }
  return parseClusterConfig(value, dirname(resolve(path)), path);
}

type Json = Record<string, unknown>;

/**
 * Checks a parsed cluster config and reads the manifests it names. Every mistake is collected and
 * named by its JSON path, so an operator fixes them all in one pass.
 */
export function parseClusterConfig(value: unknown, baseDir: string, source = 'cluster config'): ClusterConfig {
  const problems: string[] = [];
  const problem = (path: string, message: string) => problems.push(`${path}: ${message}`);

  const object = (path: string, v: unknown, keys: readonly string[]): Json | undefined => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      problem(path, `must be an object, got ${describe(v)}`);
      return undefined;
    }
    for (const key of Object.keys(v)) {
      if (!keys.includes(key))
        problem(`${path}.${key}`.replace(/^\$\./, ''), `unknown key (expected one of: ${keys.join(', ')})`);
    }
    return v as Json;
  };
  const integer = (path: string, v: unknown, fallback: number, min: number): number => {
    if (v === undefined) return fallback;
    if (!Number.isSafeInteger(v) || (v as number) < min) {
      problem(path, `must be an integer >= ${min}, got ${describe(v)}`);
      return fallback;
    }
    return v as number;
  };
  // Amounts may exceed 2^53 (wei): a JSON number while it is a safe integer, else a decimal string.
  const amount = (path: string, v: unknown, fallback: bigint): bigint => {
    if (v === undefined) return fallback;
    if (Number.isSafeInteger(v) && (v as number) >= 0) return BigInt(v as number);
    if (typeof v === 'string' && /^(0|[1-9][0-9]{0,77})$/.test(v)) return BigInt(v);
    problem(
      path,
      `must be an amount >= 0: an integer, or a decimal string for amounts beyond 2^53; got ${describe(v)}`,
    );
    return fallback;
  };
  const fraction = (path: string, v: unknown, fallback: number): number => {
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !(v >= 0 && v <= 1)) {
      problem(path, `must be a fraction from 0 to 1, got ${describe(v)}`);
      return fallback;
    }
    return v;
  };

  const root =
    object('$', value, [
      'clusterId',
      'models',
      'heartbeat',
      'maxClockSkewMs',
      'rateLimit',
      'nonceCacheMax',
      'stake',
      'challengeWindowS',
      'audit',
      'escrow',
      'seeds',
      'registryKeys',
      'operatorKeys',
      'gossipIntervalMs',
    ]) ?? {};

  let clusterId = '';
  if (typeof root.clusterId !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(root.clusterId)) {
    problem('clusterId', `must be 1-64 letters, digits, '.', '_' or '-', got ${describe(root.clusterId)}`);
  } else clusterId = root.clusterId;

  const models: ServedModel[] = [];
  if (!Array.isArray(root.models) || root.models.length === 0)
    problem('models', `must be a non-empty array, got ${describe(root.models)}`);
  else {
    for (const [i, entry] of root.models.entries()) {
      const model = readModel(`models[${i}]`, entry, baseDir, object, integer, problem);
      if (model === undefined) continue;
      if (models.some((m) => m.id === model.id)) problem(`models[${i}].id`, `model "${model.id}" is listed twice`);
      else models.push(model);
    }
  }

  const heartbeat = object('heartbeat', root.heartbeat ?? {}, ['intervalMs', 'evictAfterMissed']) ?? {};
  const rateLimit = object('rateLimit', root.rateLimit ?? {}, ['perSecond', 'burst']) ?? {};
  let perSecond: number = DEFAULTS.rateLimit.perSecond;
  if (rateLimit.perSecond !== undefined) {
    if (
      typeof rateLimit.perSecond !== 'number' ||
      !(rateLimit.perSecond > 0) ||
      !Number.isFinite(rateLimit.perSecond)
    ) {
      problem('rateLimit.perSecond', `must be a positive number, got ${describe(rateLimit.perSecond)}`);
    } else perSecond = rateLimit.perSecond;
  }

  const stake = object('stake', root.stake ?? {}, ['minimum', 'slashFractions', 'unstakeCooldownS']) ?? {};
  const minimum = object('stake.minimum', stake.minimum ?? {}, ['node', 'daemon', 'verifier']) ?? {};
  const slash = object('stake.slashFractions', stake.slashFractions ?? {}, ['fraud', 'auditRefusal']) ?? {};

  const audit =
    object('audit', root.audit ?? {}, [
      'samplingRate',
      'ticketDeadlineMs',
      'requestWindowMs',
      'leaseMs',
      'maxTicketBytes',
      'maxQueuedPerNode',
      'maxQueuedPerSubmitter',
      'drawnVerifiers',
      'drawGraceMs',
      'canaryRate',
    ]) ?? {};

  let escrow: ClusterConfig['escrow'];
  if (root.escrow !== undefined) {
    const e = object('escrow', root.escrow, ['rpcUrl', 'contract']);
    if (e !== undefined) {
      if (!isUrl(e.rpcUrl)) problem('escrow.rpcUrl', `must be an http(s) or ws(s) URL, got ${describe(e.rpcUrl)}`);
      if (typeof e.contract !== 'string' || !/^0x[0-9a-fA-F]{40}$/.test(e.contract))
        problem('escrow.contract', `must be a 0x-prefixed 20-byte hex address, got ${describe(e.contract)}`);
      escrow = { rpcUrl: String(e.rpcUrl), contract: String(e.contract).toLowerCase() };
    }
  }

  const seeds: string[] = [];
  if (root.seeds !== undefined) {
    if (!Array.isArray(root.seeds)) problem('seeds', `must be an array of "HOST:PORT", got ${describe(root.seeds)}`);
    else {
      for (const [i, seed] of root.seeds.entries()) {
        if (typeof seed !== 'string' || !ENDPOINT_PATTERN.test(seed))
          problem(`seeds[${i}]`, `must be "HOST:PORT", got ${describe(seed)}`);
        else seeds.push(seed);
      }
    }
  }

  const addresses = (path: string, v: unknown): string[] => {
    const found: string[] = [];
    if (v === undefined) return found;
    if (!Array.isArray(v)) {
      problem(path, `must be an array of 0x addresses, got ${describe(v)}`);
      return found;
    }
    for (const [i, key] of v.entries()) {
      if (typeof key !== 'string' || !/^0x[0-9a-fA-F]{40}$/.test(key))
        problem(`${path}[${i}]`, `must be a 0x-prefixed 20-byte hex address, got ${describe(key)}`);
      else if (found.includes(key.toLowerCase())) problem(`${path}[${i}]`, `${key} is listed twice`);
      else found.push(key.toLowerCase());
    }
    return found;
  };
  const registryKeys = addresses('registryKeys', root.registryKeys);
  const operatorKeys = addresses('operatorKeys', root.operatorKeys);

  const intervalMs = integer('heartbeat.intervalMs', heartbeat.intervalMs, DEFAULTS.heartbeat.intervalMs, 10);
  const config: ClusterConfig = {
    clusterId,
    models,
    heartbeat: {
      intervalMs,
      evictAfterMissed: integer(
        'heartbeat.evictAfterMissed',
        heartbeat.evictAfterMissed,
        DEFAULTS.heartbeat.evictAfterMissed,
        1,
      ),
    },
    maxClockSkewMs: integer('maxClockSkewMs', root.maxClockSkewMs, DEFAULTS.maxClockSkewMs, 1),
    rateLimit: { perSecond, burst: integer('rateLimit.burst', rateLimit.burst, DEFAULTS.rateLimit.burst, 1) },
    nonceCacheMax: integer('nonceCacheMax', root.nonceCacheMax, DEFAULTS.nonceCacheMax, 1),
    stake: {
      minimum: {
        node: amount('stake.minimum.node', minimum.node, DEFAULTS.stake.minimum.node),
        daemon: amount('stake.minimum.daemon', minimum.daemon, DEFAULTS.stake.minimum.daemon),
        verifier: amount('stake.minimum.verifier', minimum.verifier, DEFAULTS.stake.minimum.verifier),
      },
      slashFractions: {
        fraud: fraction('stake.slashFractions.fraud', slash.fraud, DEFAULTS.stake.slashFractions.fraud),
        auditRefusal: fraction(
          'stake.slashFractions.auditRefusal',
          slash.auditRefusal,
          DEFAULTS.stake.slashFractions.auditRefusal,
        ),
      },
      unstakeCooldownS: integer('stake.unstakeCooldownS', stake.unstakeCooldownS, DEFAULTS.stake.unstakeCooldownS, 0),
    },
    challengeWindowS: integer('challengeWindowS', root.challengeWindowS, DEFAULTS.challengeWindowS, 0),
    audit: {
      samplingRate: fraction('audit.samplingRate', audit.samplingRate, DEFAULTS.audit.samplingRate),
      ticketDeadlineMs: integer(
        'audit.ticketDeadlineMs',
        audit.ticketDeadlineMs,
        Math.max(DEFAULTS.audit.ticketDeadlineMs, MIN_TICKET_DEADLINE_HEARTBEATS * intervalMs),
        1,
      ),
      requestWindowMs: integer('audit.requestWindowMs', audit.requestWindowMs, DEFAULTS.audit.requestWindowMs, 1),
      leaseMs: integer('audit.leaseMs', audit.leaseMs, DEFAULTS.audit.leaseMs, 1),
      maxTicketBytes: integer('audit.maxTicketBytes', audit.maxTicketBytes, DEFAULTS.audit.maxTicketBytes, 1024),
      maxQueuedPerNode: integer('audit.maxQueuedPerNode', audit.maxQueuedPerNode, DEFAULTS.audit.maxQueuedPerNode, 1),
      maxQueuedPerSubmitter: integer(
        'audit.maxQueuedPerSubmitter',
        audit.maxQueuedPerSubmitter,
        DEFAULTS.audit.maxQueuedPerSubmitter,
        1,
      ),
      drawnVerifiers: integer('audit.drawnVerifiers', audit.drawnVerifiers, DEFAULTS.audit.drawnVerifiers, 1),
      drawGraceMs: integer('audit.drawGraceMs', audit.drawGraceMs, DEFAULTS.audit.drawGraceMs, 0),
      canaryRate: fraction('audit.canaryRate', audit.canaryRate, DEFAULTS.audit.canaryRate),
    },
    ...(escrow === undefined ? {} : { escrow }),
    seeds,
    registryKeys,
    operatorKeys,
    gossipIntervalMs: integer('gossipIntervalMs', root.gossipIntervalMs, DEFAULTS.gossipIntervalMs, 10),
  };
  // A canary is added beside real tickets, never in place of one: past one in two, verdicts would be
  // mostly canaries and a verifier could pass by failing everything.
  if (config.audit.canaryRate > 0.5) problem('audit.canaryRate', `must be at most 0.5, got ${config.audit.canaryRate}`);
  // A node learns of an audit request at its next heartbeat and then tickets it; a deadline of fewer
  // heartbeats would slash honest nodes for the registry's own pace.
  const minDeadlineMs = MIN_TICKET_DEADLINE_HEARTBEATS * config.heartbeat.intervalMs;
  if (config.audit.ticketDeadlineMs < minDeadlineMs) {
    problem(
      'audit.ticketDeadlineMs',
      `must be at least ${MIN_TICKET_DEADLINE_HEARTBEATS} heartbeat intervals (${minDeadlineMs} ms at heartbeat.intervalMs ${config.heartbeat.intervalMs}), got ${config.audit.ticketDeadlineMs}`,
    );
  }
  // A client's clock is within maxClockSkewMs of the registry's (else its requests are refused), and
  // it accepts commitments dated up to COMMITMENT_CLOCK_TOLERANCE_MS before its clock: a window of
  // less than both leaves an honest client too little time (or none) to file against a node that
  // backdates. Nothing ties it to the ticket deadline: that starts at the request.
  const minWindowMs = config.maxClockSkewMs + COMMITMENT_CLOCK_TOLERANCE_MS + MIN_AUDIT_FILING_MS;
  if (config.audit.requestWindowMs < minWindowMs) {
    problem(
      'audit.requestWindowMs',
      `must be at least maxClockSkewMs + ${COMMITMENT_CLOCK_TOLERANCE_MS} ms (how far a client accepts a commitment's time from its clock) + ${MIN_AUDIT_FILING_MS} ms to file a request: ${minWindowMs} ms at maxClockSkewMs ${config.maxClockSkewMs}, got ${config.audit.requestWindowMs}`,
    );
  }
  if (problems.length > 0) throw new ClusterConfigError(source, problems);
  return config;
}

function readModel(
  path: string,
  entry: unknown,
  baseDir: string,
  object: (path: string, v: unknown, keys: readonly string[]) => Json | undefined,
  integer: (path: string, v: unknown, fallback: number, min: number) => number,
  problem: (path: string, message: string) => void,
): ServedModel | undefined {
  const m = object(path, entry, ['id', 'manifest', 'pricePer1kTokens']);
  if (m === undefined) return undefined;
  const pricePer1kTokens = integer(`${path}.pricePer1kTokens`, m.pricePer1kTokens, 0, 0);
  if (m.id !== undefined && (typeof m.id !== 'string' || m.id === ''))
    problem(`${path}.id`, `must be a non-empty string, got ${describe(m.id)}`);
  if (typeof m.manifest !== 'string' || m.manifest === '') {
    problem(
      `${path}.manifest`,
      `must be the path of a shards directory or its ${MANIFEST_FILE}, got ${describe(m.manifest)}`,
    );
    return undefined;
  }
  let manifestPath = resolve(baseDir, m.manifest);
  if (existsSync(manifestPath) && statSync(manifestPath).isDirectory())
    manifestPath = join(manifestPath, MANIFEST_FILE);
  if (!existsSync(manifestPath)) {
    problem(`${path}.manifest`, `file not found: ${manifestPath}`);
    return undefined;
  }
  const manifestJson = readFileSync(manifestPath, 'utf8');
  let manifest: Manifest;
  try {
    manifest = parseManifest(manifestJson, manifestPath);
  } catch (error) {
    problem(`${path}.manifest`, (error as Error).message);
    return undefined;
  }
  if (typeof m.id === 'string' && m.id !== '' && m.id !== manifest.modelId) {
    problem(`${path}.id`, `"${m.id}" differs from the manifest's modelId "${manifest.modelId}" (${manifestPath})`);
    return undefined;
  }
  const tokenizerPath = join(dirname(manifestPath), manifest.tokenizerFile);
  if (!existsSync(tokenizerPath)) {
    problem(`${path}.manifest`, `tokenizer file not found: ${tokenizerPath}`);
    return undefined;
  }
  const tokenizerSha256 = createHash('sha256').update(readFileSync(tokenizerPath)).digest('hex');
  if (tokenizerSha256 !== manifest.tokenizerSha256) {
    problem(
      `${path}.manifest`,
      `tokenizer ${tokenizerPath} has SHA-256 ${tokenizerSha256}, the manifest says ${manifest.tokenizerSha256}`,
    );
    return undefined;
  }
  return { id: manifest.modelId, manifest, manifestJson, manifestPath, tokenizerPath, pricePer1kTokens };
}

function isUrl(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  try {
    return ['http:', 'https:', 'ws:', 'wss:'].includes(new URL(value).protocol);
  } catch {
    return false;
  }
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
