import { credentials as grpcCredentials, type ChannelCredentials, type ServiceError } from '@grpc/grpc-js';
import { createWriteStream, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { TesseraError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import { sha256File } from '../crypto/hash.ts';
import { checkPlainFileName } from '../model/manifest.ts';
import { tessera } from '../proto/services.ts';
import type { ShardChunk__Output } from '../proto/tessera/v1/ShardChunk.ts';
import type { ShardFilesClient } from '../proto/tessera/v1/ShardFiles.ts';
import { fromServiceError } from '../rpc/status.ts';

/**
 * Downloads one file of a model with GetShard (src/registry/shard-server.ts) into a directory, so
 * that a joining node holds only its own shard. A complete file is kept as it is; a partial one
 * (`NAME.part`, left by a process that died) is resumed from its length; what arrives is checked
 * against the manifest's SHA-256 before it takes the file's name, so a node never serves bytes it
 * has not checked. A wrong file is deleted and fetched again, from the start, from the next source.
 */

export interface FileToFetch {
  readonly modelId: string;
  /** A plain file name the manifest lists. */
  readonly file: string;
  /** The manifest's size, when it gives one. */
  readonly bytes?: number;
  /** The manifest's SHA-256 (hex); '' where the manifest has none (an old tokenizer entry). */
  readonly sha256: string;
}

export interface FetchOptions {
  /** GetShard servers to try in order: peers first, the registry last. */
  readonly sources: readonly string[];
  readonly dir: string;
  readonly log: Logger;
  /** Bytes of this file held so far, and its size. */
  readonly onProgress?: (held: number, total: number | undefined) => void;
  /** Credentials for the sources not in `tls`; default insecure (a registry on loopback). */
  readonly credentials?: ChannelCredentials;
  /** Sources served over TLS (nodes advertised beyond loopback), checked against the system CAs. */
  readonly tls?: ReadonlySet<string>;
  /** Times a busy source (TOO_MANY_STREAMS) is tried again before the next. Default 40. */
  readonly busyRetries?: number;
  /** Per stream. Default 10 minutes. */
  readonly deadlineMs?: number;
}

export interface FetchedFile {
  readonly path: string;
  /** Bytes that came over the network for it this time (0: it was held complete). */
  readonly fetchedBytes: number;
  /** Where a partial file was resumed from (0: none). */
  readonly resumedFrom: number;
}

/** The file fetched does not match the manifest: the bytes were deleted. */
export class FileMismatchError extends TesseraError {
  constructor(message: string) {
    super('SHARD_HASH_MISMATCH', 'failed_precondition', message);
  }
}

const partOf = (path: string) => `${path}.part`;
const sizeOf = (path: string) => statSync(path, { throwIfNoEntry: false })?.size;

/** Whether `path` matches the manifest's entry (size, then hash); a wrong file is deleted and said. */
function heldComplete(path: string, want: FileToFetch, log: Logger): boolean {
  const size = sizeOf(path);
  if (size === undefined) return false;
  const actual = want.bytes !== undefined && size !== want.bytes ? undefined : sha256File(path);
  if (actual !== undefined && (want.sha256 === '' || actual === want.sha256)) return true;
  rmSync(path, { force: true });
  log('shard_file_mismatch', {
    file: want.file,
    bytes: size,
    expectedBytes: want.bytes,
    sha256: actual,
    expectedSha256: want.sha256,
    action: 'deleted; fetching it again',
  });
  return false;
}

export async function fetchModelFile(want: FileToFetch, options: FetchOptions): Promise<FetchedFile> {
  const path = join(options.dir, checkPlainFileName(want.file, 'file', `model ${want.modelId}`));
  if (heldComplete(path, want, options.log)) return { path, fetchedBytes: 0, resumedFrom: 0 };
  const part = partOf(path);
  if (want.bytes !== undefined && (sizeOf(part) ?? 0) > want.bytes) rmSync(part, { force: true });
  const failures: string[] = [];
  let mismatches = 0;
  let fetchedBytes = 0;
  let resumedFrom = 0;
  for (const source of options.sources) {
    // A resumed file that fails its hash may hold bad bytes from before: once more, from the start.
    for (let attempt = 0; attempt < 2; attempt++) {
      const offset = sizeOf(part) ?? 0;
      if (attempt === 0 && offset > 0 && resumedFrom === 0) resumedFrom = offset;
      try {
        fetchedBytes += await downloadWhenFree(source, want, part, offset, options);
      } catch (error) {
        // Bytes that arrived before the stream broke stay in the partial file, for the next try.
        fetchedBytes += (sizeOf(part) ?? 0) - offset;
        const refusal =
          error instanceof TesseraError ? error : new TesseraError('FETCH_FAILED', 'unavailable', String(error));
        if (refusal.code === 'OFFSET_PAST_END') {
          rmSync(part, { force: true });
          continue;
        }
        failures.push(`${source}: ${refusal.code}: ${refusal.message}`);
        options.log('shard_fetch_failed', { file: want.file, source, code: refusal.code, error: refusal.message });
        break;
      }
      const actual = sha256File(part);
      const size = sizeOf(part)!;
      if ((want.bytes === undefined || size === want.bytes) && (want.sha256 === '' || actual === want.sha256)) {
        renameSync(part, path);
        options.log('shard_file_fetched', {
          file: want.file,
          source,
          bytes: size,
          fetchedBytes,
          resumedFrom,
          sha256: actual,
        });
        return { path, fetchedBytes, resumedFrom };
      }
      rmSync(part, { force: true });
      const message = `${want.file} from ${source} has ${size} bytes and SHA-256 ${actual}, the manifest says ${want.bytes ?? 'any'} bytes and ${want.sha256}: deleted, not served`;
      options.log('shard_file_rejected', {
        file: want.file,
        source,
        bytes: size,
        sha256: actual,
        expectedSha256: want.sha256,
      });
      if (offset === 0) {
        failures.push(`${source}: SHARD_HASH_MISMATCH: ${message}`);
        mismatches++;
        break;
      }
    }
  }
  if (mismatches > 0 && mismatches === failures.length)
    throw new FileMismatchError(
      `no source gave ${want.file} of ${want.modelId} as the manifest describes it: ${failures.join('; ')}`,
    );
  throw new TesseraError(
    'SHARD_FETCH_FAILED',
    'unavailable',
    `cannot fetch ${want.file} of ${want.modelId}: ${failures.join('; ') || 'no source to fetch from'}`,
  );
}

/**
 * Downloads, waiting (a bounded number of times, backing off) while the source says it serves as many
 * streams as it will: nodes behind one address, or many joining at once, take turns.
 */
async function downloadWhenFree(
  source: string,
  want: FileToFetch,
  part: string,
  offset: number,
  options: FetchOptions,
): Promise<number> {
  const tries = options.busyRetries ?? 40;
  for (let attempt = 0; ; attempt++) {
    try {
      return await download(source, want, part, offset, options);
    } catch (error) {
      if (!(error instanceof TesseraError) || error.code !== 'TOO_MANY_STREAMS' || attempt >= tries) throw error;
      if ((sizeOf(part) ?? 0) !== offset) throw error;
      options.log('shard_fetch_waiting', { file: want.file, source, attempt: attempt + 1 });
      await new Promise((resolve) => setTimeout(resolve, Math.min(2_000, 100 * 2 ** attempt) * (0.5 + Math.random())));
    }
  }
}

/** Appends `file` from `offset` to `part`; resolves with the bytes received. */
function download(
  source: string,
  want: FileToFetch,
  part: string,
  offset: number,
  options: FetchOptions,
): Promise<number> {
  const channelCredentials = options.tls?.has(source)
    ? grpcCredentials.createSsl()
    : (options.credentials ?? grpcCredentials.createInsecure());
  const client = new tessera.v1.ShardFiles(source, channelCredentials, {
    'grpc.max_receive_message_length': 8 << 20,
  }) as unknown as ShardFilesClient;
  const out = createWriteStream(part, { flags: offset > 0 ? 'a' : 'w' });
  let received = 0;
  return new Promise<number>((resolve, reject) => {
    let failed: Error | undefined;
    const call = client.getShard(
      { modelId: want.modelId, file: want.file, offset },
      { deadline: Date.now() + (options.deadlineMs ?? 600_000) },
    );
    const limit = want.bytes;
    call.on('data', (chunk: ShardChunk__Output) => {
      received += chunk.data.length;
      // A source that sends more than the manifest's size is cut off: the bytes would never match.
      if (limit !== undefined && offset + received > limit) {
        failed = new TesseraError(
          'SHARD_TOO_LONG',
          'failed_precondition',
          `${source} sent more than the ${limit} bytes of ${want.file}`,
        );
        call.cancel();
        return;
      }
      if (!out.write(chunk.data)) {
        call.pause();
        out.once('drain', () => call.resume());
      }
      options.onProgress?.(offset + received, limit ?? (chunk.totalBytes || undefined));
    });
    call.on('error', (error: ServiceError) => (failed ??= fromServiceError(error)));
    call.on('status', () => undefined);
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      out.end(() => {
        client.close();
        if (failed !== undefined) reject(failed);
        else resolve(received);
      });
    };
    call.on('end', finish);
    call.on('error', () => setImmediate(finish));
  });
}
