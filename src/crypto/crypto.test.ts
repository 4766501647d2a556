import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonicalJson, parseCanonicalJson } from './canonical-json.ts';
import { addressOf, generateKeyPair, keyPairFromSecret, readKeyFile, writeNewKeyFile } from './keys.ts';
import { bytesToHex } from '@noble/hashes/utils.js';
import { sign as viemSign } from 'viem/accounts';
import { recoverSigner, sign, signatureDigest } from './signature.ts';

test('the address of a known key is its Ethereum address', () => {
  // The first account of the widely published "test test ... junk" mnemonic.
  const key = keyPairFromSecret(Buffer.from('ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80', 'hex'));
  assert.equal(key.address, '0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266');
  assert.equal(addressOf(key.publicKey), key.address);
});

test('signatures recover their signer only for the same domain and message', () => {
  const key = generateKeyPair();
  const message = canonicalJson({ b: 2, a: 'x' });
  const signature = sign(key, 'tessera/register', message);
  assert.equal(signature.length, 65);
  assert.equal(recoverSigner('tessera/register', message, signature), key.address);
  assert.notEqual(recoverSigner('tessera/heartbeat', message, signature), key.address);
  assert.notEqual(recoverSigner('tessera/register', canonicalJson({ b: 3, a: 'x' }), signature), key.address);
  const broken = Uint8Array.from(signature);
  broken[64] = 9;
  assert.equal(recoverSigner('tessera/register', message, broken), undefined);
  assert.equal(recoverSigner('tessera/register', message, signature.subarray(0, 64)), undefined);
});

test('signatures are the bytes viem makes for the same digest and key (RFC 6979, low s)', async () => {
  for (let i = 0; i < 20; i++) {
    const key = generateKeyPair();
    const message = canonicalJson({ i, note: 'viem agrees' });
    const ours = sign(key, 'tessera/v1/test', message);
    const theirs = await viemSign({
      hash: `0x${bytesToHex(signatureDigest('tessera/v1/test', message))}`,
      privateKey: `0x${bytesToHex(key.secretKey)}`,
    });
    assert.equal(`0x${bytesToHex(ours.subarray(0, 32))}`, theirs.r);
    assert.equal(`0x${bytesToHex(ours.subarray(32, 64))}`, theirs.s);
    assert.equal(ours[64], theirs.yParity);
  }
});

test('the high-s twin of a valid signature recovers no one: one signed statement has one signature', () => {
  const key = generateKeyPair();
  const message = new TextEncoder().encode('a commitment');
  for (let i = 0; i < 16; i++) {
    const signature = sign(key, `tessera/test/${i}`, message);
    assert.equal(recoverSigner(`tessera/test/${i}`, message, signature), key.address);
    // s' = n - s with the recovery bit flipped is the same signer's valid signature, in high-s form
    const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
    const s = BigInt(`0x${Buffer.from(signature.subarray(32, 64)).toString('hex')}`);
    const twin = Uint8Array.from(signature);
    twin.set(Buffer.from((n - s).toString(16).padStart(64, '0'), 'hex'), 32);
    twin[64] = signature[64]! ^ 1;
    assert.equal(recoverSigner(`tessera/test/${i}`, message, twin), undefined);
  }
});

test('canonical JSON sorts keys, refuses floats and non-canonical input', () => {
  assert.equal(
    new TextDecoder().decode(canonicalJson({ z: [1, { y: true, b: null }], a: 'é' })),
    '{"a":"é","z":[1,{"b":null,"y":true}]}',
  );
  assert.throws(() => canonicalJson({ x: 0.5 }), /safe integers only/);
  assert.deepEqual(parseCanonicalJson(canonicalJson({ b: 1, a: 2 })), { a: 2, b: 1 });
  assert.throws(() => parseCanonicalJson(new TextEncoder().encode('{"b":1,"a":2}')), /not canonical/);
  assert.throws(() => parseCanonicalJson(new TextEncoder().encode('{"a": 2}')), /not canonical/);
});

test('key files are created 0600, never overwritten, and refused when others can read them', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-keys-'));
  try {
    const path = join(dir, 'node.key');
    const created = writeNewKeyFile(path);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(readKeyFile(path).address, created.address);
    assert.throws(() => writeNewKeyFile(path), /already exists/);
    chmodSync(path, 0o644);
    assert.throws(() => readKeyFile(path), /mode 0644, readable by others; fix it with: chmod 600 .*node\.key/);
    assert.throws(() => readKeyFile(join(dir, 'none.key')), /does not exist; create one with: tessera keys new --out/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
