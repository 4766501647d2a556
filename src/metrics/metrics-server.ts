import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TEXT_CONTENT_TYPE, type Metrics } from './metrics.ts';

/** What /healthz answers: 200 when healthy, else 503 with the reason. */
export interface Health {
  readonly healthy: boolean;
  /** Why the role is not healthy: the first thing an operator reads. */
  readonly reason?: string;
  /** More facts for the answer's body (ids, endpoints, counts). */
  readonly details?: Readonly<Record<string, unknown>>;
}

export const healthy = (details: Readonly<Record<string, unknown>> = {}): Health => ({ healthy: true, details });
export const unhealthy = (reason: string, details: Readonly<Record<string, unknown>> = {}): Health => ({
  healthy: false,
  reason,
  details,
});

export interface MetricsServerOptions {
  /** Named in every /healthz answer. */
  readonly role: string;
  readonly metrics: Metrics;
  readonly health: () => Health | Promise<Health>;
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
}

export interface MetricsServer {
  readonly port: number;
  /** http://HOST:PORT */
  readonly url: string;
  close(): Promise<void>;
}

const PATHS = new Set(['/metrics', '/healthz']);

function send(
  res: ServerResponse,
  status: number,
  contentType: string,
  body: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

/** The body of a /healthz answer. */
export function healthBody(role: string, health: Health): Record<string, unknown> {
  return health.healthy
    ? { status: 'ok', role, ...health.details }
    : { status: 'unhealthy', role, reason: health.reason ?? 'unhealthy', ...health.details };
}

async function answer(options: MetricsServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://metrics').pathname;
  if (!PATHS.has(path))
    return send(
      res,
      404,
      'text/plain; charset=utf-8',
      `no ${path} here: this endpoint serves GET /metrics and GET /healthz\n`,
    );
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    return send(res, 405, 'text/plain; charset=utf-8', `${req.method} ${path} is not allowed: use GET\n`, {
      allow: 'GET, HEAD',
    });
  }
  if (path === '/metrics') {
    let text: string;
    try {
      text = await options.metrics.render();
    } catch (error) {
      return send(
        res,
        500,
        'text/plain; charset=utf-8',
        `the metrics could not be read: ${(error as Error).message}\n`,
      );
    }
    return send(res, 200, TEXT_CONTENT_TYPE, text);
  }
  let health: Health;
  try {
    health = await options.health();
  } catch (error) {
    health = unhealthy(`the health check failed: ${(error as Error).message}`);
  }
  send(res, health.healthy ? 200 : 503, 'application/json', `${JSON.stringify(healthBody(options.role, health))}\n`);
}

/** Serves GET /metrics (Prometheus text) and GET /healthz (JSON) over plain HTTP. */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const server = createServer((req, res) => void answer(options, req, res));
  const { host } = options;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) =>
      reject(new Error(`cannot serve metrics on ${host}:${options.port}: ${error.message}`)),
    );
    server.listen(options.port, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Scrapers keep their connections open between scrapes.
        server.closeAllConnections();
      }),
  };
}
