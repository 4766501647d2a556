import type { MemberDirectory } from '../chain/membership-service.ts';
import type { Member } from '../chain/membership.ts';
import type Database from 'better-sqlite3';

type Row = Omit<Member, 'status' | 'tls'> & { status: string; tls: number };

const COLUMNS =
  'node_id AS nodeId, role, model_id AS modelId, shard_index AS shardIndex, share_key AS shareKey, endpoint, tls, status, last_seen_ms AS lastSeenMs';

/**
 * The registry's admission records as the Membership service answers them to daemons: a member
 * silent for longer than `silenceMs` counts as evicted even before the sweep marks it.
 */
export function storeDirectory(db: Database.Database, silenceMs: number): MemberDirectory {
  return {
    members(nodeIds, liveRole) {
      const now = Date.now();
      const rows = [
        ...(nodeIds.length === 0
          ? []
          : (db
              .prepare(`SELECT ${COLUMNS} FROM nodes WHERE node_id IN (${nodeIds.map(() => '?').join(',')})`)
              .all(...nodeIds) as Row[])),
        ...(liveRole === ''
          ? []
          : (db
              .prepare(`SELECT ${COLUMNS} FROM nodes WHERE role = ? AND status = 'live' AND last_seen_ms >= ?`)
              .all(liveRole, now - silenceMs) as Row[])),
      ];
      return rows.map((r) => ({
        ...r,
        tls: r.tls === 1,
        status: r.status === 'live' && r.lastSeenMs >= now - silenceMs ? 'live' : 'evicted',
      }));
    },
  };
}
