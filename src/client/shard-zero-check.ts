import type { ServiceError } from '@grpc/grpc-js';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { TesseraError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import { sha256 } from '../crypto/hash.ts';
import type { KeyPair } from '../crypto/keys.ts';
import type { AuditClient } from '../audit/audit-client.ts';
import { takesPrompt } from '../audit/prompt-shard.ts';
import { RecomputePool } from '../audit/recompute-pool.ts';
import { MANIFEST_FILE, parseManifest, type Manifest } from '../model/manifest.ts';
import { formatSpan, spanEntries, spanProblem, spanSha256, type ShardSpan } from '../model/shards/span.ts';
import type { Commitment__Output } from '../proto/tessera/v1/Commitment.ts';
import type { FraudProofReply__Output } from '../proto/tessera/v1/FraudProofReply.ts';
import { isAudited } from '../protocol/audit-selection.ts';
import { signFraudProof } from '../protocol/audit-statements.ts';
import { tokenBytes, type SignedCommitment } from '../protocol/commitment.ts';
import { ENGINE_VERSION } from '../model/engine-version.ts';
import { commitmentFromProto, encodeTicket, openTicket, type TicketInputBytes } from '../protocol/ticket.ts';
import { reasonOf } from '../rpc/status.ts';
import { tessera } from '../proto/services.ts';
import type { Ticket__Output } from '../proto/tessera/v1/Ticket.ts';

export interface ShardZeroCheckOptions {
  /**
   * A shards directory (its manifest.json and the files of the model's first shards): what `tessera
   * shard` writes. A step is checked when it holds every file of the prompt hop's span.
   */
  readonly shardsDir: string;
  /** Signs the evidence: the registry takes it only from a key staked at least as a verifier. */
  readonly key: KeyPair;
  readonly log: Logger;
  /** Sets a node aside on this client for good. */
  readonly ban: (nodeId: string) => void;
  /** The Audit client of a registry, where evidence of a mismatch goes. */
  readonly registry: (endpoint: string) => AuditClient;
  /** Checks waiting or running at once; a selected step past them goes unchecked (logged). Default 4. */
  readonly maxPending?: number;
}

/** One step from position 0 as this client sent it and the node of the route's first hop committed to it. */
export interface ShardZeroStep {
  /** The registry that listed the route: it knows the node. */
  readonly registry: string;
  readonly modelId: string;
  /** The first hop's span as the route gave it: shards [0, end), the prompt's. */
  readonly span: ShardSpan;
  /**
   * spanSha256 of that span in the manifest the route serves: only these weights may judge the node
   * (the manifest names each file's hash; the worker checks each file against it).
   */
  readonly shardSha256: string;
  readonly secret: Uint8Array;
  readonly rate: number;
  readonly tokens: readonly number[];
  readonly commitment: Commitment__Output;
}

export interface ShardZeroStats {
  readonly matched: number;
  readonly mismatched: number;
  /** Selected steps left unchecked: too many waiting, or the recomputation failed. */
  readonly skipped: number;
}

/** A refusal's reason: the registry's `tessera-reason`, or the code of a local TesseraError. */
function reasonFor(error: unknown): string {
  if (error instanceof TesseraError) return error.code;
  return reasonOf(error as ServiceError) ?? 'INTERNAL';
}

/** Whose recomputations share the pool's per-owner bound: all of this client's. */
const OWNER = 'client';

/**
 * The client's audit of the hop that takes the prompt (docs/ARCHITECTURE.md §10): the first hop of
 * a route, whose span [0, b) starts at shard 0. Its step's input is the prompt, so no ticket of it
 * leaves the session; a client that holds every shard file of that span recomputes the steps its own
 * audit secret selects (the draw any audit uses, over the node's signature), with one engine over
 * the span, on a worker thread after the step (src/audit/recompute-pool.ts: each file is checked
 * against the manifest's SHA-256 there before its weights are used), so no token waits. A node
 * whose signed output hash differs is banned here and reported to the registry with the step's
 * input, the secret and the recomputed hash: the registry recomputes it and slashes the node, or,
 * when it finds the node right, the filer.
 */
export class ShardZeroCheck {
  private readonly manifest: Manifest;
  private readonly manifestPath: string;
  private readonly manifestJson: string;
  private readonly pool: RecomputePool;
  private readonly running = new Set<Promise<void>>();
  private counts = { matched: 0, mismatched: 0, skipped: 0 };
  private readonly warned = new Set<string>();

  constructor(private readonly options: ShardZeroCheckOptions) {
    this.manifestPath = join(options.shardsDir, MANIFEST_FILE);
    this.manifestJson = readFileSync(this.manifestPath, 'utf8');
    this.manifest = parseManifest(this.manifestJson, this.manifestPath);
    this.pool = new RecomputePool({ threads: 1, maxPerOwner: options.maxPending ?? 4 });
  }

  get stats(): ShardZeroStats {
    return { ...this.counts };
  }

  /**
   * Why these shards cannot judge `span` of the model a registry serves (its manifest's spanSha256
   * is `shardSha256`), or undefined when they can: the same model, the same weights, every file of
   * the span present (its hash is checked before use).
   */
  cannotCheck(modelId: string, span: ShardSpan, shardSha256: string): string | undefined {
    const { manifest } = this;
    const dir = this.options.shardsDir;
    if (manifest.modelId !== modelId) return `the shards in ${dir} are model ${manifest.modelId}'s, not ${modelId}'s`;
    const problem = spanProblem(manifest, span);
    if (problem !== undefined) return `the manifest in ${dir} has no such span: ${problem}`;
    const ours = spanSha256(manifest, span);
    if (ours !== shardSha256)
      return `the weights of ${formatSpan(span)} in ${dir} have SHA-256 ${ours}, the route's manifest says ${shardSha256}`;
    const missing = spanEntries(manifest, span).filter(
      (entry) => statSync(join(dir, entry.file), { throwIfNoEntry: false })?.isFile() !== true,
    );
    if (missing.length > 0)
      return `${dir} lacks the file of ${missing.map((e) => `shard ${e.index} (${e.file})`).join(', ')}, needed for ${formatSpan(span)}`;
    return undefined;
  }

  /** Checks the step in the background when the session's secret selects it; never throws. */
  check(step: ShardZeroStep): void {
    const { span } = step;
    if (!takesPrompt(span.start)) return;
    const reason = this.cannotCheck(step.modelId, span, step.shardSha256);
    if (reason !== undefined) {
      const said = `${step.modelId}/${span.start}-${span.end}`;
      if (!this.warned.has(said)) this.options.log('shard_zero_not_checked', { modelId: step.modelId, reason });
      this.warned.add(said);
      return;
    }
    let commitment: SignedCommitment;
    try {
      commitment = commitmentFromProto(step.commitment);
      // the chain check held the commitment to the route's span; a step of another one proves nothing here
      if (commitment.shardIndex !== span.start || commitment.shardEnd !== span.end) return;
      if (!isAudited(step.secret, commitment, step.rate)) return;
    } catch {
      // a malformed signature draws nothing: the commitment chain's checks deal with it
      return;
    }
    const work = this.recheck(step, commitment).catch((error: unknown) => {
      this.counts.skipped++;
      this.options.log('shard_zero_check_skipped', {
        nodeId: commitment.nodeId,
        reason: reasonFor(error),
        error: (error as Error).message,
      });
    });
    this.running.add(work);
    void work.finally(() => this.running.delete(work));
  }

  /** Waits for the checks under way (and their evidence). */
  async settled(): Promise<void> {
    while (this.running.size > 0) await Promise.all(this.running);
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  private async recheck(step: ShardZeroStep, commitment: SignedCommitment): Promise<void> {
    const { log } = this.options;
    const bytes = tokenBytes(step.tokens);
    // the chain check compared these already; a step whose tokens differ proves nothing
    if (!sha256(bytes).equals(commitment.inputHash)) return;
    const input: TicketInputBytes = { tokens: true, positions: step.tokens.length, bytes };
    const ours = await this.pool.recompute(OWNER, {
      manifestPath: this.manifestPath,
      manifestJson: this.manifestJson,
      modelId: this.manifest.modelId,
      span: step.span,
      input,
    });
    if (ours.equals(commitment.outputHash)) {
      this.counts.matched++;
      return;
    }
    this.counts.mismatched++;
    this.options.ban(commitment.nodeId);
    log('shard_zero_mismatch', {
      nodeId: commitment.nodeId,
      shards: formatSpan(step.span),
      positions: input.positions,
      committed: Buffer.from(commitment.outputHash).toString('hex'),
      recomputed: ours.toString('hex'),
    });
    const reply = await this.fileEvidence(step, commitment, input, ours).catch((error: unknown) => {
      log('shard_zero_evidence_refused', {
        nodeId: commitment.nodeId,
        registry: step.registry,
        reason: reasonFor(error),
        error: (error as { details?: string }).details || (error as Error).message,
      });
      return undefined;
    });
    if (reply)
      log('shard_zero_evidence_filed', {
        nodeId: commitment.nodeId,
        registry: step.registry,
        proofId: reply.proofId,
        status: reply.status,
        slashedAmount: reply.slashedAmount,
      });
  }

  /** Shows the registry this one step's input: the evidence a slash needs. */
  private async fileEvidence(
    step: ShardZeroStep,
    commitment: SignedCommitment,
    input: TicketInputBytes,
    recomputed: Buffer,
  ): Promise<FraudProofReply__Output> {
    const encoded = await encodeTicket({
      modelId: this.manifest.modelId,
      shardIndex: step.span.start,
      shardEnd: step.span.end,
      shardSha256: spanSha256(this.manifest, step.span),
      engineVersion: ENGINE_VERSION,
      input,
      startPosition: 0,
      commitment,
    });
    const wire = { ...encoded, auditSecret: Buffer.from(step.secret) };
    // the wire form read back as the registry will read it: the proof signs what it opens
    const codec = tessera.v1.Audit.service.SubmitTicket;
    const opened = await openTicket(
      codec.requestDeserialize(codec.requestSerialize(wire)) as Ticket__Output,
      input.bytes.length,
    );
    return this.options
      .registry(step.registry)
      .submitFraudProof(signFraudProof(this.options.key, wire, opened, recomputed));
  }
}
