// Tickets as an honest node makes them (a step its session's secret selects, signed by the node),
// and fraud proofs as a verifier fabricates them.
import { randomBytes } from 'node:crypto';
import type { KeyPair } from '../../src/crypto/keys.ts';
import { auditCommitmentOf, isAudited } from '../../src/protocol/audit-selection.ts';
import { signCommitment, type CommitmentFields, type SignedCommitment } from '../../src/protocol/commitment.ts';
import { signTicket } from '../../src/protocol/ticket-signature.ts';
import type { Ticket, Ticket__Output } from '../../src/proto/tessera/v1/Ticket.ts';
import type { FraudProof } from '../../src/proto/tessera/v1/FraudProof.ts';
import { tessera } from '../../src/proto/services.ts';
import { sha256 } from '../../src/crypto/hash.ts';
import type { Manifest } from '../../src/model/manifest.ts';
import { signFraudProof } from '../../src/protocol/audit-statements.ts';
import { ENGINE_VERSION } from '../../src/model/engine-version.ts';
import { encodeTicket, openTicket } from '../../src/protocol/ticket.ts';

/**
 * What a test's node commits to, besides the step id, its time and the audit commitment; the span
 * ends after its first shard unless `shardEnd` says otherwise.
 */
export type StepFields = Omit<Parameters<typeof signCommitment>[1], 'stepId' | 'auditCommitment' | 'shardEnd'> & {
  readonly shardEnd?: number;
};

/**
 * `key`'s signed commitment to a fresh step that `secret` selects (or, with `selected` false, does
 * not) at `rate`: the draw covers the node's signature, so the test signs in the loop, as only the
 * node can. Bound to `secret` unless `bound` is false (a session opened without an audit commitment).
 */
export function committedStep(
  key: KeyPair,
  secret: Uint8Array,
  fields: StepFields,
  rate: number,
  options: { readonly selected?: boolean; readonly bound?: boolean } = {},
): SignedCommitment {
  const auditCommitment = options.bound === false ? {} : { auditCommitment: auditCommitmentOf(secret) };
  for (;;) {
    const commitment = signCommitment(key, {
      ...fields,
      shardEnd: fields.shardEnd ?? fields.shardIndex + 1,
      stepId: randomBytes(32),
      ...auditCommitment,
    });
    if (isAudited(secret, commitment, rate) === (options.selected ?? true)) return commitment;
  }
}

/** A fresh secret and `key`'s commitment, bound to it, to a step it selects at `rate`. */
export function selectedStep(
  key: KeyPair,
  fields: StepFields,
  rate: number,
): { secret: Buffer; commitment: SignedCommitment } {
  const secret = randomBytes(32);
  return { secret, commitment: committedStep(key, secret, fields, rate) };
}

/** The node's signed ticket, as src/node/node-audits.ts sends it. */
export function nodeSigned(key: KeyPair, ticket: Ticket, commitment: CommitmentFields, secret: Uint8Array): Ticket {
  return signTicket(key, ticket, commitment, secret);
}

/**
 * A fraud proof `verifier` signs against a made-up commitment of `node` on shard 1 (hidden states: a
 * shard-0 ticket holds a prompt and never reaches a verifier), with another made-up output.
 */
export async function fabricatedHiddenProof(node: KeyPair, verifier: KeyPair, manifest: Manifest): Promise<FraudProof> {
  const width = manifest.config.hiddenSize;
  const positions = 6;
  const bytes = new Uint8Array(Float32Array.from({ length: positions * width }, () => Math.random() - 0.5).buffer);
  const commitment = signCommitment(node, {
    shardIndex: 1,
    shardEnd: 2,
    stepId: randomBytes(32),
    inputHash: sha256(bytes),
    outputHash: randomBytes(32),
  });
  const wire = await encodeTicket({
    modelId: manifest.modelId,
    shardIndex: 1,
    shardEnd: 2,
    shardSha256: manifest.shards[1]!.sha256,
    engineVersion: ENGINE_VERSION,
    input: { tokens: false, dtype: 'DTYPE_F32', positions, width, bytes },
    startPosition: 0,
    commitment,
  });
  const codec = tessera.v1.Audit.service.SubmitTicket;
  const opened = await openTicket(codec.requestDeserialize(codec.requestSerialize(wire)) as Ticket__Output, 1 << 20);
  return signFraudProof(verifier, wire, opened, randomBytes(32));
}
