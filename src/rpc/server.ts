import {
  Server,
  ServerCredentials,
  type ChannelOptions,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { TesseraError } from '../core/errors.ts';
import { CallLimits } from './call-limits.ts';
import { METHOD_POLICIES, type MethodPolicy, type ServiceName } from './method-policy.ts';
import { policyInterceptor, type Refusal } from './policy-interceptor.ts';

/**
 * How long a stopping server lets the calls in flight finish (after the role's own drain) before it
 * cuts them: one number for every role, long enough for a share submission to commit and sync.
 */
export const SHUTDOWN_GRACE_MS = 10_000;

export interface ServiceBinding {
  /** The service's full proto name: its methods' policies come from METHOD_POLICIES under it. */
  readonly name: ServiceName;
  readonly definition: ServiceDefinition;
  readonly handlers: UntypedServiceImplementation | object;
  /** A tighter or configured request bound for some methods (e.g. the cluster's largest ticket). */
  readonly maxRequestBytes?: Readonly<Record<string, number>>;
}

export interface GrpcServerOptions {
  /** Names the role in errors ("registry cannot listen on ..."). */
  readonly role: string;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** Where others reach this server. Default HOST:PORT (127.0.0.1 when HOST is every interface). */
  readonly advertise?: string;
  /** Default insecure. */
  readonly credentials?: ServerCredentials;
  readonly services: readonly ServiceBinding[];
  /** The rate buckets; the roles that take per-key tokens in their handlers pass the same object. */
  readonly limits?: CallLimits;
  /** Extra grpc-js server options (e.g. FORWARD_CHANNEL_OPTIONS); the message bounds are set here. */
  readonly channelOptions?: ChannelOptions;
  readonly maxSendBytes?: number;
  readonly onRefused?: (refusal: Refusal) => void;
}

export interface GrpcServer {
  readonly server: Server;
  readonly port: number;
  readonly endpoint: string;
  /**
   * Stops taking calls, runs the role's `drain` (e.g. finishing its streams), then gives the calls
   * still in flight SHUTDOWN_GRACE_MS before cutting them. Idempotent.
   */
  shutdown(drain?: () => Promise<void>): Promise<void>;
}

export const bindAddress = (host: string, port: number): string => `${host.includes(':') ? `[${host}]` : host}:${port}`;

/** The policies of the bound services by method path, with the bindings' own size bounds applied. */
export function policiesOf(services: readonly ServiceBinding[]): Map<string, MethodPolicy> {
  const policies = new Map<string, MethodPolicy>();
  for (const binding of services) {
    const table: Readonly<Record<string, MethodPolicy>> = METHOD_POLICIES[binding.name];
    for (const [method, definition] of Object.entries(binding.definition)) {
      const policy = table[method];
      if (policy === undefined)
        throw new Error(`${binding.name}/${method} has no policy in src/rpc/method-policy.ts: add one`);
      const maxRequestBytes = binding.maxRequestBytes?.[method] ?? policy.maxRequestBytes;
      policies.set(definition.path, { ...policy, maxRequestBytes });
    }
  }
  return policies;
}

/** Creates the server with the policy interceptor, adds the services, binds and says where it is reached. */
export async function startGrpcServer(options: GrpcServerOptions): Promise<GrpcServer> {
  const policies = policiesOf(options.services);
  const largest = Math.max(...[...policies.values()].map((p) => p.maxRequestBytes));
  const server = new Server({
    ...options.channelOptions,
    'grpc.max_receive_message_length': largest,
    ...(options.maxSendBytes === undefined ? {} : { 'grpc.max_send_message_length': options.maxSendBytes }),
    interceptors: [policyInterceptor(policies, options.limits ?? new CallLimits(), options.onRefused)],
  });
  for (const binding of options.services)
    server.addService(binding.definition, binding.handlers as UntypedServiceImplementation);
  const host = options.host ?? '127.0.0.1';
  const address = bindAddress(host, options.port);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(address, options.credentials ?? ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    );
  }).catch((error: Error) => {
    server.forceShutdown();
    throw new TesseraError(
      'LISTEN_FAILED',
      'unavailable',
      `${options.role} cannot listen on ${address}: ${error.message}`,
      {
        cause: error,
      },
    );
  });
  const endpoint = options.advertise ?? bindAddress(host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host, port);
  let stopping: Promise<void> | undefined;
  return {
    server,
    port,
    endpoint,
    shutdown: (drain) =>
      (stopping ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
        await drain?.();
        const force = setTimeout(() => server.forceShutdown(), SHUTDOWN_GRACE_MS);
        await stopped;
        clearTimeout(force);
      })()),
  };
}
