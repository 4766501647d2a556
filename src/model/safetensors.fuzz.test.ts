// Hostile safetensors files, generated: each input opens or is refused with a SafetensorsError, and an
// open keeps memory in proportion to the file, never to what its header claims. Seeds make failures
// reproduce.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { TesseraError } from '../core/errors.ts';
import { memoryInUse, mutate, seededRandom } from '../../test/support/fuzz.ts';
import { openSafetensors, SafetensorsError, writeSafetensors } from './safetensors.ts';

const dir = mkdtempSync(join(tmpdir(), 'safetensors-fuzz-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function baseFile(): Buffer {
  const path = join(dir, 'base.safetensors');
  writeSafetensors(
    path,
    [
      { name: 'model.embed_tokens.weight', dtype: 'F32', shape: [4, 2], data: new Uint8Array(32).fill(1) },
      { name: 'model.norm.weight', dtype: 'BF16', shape: [2], data: new Uint8Array(4).fill(2) },
      { name: 'scalar', dtype: 'F16', shape: [], data: new Uint8Array(2).fill(3) },
    ],
    { format: 'pt', note: 'fuzz' },
  );
  return readFileSync(path);
}

/** Text edits of the JSON header a byte flip rarely finds: huge numbers, deep nesting, long lists. */
const HEADER_EDITS: readonly ((json: string, random: () => number) => string)[] = [
  (json, random) => {
    const numbers = [...json.matchAll(/\d+/g)];
    const pick = numbers[Math.floor(random() * numbers.length)];
    if (!pick) return json;
    const huge = ['18446744073709551615', '9007199254740993', '1e308', '-1', '4294967296', '0.5'][
      Math.floor(random() * 6)
    ]!;
    return json.slice(0, pick.index) + huge + json.slice(pick.index + pick[0].length);
  },
  (json, random) => json.replace('[', '['.repeat(1 + Math.floor(random() * 20))),
  (json, random) => json.replace(/"shape":\[/, `"shape":[${'1,'.repeat(Math.floor(random() * 40))}`),
  (json, random) => json.replace('{', `{${'"x":{},'.repeat(Math.floor(random() * 50))}`),
  (json) => json.replace('"dtype":"F32"', '"dtype":"I64"'),
  (json, random) => json.slice(0, Math.floor(random() * json.length)),
];

/** The header edited as text, the length prefix kept true to it, the data as it was. */
function editHeader(file: Buffer, random: () => number): Buffer {
  const length = Number(file.readBigUInt64LE(0));
  const json = file.subarray(8, 8 + length).toString('utf8');
  const edited = Buffer.from(HEADER_EDITS[Math.floor(random() * HEADER_EDITS.length)]!(json, random), 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(edited.length));
  return Buffer.concat([prefix, edited, file.subarray(8 + length)]);
}

test('mutated safetensors files open or fail with a SafetensorsError, keeping memory bounded', () => {
  const base = baseFile();
  const outcome = { opened: 0, refused: 0 };
  const path = join(dir, 'input.safetensors');
  for (const seed of [11, 12, 13]) {
    const random = seededRandom(seed);
    for (let i = 0; i < 300; i++) {
      const input = random() < 0.5 ? mutate(base, random) : editHeader(base, random);
      const label = `seed ${seed} iteration ${i}`;
      writeFileSync(path, input);
      const before = memoryInUse();
      try {
        const file = openSafetensors(path);
        try {
          for (const name of file.tensors.keys()) file.readTensor(name);
        } finally {
          file.close();
        }
        outcome.opened++;
      } catch (error) {
        if (!(error instanceof SafetensorsError && error instanceof TesseraError))
          assert.fail(`${label}: expected a SafetensorsError, got ${(error as Error)?.stack ?? String(error)}`);
        outcome.refused++;
      }
      const grown = memoryInUse() - before;
      assert.ok(grown < 4 * input.length + 8 * 2 ** 20, `${label}: ${grown} bytes more in use`);
    }
  }
  assert.ok(outcome.opened > 0 && outcome.refused > 0, `opened ${outcome.opened}, refused ${outcome.refused}`);
});
