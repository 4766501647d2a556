// Hostile GGUF files, generated: each input parses or is refused with a GgufError, and a parse keeps
// memory in proportion to the file, never to what the file claims. Seeds make failures reproduce.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { TesseraError } from '../../core/errors.ts';
import { GgmlType } from '../../tensor/ggml-type.ts';
import { testModel } from '../../../test/support/models.ts';
import { memoryInUse, mutate, randomBytes, seededRandom } from '../../../test/support/fuzz.ts';
import { GgufError, openGguf } from './reader.ts';
import { GgufValueType } from './value.ts';
import { GgufMetadataBuilder, writeGguf, type GgufMetadataEntry } from './writer.ts';

const dir = mkdtempSync(join(tmpdir(), 'gguf-fuzz-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Every value type, arrays of each, and tensors of three types. */
function everyTypeFile(): Uint8Array {
  const path = join(dir, 'every-type.gguf');
  writeGguf(path, {
    metadata: new GgufMetadataBuilder()
      .string('general.architecture', 'llama')
      .u32('t.u32', 7)
      .u64('t.u64', 2n ** 40n)
      .f32('t.f32', 0.5)
      .bool('t.bool', true)
      .array('t.strings', GgufValueType.STRING, ['a', '', 'Ġthe', '世界'])
      .array('t.i32s', GgufValueType.INT32, [1, -2, 3])
      .array('t.f32s', GgufValueType.FLOAT32, [0.5, -0.25])
      .array('t.u8s', GgufValueType.UINT8, [1, 2, 3, 4, 5]),
    tensors: [
      { name: 'a.weight', dims: [8, 2], type: GgmlType.F32, data: new Uint8Array(64).fill(1) },
      { name: 'b.weight', dims: [32], type: GgmlType.Q8_0, data: new Uint8Array(34).fill(2) },
      { name: 'c.bias', dims: [4], type: GgmlType.F16, data: new Uint8Array(8).fill(3) },
    ],
  });
  return readFileSyncBytes(path);
}

/** stories260K's metadata (its 512-token vocabulary) with no tensors: a real tokenizer header. */
function storiesTokenizerFile(): Uint8Array {
  const source = openGguf(testModel('stories260K.gguf'));
  const metadata: GgufMetadataEntry[] = [];
  for (const [key, value] of source.metadata)
    if (key !== 'general.alignment') metadata.push({ key, type: source.metadataTypes.get(key) as never, value });
  source.close();
  const path = join(dir, 'stories-tokenizer.gguf');
  writeGguf(path, { metadata, tensors: [] });
  return readFileSyncBytes(path);
}

function readFileSyncBytes(path: string): Uint8Array {
  return new Uint8Array(readFileSync(path));
}

interface Outcome {
  parsed: number;
  refused: number;
}

const SLACK = 8 * 2 ** 20;

/** Opens one input; fails the test unless it parses (tensors read) or is refused with a GgufError. */
function tryInput(bytes: Uint8Array, label: string, outcome: Outcome): void {
  const path = join(dir, 'input.gguf');
  writeFileSync(path, bytes);
  const before = memoryInUse();
  let kept: unknown;
  try {
    const file = openGguf(path);
    try {
      kept = [file.metadata, [...file.tensors.keys()].map((name) => file.readTensor(name))];
    } finally {
      file.close();
    }
    outcome.parsed++;
  } catch (error) {
    if (!(error instanceof GgufError && error instanceof TesseraError && error.code.startsWith('GGUF_')))
      assert.fail(`${label}: expected a GgufError, got ${(error as Error)?.stack ?? String(error)}`);
    outcome.refused++;
  }
  const grown = memoryInUse() - before;
  assert.ok(grown < 4 * bytes.length + SLACK, `${label}: ${grown} bytes more in use after a ${bytes.length}-byte file`);
  void kept;
}

test('mutated GGUF files (bit flips, truncation, random runs, huge lengths) parse or fail with a GgufError', () => {
  const bases = [everyTypeFile(), storiesTokenizerFile()];
  const outcome: Outcome = { parsed: 0, refused: 0 };
  for (const seed of [1, 2, 3]) {
    const random = seededRandom(seed);
    for (let i = 0; i < 300; i++) {
      const base = bases[i % bases.length]!;
      let input = mutate(base, random, 8);
      if (random() < 0.3) input = mutate(input, random, 8);
      tryInput(input, `seed ${seed} iteration ${i}`, outcome);
    }
  }
  assert.ok(outcome.refused > 0 && outcome.parsed > 0, `parsed ${outcome.parsed}, refused ${outcome.refused}`);
});

test('random bytes after a valid magic and version parse or fail with a GgufError', () => {
  const outcome: Outcome = { parsed: 0, refused: 0 };
  const random = seededRandom(99);
  for (let i = 0; i < 400; i++) {
    const body = randomBytes(random, 1 + Math.floor(random() * 512));
    // Small counts now and then, so parsing gets past them into entries and tensor infos.
    if (body.length >= 16 && random() < 0.7) {
      const view = new DataView(body.buffer);
      view.setBigUint64(0, BigInt(Math.floor(random() * 3)), true);
      view.setBigUint64(8, BigInt(Math.floor(random() * 4)), true);
    }
    const head = Buffer.from('GGUF\x03\x00\x00\x00', 'latin1');
    tryInput(Buffer.concat([head, body]), `random ${i}`, outcome);
  }
  assert.ok(outcome.refused > 0, `refused ${outcome.refused}`);
});
