import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect, type ConnectOptions, type TesseraClient } from '../client/client.ts';
import {
  GenerationFailedError,
  GenerationInputError,
  type FinishReason,
  type GeneratedToken,
} from '../client/generation.ts';
import { HopFailure } from '../client/pipeline-session.ts';
import { RegistriesUnavailableError, UnknownModelError } from '../client/registry-pool.ts';
import { NoRouteError } from '../client/routing.ts';
import { AccessGuard, checkJsonContentType, PREFLIGHT_HEADERS, type AccessOptions } from './access.ts';
import { Admission } from './admission.ts';
import { ApiError, badRequest } from './api-error.ts';
import { CapacityWatch } from './cluster-capacity.ts';
import { parseChatRequest, parseCompletionRequest, type ParsedRequest } from './openai-request.ts';
import { checkPromptChars, checkPromptTokens } from './prompt-bounds.ts';
import { decodeSegment, readJsonBody, requestPath } from './request-body.ts';
import {
  chatRoleChunk,
  fullResponse,
  streamChunk,
  usageChunk,
  usageCounts,
  type Piece,
  type ResponseContext,
} from './openai-response.ts';
import { StopMatcher } from './stop-matcher.ts';
import { Metrics } from '../metrics/metrics.ts';
import { healthBody, healthy, type Health } from '../metrics/metrics-server.ts';
import { GatewayMetrics, routeLabel } from './gateway-metrics.ts';
import { GATEWAY_DEFAULTS } from './gateway-defaults.ts';

export { GATEWAY_DEFAULTS };

export interface GatewayOptions extends ConnectOptions, AccessOptions {
  /** 0 picks a free port. */
  readonly port: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Where the gateway's figures go (src/metrics); none: they are kept but never read. */
  readonly metrics?: Metrics;
  /** Requests generating at once; default: as many sessions as the network can hold, read from its registries. */
  readonly maxConcurrent?: number;
  readonly maxQueue?: number;
  readonly maxBodyBytes?: number;
  readonly maxPromptChars?: number;
}

export interface GatewayHandle {
  readonly port: number;
  /** http://HOST:PORT (loopback when listening on a wildcard address) */
  readonly url: string;
  readonly client: TesseraClient;
  /** What GET /healthz answers: healthy while it serves. */
  health(): Health;
  close(): Promise<void>;
}

/** How long a closing gateway lets requests in flight finish. */
const CLOSE_GRACE_MS = 5000;
/** How often the network's capacity is read again while requests come. */
const CAPACITY_MAX_AGE_MS = 5000;

/** Everything that can go wrong in a request, in OpenAI's error shape and status. */
function apiErrorOf(error: unknown, request?: ParsedRequest): ApiError {
  if (error instanceof ApiError) return error;
  const message = (error as Error).message ?? String(error);
  if (error instanceof UnknownModelError)
    return new ApiError('MODEL_NOT_FOUND', 'not_found', `The model \`${error.modelId}\` does not exist: ${message}`, {
      param: 'model',
    });
  if (error instanceof GenerationInputError)
    return badRequest(message, request?.kind === 'chat' ? 'messages' : 'prompt', 'CONTEXT_LENGTH_EXCEEDED');
  if (error instanceof HopFailure && error.kind === 'caller') return badRequest(message, null, 'INVALID_REQUEST');
  if (error instanceof NoRouteError) return new ApiError('NO_ROUTE', 'unavailable', message);
  if (error instanceof RegistriesUnavailableError) return new ApiError('REGISTRY_UNAVAILABLE', 'unavailable', message);
  if (error instanceof GenerationFailedError) return new ApiError('GENERATION_FAILED', 'unavailable', message);
  return ApiError.of(error);
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
  });
  res.end(text);
}

function sendError(res: ServerResponse, error: ApiError, headers: Record<string, string>): void {
  const extra: Record<string, string> = { ...headers };
  // a 429 always says when to come back, whoever raised it
  if (error.status === 429) extra['retry-after'] = String(error.retryAfterSeconds ?? 1);
  if (error.status === 401) extra['www-authenticate'] = 'Bearer';
  // the rest of a body we refused to read is not worth reading: the connection goes with the answer
  if (error.status === 413) extra.connection = 'close';
  sendJson(res, error.status, error.body(), extra);
}

/** Raised into a waiting request whose client went away; nobody reads its answer. */
class ClientGoneError extends ApiError {
  constructor() {
    super('CLIENT_CLOSED', 'failed_precondition', 'the client closed the connection');
  }
}

