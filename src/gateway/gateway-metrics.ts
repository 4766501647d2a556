import type { Counter, Histogram, Metrics } from '../metrics/metrics.ts';

/** From a cached route on a small model (tens of ms) to a long prompt on a big one (tens of seconds). */
const FIRST_TOKEN_SECONDS_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

const ROUTES = ['/healthz', '/v1/models', '/v1/completions', '/v1/chat/completions'];

/** A request's path as a metric label: the API's routes, one label for every model id, 'other' for the rest. */
export function routeLabel(url: string | undefined): string {
  const path = (url ?? '/').split('?')[0]!.replace(/\/+$/, '');
  if (ROUTES.includes(path)) return path;
  if (path.startsWith('/v1/models/')) return '/v1/models/{model}';
  return 'other';
}

/** A gateway's figures, counted as requests are answered. */
export class GatewayMetrics {
  readonly #requests: Counter;
  readonly #tokens: Counter;
  readonly #firstToken: Histogram;

  constructor(
    metrics: Metrics,
    admission?: { readonly running: number; readonly queued: number; readonly arriving: number },
  ) {
    if (admission) {
      metrics.gauge({
        name: 'tessera_gateway_requests_generating',
        help: "Requests holding one of the gateway's generation slots.",
        collect: (set) => set(admission.running),
      });
      metrics.gauge({
        name: 'tessera_gateway_requests_queued',
        help: 'Requests waiting for a generation slot, in arrival order.',
        collect: (set) => set(admission.queued),
      });
      metrics.gauge({
        name: 'tessera_gateway_requests_arriving',
        help: 'Requests whose body is being read and prompt checked, before they take a place in line.',
        collect: (set) => set(admission.arriving),
      });
    }
    this.#requests = metrics.counter({
      name: 'tessera_gateway_requests_total',
      help: 'HTTP requests answered, by route and status (client_closed: the client left before any answer).',
      labelNames: ['route', 'status'],
    });
    this.#tokens = metrics.counter({
      name: 'tessera_gateway_tokens_generated_total',
      help: 'Completion tokens generated for clients.',
    });
    this.#firstToken = metrics.histogram({
      name: 'tessera_gateway_time_to_first_token_seconds',
      help: "From a completion request's arrival to its first generated token, in seconds.",
      buckets: FIRST_TOKEN_SECONDS_BUCKETS,
    });
  }

  /** A request ended; `status` undefined when no answer was sent. */
  request(route: string, status: number | undefined): void {
    this.#requests.labels(route, status === undefined ? 'client_closed' : String(status)).inc();
  }

  tokensGenerated(count: number): void {
    this.#tokens.inc(count);
  }

  firstToken(seconds: number): void {
    this.#firstToken.observe(seconds);
  }
}
