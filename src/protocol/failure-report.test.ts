import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair } from '../crypto/keys.ts';
import { openFailureReport, reportFitsRoute, sessionDigestOf, signFailureReport } from './failure-report.ts';

const keys = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
// spans [0, 2), [2, 3), [3, 5): a hop's position is not its first shard
const route = keys.map((k, i) => ({ nodeId: k.address, shardIndex: [0, 2, 3][i]! }));
const reportBy = (i: number, failed: number, session = 'session-1') =>
  signFailureReport(keys[i]!, {
    failedNode: keys[failed]!.address,
    failedShard: failed,
    reason: 'NEXT_HOP_FAILED',
    sessionHash: sessionDigestOf(session),
    timestampMs: 1_800_000_000_000,
  });

test('a signed failure report opens to what its reporter signed; any byte changed and it does not', () => {
  const bytes = reportBy(1, 2);
  const report = openFailureReport(bytes)!;
  assert.equal(report.reporter, keys[1]!.address);
  assert.equal(report.failedNode, keys[2]!.address);
  assert.equal(report.failedShard, 2);
  assert.equal(report.reason, 'NEXT_HOP_FAILED');
  assert.equal(report.timestampMs, 1_800_000_000_000);
  for (const at of [0, 25, 42, 50, 80, 90, bytes.length - 1]) {
    const changed = Buffer.from(bytes);
    changed[at]! ^= 1;
    assert.equal(openFailureReport(changed), undefined, `byte ${at}`);
  }
  assert.equal(openFailureReport(bytes.subarray(0, 40)), undefined);
});

test('a report fits a route only for its session, from a hop of it, about that hop or the next one', () => {
  const fits = (bytes: Buffer, session = 'session-1', from = 0) =>
    reportFitsRoute(openFailureReport(bytes)!, session, route, from);
  assert.ok(fits(reportBy(1, 2)));
  assert.ok(fits(reportBy(2, 2)));
  assert.ok(!fits(reportBy(1, 2), 'session-2'));
  assert.ok(!fits(reportBy(0, 2)), 'shard 0 cannot see shard 2 fail');
  assert.ok(!fits(reportBy(2, 1)), 'a hop never sees the hop before it fail');
  assert.ok(!fits(reportBy(0, 1), 'session-1', 1), 'a node takes reports only from below itself');
  const byFirstShard = signFailureReport(keys[1]!, {
    failedNode: keys[2]!.address,
    failedShard: 3,
    reason: 'NEXT_HOP_FAILED',
    sessionHash: sessionDigestOf('session-1'),
    timestampMs: 0,
  });
  assert.ok(!fits(byFirstShard), 'a report names the failed hop by its position in the route');
  const stranger = generateKeyPair();
  const outside = signFailureReport(stranger, {
    failedNode: keys[1]!.address,
    failedShard: 1,
    reason: 'NEXT_HOP_FAILED',
    sessionHash: sessionDigestOf('session-1'),
    timestampMs: 0,
  });
  assert.ok(!fits(outside));
});
