import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { storeDirectory } from './member-directory.ts';
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
      assert.equal(store.database.pragma('user_version', { simple: true }), 3);
    } finally {
      store.close();
    }
    // Opening it again finds the column there and changes nothing.
    const again = new RegistryStore(path);
    assert.equal(again.node('0xabc')?.state, 'READY');
    assert.equal(again.node('0xabc')?.shardEnd, 1, 'its one shard, 0');
    again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a version-2 registry file gains shard_end in nodes and share_keys; its rows read as one shard (shard_index + 1)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-store-'));
  try {
    const path = join(dir, 'registry.db');
    // The tables as tessera wrote them before spans, with a node on shard 2 and its share-key history.
    const old = new Database(path);
    old.exec(`CREATE TABLE nodes (
      node_id TEXT PRIMARY KEY, role TEXT NOT NULL, model_id TEXT NOT NULL, shard_index INTEGER NOT NULL,
      endpoint TEXT NOT NULL, tls INTEGER NOT NULL, share_key TEXT NOT NULL, capabilities TEXT NOT NULL,
      active_sessions INTEGER NOT NULL, max_sessions INTEGER NOT NULL, compute_us_per_token INTEGER NOT NULL,
      price_per_1k_tokens INTEGER NOT NULL, registered_at_ms INTEGER NOT NULL, last_seen_ms INTEGER NOT NULL,
      status TEXT NOT NULL CHECK (status IN ('live', 'evicted')), state TEXT NOT NULL DEFAULT 'READY')`);
    old.exec(`CREATE TABLE share_keys (
      node_id TEXT NOT NULL, share_key TEXT NOT NULL, role TEXT NOT NULL, model_id TEXT NOT NULL,
      shard_index INTEGER NOT NULL, first_seen_ms INTEGER NOT NULL, PRIMARY KEY (node_id, share_key)) WITHOUT ROWID`);
    const now = Date.now();
    old
      .prepare(
        `INSERT INTO nodes VALUES ('0xabc', 'node', 'tiny', 2, '127.0.0.1:1', 0, '02aa', '{}', 1, 8, 100, 5, 1, ?, 'live', 'IDLE')`,
      )
      .run(now);
    old.prepare(`INSERT INTO share_keys VALUES ('0xabc', '02aa', 'node', 'tiny', 2, 1)`).run();
    old.prepare(`INSERT INTO share_keys VALUES ('0xgone', '03bb', 'node', 'tiny', 1, 1)`).run();
    old.pragma('user_version = 2');
    old.close();

    const store = new RegistryStore(path);
    try {
      const node = store.node('0xabc');
      assert.deepEqual([node?.shardIndex, node?.shardEnd, node?.state], [2, 3, 'IDLE']);
      assert.deepEqual(
        store.liveNodes('tiny', 0).map((n) => [n.nodeId, n.shardIndex, n.shardEnd]),
        [['0xabc', 2, 3]],
      );
      assert.equal(store.database.pragma('user_version', { simple: true }), 3);
      // The share-key history answers members that left with their one shard too.
      const members = storeDirectory(store.database, 60_000).members(['0xabc', '0xgone'], '');
      assert.deepEqual(
        members.map((m) => [m.nodeId, m.shardIndex, m.shardEnd, m.status]),
        [
          ['0xabc', 2, 3, 'live'],
          ['0xgone', 1, 2, 'evicted'],
        ],
      );
      // A registration now writes its span.
      store.putNode(
        {
          kind: 'register',
          nodeId: '0xdef',
          role: 'node',
          modelId: 'tiny',
          shardIndex: 0,
          shardEnd: 3,
          shareKey: '02cc',
          endpoint: '127.0.0.1:2',
          tls: false,
          capabilities: {
            tier: 'T3',
            cpuCores: 4,
            memoryGiB: 8,
            gpu: 'none',
            region: '',
            workloads: [],
            clientVersion: '',
          },
          load: { activeSessions: 0, maxSessions: 8, computeUsPerToken: 1 },
          pricePer1kTokens: 0,
          timestampMs: now,
          nonce: '00'.repeat(16),
        },
        now,
      );
      assert.deepEqual(
        store.liveNodes('tiny', 0).map((n) => [n.nodeId, n.shardIndex, n.shardEnd]),
        [
          ['0xdef', 0, 3],
          ['0xabc', 2, 3],
        ],
      );
    } finally {
      store.close();
    }
    // Opening it again finds the columns there and changes nothing.
    const again = new RegistryStore(path);
    assert.deepEqual([again.node('0xabc')?.shardEnd, again.node('0xdef')?.shardEnd], [3, 3]);
    again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
