// A registry and 3 shard nodes as real processes on 127.0.0.1; the SDK and the `tessera chat` and
// `tessera status` commands against the engine in one process.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { connect, type TesseraClient } from '../../src/client/client.ts';
import { launchLocalCluster, type LocalCluster } from '../../src/cli/local-cluster.ts';
import { localGreedy, type LocalRun } from '../support/local-reference.ts';
import { testModel } from '../support/models.ts';

const PROMPT = 'Once upon a time';
const TOKENS = 24;
const workDir = mkdtempSync(join(tmpdir(), 'tessera-network-pipeline-'));
let cluster: LocalCluster;
let client: TesseraClient;
let reference: LocalRun;

before(async () => {
  cluster = await launchLocalCluster({
    modelPath: testModel('stories260K.gguf'),
    shards: 3,
    spareShards: [],
    workDir,
    registryPort: 0,
    threadsPerNode: 1,
  });
  client = await connect({ registries: [cluster.registryEndpoint], cacheDir: join(workDir, 'client') });
  reference = await localGreedy(PROMPT, TOKENS);
});

after(async () => {
  client?.close();
  await cluster?.close();
  rmSync(workDir, { recursive: true, force: true });
});

test('3 shards give the logits bytes and the greedy text of the engine in one process', async () => {
  const { tokens, summary } = await client
    .generate({ model: cluster.manifest.modelId, prompt: PROMPT, maxTokens: TOKENS, temperature: 0 })
    .collect();
  assert.deepEqual(
    tokens.map((t) => t.id),
    reference.tokens.map((t) => t.id),
  );
  assert.equal(summary.text, reference.text);
  assert.deepEqual(summary.usage, {
    promptTokens: reference.tokenizer.encode(PROMPT).length,
    completionTokens: TOKENS,
  });
  assert.equal(summary.finishReason, 'length');
  assert.equal(summary.failovers, 0);
  assert.deepEqual(
    summary.route.map((h) => h.nodeId),
    cluster.nodes.map((n) => n.nodeId),
  );
  // a node holding one shard of a pre-cut manifest runs exactly that shard: a span of one
  assert.deepEqual(
    summary.route.map((h) => [h.shardIndex, h.shardEnd]),
    [
      [0, 1],
      [1, 2],
      [2, 3],
    ],
  );
  tokens.forEach((token, i) => {
    const chain = token.commitments;
    assert.deepEqual(
      chain.map((c) => [c.shardIndex, c.shardEnd]),
      [
        [0, 1],
        [1, 2],
        [2, 3],
      ],
    );
    for (let hop = 1; hop < chain.length; hop++)
      assert.ok(Buffer.from(chain[hop]!.inputHash).equals(chain[hop - 1]!.outputHash));
    // the last shard commits to the logits it sampled from: byte for byte the single-process logits
    assert.equal(
      Buffer.from(chain.at(-1)!.outputHash).toString('hex'),
      reference.logitsSha256[i]!.toString('hex'),
      `logits of step ${i}`,
    );
  });
});

test("`tessera status` shows the registry, every shard's node and full coverage", async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [
    'bin/tessera.js',
    'status',
    '--registry',
    cluster.registryEndpoint,
  ]);
  assert.match(stdout, new RegExp(`^registries: ${cluster.registryEndpoint}$`, 'm'));
  assert.match(stdout, new RegExp(`^model ${cluster.manifest.modelId} \\(llama, 3 shards`, 'm'));
  for (const node of cluster.nodes)
    assert.match(
      stdout,
      new RegExp(
        `^    ${node.nodeId}  (READY|EXECUTING|IDLE)  ${node.endpoint}  tier T[1-5]  network (lan|regional|continental|global)  sessions \\d+/\\d+`,
        'm',
      ),
    );
  assert.deepEqual(stdout.match(/^ {2}shard \d .*$/gm), [
    '  shard 0  layers 0-1  1 node',
    '  shard 1  layers 2-3  1 node',
    '  shard 2  layers 4-4  1 node',
  ]);
  assert.match(stdout, /coverage: every shard has a node/);
});

test('`tessera chat` streams the greedy continuation to the terminal', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [
    'bin/tessera.js',
    'chat',
    PROMPT,
    '--registry',
    cluster.registryEndpoint,
    '--max-tokens',
    String(TOKENS),
  ]);
  assert.equal(stdout, `${reference.text}\n`);
});
