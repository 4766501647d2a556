import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { canonicalJson } from '../crypto/canonical-json.ts';
import { generateKeyPair } from '../crypto/keys.ts';
import { sign } from '../crypto/signature.ts';
import { GRANT_DOMAIN, grantAmounts, grantEvidence, openGrant, signGrant, type OperatorGrant } from './grant.ts';
import { operatorDomain } from './operator-request.ts';
import { SignedPayloadError } from './signed-payload.ts';

const operator = generateKeyPair();
const member = generateKeyPair();
const grant = (overrides: Partial<Record<keyof OperatorGrant, unknown>> = {}): OperatorGrant =>
  ({
    operator: operator.address,
    to: member.address,
    stake: '1000',
    timestampMs: 1_700_000_000_000,
    nonce: randomBytes(16).toString('hex'),
    ...overrides,
  }) as OperatorGrant;

const refused = (reason: 'malformed' | 'signature', message: RegExp) => (error: unknown) => {
  assert.ok(error instanceof SignedPayloadError, String(error));
  assert.equal(error.reason, reason);
  assert.match(error.message, message);
  return true;
};

test('a signed grant opens to exactly what was signed; its amounts are bigints', () => {
  const uint256Max = (2n ** 256n - 1n).toString();
  const g = grant({ stake: uint256Max, deposit: '7' });
  assert.deepEqual(openGrant(signGrant(operator, g)), g);
  assert.deepEqual(grantAmounts(g), { stake: 2n ** 256n - 1n, deposit: 7n });
  assert.deepEqual(grantAmounts(grant({ stake: undefined, deposit: '3' })), { deposit: 3n });
});

test('the signer must be the operator it names, under the grant domain only', () => {
  const stranger = generateKeyPair();
  assert.throws(
    () => openGrant(signGrant(stranger, grant())),
    refused('signature', new RegExp(`^grant is signed by ${stranger.address}, not by operator ${operator.address}$`)),
  );
  // The operator's signature over the same bytes for another purpose does not open as a grant.
  const payload = canonicalJson(grant() as never);
  assert.throws(
    () => openGrant({ payload, signature: sign(operator, operatorDomain('stake'), payload) }),
    refused('signature', /is signed by 0x[0-9a-f]{40}, not by operator/),
  );
  assert.doesNotThrow(() => openGrant({ payload, signature: sign(operator, GRANT_DOMAIN, payload) }));
});

test('every malformed field is named', () => {
  const cases: [Partial<Record<keyof OperatorGrant | 'extra', unknown>>, RegExp][] = [
    [{ stake: undefined }, /^malformed grant: a grant credits stake, deposit or both$/],
    [{ stake: '0' }, /stake must be a positive integer string, got "0"/],
    [{ deposit: 5 }, /deposit must be a positive integer string, got 5/],
    [{ stake: '1'.repeat(79) }, /stake must be a positive integer string/],
    [{ to: member.address.toUpperCase() }, /to is not a lowercase 0x address/],
    [{ operator: 'op' }, /operator is not a lowercase 0x address/],
    [{ nonce: 'ab' }, /nonce is not 16 hex bytes/],
    [{ timestampMs: -1 }, /timestampMs/],
    [{ extra: true }, /unknown fields extra/],
  ];
  for (const [overrides, message] of cases)
    assert.throws(() => openGrant(signGrant(operator, grant(overrides))), refused('malformed', message));
});

test('the evidence is the payload hash: the same grant twice is the same evidence, two grants differ', () => {
  const signed = signGrant(operator, grant());
  assert.match(grantEvidence(signed), /^0x[0-9a-f]{64}$/);
  assert.equal(grantEvidence(signed), grantEvidence({ ...signed }));
  assert.notEqual(grantEvidence(signed), grantEvidence(signGrant(operator, grant())));
});
