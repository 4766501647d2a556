// A module of its own so that `tessera node --help` can show these without loading the node server.
export const NODE_DEFAULTS = {
  host: '127.0.0.1',
  maxSessions: 64,
  cacheBytes: 512 * 1024 * 1024,
  idleTimeoutMs: 5 * 60 * 1000,
  drainGraceMs: 30_000,
  openTimeoutMs: 5_000,
  nextHopOpenedTimeoutMs: 10_000,
};
