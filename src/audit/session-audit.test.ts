import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { generateKeyPair } from '../crypto/keys.ts';
import { isAudited } from '../protocol/audit-selection.ts';
import { signCommitment } from '../protocol/commitment.ts';
import { SessionAudit } from './session-audit.ts';

const key = generateKeyPair();
const committed = (audit: SessionAudit, shardIndex: number) =>
  signCommitment(key, {
    shardIndex,
    shardEnd: shardIndex + 1,
    stepId: randomBytes(32),
    inputHash: randomBytes(32),
    outputHash: randomBytes(32),
    auditCommitment: audit.commitment,
  });

test("the client's selection is the draw over each node's signed commitment, and leaves out one whose signature is malformed", () => {
  const audit = new SessionAudit(0.5);
  const commitments = Array.from({ length: 32 }, (_, i) => committed(audit, i % 4));
  assert.deepEqual(
    audit.selected(commitments),
    commitments.filter((c) => isAudited(audit.secret, c, 0.5)),
  );
  const everything = new SessionAudit(1);
  const [good, bad] = [committed(everything, 0), committed(everything, 1)];
  assert.deepEqual(everything.selected([good, { ...bad, signature: bad.signature.subarray(0, 64) }]), [good]);
});
