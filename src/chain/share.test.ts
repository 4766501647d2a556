import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalJson } from '../crypto/canonical-json.ts';
import { generateKeyPair } from '../crypto/keys.ts';
import { sign } from '../crypto/signature.ts';
import { clientAddressOf, openReceipt, RECEIPT_DOMAIN, receiptHashOf, signReceipt, verifyReceipt } from './receipt.ts';
import { RecordFormatError } from './record.ts';
import { openShare, sessionHashOf, SHARE_DOMAIN, shareHashOf, shareSigner, signShare, WEIGHT_ONE, type Share } from './share.ts';

const client = generateKeyPair();
const node = generateKeyPair();
const sessionHash = sessionHashOf('session-1');
const receipt = signReceipt(client, { sessionHash, modelId: 'tiny', tokensPerShard: [10, 10, 10], timestampMs: 1_700_000_000_000 });
const share: Share = {
  nodeId: node.address, shardIndex: 1, tokensProcessed: 4, weight: WEIGHT_ONE, timestampMs: 1_700_000_000_001, sessionHash,
  receiptHash: receiptHashOf(receipt.payload).toString('hex'),
};

test('a signed share opens to its fields and recovers its signer', () => {
  const signed = signShare(node, share);
  assert.deepEqual(openShare(signed.payload), share);
  assert.equal(shareSigner(signed), node.address);
  assert.equal(shareHashOf(signed.payload).length, 32);
  // Signed under the share domain only: the same bytes signed for a receipt do not pass as a share.
  assert.notEqual(shareSigner({ payload: signed.payload, signature: sign(node, RECEIPT_DOMAIN, signed.payload) }), node.address);
});

test('malformed shares are refused naming the field', () => {
  const encode = (value: Record<string, unknown>) => canonicalJson(value as never);
  assert.throws(() => openShare(encode({ ...share, weight: 0 })), /weight/);
  assert.throws(() => openShare(encode({ ...share, nodeId: node.address.toUpperCase() })), /nodeId/);
  assert.throws(() => openShare(encode({ ...share, tokensProcessed: 0 })), /tokensProcessed/);
  assert.throws(() => openShare(encode({ ...share, extra: 1 })), /unexpected extra/);
  const { receiptHash: _dropped, ...withoutReceipt } = share;
  assert.throws(() => openShare(encode(withoutReceipt)), /missing receiptHash/);
  // The same share with its keys out of order is a second encoding: refused, so it cannot be replayed under another hash.
  const { weight, ...rest } = share;
  const reordered = new TextEncoder().encode(JSON.stringify({ weight, ...rest }));
  assert.throws(() => openShare(reordered), (e: Error) => e instanceof RecordFormatError && /not canonical/.test(e.message));
});

test('a receipt verifies only with its client signature', () => {
  const opened = verifyReceipt(receipt);
  assert.deepEqual(opened.tokensPerShard, [10, 10, 10]);
  assert.equal(clientAddressOf(opened), client.address);
  const forged = { payload: receipt.payload, signature: sign(node, RECEIPT_DOMAIN, receipt.payload) };
  assert.throws(() => verifyReceipt(forged), new RegExp(`signed by ${node.address}, not by its client ${client.address}`));
  assert.throws(() => verifyReceipt({ payload: receipt.payload, signature: new Uint8Array(65) }), /malformed/);
  const other = signReceipt(client, { sessionHash, modelId: 'tiny', tokensPerShard: [10, 10, 10], timestampMs: 1_700_000_000_000 });
  assert.notDeepEqual(receiptHashOf(other.payload), receiptHashOf(receipt.payload), 'a fresh nonce makes each receipt distinct');
  assert.throws(() => openReceipt(canonicalJson({ ...openReceipt(receipt.payload), tokensPerShard: [] } as never)), /tokensPerShard/);
  assert.equal(SHARE_DOMAIN, 'tessera/v1/share');
});
