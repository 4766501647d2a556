import {
  Client,
  credentials,
  Server,
  ServerCredentials,
  status,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { tessera } from '../../src/proto/services.ts';

export interface TicketWithholdingProxy {
  /** Give this to a node as its registry. */
  readonly endpoint: string;
  /** Tickets the node sent that never reached the registry. */
  readonly withheld: () => number;
  close(): Promise<void>;
}

const raw = (bytes: Buffer) => bytes;

/**
 * TEST ONLY: stands between one node and its registry and passes every Registry and Audit call
 * through byte for byte, except SubmitTicket, which it answers PERMISSION_DENIED without passing it
 * on. To the registry that node is one that refuses to hand over the inputs of its audited steps:
 * it registers, heartbeats and hears of the audits it owes, but no ticket ever comes.
 */
export async function startTestOnlyTicketWithholdingProxy(registry: string): Promise<TicketWithholdingProxy> {
  const upstream = new Client(registry, credentials.createInsecure());
  const server = new Server();
  let withheld = 0;
  const pass = (path: string) => (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => {
    upstream.makeUnaryRequest(path, raw, raw, call.request, (error, reply) => callback(error, reply));
  };
  const withhold = (_call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => {
    withheld++;
    callback({ code: status.PERMISSION_DENIED, details: 'ticket withheld by the test-only proxy' });
  };
  for (const service of [tessera.v1.Registry.service, tessera.v1.Audit.service]) {
    const methods = Object.entries(service);
    const definition: ServiceDefinition = Object.fromEntries(
      methods.map(([name, method]) => [
        name,
        { ...method, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw },
      ]),
    );
    const implementation: UntypedServiceImplementation = Object.fromEntries(
      methods.map(([name, method]) => [name, name === 'SubmitTicket' ? withhold : pass(method.path)]),
    );
    server.addService(definition, implementation);
  }
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  return {
    endpoint: `127.0.0.1:${port}`,
    withheld: () => withheld,
    close: async () => {
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      upstream.close();
    },
  };
}
