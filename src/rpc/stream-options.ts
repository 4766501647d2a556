/**
 * grpc-js options for the channels and servers that carry Forward streams. Retries stay off: a
 * Forward stream is never retried by gRPC (the client's failover replays the session elsewhere),
 * and the retry layer otherwise buffers every message. Channelz is off: its per-message
 * bookkeeping is paid on every decode step of every hop, and nothing here reads it.
 */
export const FORWARD_CHANNEL_OPTIONS = {
  'grpc.enable_retries': 0,
  'grpc.enable_channelz': 0,
} as const;
