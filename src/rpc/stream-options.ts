import type { Server } from '@grpc/grpc-js';
import type { Http2Session } from 'node:http2';

/**
 * grpc-js options for the channels and servers that carry Forward streams, where every decode step
 * of every hop pays for each layer a message passes. Retries stay off: gRPC never retries a Forward
 * stream (the client's failover replays the session elsewhere), yet the retry layer would still sit
 * on every message's path. Channelz is off: it keeps per-call and per-message bookkeeping that
 * nothing here reads.
 */
export const FORWARD_CHANNEL_OPTIONS = {
  'grpc.enable_retries': 0,
  'grpc.enable_channelz': 0,
} as const;

/**
 * What a node takes of one Forward stream, and of one connection, before the sender must wait for
 * its WINDOW_UPDATE. HTTP/2's default, 64 KiB, moves a step's part only a window at a time, and the
 * sender reads each WINDOW_UPDATE only between its batches, which block its event loop for a chunk's
 * compute: a 458 KiB part would take its sender 7 batches to get out, and the route would work on a
 * long prompt shard after shard again. A whole part fits these (a message is bounded apart).
 */
export const FORWARD_STREAM_WINDOW_BYTES = 16 << 20;
export const FORWARD_CONNECTION_WINDOW_BYTES = 64 << 20;

/**
 * Widens the receive windows of every connection a bound server accepts from now on. grpc-js (1.14)
 * takes no option for a server's windows, so its HTTP/2 servers are reached through a field it
 * does not publish; without that field nothing changes (parts still arrive whole, only later).
 */
export function widenForwardWindows(server: Server): void {
  const servers = (
    server as unknown as {
      http2Servers?: Map<{ on(event: 'session', listener: (session: Http2Session) => void): void }, unknown>;
    }
  ).http2Servers;
  if (!(servers instanceof Map)) return;
  for (const http2Server of servers.keys())
    http2Server.on('session', (session) => {
      session.settings({ initialWindowSize: FORWARD_STREAM_WINDOW_BYTES });
      session.setLocalWindowSize(FORWARD_CONNECTION_WINDOW_BYTES);
    });
}
