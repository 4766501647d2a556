import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sha256 } from '../crypto/hash.ts';
import { drawValidators } from './validator-draw.ts';

const seedOf = (i: number) => sha256(Buffer.from(`block ${i}`));

test('the draw is the same for everyone with the same seed, and another seed draws anew', () => {
  const candidates = [
    { id: '0xa', stake: 100n },
    { id: '0xb', stake: 100n },
    { id: '0xc', stake: 100n },
  ];
  const once = drawValidators(candidates, seedOf(1), 2);
  assert.deepEqual(
    drawValidators([...candidates].reverse(), seedOf(1), 2),
    once,
    'order of candidates does not matter',
  );
  assert.equal(once.length, 2);
  const draws = new Set(Array.from({ length: 20 }, (_, i) => drawValidators(candidates, seedOf(i), 1)[0]));
  assert.equal(draws.size, 3, 'equal stakes: every candidate is drawn for some seed');
});

test('stake buys likelihood, not certainty; no stake is never drawn', () => {
  const candidates = [
    { id: '0xrich', stake: 1_000n },
    { id: '0xmid', stake: 800n },
    { id: '0xpoor', stake: 100n },
    { id: '0xnone', stake: 0n },
  ];
  const wins = new Map<string, number>();
  for (let i = 0; i < 2_000; i++) {
    const [first] = drawValidators(candidates, seedOf(i), 1);
    wins.set(first!, (wins.get(first!) ?? 0) + 1);
  }
  assert.equal(wins.get('0xnone'), undefined);
  assert.ok((wins.get('0xrich') ?? 0) > (wins.get('0xmid') ?? 0), JSON.stringify([...wins]));
  assert.ok((wins.get('0xmid') ?? 0) > 0, 'a smaller stake still wins sometimes');
  // 0.7·100 + 0.3·r·1000 ≤ 370 < 0.7·800: the poorest never beats the middle one.
  assert.equal(wins.get('0xpoor'), undefined);
  assert.deepEqual(drawValidators(candidates, seedOf(0), 10).length, 3, 'at most the staked candidates');
  assert.deepEqual(drawValidators([{ id: '0xnone', stake: 0n }], seedOf(0), 1), []);
});
