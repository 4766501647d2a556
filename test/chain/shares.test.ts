// A local network (registry, daemon, verifier, 3 shard nodes as real processes): a generation's
// forward steps become compute shares, backed by the client's usage receipt, in the daemon's blocks.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DaemonClient } from '../../src/chain/daemon-client.ts';
import { openReceipt } from '../../src/protocol/receipt.ts';
import { openShare, type Share } from '../../src/protocol/share.ts';
import { connect, type TesseraClient } from '../../src/client/client.ts';
import { launchLocalCluster, type LocalCluster } from '../../src/cli/local-cluster.ts';
import { waitFor } from '../support/registry-fixtures.ts';
import { testModel } from '../support/models.ts';

const workDir = mkdtempSync(join(tmpdir(), 'tessera-trust-shares-'));
let cluster: LocalCluster;
let client: TesseraClient;
let daemon: DaemonClient;

before(async () => {
  cluster = await launchLocalCluster({
    modelPath: testModel('stories260K.gguf'),
    shards: 3,
    spareShards: [],
    workDir,
    registryPort: 0,
    threadsPerNode: 1,
    blockIntervalMs: 200,
  });
  client = await connect({ registries: [cluster.registryEndpoint], cacheDir: join(workDir, 'client') });
  daemon = new DaemonClient(cluster.daemonEndpoint);
});

after(async () => {
  daemon?.close();
  client?.close();
  await cluster?.close();
  rmSync(workDir, { recursive: true, force: true });
});

/** Every share in the canonical chain, with the receipts of the blocks that hold them. */
async function chainShares(): Promise<{ shares: Share[]; receipts: Map<string, ReturnType<typeof openReceipt>> }> {
  const { head } = await daemon.head();
  const shares: Share[] = [];
  const receipts = new Map<string, ReturnType<typeof openReceipt>>();
  for (let from = 1; from <= head.header.height;) {
    const { blocks } = await daemon.blocks(from, head.header.height);
    for (const block of blocks) {
      shares.push(...block.shares.map((s) => openShare(s.payload)));
      for (const r of block.receipts) receipts.set(Buffer.from(r.payload).toString('hex'), openReceipt(r.payload));
    }
    from += Math.max(1, blocks.length);
  }
  return { shares, receipts };
}

test('each forward step of a generation becomes a share in a block, covered by the client receipt', async () => {
  const { tokens, summary } = await client
    .generate({ model: cluster.manifest.modelId, prompt: 'Once upon a time', maxTokens: 40, temperature: 0 })
    .collect();
  const steps = tokens.length + (summary.finishReason === 'stop' ? 1 : 0);
  const positions =
    summary.usage.promptTokens + summary.usage.completionTokens - (summary.finishReason === 'length' ? 1 : 0);
  const { shares, receipts } = await waitFor('every step of every node in a block', async () => {
    const found = await chainShares();
    return cluster.nodes.every((n) => found.shares.filter((s) => s.nodeId === n.nodeId).length === steps)
      ? found
      : undefined;
  });
  // A share's shardIndex is its node's position in the receipt's route: the hop it ran.
  const routes = new Map([...receipts.values()].map((r) => [r.sessionHash, r.route]));
  for (const share of shares) assert.equal(routes.get(share.sessionHash)?.[share.shardIndex], share.nodeId);
  for (const node of cluster.nodes) {
    const mine = shares.filter((s) => s.nodeId === node.nodeId);
    assert.equal(new Set(mine.map((s) => s.shardIndex)).size, 1, `node ${node.nodeId} ran one hop of the route`);
    assert.equal(
      mine.reduce((sum, s) => sum + s.tokensProcessed, 0),
      positions,
      `tokens of node ${node.nodeId}`,
    );
  }
  // One session: every share names it, and the receipts the blocks carry count what was claimed.
  assert.equal(new Set(shares.map((s) => s.sessionHash)).size, 1);
  const counted = [...receipts.values()].filter((r) => r.sessionHash === shares[0]!.sessionHash);
  assert.ok(counted.length >= 2, 'a 40-token generation sends a receipt during and one at the end');
  assert.deepEqual(counted.map((r) => r.tokensPerShard).sort((a, b) => b[0]! - a[0]!)[0], [
    positions,
    positions,
    positions,
  ]);
  const { stdout } = await promisify(execFile)(process.execPath, [
    'bin/tessera.js',
    'chain',
    'blocks',
    '--daemon',
    cluster.daemonEndpoint,
    '--from',
    '1',
    '--json',
  ]);
  const listed = JSON.parse(stdout) as { shareCount: number }[];
  assert.equal(
    listed.reduce((sum, b) => sum + b.shareCount, 0),
    steps * cluster.nodes.length,
    '`tessera chain blocks` counts every share',
  );
});
