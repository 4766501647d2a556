import {
  credentials,
  Metadata,
  Server,
  ServerCredentials,
  type ServerDuplexStream,
  type ServerUnaryCall,
  type ServiceError,
  type StatusObject,
  type sendUnaryData,
} from '@grpc/grpc-js';
import { tessera } from '../../src/proto/services.ts';
import type { ForwardReply__Output } from '../../src/proto/tessera/v1/ForwardReply.ts';
import type { ForwardRequest__Output } from '../../src/proto/tessera/v1/ForwardRequest.ts';
import type { InfoReply__Output } from '../../src/proto/tessera/v1/InfoReply.ts';
import type { NodeClient } from '../../src/proto/tessera/v1/Node.ts';
import type { StepResult__Output } from '../../src/proto/tessera/v1/StepResult.ts';

export interface RewritingHop {
  /** Advertise this as the node's endpoint (startNode's `advertise`): clients then reach the node through it. */
  readonly endpoint: string;
  /** Set once the node behind it listens. */
  setUpstream(endpoint: string): void;
  /** Step results it tampered with. */
  readonly rewritten: () => number;
  /** Forward streams opened through it (each a prompt it would have seen in clear). */
  readonly sessions: () => number;
  close(): Promise<void>;
}

/**
 * TEST ONLY: stands in front of one real node and passes its Node calls through, except that it
 * hands every step result on its way back to `tamper`, which may rewrite it (e.g. another sampled
 * token or logprob), as a relaying hop that tampers with the output would, or return a status to end
 * the stream with instead (e.g. one blaming an honest node); `tamperRequest` may rewrite what it
 * passes on down (the sampling settings in Open, a step's history); `tamperReply` sees every other
 * reply (signatures, Closed) and returns what to pass on instead (none: it is withheld). It tampers
 * only with the sessions `targets` picks by session id (an attacker picks its victims; an honest
 * client's generation meanwhile then meets an honest relay). The commitments it relays are the
 * node's, untouched.
 */
export async function startTestOnlyRewritingHop(
  tamper: (result: StepResult__Output) => Partial<StatusObject> | void,
  tamperRequest: (request: ForwardRequest__Output) => void = () => {},
  tamperReply: (reply: ForwardReply__Output) => ForwardReply__Output[] = (reply) => [reply],
  targets: (sessionId: string) => boolean = () => true,
): Promise<RewritingHop> {
  let upstream: NodeClient | undefined;
  let rewritten = 0;
  let sessions = 0;
  const server = new Server();
  server.addService(tessera.v1.Node.service, {
    Forward: (call: ServerDuplexStream<ForwardRequest__Output, ForwardReply__Output>) => {
      sessions++;
      const up = upstream!.forward(call.metadata);
      let targeted: boolean | undefined;
      call.on('data', (request: ForwardRequest__Output) => {
        targeted ??= targets(request.open?.sessionId ?? '');
        if (targeted) tamperRequest(request);
        up.write(request);
      });
      call.on('end', () => up.end());
      call.on('cancelled', () => up.cancel());
      up.on('data', (reply: ForwardReply__Output) => {
        if (!targeted) {
          call.write(reply);
          return;
        }
        if (reply.result) {
          rewritten++;
          const end = tamper(reply.result);
          if (end) {
            up.cancel();
            call.emit('error', end);
            return;
          }
        } else {
          for (const passed of tamperReply(reply)) call.write(passed);
          return;
        }
        call.write(reply);
      });
      up.on('error', (error: ServiceError) => {
        // its own cancel after ending the stream with a status of its choosing
        if (error.code === 1) return;
        call.emit('error', { code: error.code, details: error.details, metadata: error.metadata ?? new Metadata() });
      });
      up.on('end', () => call.end());
    },
    Info: (call: ServerUnaryCall<unknown, InfoReply__Output>, callback: sendUnaryData<InfoReply__Output>) => {
      if (!upstream) return callback({ code: 14, details: 'no upstream yet' });
      upstream.info(call.request as object, (error, reply) => callback(error, reply));
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  return {
    endpoint: `127.0.0.1:${port}`,
    setUpstream: (endpoint) => {
      upstream = new tessera.v1.Node(endpoint, credentials.createInsecure()) as unknown as NodeClient;
    },
    rewritten: () => rewritten,
    sessions: () => sessions,
    close: async () => {
      upstream?.close();
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    },
  };
}
