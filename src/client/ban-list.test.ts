import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BanList } from './ban-list.ts';

test('a ban lasts its duration and then lifts by itself', () => {
  let now = 1000;
  const bans = new BanList(500, () => now);
  bans.ban('0xa');
  assert.equal(bans.isBanned('0xa'), true);
  assert.equal(bans.isBanned('0xb'), false);
  assert.deepEqual([...bans.current()], ['0xa']);
  now = 1499;
  assert.equal(bans.isBanned('0xa'), true);
  now = 1500;
  assert.equal(bans.isBanned('0xa'), false);
  assert.deepEqual([...bans.current()], []);
});
