import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validManifest } from '../../test/support/manifest-fixture.ts';
import { ManifestError, MAX_MANIFEST_BYTES, parseManifest } from './manifest.ts';

const parse = (manifest: unknown) => parseManifest(JSON.stringify(manifest), 'manifest.json');

function refuses(manifest: unknown, pattern: RegExp): void {
  assert.throws(
    () => (typeof manifest === 'string' ? parseManifest(manifest, 'manifest.json') : parse(manifest)),
    (error: unknown) => {
      assert.ok(error instanceof ManifestError, String(error));
      assert.equal(error.code, 'MANIFEST_INVALID');
      assert.equal(error.kind, 'invalid');
      assert.match(error.message, pattern);
      return true;
    },
  );
}

test('a valid manifest parses as written', () => {
  assert.deepEqual(parse(validManifest()), validManifest());
});

test('every file a manifest names must be a plain name in its directory', () => {
  const names: [string, RegExp][] = [
    ['../../../../etc/passwd', /contains "\/": it must be a plain name in the same directory/],
    ['/etc/passwd', /contains "\/"/],
    ['..', /"\.\." names a directory, not a file/],
    ['.', /"\." names a directory, not a file/],
    ['..\\..\\windows\\win.ini', /contains "\\\\"/],
    ['C:evil.gguf', /contains ":"/],
    ['shard\u0000.gguf', /contains "\\u0000"/],
    ['shard\n.gguf', /contains "\\n"/],
    ['', /is empty/],
    ['x'.repeat(256), /is 256 bytes long \(at most 255\)/],
    ['é'.repeat(128), /is 256 bytes long \(at most 255\)/],
  ];
  for (const [name, pattern] of names) {
    const shard = validManifest();
    refuses(
      { ...shard, shards: [{ ...shard.shards[0], file: name }, shard.shards[1]] },
      new RegExp(`shard 0 file .*${pattern.source}`),
    );
    refuses({ ...validManifest(), tokenizerFile: name }, new RegExp(`tokenizerFile .*${pattern.source}`));
    const source = validManifest();
    refuses({ ...source, source: { ...source.source, file: name } }, new RegExp(`source.file .*${pattern.source}`));
  }
  const m = validManifest();
  refuses({ ...m, shards: [m.shards[0], { ...m.shards[1], file: 42 }] }, /shard 1 file 42 is not a string/);
  assert.equal(parse({ ...m, tokenizerFile: '...weird but plain..gguf' }).tokenizerFile, '...weird but plain..gguf');
});

test('malformed manifests are refused with MANIFEST_INVALID naming the problem', () => {
  const m = validManifest();
  refuses('{', /manifest\.json: not valid JSON/);
  refuses('[]', /not an object/);
  refuses('null', /not an object/);
  refuses({ ...m, version: 3 }, /version 3 is not supported/);
  refuses({ ...m, shards: [null, m.shards[1]] }, /shard 0 is not an object/);
  refuses(
    { ...m, shards: [m.shards[0], { ...m.shards[1], layerEnd: 2 ** 60 }] },
    /shard 1 covers layers \[3, 1152921504606847000\)/,
  );
  refuses({ ...m, shards: [m.shards[0], { ...m.shards[1], bytes: -1 }] }, /shard 1 bytes -1 is not a size/);
  refuses({ ...m, config: { ...m.config, layers: '5' } }, /config\.layers 5 is not a layer count/);
  refuses({ ...m, tokenizerSha256: 'abc' }, /tokenizerSha256 is not a SHA-256/);
  refuses(
    `${JSON.stringify(m)}${' '.repeat(MAX_MANIFEST_BYTES)}`,
    /the manifest is \d+ characters long \(at most 1048576\)/,
  );
});
