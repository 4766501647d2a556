// One process of bench/transport-floor.ts's relay chain (argv: RESULT_BYTES SIGNATURES_BYTES
// [NEXT_ENDPOINT]): a grpc-js server of raw bytes. With a next hop it passes every message down and
// every reply up as it comes, as a shard node relays Step, StepResult and StepSignatures; without
// one it answers each message with a result, then, a turn of the event loop later (a node signs
// after its result has left), a signatures message. Prints its port on stdout once it listens.
import { credentials, Server, ServerCredentials, type ServerDuplexStream } from '@grpc/grpc-js';
import { FORWARD_CHANNEL_OPTIONS } from '../src/rpc/stream-options.ts';
import { RELAY_SERVICE, RelayClient } from './transport-floor.ts';

const [resultBytes, signaturesBytes, next] = process.argv.slice(2);
const downstream =
  next === undefined ? undefined : new RelayClient(next, credentials.createInsecure(), FORWARD_CHANNEL_OPTIONS);
const server = new Server(FORWARD_CHANNEL_OPTIONS);
server.addService(RELAY_SERVICE, {
  forward(call: ServerDuplexStream<Buffer, Buffer>) {
    call.on('error', () => undefined);
    if (downstream === undefined) {
      const result = Buffer.alloc(Number(resultBytes), 1);
      const signatures = Buffer.alloc(Number(signaturesBytes), 2);
      call.on('data', () => {
        call.write(result);
        setImmediate(() => call.write(signatures));
      });
      call.on('end', () => call.end());
      return;
    }
    const down = downstream.forward();
    down.on('error', () => call.destroy());
    call.on('data', (message: Buffer) => down.write(message));
    down.on('data', (message: Buffer) => call.write(message));
    call.on('end', () => {
      down.end();
      call.end();
    });
  },
});
server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, port) => {
  if (error) throw error;
  process.stdout.write(`${port}\n`);
});
