// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/node.proto


/**
 * The secret behind Open.audit_commitment, sent once the steps to be audited have their signed
 * commitments (after their StepSignatures: a node must sign before it can know the secret); every
 * hop passes it on. No reply: a node submits its tickets to the registry.
 */
export interface AuditReveal {
  'secret'?: (Buffer | Uint8Array | string);
}

/**
 * The secret behind Open.audit_commitment, sent once the steps to be audited have their signed
 * commitments (after their StepSignatures: a node must sign before it can know the secret); every
 * hop passes it on. No reply: a node submits its tickets to the registry.
 */
export interface AuditReveal__Output {
  'secret': (Buffer);
}
