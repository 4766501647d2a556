import { createHash, hash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';

/** Lowercase hex of bytes. */
export const hex = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');

/** SHA-256 of bytes (one-shot, native). */
export function sha256(bytes: Uint8Array): Buffer {
  return hash('sha256', bytes, 'buffer');
}

/** SHA-256 of bytes as lowercase hex. */
export function sha256Hex(bytes: Uint8Array): string {
  return hash('sha256', bytes, 'hex');
}

const CHUNK = 4 << 20;

/** SHA-256 of a file as lowercase hex, read in chunks so a multi-gigabyte shard never sits in memory. */
export function sha256File(path: string): string {
  const digest = createHash('sha256');
  const buffer = Buffer.allocUnsafe(CHUNK);
  const fd = openSync(path, 'r');
  try {
    for (let n = readSync(fd, buffer, 0, CHUNK, null); n > 0; n = readSync(fd, buffer, 0, CHUNK, null))
      digest.update(buffer.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return digest.digest('hex');
}
