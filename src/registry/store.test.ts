import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { RegistryStore } from './store.ts';

test('a version-1 registry file gains the nodes.state column; its nodes read READY until they report', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-store-'));
  try {
    const path = join(dir, 'registry.db');
    const old = new Database(path);
    old.exec(`CREATE TABLE nodes (
      node_id TEXT PRIMARY KEY, role TEXT NOT NULL, model_id TEXT NOT NULL, shard_index INTEGER NOT NULL,
      endpoint TEXT NOT NULL, tls INTEGER NOT NULL, share_key TEXT NOT NULL, capabilities TEXT NOT NULL,
      active_sessions INTEGER NOT NULL, max_sessions INTEGER NOT NULL, compute_us_per_token INTEGER NOT NULL,
      price_per_1k_tokens INTEGER NOT NULL, registered_at_ms INTEGER NOT NULL, last_seen_ms INTEGER NOT NULL,
      status TEXT NOT NULL CHECK (status IN ('live', 'evicted')))`);
    old
      .prepare(
        `INSERT INTO nodes VALUES ('0xabc', 'node', 'tiny', 0, '127.0.0.1:1', 0, '02aa', '{}', 1, 8, 100, 5, 1, 2, 'live')`,
      )
      .run();
    old.pragma('user_version = 1');
    old.close();

    const store = new RegistryStore(path);
    try {
      assert.equal(store.node('0xabc')?.state, 'READY');
      assert.equal(store.node('0xabc')?.activeSessions, 1, 'the rest of the row is kept');
      assert.equal(store.database.pragma('user_version', { simple: true }), 2);
    } finally {
      store.close();
    }
    // Opening it again finds the column there and changes nothing.
    const again = new RegistryStore(path);
    assert.equal(again.node('0xabc')?.state, 'READY');
    again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
