import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Admission } from './admission.ts';
import { ApiError } from './api-error.ts';

test('up to capacity run, then up to maxQueue wait in arrival order, then 429 with Retry-After', async () => {
  const admission = new Admission(() => 2, 2);
  const signal = new AbortController().signal;
  const first = await admission.acquire(signal);
  await admission.acquire(signal);
  const order: string[] = [];
  const third = admission.acquire(signal).then((release) => (order.push('third'), release));
  const fourth = admission.acquire(signal).then((release) => (order.push('fourth'), release));
  assert.equal(admission.running, 2);
  assert.equal(admission.queued, 2);
  await assert.rejects(admission.acquire(signal), (error: unknown) => {
    assert.ok(error instanceof ApiError);
    assert.equal(error.status, 429);
    assert.equal(error.code, 'QUEUE_FULL');
    assert.ok(Number.isInteger(error.retryAfterSeconds) && error.retryAfterSeconds! >= 1);
    return true;
  });
  first();
  first(); // a second release of the same slot frees nothing more
  (await third)();
  await fourth;
  assert.deepEqual(order, ['third', 'fourth']);
  assert.equal(admission.running, 2);
  assert.equal(admission.queued, 0);
});

test('a waiting request whose client leaves gives up its place; the next one moves up', async () => {
  const admission = new Admission(() => 1, 4);
  const release = await admission.acquire(new AbortController().signal);
  const leaving = new AbortController();
  const left = admission.acquire(leaving.signal);
  const staying = admission.acquire(new AbortController().signal);
  assert.equal(admission.queued, 2);
  leaving.abort(new Error('client gone'));
  await assert.rejects(left, /client gone/);
  assert.equal(admission.queued, 1);
  release();
  await staying;
  assert.equal(admission.running, 1);
  assert.equal(admission.queued, 0);
});

test('capacity that grows lets waiting requests in', async () => {
  let capacity = 1;
  const admission = new Admission(() => capacity, 4);
  await admission.acquire(new AbortController().signal);
  const waiting = admission.acquire(new AbortController().signal);
  assert.equal(admission.queued, 1);
  capacity = 2;
  admission.pump();
  await waiting;
  assert.equal(admission.running, 2);
});

test('requests still arriving (body being read) are bounded by the line and the slots together', () => {
  const admission = new Admission(() => 1, 2);
  const done = [admission.arrive(), admission.arrive(), admission.arrive()];
  assert.equal(admission.arriving, 3);
  assert.throws(
    () => admission.arrive(),
    (error: unknown) => error instanceof ApiError && error.code === 'QUEUE_FULL',
  );
  done[0]!();
  done[0]!(); // ending twice frees one place only
  assert.equal(admission.arriving, 2);
  admission.arrive();
  assert.equal(admission.arriving, 3);
});
