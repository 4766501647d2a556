import Database from 'better-sqlite3';
import { shardEndOf, type Announcement, type NodeStateName, type Role } from './announcement.ts';

export type NodeStatus = 'live' | 'evicted';

export interface NodeRecord {
  readonly nodeId: string;
  readonly role: Role;
  readonly modelId: string;
  /** The node holds shards [shardIndex, shardEnd) (daemons and verifiers: [0, 1)). */
  readonly shardIndex: number;
  readonly shardEnd: number;
  readonly endpoint: string;
  readonly tls: boolean;
  readonly shareKey: string;
  /** The signed capability manifest, as JSON. */
  readonly capabilities: string;
  readonly activeSessions: number;
  readonly maxSessions: number;
  readonly computeUsPerToken: number;
  readonly pricePer1kTokens: number;
  readonly registeredAtMs: number;
  readonly lastSeenMs: number;
  readonly status: NodeStatus;
  /** What the node last said it was doing; READY for roles and versions that do not say. */
  readonly state: NodeStateName;
}

export interface StoredManifest {
  readonly modelId: string;
  readonly manifestJson: string;
  readonly tokenizerPath: string;
  readonly pricePer1kTokens: number;
}

export interface PeerRecord {
  readonly endpoint: string;
  /** Empty until the peer has answered once. */
  readonly clusterId: string;
  /** 0 until the peer has answered once. */
  readonly lastSeenMs: number;
  readonly learnedAtMs: number;
}

