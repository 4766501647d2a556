import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';

export type ModelSourceErrorCode =
  'BAD_SPEC' | 'NOT_FOUND' | 'OFFLINE' | 'HTTP' | 'SIZE_MISMATCH' | 'HASH_MISMATCH' | 'INTERRUPTED';

export class ModelSourceError extends Error {
  constructor(
    readonly code: ModelSourceErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ModelSourceError';
  }
}

export interface ResolveOptions {
  /** Downloads land in `<cacheDir>/hf/OWNER/REPO/FILE`. */
  readonly cacheDir: string;
  /** Called as bytes arrive (from the resumed offset on); `totalBytes` is undefined when the server does not say. */
  readonly onProgress?: (receivedBytes: number, totalBytes: number | undefined) => void;
  readonly fetch?: typeof fetch;
  /** Defaults to https://huggingface.co; tests point it at a local server. */
  readonly hubUrl?: string;
  /** A Hugging Face access token, for gated or private repositories. */
  readonly token?: string;
  /** How many times a dropped connection is resumed within one call. */
  readonly retries?: number;
}

export interface HfFileSpec {
  readonly owner: string;
  readonly repo: string;
  readonly file: string;
}

const SAFE_PART = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Parses `hf:OWNER/REPO/FILE` (FILE may contain folders); undefined when `spec` is not an hf: name. */
export function parseHfSpec(spec: string): HfFileSpec | undefined {
  if (!spec.startsWith('hf:')) return undefined;
  const [owner, repo, ...rest] = spec.slice(3).split('/');
  const file = rest.join('/');
  // Each part becomes a path under the cache directory, so none may climb out of it.
  if (
    !owner ||
    !repo ||
    rest.length === 0 ||
    ![owner, repo, ...rest].every((part) => SAFE_PART.test(part) && part !== '..')
  ) {
    throw new ModelSourceError('BAD_SPEC', `"${spec}" is not a model name of the form hf:OWNER/REPO/FILE`);
  }
  return { owner, repo, file };
}

const NETWORK_ERROR_CODES = new Set([
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNREFUSED',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ETIMEDOUT',
  'ECONNRESET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
]);

function networkErrorCode(error: unknown): string | undefined {
  for (
    let e = error as { code?: unknown; cause?: unknown } | undefined, depth = 0;
    e && depth < 5;
    e = e.cause as typeof e, depth++
  ) {
    if (typeof e.code === 'string' && NETWORK_ERROR_CODES.has(e.code)) return e.code;
  }
  return undefined;
}

function offline(spec: string, url: string, code: string): ModelSourceError {
  return new ModelSourceError(
    'OFFLINE',
    `cannot download ${spec}: the network is unreachable (${code} for ${new URL(url).host}). ` +
      'Copy the model file to this machine and pass it with --model PATH.',
  );
}