interface Limits {
  readonly maxBodyBytes: number;
  readonly maxPromptChars: number;
}

/**
 * An OpenAI-compatible HTTP front end on a network client: the gateway holds no weights, it routes
 * each request through the network as any SDK client would (failover included).
 */
class Gateway {
  constructor(
    private readonly client: TesseraClient,
    private readonly metrics: GatewayMetrics,
    private readonly access: AccessGuard,
    private readonly admission: Admission,
    private readonly capacity: CapacityWatch | undefined,
    private readonly limits: Limits,
  ) {}

  health(): Health {
    return healthy({ registries: this.client.registries });
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const startedMs = performance.now();
    const routeName = routeLabel(req.url);
    res.once('close', () => this.metrics.request(routeName, res.headersSent ? res.statusCode : undefined));
    const gone = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) gone.abort(new ClientGoneError());
    });
    let request: ParsedRequest | undefined;
    let cors: Record<string, string> = {};
    try {
      cors = this.access.checkSource(req.headers);
      const path = requestPath(req.url);
      if (req.method === 'OPTIONS') {
        res.writeHead(204, { ...cors, ...PREFLIGHT_HEADERS });
        return void res.end();
      }
      const route = `${req.method} ${path}`;
      if (route === 'GET /healthz') return sendJson(res, 200, healthBody('gateway', this.health()), cors);
      this.access.checkKey(req.headers);
      if (route === 'GET /v1/models')
        return sendJson(
          res,
          200,
          { object: 'list', data: (await this.client.models()).map((m) => modelObject(m.modelId)) },
          cors,
        );
      if (req.method === 'GET' && path.startsWith('/v1/models/'))
        return await this.retrieveModel(res, decodeSegment(path.slice('/v1/models/'.length)), cors);
      const parse =
        route === 'POST /v1/completions'
          ? parseCompletionRequest
          : route === 'POST /v1/chat/completions'
            ? parseChatRequest
            : undefined;
      if (parse === undefined)
        throw new ApiError('UNKNOWN_URL', 'not_found', `Unknown request URL: ${req.method} ${path}`);
      checkJsonContentType(req.headers);
      await this.capacity?.fresh();
      const arrived = this.admission.arrive();
      try {
        request = parse(await readJsonBody(req, this.limits.maxBodyBytes));
        checkPromptChars(request, this.limits.maxPromptChars);
        const model = await this.client.model(request.model);
        await checkPromptTokens(request, model.tokenizer, model.manifest.config.contextLength);
      } finally {
        arrived();
      }
      const release = await this.admission.acquire(gone.signal);
      try {
        // the client may have left between its admission and now: its slot goes to the next one
        if (!gone.signal.aborted) await this.generate(request, res, startedMs, cors);
      } finally {
        release();
      }
    } catch (error) {
      // nobody is left to answer (the body stopped midway, or the client left the line)
      if (gone.signal.aborted) return;
      const apiError = apiErrorOf(error, request);
      if (!res.headersSent) sendError(res, apiError, cors);
      else if (!res.writableEnded) res.end(`data: ${JSON.stringify(apiError.body())}\n\n`);
    }
  }

  private async retrieveModel(res: ServerResponse, modelId: string, cors: Record<string, string>): Promise<void> {
    const models = await this.client.models();
    if (!models.some((m) => m.modelId === modelId))
      throw new ApiError('MODEL_NOT_FOUND', 'not_found', `The model \`${modelId}\` does not exist`, {
        param: 'model',
      });
    sendJson(res, 200, modelObject(modelId), cors);
  }

  private async generate(
    request: ParsedRequest,
    res: ServerResponse,
    startedMs: number,
    cors: Record<string, string>,
  ): Promise<void> {
    const generation = this.client.generate({
      model: request.model,
      prompt: request.prompt,
      messages: request.messages,
      // no max_tokens on a chat request: as many as the model's context holds
      maxTokens: request.maxTokens ?? Number.MAX_SAFE_INTEGER,
      temperature: request.temperature,
      topP: request.topP,
      seed: request.seed,
      logprobs: request.logprobs ? request.topLogprobs : 0,
    });
    const ctx: ResponseContext = {
      id: `${request.kind === 'chat' ? 'chatcmpl' : 'cmpl'}-${randomBytes(12).toString('hex')}`,
      created: Math.floor(Date.now() / 1000),
      request,
    };
    let gone = false;
    res.on('close', () => (gone = !res.writableFinished));
    const tokens = generation[Symbol.asyncIterator]();
    // The first token (or the error that prevents it) decides between a stream and an error status.
    let next = await tokens.next();
    if (!next.done) this.metrics.firstToken((performance.now() - startedMs) / 1000);
    const stop = new StopMatcher(request.stop);
    const pieces: Piece[] = [];
    let completionTokens = 0;
    let textOffset = 0;
    const emit = (piece: Piece) => {
      if (request.stream) res.write(`data: ${JSON.stringify(streamChunk(ctx, piece, null, textOffset))}\n\n`);
      else pieces.push(piece);
      textOffset += piece.text.length;
    };
    if (request.stream) {
      res.writeHead(200, {
        ...cors,
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
      });
      if (request.kind === 'chat') res.write(`data: ${JSON.stringify(chatRoleChunk(ctx))}\n\n`);
    }
    try {
      for (; !next.done && !gone; next = await tokens.next()) {
        const token: GeneratedToken = next.value;
        completionTokens++;
        const text = stop.push(token.text);
        emit({ text, token: request.logprobs ? token : undefined });
        if (stop.stopped) break;
      }
    } finally {
      this.metrics.tokensGenerated(completionTokens);
      // stops the network session when the loop ends early (stop string, client gone)
      await tokens.return();
    }
    if (gone) return;
    let finishReason: FinishReason = 'stop';
    if (!stop.stopped) {
      const rest = stop.push(generation.summary!.tail) + stop.flush();
      if (rest) emit({ text: rest });
      finishReason = stop.stopped ? 'stop' : generation.summary!.finishReason;
    }
    const usage = usageCounts(generation.promptTokens!, completionTokens);
    if (!request.stream) return sendJson(res, 200, fullResponse(ctx, pieces, finishReason, usage), cors);
    res.write(`data: ${JSON.stringify(streamChunk(ctx, undefined, finishReason, textOffset))}\n\n`);
    if (request.includeUsage) res.write(`data: ${JSON.stringify(usageChunk(ctx, usage))}\n\n`);
    res.end('data: [DONE]\n\n');
  }
}

