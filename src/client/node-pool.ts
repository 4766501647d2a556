import { credentials, type ChannelCredentials } from '@grpc/grpc-js';
import type { InfoReply__Output } from '../proto/tessera/v1/InfoReply.ts';
import type { NodeClient } from '../proto/tessera/v1/Node.ts';
import { tessera } from '../proto/services.ts';
import { FORWARD_CHANNEL_OPTIONS } from '../rpc/stream-options.ts';

export interface Probe {
  readonly info: InfoReply__Output;
  /** Round trip of the Info call, in microseconds. */
  readonly rttUs: number;
}

/** Hidden states and prefill token lists can be large; the node enforces its own bound. */
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

/**
 * One gRPC channel per node endpoint, reused by every session and probe of this client (HTTP/2
 * multiplexes the streams), closed together.
 */
export class NodePool {
  private readonly clients = new Map<string, NodeClient>();
  private readonly probes = new Map<string, { at: number; probe: Probe }>();

  constructor(private readonly tlsRootCerts?: Buffer) {}

  client(endpoint: string, tls = false): NodeClient {
    const key = `${tls ? 'tls' : 'plain'}:${endpoint}`;
    let client = this.clients.get(key);
    if (!client) {
      const creds: ChannelCredentials = tls ? credentials.createSsl(this.tlsRootCerts) : credentials.createInsecure();
      client = new tessera.v1.Node(endpoint, creds, {
        ...FORWARD_CHANNEL_OPTIONS,
        'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
        'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
      }) as unknown as NodeClient;
      this.clients.set(key, client);
    }
    return client;
  }

  /**
   * Calls Info; undefined when the node does not answer within `timeoutMs`. An answer younger than
   * `maxAgeMs` is reused, so a busy client does not probe every node for every request.
   */
  probe(endpoint: string, timeoutMs: number, tls = false, maxAgeMs = 0): Promise<Probe | undefined> {
    const cached = this.probes.get(endpoint);
    // A full node is asked again each time: its sessions may end at any moment.
    const full = cached !== undefined && cached.probe.info.activeSessions >= cached.probe.info.maxSessions;
    if (cached && !full && Date.now() - cached.at < maxAgeMs) return Promise.resolve(cached.probe);
    const client = this.client(endpoint, tls);
    const started = process.hrtime.bigint();
    return new Promise((resolve) => {
      client.info({}, { deadline: Date.now() + timeoutMs }, (error, reply) => {
        if (error || !reply) {
          this.probes.delete(endpoint);
          return resolve(undefined);
        }
        const probe = { info: reply, rttUs: Number(process.hrtime.bigint() - started) / 1000 };
        this.probes.set(endpoint, { at: Date.now(), probe });
        resolve(probe);
      });
    });
  }

  /** Drops the node's cached probe: its next route choice asks it again. */
  forget(endpoint: string): void {
    this.probes.delete(endpoint);
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }
}