/** The sha256 a Hugging Face ETag carries for LFS files (64 hex digits), if it carries one. */
function sha256FromEtag(etag: string | null): string | undefined {
  const value = etag?.replace(/^W\//, '').replace(/"/g, '').trim().toLowerCase();
  return value && /^[0-9a-f]{64}$/.test(value) ? value : undefined;
}

function sizeHeader(value: string | null): number | undefined {
  const size = value === null ? NaN : Number(value);
  return Number.isSafeInteger(size) && size >= 0 ? size : undefined;
}

interface RemoteFile {
  readonly url: string;
  readonly size?: number;
  readonly sha256?: string;
}

/**
 * Asks the hub about the file without following its redirect to the CDN: Hugging Face's resolve
 * endpoint puts the LFS sha256 and size (`x-linked-etag`, `x-linked-size`) on that redirect, which the
 * CDN's answer lacks. Redirects within the hub (a renamed repository) are followed.
 */
async function describeRemote(
  spec: string,
  url: string,
  doFetch: typeof fetch,
  headers: Record<string, string>,
  hops = 0,
): Promise<RemoteFile> {
  let response: Response;
  try {
    response = await doFetch(url, { method: 'HEAD', redirect: 'manual', headers });
  } catch (error) {
    const code = networkErrorCode(error);
    if (code) throw offline(spec, url, code);
    throw error;
  }
  const linkedEtag = response.headers.get('x-linked-etag');
  const sha256 = sha256FromEtag(linkedEtag ?? response.headers.get('etag'));
  if (response.status >= 300 && response.status < 400) {
    const location = response.headers.get('location');
    if (!location) throw new ModelSourceError('HTTP', `cannot download ${spec}: ${url} redirects without a Location`);
    const next = new URL(location, url);
    const isLfsRedirect = linkedEtag !== null || response.headers.has('x-linked-size');
    if (!isLfsRedirect && next.host === new URL(url).host && hops < 5)
      return describeRemote(spec, next.toString(), doFetch, headers, hops + 1);
    return { url: next.toString(), size: sizeHeader(response.headers.get('x-linked-size')), sha256 };
  }
  if (response.status === 404)
    throw new ModelSourceError('NOT_FOUND', `cannot download ${spec}: ${url} does not exist (404)`);
  if (response.status === 401 || response.status === 403) {
    throw new ModelSourceError(
      'HTTP',
      `cannot download ${spec}: ${url} answered ${response.status}; the repository may be gated or private (it needs an access token)`,
    );
  }
  if (!response.ok)
    throw new ModelSourceError(
      'HTTP',
      `cannot download ${spec}: ${url} answered ${response.status} ${response.statusText}`,
    );
  return {
    url,
    size: sizeHeader(response.headers.get('x-linked-size') ?? response.headers.get('content-length')),
    sha256,
  };
}

function partSize(part: string): number {
  return existsSync(part) ? statSync(part).size : 0;
}

/** Appends the remote bytes after what `part` already holds; a dropped connection leaves `part` for the next try. */
async function fetchInto(
  spec: string,
  remote: RemoteFile,
  part: string,
  doFetch: typeof fetch,
  headers: Record<string, string>,
  report: (received: number) => void,
): Promise<void> {
  let have = partSize(part);
  if (remote.size !== undefined && have === remote.size) return;
  if (remote.size !== undefined && have > remote.size) {
    rmSync(part);
    have = 0;
  }
  const response = await doFetch(remote.url, { headers: have > 0 ? { ...headers, range: `bytes=${have}-` } : headers });
  if (response.status === 206) {
    const start = /^bytes (\d+)-/.exec(response.headers.get('content-range') ?? '')?.[1];
    if (Number(start) !== have) {
      await response.body?.cancel();
      throw new ModelSourceError(
        'HTTP',
        `cannot download ${spec}: ${remote.url} answered range bytes=${have}- with Content-Range ${response.headers.get('content-range')}`,
      );
    }
  } else if (response.status === 200) {
    have = 0; // a server that ignores the range sends the whole file
  } else {
    await response.body?.cancel();
    throw new ModelSourceError(
      'HTTP',
      `cannot download ${spec}: ${remote.url} answered ${response.status} ${response.statusText}`,
    );
  }
  if (!response.body) throw new ModelSourceError('HTTP', `cannot download ${spec}: ${remote.url} sent no body`);
  const handle = await open(part, have === 0 ? 'w' : 'a');
  try {
    let received = have;
    report(received);
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
      await handle.write(chunk);
      received += chunk.length;
      report(received);
    }
  } finally {
    await handle.close();
  }
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function download(spec: string, hf: HfFileSpec, target: string, options: ResolveOptions): Promise<void> {
  const doFetch = options.fetch ?? fetch;
  const hub = (options.hubUrl ?? 'https://huggingface.co').replace(/\/+$/, '');
  const url = `${hub}/${hf.owner}/${hf.repo}/resolve/main/${hf.file.split('/').map(encodeURIComponent).join('/')}`;
  const headers: Record<string, string> = options.token ? { authorization: `Bearer ${options.token}` } : {};
  const remote = await describeRemote(spec, url, doFetch, headers);
  const part = `${target}.part`;
  mkdirSync(dirname(target), { recursive: true });
  const report = (receivedBytes: number) => options.onProgress?.(receivedBytes, remote.size);

  const attempts = 1 + (options.retries ?? 3);
  for (let attempt = 1; ; attempt++) {
    try {
      await fetchInto(spec, remote, part, doFetch, headers, report);
      break;
    } catch (error) {
      if (error instanceof ModelSourceError) throw error;
      const code = networkErrorCode(error);
      const have = partSize(part);
      if (code && have === 0 && attempt === 1) throw offline(spec, remote.url, code);
      if (attempt >= attempts) {
        throw new ModelSourceError(
          'INTERRUPTED',
          `downloading ${spec} was interrupted at ${have} bytes (${(error as Error).message}); run again to resume from ${part}`,
        );
      }
    }
  }

  const size = partSize(part);
  if (remote.size !== undefined && size !== remote.size) {
    rmSync(part, { force: true });
    throw new ModelSourceError(
      'SIZE_MISMATCH',
      `downloaded ${spec} has ${size} bytes, the server announced ${remote.size}; the partial file was removed`,
    );
  }
  if (remote.sha256 !== undefined) {
    const actual = await sha256Of(part);
    if (actual !== remote.sha256) {
      rmSync(part, { force: true });
      throw new ModelSourceError(
        'HASH_MISMATCH',
        `downloaded ${spec} has sha256 ${actual}, the server announced ${remote.sha256}; the file was removed`,
      );
    }
  }
  renameSync(part, target);
}

/**
 * Turns a model spec into a local path: a path is returned as is (a GGUF file or a Hugging Face
 * directory); `hf:OWNER/REPO/FILE` is downloaded into the cache on first use (resuming a `.part` file
 * left by an interrupted download, checking the size and, for LFS files, the sha256) and reused after.
 */
export async function resolveModelSource(spec: string, options: ResolveOptions): Promise<string> {
  const hf = parseHfSpec(spec);
  if (!hf) {
    const path = resolve(spec);
    if (!existsSync(path)) throw new ModelSourceError('NOT_FOUND', `${spec}: no such file or directory`);
    return path;
  }
  const target = join(resolve(options.cacheDir), 'hf', hf.owner, hf.repo, ...hf.file.split('/'));
  if (!existsSync(target)) await download(spec, hf, target, options);
  return target;
}
