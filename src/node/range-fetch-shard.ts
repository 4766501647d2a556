import { closeSync, existsSync, mkdirSync, openSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { createHash, type Hash } from 'node:crypto';
import { join } from 'node:path';
import { TesseraError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import { sha256File } from '../crypto/hash.ts';
import { checkPlainFileName, type Manifest, type ManifestTensor, type ShardEntry } from '../model/manifest.ts';
import { GGUF_LIMITS, parseGgufHeader } from '../model/gguf/reader.ts';
import { assembleShard, ShardHashMismatchError, shardTensors } from '../model/shards/assemble.ts';
import { modelMetadata, writeTokenizerFile } from '../model/shards/shard-layout.ts';
import { readRange } from './range-fetch.ts';
import type { FetchedFile } from './shard-fetch.ts';

/**
 * A node's shard from the model's own GGUF file (issue 12, "only its own bytes"): HTTP range
 * requests for the shard's tensors alone, a few adjacent ones per request and three requests at
 * once, each tensor checked against the manifest's SHA-256 as it arrives, then the shard file
 * assembled as `tessera shard` writes it and checked whole. A tensor is kept in `FILE.tensors/NAME`
 * once checked (`NAME.part` while it arrives), so a node that dies resumes where it stopped; the
 * shard file appears under its own name only complete and checked, and the kept tensors are
 * deleted then.
 */

export interface RangeShardOptions {
  /** The source GGUF (see resolveModelUrl). */
  readonly url: URL;
  readonly manifest: Manifest;
  readonly entry: ShardEntry;
  readonly dir: string;
  /** The model's tokenizer GGUF, already checked against the manifest: its metadata goes into the shard. */
  readonly tokenizerPath: string;
  readonly log: Logger;
  /** Bytes of the shard's tensors held so far, and their total. */
  readonly onProgress?: (held: number, total: number) => void;
  /** Most bytes one request asks for; a larger tensor is asked alone. Default 64 MiB. */
  readonly maxRequestBytes?: number;
  /** Per request. Default 10 minutes. */
  readonly deadlineMs?: number;
}

export interface RangeFetchedFile extends FetchedFile {
  /** HTTP range requests made. */
  readonly requests: number;
}

/** Bytes between two tensors (their alignment padding) read rather than asking twice. */
const MAX_GAP = 256;
const MAX_TENSORS_PER_REQUEST = 16;
/** Rounds of requests when the server or the connection fails on the way (each resumes from what is held). */
const ROUNDS = 3;
const CHUNK = 4 << 20;
/**
 * Requests in flight at once. One request is held to one connection's pace, which to a distant
 * origin is its round trip and window more than its bandwidth, so a few together fill the line; a
 * few, not many, because origins (Hugging Face's CDN among them) throttle a client that opens many,
 * and each request's bytes go to their own tensors' files, so more would only add open files.
 */
const IN_FLIGHT = 3;

interface Pending {
  readonly tensor: ManifestTensor;
  /** Bytes of it held in its .part file, checked with the rest once complete. */
  readonly from: number;
}

/** The bytes of a file in chunks, for the assembly. */
function* fileChunks(path: string): Iterable<Uint8Array> {
  const fd = openSync(path, 'r');
  try {
    for (;;) {
      const chunk = Buffer.allocUnsafe(CHUNK);
      const n = readSync(fd, chunk, 0, CHUNK, null);
      if (n === 0) return;
      yield chunk.subarray(0, n);
    }
  } finally {
    closeSync(fd);
  }
}

function hashOfFile(path: string, into: Hash): void {
  for (const chunk of fileChunks(path)) into.update(chunk);
}

/** Adjacent pending tensors, a request's worth each. */
function plan(pending: readonly Pending[], maxBytes: number): Pending[][] {
  const sorted = [...pending].sort((a, b) => a.tensor.offset - b.tensor.offset);
  const groups: Pending[][] = [];
  for (const item of sorted) {
    const group = groups.at(-1);
    const first = group?.[0];
    const last = group?.at(-1);
    if (
      group !== undefined &&
      item.from === 0 &&
      group.length < MAX_TENSORS_PER_REQUEST &&
      item.tensor.offset - (last!.tensor.offset + last!.tensor.bytes) <= MAX_GAP &&
      item.tensor.offset >= last!.tensor.offset + last!.tensor.bytes &&
      item.tensor.offset + item.tensor.bytes - (first!.tensor.offset + first!.from) <= maxBytes
    )
      group.push(item);
    else groups.push([item]);
  }
  return groups;
}

/**
 * Runs `run` on each of `items`, `limit` at a time, in order. After a failure nothing more starts,
 * but what is in flight is let finish rather than cut: its tensors are checked and kept like any
 * (the next round or a restart does not ask for them again), and none is left part-read for a
 * failure that is not its own. Rejects with the first failure once all have stopped.
 */
async function eachInFlight<T>(items: readonly T[], limit: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { readonly error: unknown } | undefined;
  const lane = async () => {
    while (failure === undefined && next < items.length) {
      const item = items[next++]!;
      try {
        await run(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  if (failure !== undefined) throw failure.error;
}

/** A tensor arriving into its .part file, hashed as it comes. */
class Arrival {
  /** Opened with the first bytes, so that a request refused at once leaves no empty files. */
  private fd: number | undefined;
  private readonly hash = createHash('sha256');
  held: number;

  constructor(
    readonly pending: Pending,
    private readonly part: string,
  ) {
    if (pending.from > 0) hashOfFile(part, this.hash);
    this.held = pending.from;
  }

  get start(): number {
    return this.pending.tensor.offset;
  }
  get end(): number {
    return this.pending.tensor.offset + this.pending.tensor.bytes;
  }

  write(bytes: Uint8Array): void {
    this.fd ??= openSync(this.part, this.pending.from > 0 ? 'a' : 'w');
    this.hash.update(bytes);
    for (let done = 0; done < bytes.length;) done += writeSync(this.fd, bytes, done, bytes.length - done);
    this.held += bytes.length;
  }

  /** Closes the file; the SHA-256 of everything it holds. */
  finish(): string {
    this.close();
    return this.hash.digest('hex');
  }

  /** Stopped part-way: what arrived stays in the .part file, to be resumed. */
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/** Fetches and assembles `entry`'s shard file from `url` (see the module comment). */
export async function fetchShardByRanges(options: RangeShardOptions): Promise<RangeFetchedFile> {
  const { manifest, entry, log } = options;
  const path = join(
    options.dir,
    checkPlainFileName(entry.file, `shard ${entry.index} file`, `model ${manifest.modelId}`),
  );
  if (existsSync(path)) {
    const actual = sha256File(path);
    if (actual === entry.sha256) return { path, fetchedBytes: 0, resumedFrom: 0, requests: 0 };
    rmSync(path, { force: true });
    log('shard_file_mismatch', {
      file: entry.file,
      sha256: actual,
      expectedSha256: entry.sha256,
      action: 'deleted; fetching it again',
    });
  }
  const tensors = shardTensors(manifest, entry);
  if (tensors.length === 0)
    throw new TesseraError(
      'MANIFEST_NO_TENSORS',
      'failed_precondition',
      `the manifest of ${manifest.modelId} describes no tensors (written before tessera shard did, or cut from a Hugging Face directory): its shards cannot be fetched by range`,
    );
  const store = `${path}.tensors`;
  mkdirSync(store, { recursive: true });
  const fileOf = (t: ManifestTensor) => join(store, t.name);
  const partOf = (t: ManifestTensor) => `${fileOf(t)}.part`;
  const total = tensors.reduce((sum, t) => sum + t.bytes, 0);
  const maxRequestBytes = options.maxRequestBytes ?? 64 << 20;
  const source = `${options.url.protocol}//${options.url.host}${options.url.pathname}`;

  /** What is held now: checked tensors, and partial ones with their length. */
  const survey = () => {
    const pending: Pending[] = [];
    let held = 0;
    for (const tensor of tensors) {
      const size = statSync(fileOf(tensor), { throwIfNoEntry: false })?.size;
      if (size !== undefined) {
        if (size === tensor.bytes && sha256File(fileOf(tensor)) === tensor.sha256) {
          held += tensor.bytes;
          continue;
        }
        rmSync(fileOf(tensor), { force: true });
      }
      const partial = statSync(partOf(tensor), { throwIfNoEntry: false })?.size ?? 0;
      if (partial >= tensor.bytes) rmSync(partOf(tensor), { force: true });
      const from = partial < tensor.bytes ? partial : 0;
      held += from;
      pending.push({ tensor, from });
    }
    return { pending, held };
  };

  const initial = survey();
  const resumedFrom = initial.held;
  let fetchedBytes = 0;
  let requests = 0;
  let held = initial.held;
  options.onProgress?.(held, total);
  let pending = initial.pending;
  // A resumed tensor that fails its hash may hold bad bytes from before: once more, from the start.
  const badResumes = new Set<string>();
  /** Whether a request to this origin has come back whole and checked. */
  let answered = false;

  /** One request's tensors, each kept once it arrives whole and matches its hash. */
  const fetchGroup = async (group: readonly Pending[]): Promise<void> => {
    requests++;
    const arrivals = group.map((item) => new Arrival(item, partOf(item.tensor)));
    let position = group[0]!.tensor.offset + group[0]!.from;
    let current = 0;
    try {
      await readRange(
        {
          url: options.url,
          start: position,
          end: arrivals.at(-1)!.end,
          ...(manifest.source.bytes === undefined ? {} : { sourceBytes: manifest.source.bytes }),
          ...(options.deadlineMs === undefined ? {} : { deadlineMs: options.deadlineMs }),
        },
        (chunk) => {
          fetchedBytes += chunk.length;
          let at = 0;
          while (at < chunk.length) {
            const arrival = arrivals[current]!;
            // Padding between two tensors is read and dropped.
            if (position < arrival.start) {
              const skip = Math.min(arrival.start - position, chunk.length - at);
              at += skip;
              position += skip;
              continue;
            }
            const take = Math.min(arrival.end - position, chunk.length - at);
            arrival.write(chunk.subarray(at, at + take));
            at += take;
            position += take;
            held += take;
            if (position === arrival.end) {
              current++;
              settle(arrival);
            }
          }
          options.onProgress?.(held, total);
        },
      );
    } finally {
      for (const arrival of arrivals.slice(current)) arrival.close();
    }
  };

  for (let round = 0; pending.length > 0; round++) {
    try {
      const groups = plan(pending, maxRequestBytes);
      // The first request goes alone: an origin that does not serve ranges as asked is refused after
      // one request, not after several sent before its first answer came.
      if (!answered && groups.length > 0) await fetchGroup(groups.shift()!);
      answered = true;
      await eachInFlight(groups, IN_FLIGHT, fetchGroup);
      pending = [];
    } catch (error) {
      const retry =
        round + 1 < ROUNDS &&
        error instanceof TesseraError &&
        (error.kind === 'unavailable' ||
          (error instanceof ShardHashMismatchError && error.tensor !== undefined && badResumes.has(error.tensor)));
      log('range_fetch_failed', {
        file: entry.file,
        source,
        code: error instanceof TesseraError ? error.code : 'INTERNAL',
        error: (error as Error).message,
        action: retry ? 'trying again from what is held' : 'giving up on this source',
      });
      if (!retry) throw error;
      badResumes.clear();
      ({ pending, held } = survey());
    }
  }

  /** A tensor fully arrived: kept under its name if it matches the manifest, else deleted and refused. */
  function settle(arrival: Arrival): void {
    const { tensor, from } = arrival.pending;
    const actual = arrival.finish();
    if (actual === tensor.sha256) {
      renameSync(partOf(tensor), fileOf(tensor));
      return;
    }
    rmSync(partOf(tensor), { force: true });
    if (from > 0) badResumes.add(tensor.name);
    log('shard_tensor_rejected', {
      file: entry.file,
      tensor: tensor.name,
      source,
      sha256: actual,
      expectedSha256: tensor.sha256,
    });
    throw new ShardHashMismatchError(
      `tensor ${tensor.name} of ${entry.file} from ${source} has SHA-256 ${actual}, the manifest says ${tensor.sha256}${from > 0 ? ` (resumed from ${from} bytes held)` : ''}: deleted, not served`,
      tensor.name,
    );
  }

  try {
    assembleShard({
      manifest,
      entry,
      tokenizerPath: options.tokenizerPath,
      path,
      read: (tensor) => fileChunks(fileOf(tensor)),
    });
  } catch (error) {
    // A kept tensor that changed on disk since it was checked: fetched again next time.
    if (error instanceof ShardHashMismatchError && error.tensor !== undefined)
      rmSync(fileOf(tensors.find((t) => t.name === error.tensor)!), { force: true });
    else rmSync(store, { recursive: true, force: true });
    throw error;
  }
  rmSync(store, { recursive: true, force: true });
  log('shard_file_assembled', {
    file: entry.file,
    source,
    bytes: entry.bytes,
    fetchedBytes,
    requests,
    resumedFrom,
    sha256: entry.sha256,
  });
  return { path, fetchedBytes, resumedFrom, requests };
}

export interface RangeTokenizerOptions {
  readonly url: URL;
  readonly manifest: Manifest;
  readonly dir: string;
  readonly log: Logger;
  /** Per request. Default 10 minutes. */
  readonly deadlineMs?: number;
}

/**
 * The model's tokenizer file from the head of its GGUF: the bytes before the first tensor are the
 * header, whose metadata `tessera shard` copied into the tokenizer file; written the same way, the
 * file must have the manifest's SHA-256 (anything else is deleted and refused), so a node that
 * joins by range needs nothing of the registry but the manifest.
 */
export async function fetchTokenizerByRange(options: RangeTokenizerOptions): Promise<RangeFetchedFile> {
  const { manifest, log } = options;
  const file = checkPlainFileName(manifest.tokenizerFile, 'tokenizerFile', `model ${manifest.modelId}`);
  const path = join(options.dir, file);
  if (existsSync(path) && sha256File(path) === manifest.tokenizerSha256)
    return { path, fetchedBytes: 0, resumedFrom: 0, requests: 0 };
  const source = `${options.url.protocol}//${options.url.host}${options.url.pathname}`;
  const tensors = manifest.tensors ?? [];
  const headerEnd = tensors.length === 0 ? 0 : Math.min(...tensors.map((t) => t.offset));
  if (headerEnd === 0 || headerEnd > GGUF_LIMITS.headerBytes)
    throw new TesseraError(
      'MANIFEST_NO_TENSORS',
      'failed_precondition',
      `the manifest of ${manifest.modelId} ${headerEnd === 0 ? 'describes no tensors' : `puts the first tensor at byte ${headerEnd}, past the ${GGUF_LIMITS.headerBytes}-byte header bound`}: the tokenizer cannot be read from the model's head`,
    );
  const header = Buffer.alloc(headerEnd);
  let held = 0;
  await readRange(
    { url: options.url, start: 0, end: headerEnd, sourceBytes: manifest.source.bytes, ...deadlineOf(options) },
    (chunk) => {
      header.set(chunk, held);
      held += chunk.length;
    },
  );
  const { metadata, metadataTypes, alignment } = parseGgufHeader(header, manifest.source.bytes, source);
  const part = `${path}.part`;
  writeTokenizerFile(part, modelMetadata(metadata, metadataTypes), alignment);
  const actual = sha256File(part);
  if (actual !== manifest.tokenizerSha256) {
    rmSync(part, { force: true });
    log('shard_file_mismatch', { file, source, sha256: actual, expectedSha256: manifest.tokenizerSha256 });
    throw new ShardHashMismatchError(
      `the tokenizer file written from the header at ${source} has SHA-256 ${actual}, the manifest says ${manifest.tokenizerSha256}: deleted, not used`,
    );
  }
  renameSync(part, path);
  log('tokenizer_file_assembled', { file, source, fetchedBytes: headerEnd, sha256: actual });
  return { path, fetchedBytes: headerEnd, resumedFrom: 0, requests: 1 };
}

const deadlineOf = (options: { readonly deadlineMs?: number }) =>
  options.deadlineMs === undefined ? {} : { deadlineMs: options.deadlineMs };