const WILDCARD_ADDRESSES = new Set(['0.0.0.0', '::', '']);

/**
 * The host of the gateway's URL: a wildcard address is reached through loopback, a name the Host
 * check accepts (browsers are closing 0.0.0.0 to pages, and the gateway does not serve that name).
 */
function urlHostOf(host: string): string {
  if (host === '::') return '[::1]';
  if (WILDCARD_ADDRESSES.has(host)) return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

function modelObject(id: string) {
  return { id, object: 'model', created: 0, owned_by: 'tessera' };
}

/** Connects to the network through `registries` and serves the OpenAI API on host:port. */
export async function startGateway(options: GatewayOptions): Promise<GatewayHandle> {
  const client = await connect(options);
  const host = options.host ?? '127.0.0.1';
  let admission: Admission | undefined;
  const capacity =
    options.maxConcurrent === undefined
      ? new CapacityWatch(client, CAPACITY_MAX_AGE_MS, () => admission?.pump())
      : undefined;
  const maxConcurrent = options.maxConcurrent;
  admission = new Admission(() => maxConcurrent ?? capacity!.value, options.maxQueue ?? GATEWAY_DEFAULTS.maxQueue);
  // a name the gateway listens on is a name it serves; a wildcard address names no host
  const listenName = WILDCARD_ADDRESSES.has(host) ? [] : [host];
  const access = new AccessGuard({ ...options, allowedHosts: [...(options.allowedHosts ?? []), ...listenName] });
  const gateway = new Gateway(
    client,
    new GatewayMetrics(options.metrics ?? new Metrics(), admission),
    access,
    admission,
    capacity,
    {
      maxBodyBytes: options.maxBodyBytes ?? GATEWAY_DEFAULTS.maxBodyBytes,
      maxPromptChars: options.maxPromptChars ?? GATEWAY_DEFAULTS.maxPromptChars,
    },
  );
  const server = createServer((req, res) => void gateway.handle(req, res));
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error) =>
        reject(new Error(`the gateway cannot listen on ${host}:${options.port}: ${error.message}`)),
      );
      server.listen(options.port, host, () => resolve());
    });
  } catch (error) {
    client.close();
    throw error;
  }
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: `http://${urlHostOf(host)}:${port}`,
    client,
    health: () => gateway.health(),
    async close() {
      // requests in flight get a grace period to finish their answer; idle connections go now
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const grace = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
      await closed;
      clearTimeout(grace);
      client.close();
    },
  };
}
