import { test } from 'node:test';
import assert from 'node:assert/strict';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { generateKeyPair } from '../crypto/keys.ts';
import { recoverSigner, sign } from '../crypto/signature.ts';
import { signatureDigest, verifyBatch, type SignatureCheck } from './batch-verify.ts';

const DOMAIN = 'tessera/v1/test';

function checks(count: number, keys = [generateKeyPair(), generateKeyPair(), generateKeyPair()]): SignatureCheck[] {
  return Array.from({ length: count }, (_, i) => {
    const key = keys[i % keys.length]!;
    const message = new TextEncoder().encode(`message ${i}`);
    return { digest: signatureDigest(DOMAIN, message), signature: sign(key, DOMAIN, message), publicKey: key.publicKey };
  });
}

test('a batch of good signatures from several keys all hold', () => {
  assert.deepEqual(verifyBatch(checks(40)), new Array(40).fill(true));
  assert.deepEqual(verifyBatch([]), []);
});

test('the digest is the one src/crypto/signature.ts signs: a recovered signer agrees with the batch', () => {
  const key = generateKeyPair();
  const message = new TextEncoder().encode('{"a":1}');
  const signature = sign(key, DOMAIN, message);
  assert.equal(recoverSigner(DOMAIN, message, signature), key.address);
  assert.deepEqual(verifyBatch([{ digest: signatureDigest(DOMAIN, message), signature, publicKey: key.publicKey }]), [true]);
  assert.deepEqual(verifyBatch([{ digest: signatureDigest('tessera/v1/other', message), signature, publicKey: key.publicKey }]), [false]);
});

test('exactly the bad signatures in a batch are found: wrong key, altered message, broken bytes', () => {
  const batch = checks(33);
  const stranger = generateKeyPair();
  const bad = new Map<number, SignatureCheck>([
    [3, { ...batch[3]!, publicKey: stranger.publicKey }],
    [17, { ...batch[17]!, digest: signatureDigest(DOMAIN, new TextEncoder().encode('other')) }],
    [20, { ...batch[20]!, signature: Uint8Array.from(batch[20]!.signature, (b, i) => (i === 64 ? b ^ 1 : b)) }],
    [31, { ...batch[31]!, signature: batch[31]!.signature.subarray(0, 64) }],
    [32, { ...batch[32]!, publicKey: new Uint8Array(33).fill(7) }],
  ]);
  const mixed = batch.map((check, i) => bad.get(i) ?? check);
  const expected = mixed.map((_, i) => !bad.has(i));
  assert.deepEqual(verifyBatch(mixed), expected);
});

test('compressed public keys and high-s signatures verify as recovery does', () => {
  const key = generateKeyPair();
  const message = new TextEncoder().encode('high s');
  const signature = sign(key, DOMAIN, message);
  // (r, n - s) with the other parity recovers the same key: recoverSigner accepts it, so must we.
  const { n } = secp256k1.Point.CURVE();
  const s = BigInt(`0x${Buffer.from(signature.subarray(32, 64)).toString('hex')}`);
  const flipped = Uint8Array.from(signature);
  flipped.set(Buffer.from((n - s).toString(16).padStart(64, '0'), 'hex'), 32);
  flipped[64] = signature[64]! ^ 1;
  assert.equal(recoverSigner(DOMAIN, message, flipped), key.address);
  const compressed = secp256k1.getPublicKey(key.secretKey, true);
  const digest = signatureDigest(DOMAIN, message);
  assert.deepEqual(verifyBatch([{ digest, signature: flipped, publicKey: key.publicKey }, { digest, signature, publicKey: compressed }]), [true, true]);
});
