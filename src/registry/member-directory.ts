import type { MemberDirectory } from '../chain/membership-service.ts';
import type { Member } from '../chain/membership.ts';
import type Database from 'better-sqlite3';
import { SHARD_END } from './store.ts';

type Row = Omit<Member, 'status' | 'tls' | 'shareKeys'> & { status: string; tls: number };

const COLUMNS = `node_id AS nodeId, role, model_id AS modelId, shard_index AS shardIndex, ${SHARD_END} AS shardEnd,
  share_key AS shareKey, endpoint, tls, status, last_seen_ms AS lastSeenMs`;

/**
 * The registry's admission records as the Membership service answers them to daemons: a member
 * silent for longer than `silenceMs` counts as evicted even before the sweep marks it. A member
 * that left is answered from its share-key history, as evicted: the work it did stays checkable.
 */
export function storeDirectory(db: Database.Database, silenceMs: number): MemberDirectory {
  const keysOf = db.prepare(
    `SELECT share_key AS shareKey, role, model_id AS modelId, shard_index AS shardIndex, ${SHARD_END} AS shardEnd
     FROM share_keys WHERE node_id = ? ORDER BY first_seen_ms DESC, share_key`,
  );
  const history = (nodeId: string) =>
    keysOf.all(nodeId) as { shareKey: string; role: string; modelId: string; shardIndex: number; shardEnd: number }[];
  return {
    members(nodeIds, liveRole) {
      const now = Date.now();
      const ids = [...new Set(nodeIds)];
      const rows = [
        ...(ids.length === 0
          ? []
          : (db
              .prepare(`SELECT ${COLUMNS} FROM nodes WHERE node_id IN (${ids.map(() => '?').join(',')})`)
              .all(...ids) as Row[])),
        ...(liveRole === ''
          ? []
          : (db
              .prepare(`SELECT ${COLUMNS} FROM nodes WHERE role = ? AND status = 'live' AND last_seen_ms >= ?`)
              .all(liveRole, now - silenceMs) as Row[])),
      ];
      const members: Member[] = rows.map((r) => {
        const keys = history(r.nodeId).map((h) => h.shareKey);
        return {
          ...r,
          tls: r.tls === 1,
          status: r.status === 'live' && r.lastSeenMs >= now - silenceMs ? 'live' : 'evicted',
          shareKeys: [r.shareKey, ...keys.filter((k) => k !== r.shareKey)],
        };
      });
      const present = new Set(rows.map((r) => r.nodeId));
      for (const nodeId of ids) {
        if (present.has(nodeId)) continue;
        const past = history(nodeId);
        if (past.length === 0) continue;
        const latest = past[0]!;
        members.push({
          nodeId,
          role: latest.role,
          modelId: latest.modelId,
          shardIndex: latest.shardIndex,
          shardEnd: latest.shardEnd,
          shareKey: latest.shareKey,
          shareKeys: past.map((h) => h.shareKey),
          endpoint: '',
          tls: false,
          status: 'evicted',
          lastSeenMs: 0,
        });
      }
      return members;
    },
  };
}
