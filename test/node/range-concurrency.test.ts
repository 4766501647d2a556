// A node fetching its shard by range keeps a few requests in flight at once (after a first one
// alone): an origin that holds its answers until three requests are open sees three open, no more,
// and the shard still assembles byte for byte from what it sent.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256File } from '../../src/crypto/hash.ts';
import { shardTensors } from '../../src/model/shards/assemble.ts';
import { shardModel } from '../../src/model/shards/shard.ts';
import { fetchShardByRanges, type RangeFetchedFile } from '../../src/node/range-fetch-shard.ts';
import { testModel } from '../support/models.ts';

const STORIES = testModel('stories260K.gguf');
const scratch = mkdtempSync(join(tmpdir(), 'tessera-range-concurrency-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/**
 * An origin serving `path` by range that answers the first request at once, then holds every answer
 * until `gateAt` requests are open together (then serves freely): what it saw of the requests' overlap.
 */
async function gatedOrigin(path: string, gateAt: number) {
  const file = readFileSync(path);
  let open = 0;
  let answered = 0;
  let gated = true;
  const held: (() => void)[] = [];
  const seen = { most: 0, openAtArrival: [] as number[], ranges: [] as string[], bytes: 0 };
  const release = () => {
    gated = false;
    for (const answer of held.splice(0)) answer();
  };
  const server = createServer((request, response: ServerResponse) => {
    open++;
    seen.most = Math.max(seen.most, open);
    seen.openAtArrival.push(open);
    seen.ranges.push(request.headers.range ?? '');
    // Answered once its last byte is handed to the kernel: before the client can have read it.
    let closed = false;
    const leave = () => {
      if (!closed) open--;
      closed = true;
    };
    response.once('finish', leave).once('close', leave);
    const [, start, end] = /^bytes=(\d+)-(\d+)$/.exec(request.headers.range ?? '') ?? [];
    const answer = () => {
      const body = file.subarray(Number(start), Number(end) + 1);
      seen.bytes += body.length;
      response
        .writeHead(206, {
          'content-range': `bytes ${start}-${end}/${file.length}`,
          'content-length': body.length,
        })
        .end(body);
    };
    if (answered++ === 0 || !gated) return answer();
    held.push(answer);
    if (held.length >= gateAt) release();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/stories260K.gguf`,
    seen,
    release,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

test('a range fetch keeps three requests in flight after a first one alone, and assembles the shard', async () => {
  const shardsDir = join(scratch, 'shards');
  const manifest = shardModel(STORIES, 2, shardsDir);
  const entry = manifest.shards[0]!;
  const origin = await gatedOrigin(STORIES, 3);
  const dir = join(scratch, 'fetched');
  mkdirSync(dir);
  const fetching = fetchShardByRanges({
    url: new URL(origin.url),
    manifest,
    entry,
    dir,
    tokenizerPath: join(shardsDir, manifest.tokenizerFile),
    log: () => {},
    // Small requests, so that the shard takes many of them.
    maxRequestBytes: 64 << 10,
  });
  // A fetch that never opens three at once would wait on the gate for ever: bounded, then let go.
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    fetching.then((fetched) => ({ fetched })),
    new Promise<{ stuck: true }>((resolve) => (timer = setTimeout(() => resolve({ stuck: true }), 30_000))),
  ]);
  clearTimeout(timer);
  try {
    if ('stuck' in outcome) {
      origin.release();
      await fetching.catch(() => undefined);
      assert.fail(`the requests never overlapped three deep: at most ${origin.seen.most} open at once`);
    }
    const fetched: RangeFetchedFile = outcome.fetched;
    assert.equal(sha256File(fetched.path), entry.sha256);
    assert.equal(origin.seen.most, 3, `open at each arrival: ${origin.seen.openAtArrival.join(' ')}`);
    // The first request went alone; the second only after the first was answered.
    assert.deepEqual(origin.seen.openAtArrival.slice(0, 2), [1, 1]);
    assert.equal(fetched.requests, origin.seen.ranges.length);
    assert.ok(fetched.requests > 3, `${fetched.requests} requests`);
    assert.equal(fetched.fetchedBytes, origin.seen.bytes);
    assert.equal(
      fetched.fetchedBytes,
      shardTensors(manifest, entry).reduce((sum, t) => sum + t.bytes, 0),
      'each tensor asked for once',
    );
  } finally {
    await origin.close();
  }
});
