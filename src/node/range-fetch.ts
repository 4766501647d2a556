import { TesseraError, type ErrorKind } from '../core/errors.ts';

/**
 * One HTTP range request for bytes of a model's GGUF file, read with a bound: a server that ignores
 * the range (200 and the whole file), answers another range or sends more than asked is cut off
 * with a reason before its excess bytes reach anyone, and a redirect is followed only to https.
 */

export type RangeFetchCode =
  | 'RANGE_IGNORED'
  | 'RANGE_MISMATCH'
  | 'RANGE_TOO_LONG'
  | 'RANGE_INCOMPLETE'
  | 'SOURCE_SIZE_MISMATCH'
  | 'REDIRECT_REFUSED'
  | 'MODEL_URL_FAILED';

export class RangeFetchError extends TesseraError {
  constructor(code: RangeFetchCode, kind: ErrorKind, message: string, options?: { readonly cause?: unknown }) {
    super(code, kind, message, options);
  }
}

export interface RangeRequest {
  readonly url: URL;
  /** First byte, inclusive. */
  readonly start: number;
  /** Last byte, exclusive. */
  readonly end: number;
  /** The source file's size per the manifest: a server naming another total serves another file. */
  readonly sourceBytes?: number;
  /** Per request, redirects included. Default 10 minutes. */
  readonly deadlineMs?: number;
}

const MAX_REDIRECTS = 5;
const CONTENT_RANGE = /^bytes (\d+)-(\d+)\/(\d+|\*)$/;

/** Where a request ended up, for messages: the host and path, never a signed redirect's query. */
const shown = (url: URL) => `${url.protocol}//${url.host}${url.pathname}`;

function parseUrl(location: string, base: URL): URL | undefined {
  try {
    return new URL(location, base);
  } catch {
    return undefined;
  }
}

/**
 * Reads bytes [start, end) of the file at `url`, handing each chunk to `onChunk` as it arrives;
 * resolves once all have arrived. Rejects with a RangeFetchError; chunks handed over before the
 * failure were the right bytes of the range, in order.
 */
export async function readRange(request: RangeRequest, onChunk: (chunk: Uint8Array) => void): Promise<void> {
  const { start, end } = request;
  const want = end - start;
  const controller = new AbortController();
  const signal = AbortSignal.any([controller.signal, AbortSignal.timeout(request.deadlineMs ?? 600_000)]);
  let url = request.url;
  let response: Response;
  for (let hops = 0; ; hops++) {
    try {
      response = await fetch(url, { headers: { range: `bytes=${start}-${end - 1}` }, redirect: 'manual', signal });
    } catch (error) {
      throw new RangeFetchError(
        'MODEL_URL_FAILED',
        'unavailable',
        `${shown(url)}: ${(error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message}`,
        { cause: error },
      );
    }
    if (response.status < 300 || response.status >= 400) break;
    await response.body?.cancel();
    const location = response.headers.get('location');
    const next = location === null ? undefined : parseUrl(location, url);
    if (next === undefined)
      throw new RangeFetchError(
        'MODEL_URL_FAILED',
        'unavailable',
        `${shown(url)} answered ${response.status} without a usable Location`,
      );
    if (next.protocol !== 'https:')
      throw new RangeFetchError(
        'REDIRECT_REFUSED',
        'failed_precondition',
        `${shown(url)} redirected to ${next.protocol} (${next.host}): only redirects to https: are followed`,
      );
    if (hops + 1 >= MAX_REDIRECTS)
      throw new RangeFetchError(
        'REDIRECT_REFUSED',
        'failed_precondition',
        `${shown(request.url)}: more than ${MAX_REDIRECTS} redirects`,
      );
    url = next;
  }
  const refuse = async (code: RangeFetchCode, kind: ErrorKind, problem: string): Promise<never> => {
    controller.abort();
    await response.body?.cancel().catch(() => undefined);
    throw new RangeFetchError(code, kind, `${shown(url)}: ${problem}`);
  };
  if (response.status === 200)
    return refuse(
      'RANGE_IGNORED',
      'failed_precondition',
      `answered 200 (the whole file) to a request for bytes ${start}-${end - 1}: the server does not serve ranges; a node fetches only its own bytes, so use a server that does (206 Partial Content)`,
    );
  if (response.status !== 206)
    // A server error may pass; a 404 or 403 will not, and is not asked again.
    return refuse(
      'MODEL_URL_FAILED',
      response.status >= 500 ? 'unavailable' : 'failed_precondition',
      `answered ${response.status} to a range request for bytes ${start}-${end - 1}`,
    );
  const range = CONTENT_RANGE.exec(response.headers.get('content-range') ?? '');
  if (!range || Number(range[1]) !== start || Number(range[2]) !== end - 1)
    return refuse(
      'RANGE_MISMATCH',
      'failed_precondition',
      `answered Content-Range ${JSON.stringify(response.headers.get('content-range'))} to a request for bytes ${start}-${end - 1}`,
    );
  if (request.sourceBytes !== undefined && range[3] !== '*' && Number(range[3]) !== request.sourceBytes)
    return refuse(
      'SOURCE_SIZE_MISMATCH',
      'failed_precondition',
      `the file there has ${range[3]} bytes, the manifest's source has ${request.sourceBytes}: it is another file or revision`,
    );
  const length = response.headers.get('content-length');
  if (length !== null && Number(length) !== want)
    return refuse(
      Number(length) > want ? 'RANGE_TOO_LONG' : 'RANGE_MISMATCH',
      'failed_precondition',
      `announced ${length} bytes for a range of ${want}`,
    );
  if (response.body === null)
    throw new RangeFetchError('RANGE_INCOMPLETE', 'unavailable', `${shown(url)}: answered 206 without a body`);
  let received = 0;
  const reader = response.body.getReader();
  try {
    for (;;) {
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await reader.read();
      } catch (error) {
        throw new RangeFetchError(
          'RANGE_INCOMPLETE',
          'unavailable',
          `${shown(url)}: the connection broke after ${received} of ${want} bytes (${(error as Error).message})`,
          { cause: error },
        );
      }
      if (next.done) break;
      if (received + next.value.length > want) {
        controller.abort();
        await reader.cancel().catch(() => undefined);
        throw new RangeFetchError(
          'RANGE_TOO_LONG',
          'failed_precondition',
          `${shown(url)}: sent more than the ${want} bytes asked for`,
        );
      }
      received += next.value.length;
      try {
        onChunk(next.value);
      } catch (error) {
        // The reader refused the bytes (a tensor failed its hash): the rest of the range is not wanted.
        controller.abort();
        await reader.cancel().catch(() => undefined);
        throw error;
      }
    }
  } finally {
    reader.releaseLock();
  }
  if (received !== want)
    throw new RangeFetchError(
      'RANGE_INCOMPLETE',
      'unavailable',
      `${shown(url)}: sent ${received} of the ${want} bytes asked for`,
    );
}
