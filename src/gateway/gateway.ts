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
import { ApiError, badRequest } from './api-error.ts';
import { parseChatRequest, parseCompletionRequest, type ParsedRequest } from './openai-request.ts';
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

export interface GatewayOptions extends ConnectOptions {
  /** 0 picks a free port. */
  readonly port: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Where the gateway's figures go (src/metrics); none: they are kept but never read. */
  readonly metrics?: Metrics;
}

export interface GatewayHandle {
  readonly port: number;
  /** http://HOST:PORT */
  readonly url: string;
  readonly client: TesseraClient;
  /** What GET /healthz answers: healthy while it serves. */
  health(): Health;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1 << 20;
/** How long a closing gateway lets requests in flight finish. */
const CLOSE_GRACE_MS = 5000;

/** Everything that can go wrong in a request, in OpenAI's error shape and status. */
function apiErrorOf(error: unknown, request?: ParsedRequest): ApiError {
  if (error instanceof ApiError) return error;
  const message = (error as Error).message ?? String(error);
  if (error instanceof UnknownModelError)
    return new ApiError(
      404,
      `The model \`${error.modelId}\` does not exist: ${message}`,
      'invalid_request_error',
      'model',
      'model_not_found',
    );
  if (error instanceof GenerationInputError)
    return badRequest(message, request?.kind === 'chat' ? 'messages' : 'prompt', 'context_length_exceeded');
  if (error instanceof HopFailure && error.kind === 'caller') return badRequest(message);
  if (error instanceof NoRouteError) return new ApiError(503, message, 'service_unavailable_error', null, 'no_route');
  if (error instanceof RegistriesUnavailableError)
    return new ApiError(503, message, 'service_unavailable_error', null, 'registry_unavailable');
  if (error instanceof GenerationFailedError)
    return new ApiError(503, message, 'service_unavailable_error', null, 'generation_failed');
  return new ApiError(500, message, 'server_error');
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES)
      throw new ApiError(413, `the request body exceeds ${MAX_BODY_BYTES} bytes`, 'invalid_request_error');
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw badRequest('We could not parse the JSON body of your request. (The body must be a JSON object.)');
  }
}

/**
 * An OpenAI-compatible HTTP front end on a network client: the gateway holds no weights, it routes
 * each request through the network as any SDK client would (failover included).
 */
class Gateway {
  constructor(
    private readonly client: TesseraClient,
    private readonly metrics: GatewayMetrics,
  ) {}

  health(): Health {
    return healthy({ registries: this.client.registries });
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const startedMs = performance.now();
    const routeName = routeLabel(req.url);
    res.once('close', () => this.metrics.request(routeName, res.headersSent ? res.statusCode : undefined));
    let request: ParsedRequest | undefined;
    try {
      const path = new URL(req.url ?? '/', 'http://gateway').pathname.replace(/\/+$/, '');
      const route = `${req.method} ${path}`;
      if (route === 'GET /healthz') return sendJson(res, 200, healthBody('gateway', this.health()));
      if (route === 'GET /v1/models')
        return sendJson(res, 200, {
          object: 'list',
          data: (await this.client.models()).map((m) => modelObject(m.modelId)),
        });
      if (req.method === 'GET' && path.startsWith('/v1/models/'))
        return await this.retrieveModel(res, decodeURIComponent(path.slice('/v1/models/'.length)));
      if (route === 'POST /v1/completions') request = parseCompletionRequest(await readJson(req));
      else if (route === 'POST /v1/chat/completions') request = parseChatRequest(await readJson(req));
      else
        throw new ApiError(
          404,
          `Unknown request URL: ${req.method} ${path}`,
          'invalid_request_error',
          null,
          'unknown_url',
        );
      await this.generate(request, res, startedMs);
    } catch (error) {
      const apiError = apiErrorOf(error, request);
      if (!res.headersSent) sendJson(res, apiError.status, apiError.body());
      else if (!res.writableEnded) res.end(`data: ${JSON.stringify(apiError.body())}\n\n`);
    }
  }

  private async retrieveModel(res: ServerResponse, modelId: string): Promise<void> {
    const models = await this.client.models();
    if (!models.some((m) => m.modelId === modelId))
      throw new ApiError(
        404,
        `The model \`${modelId}\` does not exist`,
        'invalid_request_error',
        'model',
        'model_not_found',
      );
    sendJson(res, 200, modelObject(modelId));
  }

  private async generate(request: ParsedRequest, res: ServerResponse, startedMs: number): Promise<void> {
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
    if (!request.stream) return sendJson(res, 200, fullResponse(ctx, pieces, finishReason, usage));
    res.write(`data: ${JSON.stringify(streamChunk(ctx, undefined, finishReason, textOffset))}\n\n`);
    if (request.includeUsage) res.write(`data: ${JSON.stringify(usageChunk(ctx, usage))}\n\n`);
    res.end('data: [DONE]\n\n');
  }
}

function modelObject(id: string) {
  return { id, object: 'model', created: 0, owned_by: 'tessera' };
}

/** Connects to the network through `registries` and serves the OpenAI API on host:port. */
export async function startGateway(options: GatewayOptions): Promise<GatewayHandle> {
  const client = await connect(options);
  const gateway = new Gateway(client, new GatewayMetrics(options.metrics ?? new Metrics()));
  const server = createServer((req, res) => void gateway.handle(req, res));
  const host = options.host ?? '127.0.0.1';
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
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
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
