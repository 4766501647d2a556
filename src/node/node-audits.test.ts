import { sha256 } from '../crypto/hash.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { signCommitment, stepIdOf, tokenBytes, type SignedCommitment } from '../protocol/commitment.ts';
import { auditCommitmentOf, isAudited } from '../protocol/audit-selection.ts';
import { generateKeyPair } from '../crypto/keys.ts';
import { AUDIT_WINDOW_DEFAULTS, AuditWindow } from './audit-window.ts';
import { NodeAudits } from './node-audits.ts';
import { NodeStatusError } from '../protocol/forward-status.ts';
import { ticketIdOf } from '../protocol/ticket.ts';
import { validManifest } from '../../test/support/manifest-fixture.ts';

const RATE = 0.5;
const key = generateKeyPair();

/** Node audits with no registry: a ticketed step is logged as `audit_selected` instead of sent. */
function nodeAudits(maxSteps = AUDIT_WINDOW_DEFAULTS.maxSteps, samplingRate = RATE) {
  const events: { event: string; stepId?: unknown }[] = [];
  const audits = new NodeAudits({
    manifest: validManifest(),
    held: { start: 0, end: 2 },
    samplingRate,
    window: { ...AUDIT_WINDOW_DEFAULTS, maxSteps },
    log: (event, fields = {}) => events.push({ event, stepId: fields.stepId }),
  });
  return { audits, events };
}

const bytes = tokenBytes([1, 2, 3]);

function committed(session: string, step: number, shardEnd = 1): SignedCommitment {
  return signCommitment(key, {
    shardIndex: 0,
    shardEnd,
    stepId: stepIdOf(session, step),
    inputHash: sha256(bytes),
    outputHash: sha256(bytes),
  });
}

function keep(audits: NodeAudits, session: string, step: number, shardEnd = 1): SignedCommitment {
  const commitment = committed(session, step, shardEnd);
  audits.window.keep({ sessionId: session, input: { tokens: true, positions: 3, bytes }, commitment });
  return commitment;
}

/** A secret whose draw of the node's signed commitment selects it (or not). */
function secretThat(selects: boolean, commitment: SignedCommitment): Buffer {
  for (;;) {
    const secret = randomBytes(32);
    if (isAudited(secret, commitment, RATE) === selects) return secret;
  }
}

test("the registry's hand-over tickets a kept step once, and logs once a step not held or not selected", () => {
  const { audits, events } = nodeAudits();
  const held = keep(audits, 'a', 0);
  const owed = ({ stepId }: SignedCommitment, secret: Buffer, shardIndex = 0) => ({
    stepId: Buffer.from(stepId),
    shardIndex,
    shardEnd: shardIndex + 1,
    secret,
    dueByMs: 1,
    ticketId: '',
  });
  const missing = committed('never-kept', 0);
  const unselected = keep(audits, 'b', 0);
  const batch = [
    owed(held, secretThat(true, held)),
    owed(missing, secretThat(true, missing)),
    owed(unselected, secretThat(false, unselected)),
  ];
  audits.answerOwed(batch);
  audits.answerOwed(batch); // the next heartbeat lists them again until the tickets land
  const hex = (id: Uint8Array) => Buffer.from(id).toString('hex');
  assert.deepEqual(events, [
    { event: 'audit_selected', stepId: undefined },
    { event: 'audit_request_unanswerable', stepId: hex(missing.stepId) },
    { event: 'audit_request_not_selected', stepId: hex(unselected.stepId) },
  ]);
  assert.equal(audits.window.size, 1, 'the unselected step is still kept');
});

