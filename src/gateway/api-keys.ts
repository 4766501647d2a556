import { timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { TesseraError } from '../core/errors.ts';
import { sha256 } from '../crypto/hash.ts';

/** An API keys file that is missing, readable by others, or holds no key. */
export class ApiKeysFileError extends TesseraError {
  constructor(message: string) {
    super('API_KEYS_FILE', 'failed_precondition', message);
  }
}

/**
 * Reads an API keys file: one key per line; blank lines and lines starting with # are skipped. Like
 * a node's key file, it is refused when group or others can read or write it: the keys spend the
 * network's compute.
 */
/** The keys named one by one (--api-key) and those of a keys file (--api-keys-file), together. */
export function apiKeysOf(keys: readonly string[], file: string | undefined): string[] {
  return [...keys, ...(file === undefined ? [] : readApiKeysFile(file))];
}

export function readApiKeysFile(path: string): string[] {
  let mode: number;
  try {
    mode = statSync(path).mode & 0o777;
  } catch {
    throw new ApiKeysFileError(`API keys file ${path} does not exist`);
  }
  if ((mode & 0o077) !== 0)
    throw new ApiKeysFileError(
      `API keys file ${path} has mode ${mode.toString(8).padStart(4, '0')}, readable by others; fix it with: chmod 600 ${path}`,
    );
  const keys = readFileSync(path, 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  if (keys.length === 0) throw new ApiKeysFileError(`API keys file ${path} holds no key (one key per line)`);
  return keys;
}

/**
 * Whether a presented key is one of `keys`. Digests of equal length are compared with
 * timingSafeEqual, and every key is compared, so the time taken says nothing about how much of a
 * guess matched, nor which key.
 */
export class ApiKeyMatcher {
  readonly #digests: Buffer[];

  constructor(keys: readonly string[]) {
    this.#digests = keys.map((key) => sha256(Buffer.from(key, 'utf8')));
  }

  get enabled(): boolean {
    return this.#digests.length > 0;
  }

  matches(presented: string): boolean {
    const digest = sha256(Buffer.from(presented, 'utf8'));
    let found = false;
    for (const key of this.#digests) found = timingSafeEqual(key, digest) || found;
    return found;
  }
}
