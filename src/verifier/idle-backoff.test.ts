import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IdleBackoff } from './idle-backoff.ts';

test('empty pulls double the wait up to the ceiling', () => {
  const backoff = new IdleBackoff(1000, 4000);
  assert.deepEqual(
    Array.from({ length: 5 }, () => backoff.idle()),
    [1000, 2000, 4000, 4000, 4000],
  );
});

test('work resets the wait to the base', () => {
  const backoff = new IdleBackoff(150, 600);
  backoff.idle();
  backoff.idle();
  backoff.idle();
  backoff.busy();
  assert.deepEqual([backoff.idle(), backoff.idle()], [150, 300]);
});

test('a ceiling below the base is refused', () => {
  assert.throws(() => new IdleBackoff(1000, 500), RangeError);
  assert.throws(() => new IdleBackoff(0, 500), RangeError);
});
