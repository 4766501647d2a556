import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { TesseraError, type ErrorKind } from '../core/errors.ts';
import { RegistryModelUrl, resolvePinned, type AddressClassifier, type PinnedHost } from './range-fetch-url.ts';

/**
 * One HTTP range request for bytes of a model's GGUF file, read with a bound: a server that ignores
 * the range (200 and the whole file), answers another range or sends more than asked is cut off
 * with a reason before its excess bytes reach anyone, and a redirect is followed only to https.
 * A URL a registry supplied (RegistryModelUrl), and any redirect from it or from a public host, is
 * fetched only from public addresses (MODEL_URL_PRIVATE otherwise): the host is resolved once, every
 * address checked, and the connection made to those addresses, so a second DNS answer cannot aim it
 * elsewhere. Nothing is sent to a refused host, not even a TLS handshake.
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
  /** A RegistryModelUrl is fetched from public addresses only. */
  readonly url: URL;
  /** First byte, inclusive. */
  readonly start: number;
  /** Last byte, exclusive. */
  readonly end: number;
  /** The source file's size per the manifest: a server naming another total serves another file. */
  readonly sourceBytes?: number;
  /** Per request, redirects included. Default 10 minutes. */
  readonly deadlineMs?: number;
  /**
   * Which addresses are not public (default nonPublicClass): a test names a loopback address
   * public to stand for a host on the internet.
   */
  readonly testOnlyClassify?: AddressClassifier;
}

const MAX_REDIRECTS = 5;
const CONTENT_RANGE = /^bytes (\d+)-(\d+)\/(\d+|\*)$/;

/** Where a request ended up, for messages: the host and path, never a signed redirect's query. */
const shown = (url: URL) => `${url.protocol}//${url.host}${url.pathname}`;

/**
 * Connections kept for the next request, apart for hosts checked public: a connection opened to
 * an address no one checked is never reused for a request that needs a public one.
 */
const agents = {
  checked: { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) },
  unchecked: { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) },
};

/** Sends one GET to `url`, connecting only to `host`'s addresses; resolves with the response head. */
function send(
  url: URL,
  host: PinnedHost,
  checked: boolean,
  range: string,
  signal: AbortSignal,
): Promise<IncomingMessage> {
  const secure = url.protocol === 'https:';
  const pool = checked ? agents.checked : agents.unchecked;
  return new Promise((resolve, reject) => {
    const request = (secure ? httpsRequest : httpRequest)(
      url,
      { headers: { range }, signal, lookup: host.lookup, agent: secure ? pool.https : pool.http },
      resolve,
    );
    request.once('error', reject);
    request.end();
  });
}

function parseUrl(location: string, base: URL): URL | undefined {
  try {
    return new URL(location, base);
  } catch {
    return undefined;
  }
}

/**
 * Reads bytes [start, end) of the file at `url`, handing each chunk to `onChunk` as it arrives;
 * resolves once all have arrived. Rejects with a RangeFetchError (a ModelUrlPrivateError for a host
 * that is not public where only one may be); chunks handed over before the failure were the right
 * bytes of the range, in order.
 */
