import { joinSignatures } from '../../src/client/pending-signatures.ts';
import { credentials, type ClientDuplexStream, type ServiceError } from '@grpc/grpc-js';
import { generateKeyPair } from '../../src/crypto/keys.ts';
import { startNode, type NodeHandle, type NodeOptions } from '../../src/node/node-server.ts';
import { tessera } from '../../src/proto/services.ts';
import type { ForwardReply__Output } from '../../src/proto/tessera/v1/ForwardReply.ts';
import type { ForwardRequest } from '../../src/proto/tessera/v1/ForwardRequest.ts';
import type { Hop } from '../../src/proto/tessera/v1/Hop.ts';
import type { NodeClient } from '../../src/proto/tessera/v1/Node.ts';
import type { Open } from '../../src/proto/tessera/v1/Open.ts';

/**
 * Starts one node per shard on 127.0.0.1 (random ports, fresh keys) and the route through them;
 * `options` apply to every node, or per shard when a function.
 */
export async function startChain(
  shardsDir: string,
  shards: number,
  options: Partial<NodeOptions> | ((shardIndex: number) => Partial<NodeOptions>) = {},
): Promise<{ nodes: NodeHandle[]; route: Hop[]; close(): Promise<void> }> {
  const nodes: NodeHandle[] = [];
  try {
    for (let i = 0; i < shards; i++) {
      const own = typeof options === 'function' ? options(i) : options;
      nodes.push(
        await startNode({
          shardsDir,
          shardIndex: i,
          port: 0,
          key: generateKeyPair(),
          threads: 1,
          log: () => {},
          ...own,
        }),
      );
    }
  } catch (error) {
    await Promise.all(nodes.map((n) => n.close()));
    throw error;
  }
  return {
    nodes,
    route: nodes.map((n, i) => ({ nodeId: n.nodeId, endpoint: n.endpoint, shardIndex: i, shardEnd: i + 1 })),
    close: async () => void (await Promise.all(nodes.map((n) => n.close()))),
  };
}

export type Received = { reply: ForwardReply__Output } | { error: ServiceError } | { end: true };

/**
 * A raw Forward stream for tests: write requests, then take what comes back in order. A result is
 * handed over once the StepSignatures that follow it are in, with them joined into its commitments
 * as the client joins them (each relay's with the hash of the signatures below it, which it signed). Once a Close is answered
 * (Closed) it half-closes, so a Close ends the stream as a client's would.
 */
export class ForwardClient {
  private readonly client: NodeClient;
  private readonly call: ClientDuplexStream<ForwardRequest, ForwardReply__Output>;
  private readonly received: Received[] = [];
  private readonly waiting: ((item: Received) => void)[] = [];
  private unsigned?: ForwardReply__Output;

  constructor(endpoint: string, maxMessageBytes = 64 << 20) {
    this.client = new tessera.v1.Node(endpoint, credentials.createInsecure(), {
      'grpc.max_send_message_length': maxMessageBytes,
      'grpc.max_receive_message_length': maxMessageBytes,
    }) as unknown as NodeClient;
    this.call = this.client.forward();
    this.call.on('data', (reply: ForwardReply__Output) => {
      if (reply.kind === 'result') {
        this.flushUnsigned();
        this.unsigned = reply;
      } else if (reply.kind === 'signatures' && this.unsigned?.result?.step === reply.signatures!.step) {
        const held = this.unsigned;
        this.unsigned = undefined;
        held.result!.commitments = joinSignatures(held.result!.commitments, reply.signatures!);
        this.push({ reply: held });
      } else {
        this.flushUnsigned();
        if (reply.kind === 'closed') this.call.end();
        else this.push({ reply });
      }
    });
    this.call.on('error', (error: ServiceError) => {
      this.flushUnsigned();
      this.push({ error });
    });
    this.call.on('end', () => {
      this.flushUnsigned();
      this.push({ end: true });
    });
  }

  write(request: ForwardRequest): this {
    this.call.write(request);
    return this;
  }

  next(): Promise<Received> {
    const item = this.received.shift();
    return item ? Promise.resolve(item) : new Promise((resolve) => this.waiting.push(resolve));
  }

  /** The next reply; fails the test with the status when the stream ended instead. */
  async reply(): Promise<ForwardReply__Output> {
    const item = await this.next();
    if ('reply' in item) return item.reply;
    throw new Error(
      `expected a reply, got ${'error' in item ? `status ${item.error.code}: ${item.error.details}` : 'the end of the stream'}`,
    );
  }

  /** The status the stream ends with (skipping replies before it). */
  async status(): Promise<ServiceError> {
    for (;;) {
      const item = await this.next();
      if ('error' in item) return item.error;
      if ('end' in item) throw new Error('the stream ended without an error status');
    }
  }

  async openSession(open: Open): Promise<void> {
    const reply = await this.write({ open }).reply();
    if (reply.kind !== 'opened') throw new Error(`expected opened, got ${reply.kind}`);
  }

  close(): void {
    this.call.cancel();
    this.client.close();
  }

  /** A result whose signatures did not follow: handed over as it came. */
  private flushUnsigned(): void {
    if (this.unsigned) this.push({ reply: this.unsigned });
    this.unsigned = undefined;
  }

  private push(item: Received): void {
    const waiter = this.waiting.shift();
    if (waiter) waiter(item);
    else this.received.push(item);
  }
}
