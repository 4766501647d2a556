import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair } from '../crypto/keys.ts';
import { RecordFormatError } from '../protocol/record.ts';
import { canonicalJson } from '../crypto/canonical-json.ts';
import { sign } from '../crypto/signature.ts';
import { leaderOf, openRoster, ROSTER_DOMAIN, rosterSigner, signRoster } from './roster.ts';

const authority = generateKeyPair();
const addresses = ['0x' + 'a'.repeat(40), '0x' + 'b'.repeat(40), '0x' + 'c'.repeat(40)];

test('a signed roster opens with its signer, sorted, and every daemon computes the same leaders', () => {
  const signed = signRoster(authority, {
    epoch: 7,
    daemons: [
      { address: addresses[2]!, stake: '1' },
      { address: addresses[0]!, stake: '1' },
    ],
  });
  const opened = openRoster(signed);
  assert.equal(rosterSigner(signed), authority.address);
  assert.deepEqual(
    opened.roster.daemons.map((d) => d.address),
    [addresses[0], addresses[2]],
  );
  const again = openRoster({ payload: Uint8Array.from(signed.payload), signature: signed.signature });
  const slots = Array.from({ length: 200 }, (_, i) => 420 + i);
  assert.deepEqual(
    slots.map((s) => leaderOf(s, opened)),
    slots.map((s) => leaderOf(s, again)),
  );
  // Equal stakes: both daemons lead some slots.
  assert.equal(new Set(slots.map((s) => leaderOf(s, opened))).size, 2);
});

test('the draw follows stake: a daemon with 99 of 100 units leads nearly every slot', () => {
  const opened = openRoster(
    signRoster(authority, {
      epoch: 1,
      daemons: [
        { address: addresses[0]!, stake: '1' },
        { address: addresses[1]!, stake: '99' },
      ],
    }),
  );
  const led = Array.from({ length: 1_000 }, (_, s) => leaderOf(s, opened)).filter((a) => a === addresses[1]).length;
  assert.ok(led > 950 && led < 1_000, `the heavy daemon led ${led} of 1000 slots`);
});

test('stakes beyond 2^53 draw in exact integers', () => {
  const opened = openRoster(
    signRoster(authority, {
      epoch: 1,
      daemons: [
        { address: addresses[0]!, stake: (10n ** 30n).toString() },
        { address: addresses[1]!, stake: '1' },
      ],
    }),
  );
  assert.equal(opened.total, 10n ** 30n + 1n);
  assert.equal(leaderOf(5, opened), addresses[0]);
});

test('malformed rosters are refused with what is wrong', () => {
  const signedPayload = (value: Parameters<typeof canonicalJson>[0]) => {
    const payload = canonicalJson(value);
    return { payload, signature: sign(authority, ROSTER_DOMAIN, payload) };
  };
  const cases: [Parameters<typeof canonicalJson>[0], RegExp][] = [
    [{ epoch: 1, daemons: [] }, /daemons/],
    [{ epoch: 1, daemons: [{ address: addresses[0]!, stake: '0' }] }, /positive decimal stake/],
    [{ epoch: 1, daemons: [{ address: addresses[0]!, stake: '-1' }] }, /positive decimal stake/],
    [{ epoch: 1, daemons: [{ address: addresses[0]!, stake: 1 }] }, /positive decimal stake/],
    [
      {
        epoch: 1,
        daemons: [
          { address: addresses[1]!, stake: '1' },
          { address: addresses[0]!, stake: '1' },
        ],
      },
      /sorted by address/,
    ],
    [
      {
        epoch: 1,
        daemons: [
          { address: addresses[0]!, stake: '1' },
          { address: addresses[0]!, stake: '1' },
        ],
      },
      /each once/,
    ],
    [{ epoch: -1, daemons: [{ address: addresses[0]!, stake: '1' }] }, /epoch/],
  ];
  for (const [value, reason] of cases)
    assert.throws(
      () => openRoster(signedPayload(value)),
      (e: Error) => e instanceof RecordFormatError && reason.test(e.message),
    );
});
