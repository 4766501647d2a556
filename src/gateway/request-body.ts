import type { IncomingMessage } from 'node:http';
import { ApiError, badRequest } from './api-error.ts';

/** The request's path, percent-decoded segment by segment; 400 for a target that is not a URL. */
export function requestPath(target: string | undefined): string {
  let pathname: string;
  try {
    pathname = new URL(target ?? '/', 'http://gateway').pathname;
  } catch {
    throw badRequest(`the request target ${JSON.stringify(target)} is not a URL`, null, 'INVALID_URL');
  }
  return pathname.replace(/\/+$/, '');
}

/** A percent-encoded path segment decoded; 400 for a malformed escape or bytes that are not UTF-8. */
export function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw badRequest(
      `the URL path segment ${JSON.stringify(segment)} has a malformed percent-encoding (each %XX must encode UTF-8)`,
      null,
      'INVALID_URL',
    );
  }
}

function tooLarge(maxBytes: number): ApiError {
  return new ApiError('BODY_TOO_LARGE', 'invalid', `the request body exceeds ${maxBytes} bytes`, { status: 413 });
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads a JSON body of at most `maxBytes`: a declared length over the bound is refused before a
 * byte is read, and an undeclared one as soon as the bytes read pass it, so a large body costs
 * neither memory nor parsing.
 */
export async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge(maxBytes);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw tooLarge(maxBytes);
    chunks.push(chunk);
  }
  let text: string;
  try {
    text = utf8.decode(Buffer.concat(chunks, size));
  } catch {
    throw badRequest('the request body is not valid UTF-8', null, 'INVALID_JSON');
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw badRequest(
      `We could not parse the JSON body of your request: ${(error as Error).message}. (The body must be a JSON object.)`,
      null,
      'INVALID_JSON',
    );
  }
}
