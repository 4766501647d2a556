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
