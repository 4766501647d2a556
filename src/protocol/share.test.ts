import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalJson } from '../crypto/canonical-json.ts';
import { generateKeyPair } from '../crypto/keys.ts';
import { sign } from '../crypto/signature.ts';
import {
  clientAddressOf,
  MAX_RECEIPT_TOKENS,
  openReceipt,
  RECEIPT_DOMAIN,
  receiptHashOf,
  signReceipt,
  verifyReceipt,
} from './receipt.ts';
import { parseRecord, RecordFormatError } from './record.ts';
import {
  encodeShare,
  MAX_SHARE_TOKENS,
  openShare,
  sessionHashOf,
  shareHashOf,
  shareSigner,
  type Share,
} from './share.ts';
import { openStatement, SHARE_BATCH_DOMAIN, signBatch, signStatement } from './share-batch.ts';

const client = generateKeyPair();
const node = generateKeyPair();
const sessionHash = sessionHashOf('session-1');
const route = [generateKeyPair().address, node.address, generateKeyPair().address];
const receipt = signReceipt(client, {
  sessionHash,
  modelId: 'tiny',
  tokensPerShard: [10, 10, 10],
  route,
  timestampMs: 1_700_000_000_000,
});
const share: Share = {
  nodeId: node.address,
  shardIndex: 1,
  tokensProcessed: 4,
  timestampMs: 1_700_000_000_001,
  sessionHash,
  receiptHash: receiptHashOf(receipt.payload).toString('hex'),
};

test('a share opens to its fields; its signer is the node whose statement lists it', () => {
  const payload = encodeShare(share);
  assert.deepEqual(openShare(payload), share);
  assert.equal(shareHashOf(payload).length, 32);
  const other = encodeShare({ ...share, timestampMs: share.timestampMs + 1 });
  const { statement } = signBatch(node, [payload, other]);
  assert.deepEqual(openStatement(statement.payload), {
    nodeId: node.address,
    shares: [payload, other].map((p) => shareHashOf(p).toString('hex')),
  });
  assert.equal(shareSigner({ payload, statement }), node.address);
  assert.equal(shareSigner({ payload: other, statement }), node.address);
  // Not listed, listed by a statement for another node, or signed under another domain: no signer.
  assert.equal(shareSigner({ payload: encodeShare({ ...share, tokensProcessed: 5 }), statement }), undefined);
  const stranger = generateKeyPair();
  assert.equal(shareSigner({ payload, statement: signBatch(stranger, [payload]).statement }), undefined);
  assert.notEqual(
    shareSigner({
      payload,
      statement: { payload: statement.payload, signature: sign(node, RECEIPT_DOMAIN, statement.payload) },
    }),
    node.address,
  );
  // A statement for the node signed by another key names that key's address: the caller compares it with the registered one.
  assert.equal(
    shareSigner({ payload, statement: signStatement(stranger, [shareHashOf(payload).toString('hex')], node.address) }),
    stranger.address,
  );
});

