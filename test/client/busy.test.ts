// A node whose sessions are all taken is busy for a moment, not gone: a client whose first open
// finds the only node of a shard full (or set aside for being full) waits for it within its route
// wait, rather than answering "no route" while the node is about to free a slot. A shard that no
// node serves is still said at once.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { connect, type TesseraClient } from '../../src/client/client.ts';
import { localGreedy } from '../support/local-reference.ts';
import { startInProcessNetwork, type InProcessNetwork } from '../support/network.ts';

const PROMPT = 'Once upon a time';
let network: InProcessNetwork;
let client: TesseraClient;

before(async () => {
  network = await startInProcessNetwork({ shards: 1, nodeOptions: { maxSessions: 1 } });
  client = await connect({
    registries: [network.registry.endpoint],
    cacheDir: join(network.dir, 'client'),
    log: () => {},
  });
});

after(async () => {
  client?.close();
  await network?.close();
});

test('requests beyond a full node wait for its one slot and all get the reference text', async () => {
  const reference = await localGreedy(PROMPT, 8);
  const answers = await Promise.all(
    Array.from({ length: 4 }, () =>
      client.generate({ model: network.manifest.modelId, prompt: PROMPT, maxTokens: 8, temperature: 0 }).collect(),
    ),
  );
  for (const { summary } of answers) assert.equal(summary.text, reference.text);
});

test('a model whose shard no node serves is refused at once with NO_ROUTE', async () => {
  const unserved = await startInProcessNetwork({ shards: 1, unservedModel: 'nobody-serves' });
  const other = await connect({
    registries: [unserved.registry.endpoint],
    cacheDir: join(unserved.dir, 'client'),
    log: () => {},
  });
  try {
    await assert.rejects(
      other.generate({ model: 'nobody-serves', prompt: PROMPT, maxTokens: 2 }).collect(),
      (error: unknown) =>
        (error as { code?: string }).code === 'NO_ROUTE' && (error as { transient?: boolean }).transient === false,
    );
  } finally {
    other.close();
    await unserved.close();
  }
});
