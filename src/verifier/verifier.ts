import type { Logger } from '../core/log.ts';
import { jsonLogger } from '../core/log.ts';
import { bytesToHex } from '@noble/hashes/utils.js';
import { availableParallelism, totalmem } from 'node:os';
import { AuditClient } from '../audit/audit-client.ts';
import { ENGINE_VERSION } from '../model/engine-version.ts';
import { recomputeOutputHash, ShardEngines, type HeldShard } from '../audit/recompute.ts';
import { signFraudProof } from '../protocol/audit-statements.ts';
import { checkTicketAgainstManifest, openTicket } from '../protocol/ticket.ts';
import { formatSpan, spanOf } from '../model/shards/span.ts';
import { readKeyFile, type KeyPair } from '../crypto/keys.ts';
import type { LeasedTicket__Output } from '../proto/tessera/v1/LeasedTicket.ts';
import { RegistryClient, startHeartbeats, type AnnouncementBody } from '../registry/registry-client.ts';
import { readManifest } from '../model/shards/shard-files.ts';
import { CLIENT_VERSION } from '../protocol/version.ts';
import { createWasmBackend } from '../tensor/wasm-backend.ts';
import { Metrics } from '../metrics/metrics.ts';
import { healthy, unhealthy, type Health } from '../metrics/metrics-server.ts';
import { VerifierMetrics } from './verifier-metrics.ts';
import { IdleBackoff } from './idle-backoff.ts';
import type { ServiceError } from '@grpc/grpc-js';
import { reasonOf } from '../rpc/status.ts';

/** How long a verifier waits after a RATE_LIMITED refusal: about one token of its key's audit bucket. */
const RATE_LIMITED_WAIT_MS = 100;

export interface VerifierOptions {
  /** HOST:PORT of the registry whose tickets this verifier audits. */
  readonly registry: string;
  /** Directories `tessera shard` wrote (manifest.json and shard files); any subset of the shard files may be present. */
  readonly shardsDirs: readonly string[];
  /** The verifier's identity: a key, or the path of its key file (mode 0600). */
  readonly key?: KeyPair;
  readonly keyPath?: string;
  /** Compute threads. Default 1. */
  readonly threads?: number;
  /** Tickets leased per pull. Default 8. */
  readonly batch?: number;
  /**
   * How long to wait before asking again when the queue was empty. Default 1000 ms. Each further
   * empty pull doubles the wait, up to four times this; a pull that brings tickets resets it.
   */
  readonly pollMs?: number;
  /** Largest ticket input accepted (uncompressed). Default 32 MiB. */
  readonly maxTicketBytes?: number;
  /** Structured log lines; default: JSON on stderr. */
  readonly log?: Logger;
  /** Where the verifier's figures go (src/metrics); none: they are kept but never read. */
  readonly metrics?: Metrics;
}

export interface VerifierStats {
  /** Tickets recomputed to their committed output hash and reported as audited passes. */
  readonly passed: number;
  /** Fraud proofs filed (whatever the registry then decided). */
  readonly proofs: number;
  readonly errors: number;
}

export interface VerifierHandle {
  readonly verifierId: string;
  stats(): VerifierStats;
  /** Its last pull of tickets from the registry succeeded. */
  health(): Health;
  /** Finishes the batch in hand, reports it, unregisters and stops. */
  close(): Promise<void>;
}

/**
 * Registers as a verifier, then leases tickets whose every shard it holds, recomputes each with the
 * bit-exact engine over the ticket's span and compares SHA-256 hashes: a match is reported as an
 * audited pass, a mismatch becomes a signed fraud proof. A verifier serves nothing: it announces
 * 127.0.0.1:0.
 */
