import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { canonicalJson } from '../crypto/canonical-json.ts';
import { generateKeyPair } from '../crypto/keys.ts';
import { sign } from '../crypto/signature.ts';
import { ANNOUNCEMENT_DOMAIN } from './announcement.ts';
import { openOperatorRequest, operatorDomain, signOperatorRequest, type OperatorRequest } from './operator-request.ts';
import { SignedPayloadError } from './signed-payload.ts';

const key = generateKeyPair();
const request = (overrides: Partial<Record<keyof OperatorRequest, unknown>> = {}): OperatorRequest =>
  ({
    action: 'stake',
    nodeId: key.address,
    amount: '1000',
    timestampMs: 1_700_000_000_000,
    nonce: randomBytes(16).toString('hex'),
    ...overrides,
  }) as OperatorRequest;

const refused = (reason: 'malformed' | 'signature', message: RegExp) => (error: unknown) => {
  assert.ok(error instanceof SignedPayloadError, String(error));
  assert.equal(error.reason, reason);
  assert.match(error.message, message);
  return true;
};

test('a signed request opens to exactly what was signed, for each action', () => {
  const stake = request({ amount: '115792089237316195423570985008687907853269984665640564039457584007913129639935' });
  assert.deepEqual(openOperatorRequest('stake', signOperatorRequest(key, stake)), stake);
  for (const action of ['unstake', 'withdraw', 'claim'] as const) {
    const r = request({ action, amount: undefined });
    assert.deepEqual(openOperatorRequest(action, signOperatorRequest(key, r)), JSON.parse(JSON.stringify(r)));
  }
});

test('each action signs under its own domain, so no signature serves another purpose', () => {
  assert.equal(new Set(['stake', 'unstake', 'withdraw', 'claim'].map((a) => operatorDomain(a as 'stake'))).size, 4);
  // The same bytes signed for an announcement, or for another action, do not open.
  const claim = request({ action: 'claim', amount: undefined });
  const payload = canonicalJson(claim as never);
  assert.throws(
    () => openOperatorRequest('claim', { payload, signature: sign(key, ANNOUNCEMENT_DOMAIN, payload) }),
    refused('signature', /^claim request is signed by 0x[0-9a-f]{40}, not by node /),
  );
  assert.throws(
    () => openOperatorRequest('claim', { payload, signature: sign(key, operatorDomain('withdraw'), payload) }),
    refused('signature', /is signed by 0x[0-9a-f]{40}, not by node /),
  );
  // A claim request sent where a withdrawal is expected names the mismatch before any signature check.
  assert.throws(
    () => openOperatorRequest('withdraw', signOperatorRequest(key, claim)),
    refused('malformed', /^malformed withdraw request: action "claim" where this call takes "withdraw"$/),
  );
});

test('a request signed by another key, or with a broken signature, is refused as unauthenticated', () => {
  const other = generateKeyPair();
  const r = request();
  const forged = signOperatorRequest(other, r);
  assert.throws(
    () => openOperatorRequest('stake', forged),
    refused('signature', new RegExp(`^stake request is signed by ${other.address}, not by node ${key.address}$`)),
  );
  const signed = signOperatorRequest(key, r);
  assert.throws(
    () => openOperatorRequest('stake', { payload: signed.payload, signature: signed.signature.subarray(0, 64) }),
    refused('signature', /^stake request signature is malformed$/),
  );
  // Any change to the signed bytes changes the recovered signer.
  const tampered = canonicalJson({ ...r, amount: '1000000' } as never);
  assert.throws(
    () => openOperatorRequest('stake', { payload: tampered, signature: signed.signature }),
    refused('signature', /is signed by 0x[0-9a-f]{40}, not by node/),
  );
});

test('malformed fields are named, each one', () => {
  const cases: [string, Partial<Record<keyof OperatorRequest, unknown>>, 'stake' | 'claim', RegExp][] = [
    ['zero stake', { amount: '0' }, 'stake', /amount must be a positive integer string, got "0"/],
    ['negative stake', { amount: '-5' }, 'stake', /amount must be a positive integer string, got "-5"/],
    ['a number, not a string', { amount: 5 }, 'stake', /amount must be a positive integer string, got 5/],
    ['leading zero', { amount: '007' }, 'stake', /amount must be a positive integer string, got "007"/],
    ['beyond uint256', { amount: '9'.repeat(79) }, 'stake', /amount must be a positive integer string/],
    ['no amount to stake', { amount: undefined }, 'stake', /amount must be a positive integer string, got undefined/],
    ['an amount on a claim', { action: 'claim' }, 'claim', /amount belongs only to a stake request/],
    [
      'uppercase node id',
      { nodeId: key.address.toUpperCase().replace('0X', '0x') },
      'stake',
      /nodeId is not a lowercase 0x address/,
    ],
    ['short nonce', { nonce: 'abcd' }, 'stake', /nonce is not 16 hex bytes/],
    ['negative timestamp', { timestampMs: -1 }, 'stake', /timestampMs/],
    ['an extra field', { role: 'node' } as never, 'stake', /unknown fields role/],
  ];
  for (const [name, overrides, action, message] of cases) {
    const r = request(overrides);
    const payload = canonicalJson(JSON.parse(JSON.stringify(r)));
    assert.throws(
      () => openOperatorRequest(action, { payload, signature: sign(key, operatorDomain(action), payload) }),
      refused('malformed', message),
      name,
    );
  }
  assert.throws(
    () =>
      openOperatorRequest('stake', {
        payload: new TextEncoder().encode('{ "action": "stake" }'),
        signature: new Uint8Array(65),
      }),
    refused('malformed', /^stake request payload is not canonical JSON/),
  );
  assert.throws(
    () => openOperatorRequest('stake', { payload: canonicalJson([1, 2]), signature: new Uint8Array(65) }),
    refused('malformed', /^malformed stake request: not a JSON object$/),
  );
});
