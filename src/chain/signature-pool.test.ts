import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair } from '../crypto/keys.ts';
import { sign } from '../crypto/signature.ts';
import { SignaturePool, type RecordCheck } from './signature-pool.ts';

test('worker threads and the inline check give the same answers, in order, across split batches', async () => {
  const key = generateKeyPair();
  const other = generateKeyPair();
  const checks: RecordCheck[] = Array.from({ length: 300 }, (_, i) => {
    const payload = new TextEncoder().encode(`{"i":${i}}`);
    const signature = sign(i % 150 === 5 ? other : key, 'tessera/v1/share-batch', payload);
    // A flipped recovery byte still verifies against the key, but names another signer: refused.
    if (i % 150 === 7) signature[64] ^= 1;
    return { domain: 'tessera/v1/share-batch', payload, signature, signer: key.address };
  });
  const expected = checks.map((_, i) => i % 150 !== 5 && i % 150 !== 7);
  const inline = new SignaturePool(0);
  const workers = new SignaturePool(2);
  try {
    assert.deepEqual(await inline.verify(checks), expected);
    const [whole, part] = await Promise.all([workers.verify(checks), workers.verify(checks.slice(0, 10))]);
    assert.deepEqual(whole, expected);
    assert.deepEqual(part, expected.slice(0, 10));
  } finally {
    await inline.close();
    await workers.close();
  }
  await assert.rejects(workers.verify(checks), /closed/);
});
