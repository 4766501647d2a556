import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KvCache } from '../model/kv-cache.ts';
import { createReferenceBackend } from '../tensor/reference-backend.ts';
import type { ModelConfig } from '../model/model-files.ts';
import { NodeStatusError } from '../protocol/forward-status.ts';
import { SessionStore, type EvictionReason } from './session-store.ts';

// 2 layers × 4 values per row × 8 bytes (key and value, f32): 64 bytes per position.
const CONFIG = { kvHeads: 1, headDim: 4, contextLength: 1024 } as ModelConfig;
const cache = () => new KvCache(CONFIG, 2, 1 << 20, createReferenceBackend());

function fixture(options: { maxSessions?: number; cacheBytes?: number; idleTimeoutMs?: number } = {}) {
  let now = 1000;
  const evictions: string[] = [];
  const store = new SessionStore({
    maxSessions: options.maxSessions ?? 8,
    cacheBytes: options.cacheBytes ?? 4096,
    idleTimeoutMs: options.idleTimeoutMs ?? 60_000,
    now: () => now,
  });
  const open = (id: string) => store.open(id, cache(), (reason: EvictionReason) => evictions.push(`${id}:${reason}`));
  /** Fills a session's cache to `positions` and accounts for it, as a step does. */
  const use = (session: ReturnType<typeof open>, positions: number) => {
    store.touch(session);
    store.makeRoom(session, positions * 64);
    session.cache.reserve(positions);
    store.account(session);
  };
  return { store, open, use, evictions, advance: (ms: number) => (now += ms) };
}

const expired = (id: string) => (error: unknown) =>
  error instanceof NodeStatusError &&
  error.code === 'SESSION_EXPIRED' &&
  error.kind === 'not_found' &&
  error.message === `session ${id} is not open on this node (evicted or never opened); reopen and replay`;

test('least recently used sessions make room for a session that needs it', () => {
  const { store, open, use, evictions } = fixture({ cacheBytes: 3 * 1024 });
  const a = open('a');
  const b = open('b');
  const c = open('c');
  use(a, 16); // 1024 bytes each (16 positions is the smallest allocation)
  use(b, 16);
  use(a, 16); // a is now more recent than b
  assert.equal(store.totalBytes, 2048);
  use(c, 32); // needs 2048: b goes, a stays
  assert.deepEqual(evictions, ['b:room']);
  assert.equal(store.totalBytes, 3072);
  assert.throws(() => store.touch(b), expired('b'));
  assert.throws(() => b.cache, expired('b'));
  use(a, 16);
  assert.equal(store.size, 2);
});

test('a session needing more than the whole budget is refused, and others are left alone', () => {
  const { store, open, use, evictions } = fixture({ cacheBytes: 2048 });
  const a = open('a');
  use(a, 16);
  const big = open('big');
  assert.throws(
    () => store.makeRoom(big, 4096),
    (error: unknown) =>
      error instanceof NodeStatusError &&
      error.code === 'CACHE_FULL' &&
      error.kind === 'resource_exhausted' &&
      /session big needs 4096 bytes of KV cache, this node's budget for all sessions is 2048/.test(error.message),
  );
  assert.deepEqual(evictions, []);
  use(a, 16);
});

test('idle sessions are evicted after the TTL; used ones stay', () => {
  const { store, open, use, evictions, advance } = fixture({ idleTimeoutMs: 1000 });
  const idle = open('idle');
  const busy = open('busy');
  advance(600);
  use(busy, 1);
  advance(500);
  store.sweep();
  assert.deepEqual(evictions, ['idle:idle']);
  assert.throws(() => store.touch(idle), expired('idle'));
  use(busy, 2);
  assert.equal(store.size, 1);
});

test('the session count is bounded; idle and released sessions free their places', () => {
  const { store, open, advance } = fixture({ maxSessions: 2, idleTimeoutMs: 1000 });
  const a = open('a');
  open('b');
  assert.throws(
    () => open('c'),
    (error: unknown) => error instanceof NodeStatusError && error.code === 'NODE_FULL',
  );
  store.release(a);
  open('c');
  advance(1000);
  open('d'); // the sweep before opening evicts b and c
  assert.equal(store.size, 1);
});
