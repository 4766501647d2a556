import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair } from '../crypto/keys.ts';
import { signCommitment, stepIdOf, verifyCommitment } from '../protocol/commitment.ts';
import { AuditWindow } from './audit-window.ts';
import Database from 'better-sqlite3';
import { NodeDb } from './node-db.ts';

const LIMITS = { maxSteps: 100, maxBytes: 1 << 20, maxAgeMs: 60_000 };
const key = generateKeyPair();

function step(sessionId: string, n: number) {
  const bytes = new Uint8Array([n, 1, 2, 3]);
  return {
    sessionId,
    input: { tokens: true as const, positions: 1, bytes },
    commitment: signCommitment(key, {
      shardIndex: 0,
      shardEnd: 3,
      stepId: stepIdOf(sessionId, n),
      inputHash: new Uint8Array(32).fill(n),
      outputHash: new Uint8Array(32).fill(n + 1),
      auditCommitment: new Uint8Array(32).fill(7),
    }),
  };
}

function withDir(run: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-node-db-'));
  try {
    run(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('kept audit steps come back after a restart, byte for byte; a released one does not', () =>
  withDir((dir) => {
    let now = 1000;
    const [s0, s1, t0] = [step('s', 0), step('s', 1), step('t', 0)];
    const first = new NodeDb(dir);
    const window = new AuditWindow(LIMITS, () => now, first.audits);
    for (const kept of [s0, s1, t0]) window.keep(kept);
    window.release(window.takeStep(t0.commitment.stepId)!);
    // taken for a ticket that had not gone out when the node died
    assert.ok(window.takeStep(s1.commitment.stepId));
    first.close();

    now += 10;
    const second = new NodeDb(dir);
    const again = new AuditWindow(LIMITS, () => now, second.audits);
    assert.equal(again.size, 2, 'the kept step and the one whose ticket had not gone out');
    const back = again.takeStep(s0.commitment.stepId)!;
    assert.deepEqual([...back.input.bytes], [...s0.input.bytes]);
    assert.equal(back.input.positions, 1);
    const hexes = (c: typeof s0.commitment) =>
      [c.stepId, c.inputHash, c.outputHash, c.auditCommitment, c.signature].map((b) => Buffer.from(b).toString('hex'));
    assert.deepEqual(hexes(back.commitment), hexes(s0.commitment));
    assert.deepEqual(
      [back.commitment.nodeId, back.commitment.shardIndex, back.commitment.shardEnd, back.commitment.timestampMs],
      [s0.commitment.nodeId, s0.commitment.shardIndex, 3, s0.commitment.timestampMs],
    );
    assert.equal(back.atMs, 1000, 'its age runs from when it was first kept');
    assert.equal(again.takeStep(t0.commitment.stepId), undefined);
    second.close();
  }));

test('steps past their age are dropped from the store at start', () =>
  withDir((dir) => {
    let now = 0;
    const db = new NodeDb(dir);
    new AuditWindow(LIMITS, () => now, db.audits).keep(step('old', 0));
    db.close();
    now = 10 * 60 * 1000;
    const reopened = new NodeDb(dir);
    assert.equal(new AuditWindow(LIMITS, () => now, reopened.audits).size, 0);
    assert.deepEqual(reopened.audits.all(), []);
    reopened.close();
  }));

test('queued shares and their receipt come back until deleted; a receipt goes with its last share', () =>
  withDir((dir) => {
    const db = new NodeDb(dir);
    const receipt = { payload: new Uint8Array([1, 2]), signature: new Uint8Array([3]) };
    const ids = db.shares.insert([new Uint8Array([9]), new Uint8Array([8])], receipt);
    db.shares.delete([ids[0]!]);
    db.close();
    const reopened = new NodeDb(dir);
    const left = reopened.shares.all();
    assert.deepEqual(
      left.map((s) => [[...s.share], [...s.receipt.payload]]),
      [[[8], [1, 2]]],
    );
    reopened.shares.delete([left[0]!.rowId]);
    assert.deepEqual(reopened.shares.all(), []);
    reopened.close();
    reopened.shares.delete([1]); // after close: ignored, not thrown
  }));

test('a step kept before commitments named a span comes back naming its one shard', () =>
  withDir((dir) => {
    const db = new NodeDb(dir);
    const window = new AuditWindow(LIMITS, () => 1000, db.audits);
    window.keep(step('s', 0));
    db.close();
    // As a node of the version before spans wrote it: no shardEnd in the commitment.
    const raw = new Database(join(dir, 'node.db'));
    const row = raw.prepare('SELECT row_id, commitment FROM audit_steps').get() as {
      row_id: number;
      commitment: string;
    };
    const { shardEnd, ...older } = JSON.parse(row.commitment) as Record<string, unknown>;
    assert.equal(shardEnd, 3);
    raw
      .prepare('UPDATE audit_steps SET commitment = ? WHERE row_id = ?')
      .run(JSON.stringify({ ...older, shardIndex: 4 }), row.row_id);
    raw.close();
    const reopened = new NodeDb(dir);
    const [back] = reopened.audits.all();
    assert.deepEqual([back!.commitment.shardIndex, back!.commitment.shardEnd], [4, 5]);
    reopened.close();
  }));

test("a relay's kept step comes back with the relayed hash its signature covers, and still verifies", () =>
  withDir((dir) => {
    const kept = step('r', 0);
    const relay = {
      ...kept,
      commitment: signCommitment(key, { ...kept.commitment, relayedHash: new Uint8Array(32).fill(9) }),
    };
    const first = new NodeDb(dir);
    new AuditWindow(LIMITS, () => 1000, first.audits).keep(relay);
    first.close();
    const second = new NodeDb(dir);
    const back = new AuditWindow(LIMITS, () => 1000, second.audits).takeStep(relay.commitment.stepId)!;
    assert.deepEqual([...back.commitment.relayedHash!], [...relay.commitment.relayedHash!]);
    assert.ok(verifyCommitment(back.commitment));
    second.close();
  }));
