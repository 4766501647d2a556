import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NodeState } from './node-state.ts';

function fixture() {
  let nowMs = 1_000_000;
  let sessions = 0;
  const lines: Record<string, unknown>[] = [];
  const state = new NodeState({
    sessions: () => sessions,
    idleAfterMs: 60_000,
    now: () => nowMs,
    log: (event, fields) => lines.push({ event, ...fields }),
  });
  return {
    state,
    lines,
    advance: (ms: number) => (nowMs += ms),
    setSessions: (n: number) => (sessions = n),
  };
}

test('READY, EXECUTING while it holds a session, READY after, IDLE only past the idle time with none', () => {
  const { state, lines, advance, setSessions } = fixture();
  assert.equal(state.update(), 'READY');
  advance(59_000);
  setSessions(2);
  assert.equal(state.update(), 'EXECUTING');
  advance(120_000);
  assert.equal(state.update(), 'EXECUTING', 'a long session is not idleness');
  setSessions(0);
  assert.equal(state.update(), 'READY', 'the idle time counts from the last session, not from the start');
  advance(60_000);
  assert.equal(state.update(), 'READY');
  advance(1);
  assert.equal(state.update(), 'IDLE');
  assert.equal(state.update(), 'IDLE');
  setSessions(1);
  assert.equal(state.update(), 'EXECUTING');
  assert.deepEqual(
    lines.map((l) => [l.event, l.previous, l.state]),
    [
      ['node_state', 'READY', 'EXECUTING'],
      ['node_state', 'EXECUTING', 'READY'],
      ['node_state', 'READY', 'IDLE'],
      ['node_state', 'IDLE', 'EXECUTING'],
    ],
    'one line per change, none when the state holds',
  );
});

test('UNSTAKING while the registry says the stake is in cooldown, sessions or not, and its end is kept', () => {
  const { state, lines, setSessions, advance } = fixture();
  setSessions(1);
  state.update();
  state.setUnstaking(5_000_000);
  assert.equal(state.update(), 'UNSTAKING');
  assert.equal(state.unstakingUntilMs, 5_000_000);
  assert.deepEqual(lines.at(-1), {
    event: 'node_state',
    state: 'UNSTAKING',
    previous: 'EXECUTING',
    sessions: 1,
    unstakingUntil: new Date(5_000_000).toISOString(),
  });
  advance(10_000_000);
  assert.equal(state.update(), 'UNSTAKING', 'the cooldown ending alone does not end it: the stake is still held');
  state.setUnstaking(0);
  assert.equal(state.unstakingUntilMs, undefined);
  assert.equal(state.update(), 'EXECUTING');
});
