// A real HTTP server on 127.0.0.1 serving one file with byte ranges (RFC 9110: `Range: bytes=a-b`,
// 206 and Content-Range), as a model's origin (Hugging Face, a mirror) does; what it served is
// counted. Its options make it misbehave the ways a hostile or broken origin would: alter the bytes
// of one span, ignore ranges (200 and the whole file), send more than asked, redirect elsewhere.
// Served over TLS when given a certificate, on any loopback address; TCP connections are counted,
// so a test can tell that a host a node must not reach was not even sent a TLS handshake.
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

export interface RangeFileServerOptions {
  /** Bytes [start, end) of the file are served XORed with 0xff. */
  readonly alter?: { readonly start: number; readonly end: number };
  /** Answer 200 with the whole file, whatever the Range. */
  readonly ignoreRange?: boolean;
  /** Send this many bytes past the range asked (chunked, no Content-Length). */
  readonly extraBytes?: number;
  /** Answer 302 to this location instead. */
  readonly redirectTo?: string;
  /** Serve https with this certificate and key (PEM file paths, as selfSignedCert writes them). */
  readonly tls?: { readonly cert: string; readonly key: string };
  /** The address listened on (a loopback one). Default 127.0.0.1. */
  readonly host?: string;
}

export interface RangeFileServer {
  /** http://127.0.0.1:PORT/NAME (https: and the `host` option's address when given). */
  readonly url: string;
  readonly port: number;
  /** TCP connections accepted, handshakes or not. */
  readonly connections: () => number;
  /** Body bytes sent, all requests together. */
  readonly servedBytes: () => number;
  /** The Range header of every request, in order. */
  readonly ranges: string[];
  close(): Promise<void>;
}

const RANGE = /^bytes=(\d+)-(\d+)$/;

export async function startRangeFileServer(
  path: string,
  name: string,
  options: RangeFileServerOptions = {},
): Promise<RangeFileServer> {
  const file = readFileSync(path);
  const served = options.alter === undefined ? file : Buffer.from(file);
  if (options.alter !== undefined)
    for (let i = options.alter.start; i < options.alter.end; i++) served[i] = served[i]! ^ 0xff;
  let sent = 0;
  const ranges: string[] = [];
  const send = (response: ServerResponse, body: Buffer) => {
    sent += body.length;
    response.end(body);
  };
  const handler = (request: IncomingMessage, response: ServerResponse) => {
    ranges.push(request.headers.range ?? '');
    if (request.url !== `/${name}`) {
      response.writeHead(404).end();
      return;
    }
    if (options.redirectTo !== undefined) {
      response.writeHead(302, { location: options.redirectTo }).end();
      return;
    }
    const range = RANGE.exec(request.headers.range ?? '');
    if (options.ignoreRange || range === null) {
      response.writeHead(200, { 'content-length': served.length, 'accept-ranges': 'bytes' });
      send(response, served);
      return;
    }
    const start = Number(range[1]);
    const end = Number(range[2]);
    if (start > end || end >= served.length) {
      response.writeHead(416, { 'content-range': `bytes */${served.length}` }).end();
      return;
    }
    const body = served.subarray(start, end + 1);
    if (options.extraBytes !== undefined) {
      response.writeHead(206, { 'content-range': `bytes ${start}-${end}/${served.length}` });
      response.write(body);
      sent += body.length;
      send(response, Buffer.alloc(options.extraBytes, 0x55));
      return;
    }
    response.writeHead(206, {
      'content-range': `bytes ${start}-${end}/${served.length}`,
      'content-length': body.length,
    });
    send(response, body);
  };
  const server =
    options.tls === undefined
      ? createServer(handler)
      : createTlsServer({ cert: readFileSync(options.tls.cert), key: readFileSync(options.tls.key) }, handler);
  let connections = 0;
  server.on('connection', () => connections++);
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `${options.tls === undefined ? 'http' : 'https'}://${shownHost}:${port}/${name}`,
    port,
    connections: () => connections,
    servedBytes: () => sent,
    ranges,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