export async function startVerifier(options: VerifierOptions): Promise<VerifierHandle> {
  const log = options.log ?? jsonLogger('verifier');
  const key = options.key ?? (options.keyPath !== undefined ? readKeyFile(options.keyPath) : undefined);
  if (!key) throw new Error('a verifier needs a key: pass key or keyPath');
  if (options.shardsDirs.length === 0) throw new Error('a verifier needs at least one shards directory');
  const models = options.shardsDirs.map((dir) => ({ manifest: readManifest(dir), dir }));
  const backend = await createWasmBackend({ threads: options.threads ?? 1 });
  const engines = new ShardEngines(models, backend);
  const held: HeldShard[] = engines.held();
  if (held.length === 0) {
    await backend.close();
    throw new Error(
      `no shard files found in ${options.shardsDirs.join(', ')}: a verifier recomputes the shards it holds`,
    );
  }

  const registry = new RegistryClient(options.registry);
  const audits = new AuditClient(options.registry);
  const body = (): AnnouncementBody => ({
    role: 'verifier',
    modelId: '',
    shardIndex: 0,
    shareKey: bytesToHex(key.publicKey),
    endpoint: '127.0.0.1:0',
    tls: false,
    capabilities: {
      tier: 'cpu',
      cpuCores: availableParallelism(),
      memoryGiB: 2 ** Math.floor(Math.log2(Math.max(1, totalmem() / 2 ** 30))),
      gpu: 'none',
      region: '',
      workloads: ['audit'],
      clientVersion: CLIENT_VERSION,
    },
    load: { activeSessions: 0, maxSessions: 0, computeUsPerToken: 0 },
    pricePer1kTokens: 0,
  });
  let stopHeartbeats: () => Promise<void>;
  try {
    const reply = await registry.register(key, body());
    stopHeartbeats = startHeartbeats(registry, key, body, {
      intervalMs: reply.heartbeatIntervalMs,
      onError: (error) => log('verifier_registry_error', { error: error.message }),
    });
  } catch (error) {
    registry.close();
    audits.close();
    await backend.close();
    throw new Error(
      `registry ${options.registry} refused or did not answer the verifier's registration: ${(error as { details?: string }).details || (error as Error).message}`,
    );
  }

  const stats = { passed: 0, proofs: 0, errors: 0 };
  const metrics = new VerifierMetrics(options.metrics ?? new Metrics());
  /** Why the last pull failed; undefined once one succeeds. */
  let pullError: string | undefined;
  const maxTicketBytes = options.maxTicketBytes ?? 32 * 1024 * 1024;
  let closing = false;
  let wake: (() => void) | undefined;
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  /**
   * A call again after each RATE_LIMITED refusal: a fast verifier reaches its key's bucket (audit
   * pulls and reports, proofs) in honest work, and waiting its turn is what the bucket asks of it.
   */
  const withinRate = async <T>(call: () => Promise<T>): Promise<T> => {
    for (;;) {
      try {
        return await call();
      } catch (error) {
        if (closing || reasonOf(error as ServiceError) !== 'RATE_LIMITED') throw error;
        await pause(RATE_LIMITED_WAIT_MS);
      }
    }
  };

  /** Recomputes one ticket: the output hash of a pass, or undefined once a fraud proof is filed. */
  const audit = async (leased: LeasedTicket__Output): Promise<{ ticketId: string; outputHash: Buffer } | undefined> => {
    const started = performance.now();
    // The registry checked the node's signatures when it queued the ticket and leases it without them.
    const ticket = await openTicket(leased.ticket!, maxTicketBytes, { requireSignature: false });
    const manifest = engines.manifest(ticket.modelId);
    if (!manifest) throw new Error(`ticket of model "${ticket.modelId}", which no shards dir here holds`);
    checkTicketAgainstManifest(ticket, manifest);
    // The registry leases a ticket only to a verifier that claims every file of its span; the engine
    // checks each against the manifest and names any that is missing or altered.
    const outputHash = recomputeOutputHash(engines.engine(ticket.modelId, spanOf(ticket)), ticket.input);
    const matched = outputHash.equals(ticket.commitment.outputHash);
    metrics.audited((performance.now() - started) / 1000, matched);
    if (matched) return { ticketId: leased.ticketId, outputHash };
    const verdict = await withinRate(() =>
      audits.submitFraudProof(signFraudProof(key, leased.ticket!, ticket, outputHash)),
    );
    stats.proofs++;
    metrics.proofFiled(verdict.status);
    log('verifier_fraud_proof', {
      ticketId: leased.ticketId,
      accused: ticket.commitment.nodeId,
      shards: formatSpan(spanOf(ticket)),
      status: verdict.status,
      proofId: verdict.proofId,
      slashed: verdict.slashedAmount,
      detail: verdict.detail,
    });
    return undefined;
  };

  const pollMs = options.pollMs ?? 1000;
  const idle = new IdleBackoff(pollMs, 4 * pollMs);
  const loop = (async () => {
    while (!closing) {
      let leased: LeasedTicket__Output[];
      try {
        leased = await withinRate(() => audits.pullTickets(key, held, ENGINE_VERSION, options.batch ?? 8));
        pullError = undefined;
      } catch (error) {
        stats.errors++;
        pullError = (error as { details?: string }).details || (error as Error).message;
        metrics.pullFailed();
        log('verifier_pull_failed', { error: pullError });
        await pause(pollMs);
        continue;
      }
      if (leased.length === 0) {
        await pause(idle.idle());
        continue;
      }
      idle.busy();
      const passes: { ticketId: string; outputHash: Buffer }[] = [];
      for (const ticket of leased) {
        try {
          const pass = await audit(ticket);
          if (pass) passes.push(pass);
        } catch (error) {
          // Left leased: the lease runs out and the ticket returns to the queue.
          stats.errors++;
          metrics.failed();
          log('verifier_ticket_failed', {
            ticketId: ticket.ticketId,
            error: (error as { details?: string }).details || (error as Error).message,
          });
        }
      }
      if (passes.length === 0) continue;
      try {
        const passed = await withinRate(() => audits.completeTickets(key, passes));
        stats.passed += passed;
        metrics.passesReported(passed);
      } catch (error) {
        stats.errors++;
        log('verifier_complete_failed', {
          tickets: passes.length,
          error: (error as { details?: string }).details || (error as Error).message,
        });
      }
    }
  })();

  log('verifier_started', {
    verifierId: key.address,
    registry: options.registry,
    engineVersion: ENGINE_VERSION,
    shards: held.map((s) => `${s.modelId}/${s.shardIndex}`),
  });
  let closed: Promise<void> | undefined;
  return {
    verifierId: key.address,
    stats: () => ({ ...stats }),
    health: () => {
      const details = {
        verifierId: key.address,
        registry: options.registry,
        shards: held.map((s) => `${s.modelId}/${s.shardIndex}`),
      };
      if (closing) return unhealthy('shutting down', details);
      if (pullError !== undefined)
        return unhealthy(`the last pull of tickets from registry ${options.registry} failed: ${pullError}`, details);
      return healthy(details);
    },
    close: () =>
      (closed ??= (async () => {
        closing = true;
        wake?.();
        await loop;
        await stopHeartbeats();
        try {
          await registry.unregister(key, body());
        } catch (error) {
          log('verifier_registry_error', { error: (error as Error).message });
        }
        registry.close();
        audits.close();
        await backend.close();
        log('verifier_stopped', { verifierId: key.address, ...stats });
      })()),
  };
}
