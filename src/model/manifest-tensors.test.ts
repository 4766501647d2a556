// The per-tensor description of a manifest (Manifest.tensors) comes, like the rest of it, from
// whichever registry a node asks: each way a hostile one could bend it is refused with a reason.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testModel } from '../../test/support/models.ts';
import { ManifestError, parseManifest, type Manifest, type ManifestTensor } from './manifest.ts';
import { shardModel } from './shards/shard.ts';

const scratch = mkdtempSync(join(tmpdir(), 'tessera-manifest-tensors-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
const manifest = shardModel(testModel('stories260K.gguf'), 2, scratch);
const tensors = manifest.tensors!;

const parse = (m: unknown) => parseManifest(JSON.stringify(m), 'manifest.json');
const withTensors = (list: unknown): unknown => ({ ...manifest, tensors: list });
const changed = (i: number, change: Partial<Record<keyof ManifestTensor, unknown>>) =>
  withTensors(tensors.map((t, j) => (j === i ? { ...t, ...change } : t)));
const layerTensor = tensors.findIndex((t) => t.layer === 1);

test('a manifest written by tessera shard, with its tensors, parses; so does one without them', () => {
  assert.deepEqual(parse(manifest), manifest);
  const { tensors: _, ...old } = manifest;
  assert.equal(parse(old).tensors, undefined);
});

const refusals: [string, unknown, RegExp][] = [
  ['not a list', withTensors({}), /tensors is not a list/],
  ['a name that is not plain', changed(0, { name: '../token_embd.weight' }), /is not a plain tensor name/],
  ['a name over 64 bytes', changed(layerTensor, { name: `blk.1.${'x'.repeat(64)}` }), /not a plain tensor name/],
  ['an unknown tensor', changed(layerTensor, { name: 'blk1.evil' }), /neither a layer's/],
  ['a name listed twice', withTensors([...tensors, tensors[0]]), /listed twice/],
  ['a layer its name does not say', changed(layerTensor, { layer: 0 }), /is given to 0, its name says 1/],
  [
    'a layer past config.layers',
    changed(layerTensor, { name: 'blk.9.attn_q.weight', layer: 9 }),
    /layer 9, the model has 5/,
  ],
  ['a missing layer', withTensors(tensors.filter((t) => t.layer !== 4)), /layer 4 has no tensors/],
  ['an unsupported type', changed(0, { type: 99 }), /unsupported type 99/],
  ['five dims', changed(0, { dims: [1, 1, 1, 1, 1] }), /are not 1 to 4 positive integers/],
  ['bytes its dims do not take', changed(0, { bytes: tensors[0]!.bytes + 4 }), /its type and dims take/],
  ['an offset past the source', changed(0, { offset: manifest.source.bytes }), /is not inside the source/],
  ['a negative offset', changed(0, { offset: -32 }), /is not inside the source/],
  ['a fractional offset', changed(0, { offset: 0.5 }), /is not inside the source/],
  ['overlapping tensors', changed(1, { offset: tensors[0]!.offset }), /overlap/],
  ['no hash', changed(0, { sha256: 'abc' }), /has no sha256/],
  ['no embedding', withTensors(tensors.filter((t) => t.layer !== 'embedding')), /token_embd.weight is missing/],
  [
    'more tensors than the layers could have',
    withTensors(Array.from({ length: 16 + 32 * 5 + 1 }, (_, i) => ({ ...tensors[0], name: `blk.0.t${i}` }))),
    /177 tensors for 5 layers \(at most 176\)/,
  ],
  [
    'a source without its size',
    { ...manifest, source: { ...manifest.source, bytes: undefined } },
    /without source.bytes/,
  ],
  [
    'an http source URL',
    { ...manifest, source: { ...manifest.source, url: 'http://example.com/m.gguf' } },
    /source.url/,
  ],
  ['an hf: URL without a file', { ...manifest, source: { ...manifest.source, url: 'hf:owner/repo' } }, /source.url/],
];
for (const [what, hostile, reason] of refusals)
  test(`a manifest whose tensors have ${what} is refused`, () => {
    assert.throws(
      () => parse(hostile),
      (error) => error instanceof ManifestError && error.code === 'MANIFEST_INVALID' && reason.test(error.message),
    );
  });

test('an https: or hf: source URL is accepted', () => {
  for (const url of ['https://example.com/stories260K.gguf', 'hf:owner/repo/dir/stories260K.gguf@v1.0'])
    assert.equal(parse({ ...manifest, source: { ...manifest.source, url } } satisfies Manifest).source.url, url);
});