/** 2: nodes.state. 3: nodes.shard_end and share_keys.shard_end (held spans). */
const SCHEMA_VERSION = 3;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS nodes (
  node_id TEXT PRIMARY KEY,
  role TEXT NOT NULL,
  model_id TEXT NOT NULL,
  shard_index INTEGER NOT NULL,
  shard_end INTEGER,
  endpoint TEXT NOT NULL,
  tls INTEGER NOT NULL,
  share_key TEXT NOT NULL,
  capabilities TEXT NOT NULL,
  active_sessions INTEGER NOT NULL,
  max_sessions INTEGER NOT NULL,
  compute_us_per_token INTEGER NOT NULL,
  price_per_1k_tokens INTEGER NOT NULL,
  registered_at_ms INTEGER NOT NULL,
  last_seen_ms INTEGER NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('live', 'evicted')),
  state TEXT NOT NULL DEFAULT 'READY'
);
CREATE INDEX IF NOT EXISTS nodes_by_model ON nodes (model_id, status, shard_index);
-- Every share key a member ever registered, kept after it leaves: its shares in blocks stay
-- checkable (and payable) after it unregisters, is evicted or changes its share key.
CREATE TABLE IF NOT EXISTS share_keys (
  node_id TEXT NOT NULL,
  share_key TEXT NOT NULL,
  role TEXT NOT NULL,
  model_id TEXT NOT NULL,
  shard_index INTEGER NOT NULL,
  shard_end INTEGER,
  first_seen_ms INTEGER NOT NULL,
  PRIMARY KEY (node_id, share_key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS nonces (nonce TEXT PRIMARY KEY, node_id TEXT NOT NULL, timestamp_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS nonces_by_time ON nonces (timestamp_ms);
CREATE INDEX IF NOT EXISTS nonces_by_key ON nonces (node_id, timestamp_ms);
CREATE TABLE IF NOT EXISTS nonce_floors (node_id TEXT PRIMARY KEY, floor_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS manifests (
  model_id TEXT PRIMARY KEY,
  manifest_json TEXT NOT NULL,
  tokenizer_path TEXT NOT NULL,
  price_per_1k_tokens INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS peers (
  endpoint TEXT PRIMARY KEY,
  cluster_id TEXT NOT NULL,
  last_seen_ms INTEGER NOT NULL,
  learned_at_ms INTEGER NOT NULL
);
`;

/** How SQLite returns a node: booleans are integers. */
type NodeRow = Omit<NodeRecord, 'tls'> & { readonly tls: number };

/** A row written before spans held one shard: its end reads as the next. */
export const SHARD_END = 'COALESCE(shard_end, shard_index + 1)';

const NODE_COLUMNS = `node_id AS nodeId, role, model_id AS modelId, shard_index AS shardIndex, ${SHARD_END} AS shardEnd, endpoint, tls, share_key AS shareKey,
  capabilities, active_sessions AS activeSessions, max_sessions AS maxSessions, compute_us_per_token AS computeUsPerToken,
  price_per_1k_tokens AS pricePer1kTokens, registered_at_ms AS registeredAtMs, last_seen_ms AS lastSeenMs, status, state`;

const PEER_COLUMNS = 'endpoint, cluster_id AS clusterId, last_seen_ms AS lastSeenMs, learned_at_ms AS learnedAtMs';

/** The registry's state in one SQLite file (WAL, synced in every commit): nodes, the nonce cache, served manifests, peers. */
export class RegistryStore {
  readonly #db: Database.Database;
  #nonceCount: number;

  constructor(path: string) {
    this.#db = new Database(path);
    this.#db.pragma('journal_mode = WAL');
    // What the registry acknowledges (registrations, nonces, tickets, audit requests, stake changes)
    // is on disk before the reply: FULL syncs the WAL in every commit, so a kill -9 or a power cut
    // right after an answer loses nothing it answered. The registry's writes are a few per call.
    this.#db.pragma('synchronous = FULL');
    const version = this.#db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      this.#db.close();
      throw new Error(
        `${path} has registry schema version ${version}; this tessera knows up to ${SCHEMA_VERSION}: upgrade tessera`,
      );
    }
    this.#db.exec(SCHEMA);
    // A version-1 file has its nodes table without the state its nodes now report.
    const columns = this.#db.prepare("SELECT name FROM pragma_table_info('nodes')").all() as { name: string }[];
    if (!columns.some((c) => c.name === 'state'))
      this.#db.exec("ALTER TABLE nodes ADD COLUMN state TEXT NOT NULL DEFAULT 'READY'");
    // Files from before spans: each node held one shard, which the NULL end reads as (SHARD_END).
    for (const table of ['nodes', 'share_keys']) {
      const has = this.#db.prepare(`SELECT 1 FROM pragma_table_info('${table}') WHERE name = 'shard_end'`).get();
      if (has === undefined) this.#db.exec(`ALTER TABLE ${table} ADD COLUMN shard_end INTEGER`);
    }
    // The shared floor of earlier versions could be pushed into the future by one key's calls; the
    // per-key floors replace it.
    this.#db.prepare("DELETE FROM meta WHERE key = 'nonce_floor_ms'").run();
    // Registrations made before the history existed.
    this.#db
      .prepare(
        `INSERT OR IGNORE INTO share_keys (node_id, share_key, role, model_id, shard_index, shard_end, first_seen_ms)
         SELECT node_id, share_key, role, model_id, shard_index, shard_end, registered_at_ms FROM nodes`,
      )
      .run();
    this.#db.pragma(`user_version = ${SCHEMA_VERSION}`);
    this.#nonceCount = (this.#db.prepare('SELECT COUNT(*) AS n FROM nonces').get() as { n: number }).n;
  }

  /** The connection, for the tables of other parts of the registry (audits) that share its transactions. */
  get database(): Database.Database {
    return this.#db;
  }

  transaction<T>(work: () => T): T {
    return this.#db.transaction(work)();
  }

  close(): void {
    this.#db.close();
  }

  // --- nonces ---

  hasNonce(nonce: string): boolean {
    return this.#db.prepare('SELECT 1 FROM nonces WHERE nonce = ?').get(nonce) !== undefined;
  }

  /**
   * No signed call by `nodeId` dated at or before this time is accepted: that key's nonces up to it
   * were dropped to keep the cache under its cap, so one of them could otherwise be replayed. The
   * rule is written at checkTimestamp (admission.ts).
   */
  nonceFloorMs(nodeId: string): number {
    const row = this.#db.prepare('SELECT floor_ms AS f FROM nonce_floors WHERE node_id = ?').get(nodeId) as
      { f: number } | undefined;
    return row?.f ?? 0;
  }

  /**
   * Remembers a used nonce, forgets those older than `expiredBeforeMs` (calls dated then are refused
   * on their timestamp anyway) and the floors below it, and holds the cache to `cap` entries by
   * dropping the oldest nonces of the key holding the most, raising that key's floor alone.
   */
  rememberNonce(nonce: string, nodeId: string, timestampMs: number, expiredBeforeMs: number, cap: number): void {
    this.#db
      .prepare('INSERT INTO nonces (nonce, node_id, timestamp_ms) VALUES (?, ?, ?)')
      .run(nonce, nodeId, timestampMs);
    this.#nonceCount += 1 - this.#db.prepare('DELETE FROM nonces WHERE timestamp_ms < ?').run(expiredBeforeMs).changes;
    this.#db.prepare('DELETE FROM nonce_floors WHERE floor_ms < ?').run(expiredBeforeMs);
    if (this.#nonceCount <= cap) return;
    // Room for a while: a full cache does not scan for its heaviest key on every call.
    const excess = this.#nonceCount - cap + Math.floor(cap / 100);
    const heaviest = this.#db
      .prepare('SELECT node_id AS nodeId, COUNT(*) AS n FROM nonces GROUP BY node_id ORDER BY n DESC LIMIT 1')
      .get() as { nodeId: string; n: number };
    const floor = this.#db
      .prepare('SELECT timestamp_ms AS t FROM nonces WHERE node_id = ? ORDER BY timestamp_ms LIMIT 1 OFFSET ?')
      .get(heaviest.nodeId, Math.min(excess, heaviest.n) - 1) as { t: number };
    this.#nonceCount -= this.#db
      .prepare('DELETE FROM nonces WHERE node_id = ? AND timestamp_ms <= ?')
      .run(heaviest.nodeId, floor.t).changes;
    this.#db
      .prepare(
        'INSERT INTO nonce_floors (node_id, floor_ms) VALUES (?, ?) ON CONFLICT (node_id) DO UPDATE SET floor_ms = MAX(floor_ms, excluded.floor_ms)',
      )
      .run(heaviest.nodeId, floor.t);
  }

  /** Gives back a nonce reserved for a call that was then refused, so the refusal leaves no trace. */
  forgetNonce(nonce: string): void {
    this.#nonceCount -= this.#db.prepare('DELETE FROM nonces WHERE nonce = ?').run(nonce).changes;
  }

  // --- nodes ---

  node(nodeId: string): NodeRecord | undefined {
    const row = this.#db.prepare(`SELECT ${NODE_COLUMNS} FROM nodes WHERE node_id = ?`).get(nodeId) as
      NodeRow | undefined;
    return row === undefined ? undefined : { ...row, tls: row.tls === 1 };
  }

  /** Admits a node, replacing any earlier registration under the same id. */
  putNode(a: Announcement, nowMs: number): void {
    this.#db
      .prepare(
        `INSERT OR REPLACE INTO nodes (node_id, role, model_id, shard_index, shard_end, endpoint, tls, share_key, capabilities,
          active_sessions, max_sessions, compute_us_per_token, price_per_1k_tokens, registered_at_ms, last_seen_ms, status, state)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'live', ?)`,
      )
      .run(
        a.nodeId,
        a.role,
        a.modelId,
        a.shardIndex,
        shardEndOf(a),
        a.endpoint,
        a.tls ? 1 : 0,
        a.shareKey,
        JSON.stringify(a.capabilities),
        a.load.activeSessions,
        a.load.maxSessions,
        a.load.computeUsPerToken,
        a.pricePer1kTokens,
        nowMs,
        nowMs,
        a.load.state ?? 'READY',
      );
    this.#db
      .prepare(
        `INSERT OR IGNORE INTO share_keys (node_id, share_key, role, model_id, shard_index, shard_end, first_seen_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(a.nodeId, a.shareKey, a.role, a.modelId, a.shardIndex, shardEndOf(a), nowMs);
  }

  /** A heartbeat: current load and state, price and capabilities, and the time it was heard. */
  touchNode(a: Announcement, nowMs: number): void {
    this.#db
      .prepare(
        `UPDATE nodes SET active_sessions = ?, max_sessions = ?, compute_us_per_token = ?, price_per_1k_tokens = ?, capabilities = ?,
          last_seen_ms = ?, state = ? WHERE node_id = ?`,
      )
      .run(
        a.load.activeSessions,
        a.load.maxSessions,
        a.load.computeUsPerToken,
        a.pricePer1kTokens,
        JSON.stringify(a.capabilities),
        nowMs,
        a.load.state ?? 'READY',
        a.nodeId,
      );
  }

  removeNode(nodeId: string): void {
    this.#db.prepare('DELETE FROM nodes WHERE node_id = ?').run(nodeId);
  }

  /** Takes a node out of discovery at once (a confirmed fraud proof). */
  evictNode(nodeId: string): void {
    this.#db.prepare("UPDATE nodes SET status = 'evicted' WHERE node_id = ?").run(nodeId);
  }

  /** Marks live nodes last heard before `beforeMs` as evicted; returns their ids. */
  evictSilent(beforeMs: number): string[] {
    const rows = this.#db
      .prepare(
        "UPDATE nodes SET status = 'evicted' WHERE status = 'live' AND last_seen_ms < ? RETURNING node_id AS nodeId",
      )
      .all(beforeMs) as { nodeId: string }[];
    return rows.map((r) => r.nodeId);
  }

  /** Every live verifier's id, sorted. */
  liveVerifiers(): string[] {
    const rows = this.#db
      .prepare("SELECT node_id AS nodeId FROM nodes WHERE role = 'verifier' AND status = 'live' ORDER BY node_id")
      .all() as { nodeId: string }[];
    return rows.map((r) => r.nodeId);
  }

  /** Live compute nodes of a model heard since `sinceMs`, by shard. */
  liveNodes(modelId: string, sinceMs: number): NodeRecord[] {
    const rows = this.#db
      .prepare(
        `SELECT ${NODE_COLUMNS} FROM nodes WHERE model_id = ? AND status = 'live' AND role = 'node' AND last_seen_ms >= ? ORDER BY shard_index, node_id`,
      )
      .all(modelId, sinceMs) as NodeRow[];
    return rows.map((row) => ({ ...row, tls: row.tls === 1 }));
  }

  // --- manifests ---

  /** Makes the stored manifests exactly the served ones. */
  replaceManifests(models: readonly StoredManifest[], nowMs: number): void {
    this.transaction(() => {
      this.#db.prepare('DELETE FROM manifests').run();
      const insert = this.#db.prepare(
        'INSERT INTO manifests (model_id, manifest_json, tokenizer_path, price_per_1k_tokens, updated_at_ms) VALUES (?, ?, ?, ?, ?)',
      );
      for (const m of models) insert.run(m.modelId, m.manifestJson, m.tokenizerPath, m.pricePer1kTokens, nowMs);
    });
  }

  manifests(): StoredManifest[] {
    return this.#db
      .prepare(
        'SELECT model_id AS modelId, manifest_json AS manifestJson, tokenizer_path AS tokenizerPath, price_per_1k_tokens AS pricePer1kTokens FROM manifests ORDER BY model_id',
      )
      .all() as StoredManifest[];
  }

  // --- peers ---

  peers(): PeerRecord[] {
    return this.#db
      .prepare(`SELECT ${PEER_COLUMNS} FROM peers ORDER BY last_seen_ms DESC, endpoint`)
      .all() as PeerRecord[];
  }

  /**
   * Notes a registry heard of from someone else. With `max` peers already known, it displaces the
   * oldest one that never answered, or is dropped.
   */
  learnPeer(endpoint: string, nowMs: number, max: number): void {
    this.transaction(() => {
      if (this.#db.prepare('SELECT 1 FROM peers WHERE endpoint = ?').get(endpoint) !== undefined) return;
      const count = (this.#db.prepare('SELECT COUNT(*) AS n FROM peers').get() as { n: number }).n;
      if (count >= max) {
        const victim = this.#db
          .prepare('SELECT endpoint FROM peers WHERE last_seen_ms = 0 ORDER BY learned_at_ms LIMIT 1')
          .get() as { endpoint: string } | undefined;
        if (victim === undefined) return;
        this.#db.prepare('DELETE FROM peers WHERE endpoint = ?').run(victim.endpoint);
      }
      this.#db
        .prepare("INSERT INTO peers (endpoint, cluster_id, last_seen_ms, learned_at_ms) VALUES (?, '', 0, ?)")
        .run(endpoint, nowMs);
    });
  }

  /** A registry answered: it is reachable at `endpoint` and belongs to `clusterId`. */
  peerAnswered(endpoint: string, clusterId: string, nowMs: number): void {
    this.#db
      .prepare(
        `INSERT INTO peers (endpoint, cluster_id, last_seen_ms, learned_at_ms) VALUES (?, ?, ?, ?)
         ON CONFLICT (endpoint) DO UPDATE SET cluster_id = excluded.cluster_id, last_seen_ms = excluded.last_seen_ms`,
      )
      .run(endpoint, clusterId, nowMs, nowMs);
  }

  forgetPeer(endpoint: string): void {
    this.#db.prepare('DELETE FROM peers WHERE endpoint = ?').run(endpoint);
  }

  /** Forgets registries neither heard from nor newly heard of since `beforeMs`. */
  forgetPeers(beforeMs: number): void {
    this.#db.prepare('DELETE FROM peers WHERE MAX(last_seen_ms, learned_at_ms) < ?').run(beforeMs);
  }
}