test('malformed statements are refused naming the field', () => {
  const hash = 'ab'.repeat(32);
  const encode = (value: Record<string, unknown>) => canonicalJson(value as never);
  assert.throws(() => openStatement(encode({ nodeId: node.address, shares: [] })), /shares \(1 to 20000 share hashes/);
  assert.throws(() => openStatement(encode({ nodeId: node.address, shares: [hash.toUpperCase()] })), /shares/);
  assert.throws(() => openStatement(encode({ nodeId: node.address, shares: Array(20_001).fill(hash) })), /shares/);
  assert.throws(() => openStatement(encode({ nodeId: 'nobody', shares: [hash] })), /nodeId/);
  assert.throws(() => openStatement(encode({ nodeId: node.address, shares: [hash], extra: 1 })), /unexpected extra/);
  assert.equal(SHARE_BATCH_DOMAIN, 'tessera/v1/share-batch');
});

test('malformed shares are refused naming the field', () => {
  const encode = (value: Record<string, unknown>) => canonicalJson(value as never);
  // Nothing but tokens says what a share is worth: a weight field is refused, and tokens are bounded.
  assert.throws(() => openShare(encode({ ...share, weight: 10 ** 12 })), /unexpected weight/);
  assert.throws(() => openShare(encode({ ...share, tokensProcessed: MAX_SHARE_TOKENS + 1 })), /tokensProcessed/);
  assert.equal(openShare(encode({ ...share, tokensProcessed: MAX_SHARE_TOKENS })).tokensProcessed, MAX_SHARE_TOKENS);
  assert.throws(() => openShare(encode({ ...share, nodeId: node.address.toUpperCase() })), /nodeId/);
  assert.throws(() => openShare(encode({ ...share, tokensProcessed: 0 })), /tokensProcessed/);
  assert.throws(() => openShare(encode({ ...share, extra: 1 })), /unexpected extra/);
  const { receiptHash: _dropped, ...withoutReceipt } = share;
  assert.throws(() => openShare(encode(withoutReceipt)), /missing receiptHash/);
  // The same share with its keys out of order is a second encoding: refused, so it cannot be replayed under another hash.
  const { tokensProcessed, ...rest } = share;
  const reordered = new TextEncoder().encode(JSON.stringify({ tokensProcessed, ...rest }));
  assert.throws(
    () => openShare(reordered),
    (e: Error) => e instanceof RecordFormatError && /not canonical/.test(e.message),
  );
});

test('a receipt verifies only with its client signature', () => {
  const opened = verifyReceipt(receipt);
  assert.deepEqual(opened.tokensPerShard, [10, 10, 10]);
  assert.equal(clientAddressOf(opened), client.address);
  const forged = { payload: receipt.payload, signature: sign(node, RECEIPT_DOMAIN, receipt.payload) };
  assert.throws(
    () => verifyReceipt(forged),
    new RegExp(`signed by ${node.address}, not by its client ${client.address}`),
  );
  assert.throws(() => verifyReceipt({ payload: receipt.payload, signature: new Uint8Array(65) }), /malformed/);
  const other = signReceipt(client, {
    sessionHash,
    modelId: 'tiny',
    tokensPerShard: [10, 10, 10],
    route,
    timestampMs: 1_700_000_000_000,
  });
  assert.notDeepEqual(
    receiptHashOf(other.payload),
    receiptHashOf(receipt.payload),
    'a fresh nonce makes each receipt distinct',
  );
  assert.throws(
    () => openReceipt(canonicalJson({ ...openReceipt(receipt.payload), tokensPerShard: [] } as never)),
    /tokensPerShard/,
  );
  const fields = openReceipt(receipt.payload);
  assert.throws(
    () => openReceipt(canonicalJson({ ...fields, tokensPerShard: [10, MAX_RECEIPT_TOKENS + 1, 10] } as never)),
    /tokensPerShard/,
  );
  assert.throws(() => openReceipt(canonicalJson({ ...fields, route: route.slice(1) } as never)), /route/);
  assert.throws(() => openReceipt(canonicalJson({ ...fields, route: [...route.slice(1), 'x'] } as never)), /route/);
  assert.deepEqual(openReceipt(receipt.payload).route, route);
});

test('a record payload passes as canonical exactly when canonical JSON writes it so', () => {
  const texts = [
    '{"a":1,"b":"x"}',
    '{"b":1,"a":2}',
    '{"a":1.5}',
    '{"a":1.0}',
    '{"a":1e3}',
    '{"a":-0}',
    '{"a":9007199254740993}',
    '{"a":"\\u00e9"}',
    '{"a":"é"}',
    '{"a":"\\/"}',
    '{"a":[1,{"c":1,"b":2}]}',
    '{"a":[1,{"b":1,"c":2}]}',
    '{"a":1,"a":1}',
    '{ "a":1}',
    '{"a":null,"b":true}',
    '{"a":"\\u001f"}',
    '{"a":"\\u001F"}',
    '{"":1,"a":2}',
    '{"a":-5}',
    '{"b":{"z":[]},"a":{}}',
  ];
  for (const text of texts) {
    let canonical: boolean;
    try {
      canonical = new TextDecoder().decode(canonicalJson(JSON.parse(text))) === text;
    } catch {
      canonical = false;
    }
    const parses = (() => {
      try {
        parseRecord(new TextEncoder().encode(text), 'record', Object.keys(JSON.parse(text)));
        return true;
      } catch (error) {
        if (error instanceof RecordFormatError && /not canonical/.test(error.message)) return false;
        throw error;
      }
    })();
    assert.equal(parses, canonical, text);
  }
});
