import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StopMatcher } from './stop-matcher.ts';

function run(stops: string[], pieces: string[]): { shown: string[]; stopped: boolean; rest: string } {
  const matcher = new StopMatcher(stops);
  const shown = pieces.map((p) => matcher.push(p));
  return { shown, stopped: matcher.stopped, rest: matcher.flush() };
}

test('a stop string split across pieces is held back and never shown', () => {
  assert.deepEqual(run(['END'], ['once', ' E', 'N', 'Dx', 'more']), {
    shown: ['once', ' ', '', '', ''],
    stopped: true,
    rest: '',
  });
});

test('held text that turns out not to be a stop string is released', () => {
  assert.deepEqual(run(['END'], ['a E', 'Nd', '!']), { shown: ['a ', 'ENd', '!'], stopped: false, rest: '' });
  assert.deepEqual(run(['END'], ['a EN']), { shown: ['a '], stopped: false, rest: 'EN' });
});

test('the earliest of several stop strings wins', () => {
  assert.deepEqual(run(['cat', 'at'], ['the hat and cat']), { shown: ['the h'], stopped: true, rest: '' });
});

test('without stop strings everything passes at once', () => {
  assert.deepEqual(run([], ['a', 'b']), { shown: ['a', 'b'], stopped: false, rest: '' });
});
