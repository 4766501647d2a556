import type { ServiceError } from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TesseraError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import { sha256 } from '../crypto/hash.ts';
import type { KeyPair } from '../crypto/keys.ts';
import type { AuditClient } from '../audit/audit-client.ts';
import { PROMPT_SHARD } from '../audit/prompt-shard.ts';
import { RecomputePool } from '../audit/recompute-pool.ts';
import { MANIFEST_FILE, parseManifest, type Manifest } from '../model/manifest.ts';
import type { Commitment__Output } from '../proto/tessera/v1/Commitment.ts';
import type { FraudProofReply__Output } from '../proto/tessera/v1/FraudProofReply.ts';
import { isAudited } from '../protocol/audit-selection.ts';
import { signFraudProof } from '../protocol/audit-statements.ts';
import { tokenBytes, type SignedCommitment } from '../protocol/commitment.ts';
import { ENGINE_VERSION } from '../protocol/engine-version.ts';
import { commitmentFromProto, encodeTicket, openTicket, type TicketInputBytes } from '../protocol/ticket.ts';
import { reasonOf } from '../rpc/status.ts';
import { tessera } from '../proto/services.ts';
import type { Ticket__Output } from '../proto/tessera/v1/Ticket.ts';

export interface ShardZeroCheckOptions {
  /** A shards directory (its manifest.json and shard 0's file): what `tessera shard` writes. */
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

/** One step from position 0 as this client sent it and shard 0's node committed to it. */
export interface ShardZeroStep {
  /** The registry that listed the route: it knows the node. */
  readonly registry: string;
  readonly modelId: string;
  /** Shard 0's file hash in the manifest the route serves: only these weights may judge the node. */
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
 * The client's audit of shard 0 (docs/ARCHITECTURE.md §10). A shard-0 step's input is the prompt,
 * so no ticket of it leaves the session; a client that holds shard 0's weights recomputes the steps
 * its own audit secret selects (the draw any audit uses, over the node's signature), on a worker
 * thread after the step, so no token waits. A node whose signed output hash differs is banned here
 * and reported to the registry with the step's input, the secret and the recomputed hash: the
 * registry recomputes it and slashes the node, or, when it finds the node right, the filer.
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

  /** Whether these weights are shard 0 of the model a registry serves (its manifest's shard 0 hash). */
  holds(modelId: string, shardSha256: string): boolean {
    const entry = this.manifest.shards[PROMPT_SHARD];
    return this.manifest.modelId === modelId && entry !== undefined && entry.sha256 === shardSha256;
  }

  /** Checks the step in the background when the session's secret selects it; never throws. */
  check(step: ShardZeroStep): void {
    if (!this.holds(step.modelId, step.shardSha256)) {
      if (!this.warned.has(step.modelId))
        this.options.log('shard_zero_not_checked', {
          modelId: step.modelId,
          reason: `the shards in ${this.options.shardsDir} are not shard 0 of this model (${this.manifest.modelId}, SHA-256 ${this.manifest.shards[PROMPT_SHARD]?.sha256})`,
        });
      this.warned.add(step.modelId);
      return;
    }
    let commitment: SignedCommitment;
    try {
      commitment = commitmentFromProto(step.commitment);
      if (commitment.shardIndex !== PROMPT_SHARD || !isAudited(step.secret, commitment, step.rate)) return;
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
      shardIndex: PROMPT_SHARD,
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
    const entry = this.manifest.shards[PROMPT_SHARD]!;
    const encoded = await encodeTicket({
      modelId: this.manifest.modelId,
      shardIndex: PROMPT_SHARD,
      shardSha256: entry.sha256,
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