export async function readRange(request: RangeRequest, onChunk: (chunk: Uint8Array) => void): Promise<void> {
  const { start, end } = request;
  const want = end - start;
  const signal = AbortSignal.timeout(request.deadlineMs ?? 600_000);
  const fromRegistry = request.url instanceof RegistryModelUrl;
  let url: URL = request.url;
  let response: IncomingMessage;
  // An operator's URL to a host in their own network may redirect within it; once a public host is
  // on the way, nothing it redirects to may lead the node back into that network.
  let redirectsPublicOnly = fromRegistry;
  for (let hops = 0; ; hops++) {
    const publicOnly = hops === 0 ? (fromRegistry ? 'registry' : false) : redirectsPublicOnly ? 'redirect' : false;
    let host: PinnedHost;
    try {
      host = await resolvePinned(url, {
        publicOnly,
        ...(request.testOnlyClassify === undefined ? {} : { classify: request.testOnlyClassify }),
      });
    } catch (error) {
      if (error instanceof TesseraError) throw error;
      throw new RangeFetchError('MODEL_URL_FAILED', 'unavailable', `${shown(url)}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    redirectsPublicOnly ||= host.public;
    try {
      response = await send(url, host, publicOnly !== false, `bytes=${start}-${end - 1}`, signal);
    } catch (error) {
      throw new RangeFetchError('MODEL_URL_FAILED', 'unavailable', `${shown(url)}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    const status = response.statusCode ?? 0;
    if (status < 300 || status >= 400) break;
    response.destroy();
    const location = response.headers.location;
    const next = location === undefined ? undefined : parseUrl(location, url);
    if (next === undefined)
      throw new RangeFetchError(
        'MODEL_URL_FAILED',
        'unavailable',
        `${shown(url)} answered ${status} without a usable Location`,
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
  const status = response.statusCode ?? 0;
  const refuse = (code: RangeFetchCode, kind: ErrorKind, problem: string): never => {
    response.destroy();
    throw new RangeFetchError(code, kind, `${shown(url)}: ${problem}`);
  };
  if (status === 200)
    return refuse(
      'RANGE_IGNORED',
      'failed_precondition',
      `answered 200 (the whole file) to a request for bytes ${start}-${end - 1}: the server does not serve ranges; a node fetches only its own bytes, so use a server that does (206 Partial Content)`,
    );
  if (status !== 206)
    // A server error may pass; a 404 or 403 will not, and is not asked again.
    return refuse(
      'MODEL_URL_FAILED',
      status >= 500 ? 'unavailable' : 'failed_precondition',
      `answered ${status} to a range request for bytes ${start}-${end - 1}`,
    );
  const contentRange = response.headers['content-range'];
  const range = CONTENT_RANGE.exec(contentRange ?? '');
  if (!range || Number(range[1]) !== start || Number(range[2]) !== end - 1)
    return refuse(
      'RANGE_MISMATCH',
      'failed_precondition',
      `answered Content-Range ${JSON.stringify(contentRange ?? null)} to a request for bytes ${start}-${end - 1}`,
    );
  if (request.sourceBytes !== undefined && range[3] !== '*' && Number(range[3]) !== request.sourceBytes)
    return refuse(
      'SOURCE_SIZE_MISMATCH',
      'failed_precondition',
      `the file there has ${range[3]} bytes, the manifest's source has ${request.sourceBytes}: it is another file or revision`,
    );
  const length = response.headers['content-length'];
  if (length !== undefined && Number(length) !== want)
    return refuse(
      Number(length) > want ? 'RANGE_TOO_LONG' : 'RANGE_MISMATCH',
      'failed_precondition',
      `announced ${length} bytes for a range of ${want}`,
    );
  let received = 0;
  /** What the reader threw: passed on as it is, not taken for a broken connection. */
  let refused: { readonly error: unknown } | undefined;
  try {
    for await (const chunk of response as AsyncIterable<Buffer>) {
      if (received + chunk.length > want)
        throw new RangeFetchError(
          'RANGE_TOO_LONG',
          'failed_precondition',
          `${shown(url)}: sent more than the ${want} bytes asked for`,
        );
      received += chunk.length;
      try {
        onChunk(chunk);
      } catch (error) {
        // A tensor failed its hash: the rest of the range is not wanted.
        refused = { error };
        throw error;
      }
    }
  } catch (error) {
    response.destroy();
    if (refused !== undefined || error instanceof RangeFetchError) throw error;
    throw new RangeFetchError(
      'RANGE_INCOMPLETE',
      'unavailable',
      `${shown(url)}: the connection broke after ${received} of ${want} bytes (${(error as Error).message})`,
      { cause: error },
    );
  }
  if (received !== want)
    throw new RangeFetchError(
      'RANGE_INCOMPLETE',
      'unavailable',
      `${shown(url)}: sent ${received} of the ${want} bytes asked for`,
    );
}