test("a request naming its commitment is drawn over the node's own signature: a secret that does not select the step leaves it kept, one that does takes it", () => {
  const { audits, events } = nodeAudits();
  const owed = (commitment: SignedCommitment, secret: Buffer) => ({
    stepId: Buffer.from(commitment.stepId),
    shardIndex: 0,
    shardEnd: 1,
    secret,
    dueByMs: 1,
    ticketId: ticketIdOf(commitment),
  });
  const unselected = keep(audits, 'a', 0);
  const selected = keep(audits, 'b', 0);
  audits.answerOwed([owed(unselected, secretThat(false, unselected)), owed(selected, secretThat(true, selected))]);
  assert.deepEqual(
    events.map((e) => e.event),
    ['audit_request_not_selected', 'audit_selected'],
  );
  assert.equal(audits.window.size, 1, 'the unselected step is still kept');
  assert.equal(audits.window.countStep(unselected.stepId), 1);
});

test('a reveal tickets the steps it selects and lets the others go (the secret is bound: nothing else can be asked); a ticketed step is not handed over twice', () => {
  const { audits, events } = nodeAudits();
  const steps = Array.from({ length: 8 }, (_, i) => keep(audits, 'a', i));
  keep(audits, 'b', 0);
  const secret = randomBytes(32);
  audits.reveal('a', auditCommitmentOf(secret), secret);
  const selected = steps.filter((c) => isAudited(secret, c, RATE));
  assert.equal(events.length, selected.length);
  assert.equal(audits.window.size, 1, "only the other session's step is still kept");
  events.length = 0;
  audits.answerOwed(
    selected.map((c) => ({
      stepId: Buffer.from(c.stepId),
      shardIndex: 0,
      shardEnd: 1,
      secret,
      dueByMs: 1,
      ticketId: '',
    })),
  );
  assert.deepEqual(events, [], 'the reveal answered them already');
});

test('steps outlive their session in the window until its bounds push them out, once past their retention', () => {
  const { audits, events } = nodeAudits(2);
  audits.window.retentionMs = 0;
  const first = keep(audits, 'a', 0);
  keep(audits, 'b', 0);
  keep(audits, 'c', 0); // a third step: the oldest goes
  audits.answerOwed([
    {
      stepId: Buffer.from(first.stepId),
      shardIndex: 0,
      shardEnd: 1,
      secret: secretThat(true, first),
      dueByMs: 1,
      ticketId: '',
    },
  ]);
  assert.deepEqual(
    events.map((e) => e.event),
    ['audit_request_unanswerable'],
  );
  assert.equal(audits.window.evicted, 1);
});

test('a window full of steps the cluster may still audit refuses new work with RESOURCE_EXHAUSTED and drops none of them', () => {
  const { audits, events } = nodeAudits(2);
  const kept = [keep(audits, 'a', 0)];
  audits.checkRoom(); // one step of two: room left
  kept.push(keep(audits, 'b', 0));
  assert.throws(
    () => audits.checkRoom(),
    (error: unknown) => {
      assert.ok(error instanceof NodeStatusError);
      assert.equal(error.code, 'AUDIT_WINDOW_FULL');
      assert.equal(error.kind, 'resource_exhausted');
      assert.match(
        error.message,
        /^audit window full: 2 steps \(0\.0 MiB; bounds 2 steps, 256\.0 MiB\) younger than 210 s, which this node must keep to answer audit requests; try another node$/,
      );
      return true;
    },
  );
  // A step whose room was checked before the window filled is still kept, past the bound.
  kept.push(keep(audits, 'c', 0));
  assert.deepEqual([audits.window.size, audits.window.evicted], [3, 0]);
  audits.answerOwed(
    kept.map((c) => ({
      stepId: Buffer.from(c.stepId),
      shardIndex: 0,
      shardEnd: 1,
      secret: secretThat(true, c),
      dueByMs: 1,
      ticketId: '',
    })),
  );
  assert.deepEqual(
    events.map((e) => e.event),
    ['audit_selected', 'audit_selected', 'audit_selected'],
  );
  audits.checkRoom(); // the tickets took them: room again
});

test('at sampling rate 0 nothing is kept, so a full window refuses nothing', () => {
  const { audits } = nodeAudits(1, 0);
  keep(audits, 'a', 0);
  audits.checkRoom();
});

