import { ServerInterceptingCall, type ServerInterceptingCallInterface, type ServerInterceptor } from '@grpc/grpc-js';
import { TesseraError } from '../core/errors.ts';
import type { CallLimits } from './call-limits.ts';
import type { MethodPolicy } from './method-policy.ts';
import { toStatusObject } from './status.ts';

/** A refused call, for the role's log and metrics. */
export interface Refusal {
  readonly method: string;
  readonly peer: string;
  readonly reason: string;
}

/**
 * grpc-js's own call object reads a request's length prefix in its StreamDecoder and refuses a
 * message over the server-wide bound before buffering it; that bound is one number for all methods.
 * The per-method bound replaces that decoder with one of the method's size, so an oversized
 * request is refused on its 5-byte prefix, not after 32 MiB arrived and were parsed.
 */
interface DecodingCall {
  decoder: { write(data: Buffer): Buffer[] };
  sendStatus(status: object): void;
}

function decodingCall(call: ServerInterceptingCallInterface): DecodingCall | undefined {
  let next: unknown = call;
  for (let depth = 0; depth < 16 && typeof next === 'object' && next !== null; depth++) {
    const candidate = next as Partial<DecodingCall> & { nextCall?: unknown };
    if (typeof candidate.decoder?.write === 'function') return candidate as DecodingCall;
    next = candidate.nextCall;
  }
  return undefined;
}

function limitRequestSize(call: ServerInterceptingCallInterface, maxBytes: number): void {
  const base = decodingCall(call);
  if (base === undefined) throw new Error('grpc-js changed: the call has no StreamDecoder to bound per method');
  const Decoder = base.decoder.constructor as new (max: number) => { write(data: Buffer): Buffer[] };
  const decoder = new Decoder(maxBytes);
  let refused = false;
  base.decoder = {
    write(data) {
      if (refused) return [];
      try {
        return decoder.write(data);
      } catch (error) {
        refused = true;
        // grpc-js's own words ("Received message larger than max (N vs M)"), which name both sizes.
        base.sendStatus(
          toStatusObject(new TesseraError('MESSAGE_TOO_LARGE', 'resource_exhausted', (error as Error).message)),
        );
        return [];
      }
    },
  };
}

/**
 * The one server interceptor of every role: the method's size bound and its per-peer rate, both
 * before the request is parsed. `policies` is keyed by the method's path ("/tessera.v1.Registry/Register").
 */
export function policyInterceptor(
  policies: ReadonlyMap<string, MethodPolicy>,
  limits: CallLimits,
  onRefused: (refusal: Refusal) => void = () => undefined,
): ServerInterceptor {
  return (descriptor, call) => {
    const policy = policies.get(descriptor.path);
    // Every service added through startGrpcServer has a policy for each method; a path without one
    // is grpc-js's own (none today), left as it is.
    if (policy === undefined) return new ServerInterceptingCall(call);
    const method = descriptor.path.slice(descriptor.path.lastIndexOf('/') + 1);
    limitRequestSize(call, policy.maxRequestBytes);
    // No rate to take: no intercepting layer either, so a stream's every message (Forward's hot
    // path) passes no extra listener. grpc-js only chains what an interceptor returns.
    if (policy.perPeer === undefined) return call as ServerInterceptingCall;
    return new ServerInterceptingCall(call, {
      start: (next) => {
        next({
          onReceiveMetadata: (metadata, forward) => {
            const refusal = limits.peer(method, policy, call.getPeer(), Date.now());
            if (refusal === undefined) return forward(metadata);
            onRefused({ method, peer: call.getPeer(), reason: refusal.code });
            call.sendStatus(toStatusObject(refusal) as never);
          },
        });
      },
    });
  };
}