test('the window drops a step for its bounds only once past the retention, and keeps it at least that long whatever its age bound', () => {
  let now = 0;
  const window = new AuditWindow({ maxSteps: 2, maxBytes: 1000, maxAgeMs: 500 }, () => now);
  window.retentionMs = 1000;
  const step = (session: string, bytes: number) => {
    const input = new Uint8Array(bytes);
    const commitment = signCommitment(key, {
      shardIndex: 0,
      shardEnd: 1,
      stepId: stepIdOf(session, 0),
      inputHash: sha256(input),
      outputHash: sha256(input),
      timestampMs: now,
    });
    window.keep({ sessionId: session, input: { tokens: true, positions: bytes / 4, bytes: input }, commitment });
  };
  step('a', 400);
  now = 100;
  step('b', 400);
  now = 800; // past the age bound (500) but within the retention (1000): both stay, and fill the window
  assert.match(window.fullness() ?? '', /^audit window full: 2 steps/);
  step('c', 800); // over both bounds, and still nothing goes
  assert.deepEqual([window.size, window.bytes, window.evicted], [3, 1600, 0]);
  now = 1050; // 'a' is past its retention: it goes for the bounds; 'b' and 'c' are still owed
  assert.match(window.fullness() ?? '', /^audit window full: 2 steps \(0\.0 MiB/);
  assert.deepEqual([window.size, window.bytes, window.evicted], [2, 1200, 1]);
  now = 1101; // 'b' too
  assert.equal(window.fullness(), undefined);
  assert.deepEqual([window.size, window.bytes, window.evicted], [1, 800, 2]);
  assert.equal(window.take('c').length, 1);
});

test("a step of token ids (shard 0's: the prompt) is never kept, so no ticket of it can leave the node; one of hidden states is", () => {
  const { audits } = nodeAudits(AUDIT_WINDOW_DEFAULTS.maxSteps, 1);
  const hidden = new Float32Array(3 * 8);
  audits.retain('s', {} as never, { tokens: [1, 2, 3], positions: 3, bytes }, committed('s', 0));
  assert.equal(audits.window.size, 0);
  audits.retain(
    's',
    { hidden: { dtype: 'DTYPE_F32' } } as never,
    { hidden, positions: 3, bytes: new Uint8Array(hidden.buffer) },
    committed('s', 1),
  );
  assert.equal(audits.window.size, 1);
});

test('a node answers for the span it committed to: a request naming another span, or one it does not hold, leaves the step kept', () => {
  const events: { event: string; reason?: unknown }[] = [];
  const audits = new NodeAudits({
    manifest: validManifest(),
    held: { start: 0, end: 2 },
    samplingRate: RATE,
    window: AUDIT_WINDOW_DEFAULTS,
    log: (event, fields = {}) => events.push({ event, reason: fields.reason }),
  });
  const both = keep(audits, 'a', 0, 2); // a hop that ran shards 0–1
  const request = (shardIndex: number, shardEnd: number) => ({
    stepId: Buffer.from(both.stepId),
    shardIndex,
    shardEnd,
    secret: secretThat(true, both),
    dueByMs: 1,
    ticketId: ticketIdOf(both),
  });
  audits.answerOwed([request(0, 1)]);
  audits.answerOwed([{ ...request(1, 3), ticketId: 'another' }]);
  assert.deepEqual(events, [
    {
      event: 'audit_request_not_selected',
      reason: "the request names shard 0, the step's commitment shards 0–1",
    },
    { event: 'audit_request_not_selected', reason: 'the request names shards [1, 3), this node holds shards 0–1' },
  ]);
  assert.equal(audits.window.size, 1, 'the step is still kept');
  events.length = 0;
  const again = keep(audits, 'b', 0, 2);
  audits.answerOwed([
    {
      ...request(0, 2),
      stepId: Buffer.from(again.stepId),
      secret: secretThat(true, again),
      ticketId: ticketIdOf(again),
    },
  ]);
  assert.deepEqual(
    events.map((e) => e.event),
    ['audit_selected'],
    'the request naming its span is answered',
  );
});
