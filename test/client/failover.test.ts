// kill -9 of the middle node of a 3-shard route during generation, with a spare of that shard
// running: the client replaces it and replays, and the output is complete and unchanged.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type TesseraClient } from '../../src/client/client.ts';
import type { GeneratedToken } from '../../src/client/generation.ts';
import { launchLocalCluster, type LocalCluster } from '../../src/cli/local-cluster.ts';
import { localGreedy, type LocalRun } from '../support/local-reference.ts';
import { testModel } from '../support/models.ts';

const PROMPT = 'Once upon a time';
const TOKENS = 40;
const KILL_AFTER = 8;
const workDir = mkdtempSync(join(tmpdir(), 'tessera-network-failover-'));
let cluster: LocalCluster;
let client: TesseraClient;
let reference: LocalRun;

before(async () => {
  cluster = await launchLocalCluster({
    modelPath: testModel('stories260K.gguf'),
    shards: 3,
    spareShards: [1],
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

test('kill -9 of the middle node mid-generation: complete, identical output on the spare', async () => {
  const generation = client.generate({
    model: cluster.manifest.modelId,
    prompt: PROMPT,
    maxTokens: TOKENS,
    temperature: 0,
  });
  const tokens: GeneratedToken[] = [];
  let killed: string | undefined;
  for await (const token of generation) {
    tokens.push(token);
    if (tokens.length === KILL_AFTER) {
      killed = token.commitments[1]!.nodeId;
      const victim = cluster.nodes.find((n) => n.nodeId === killed)!;
      victim.process.kill('SIGKILL');
      // the next step must meet a dead node, not one still dying
      assert.equal((await victim.process.exited).signal, 'SIGKILL');
    }
  }
  const summary = generation.summary!;
  assert.equal(summary.text, reference.text);
  assert.deepEqual(
    tokens.map((t) => t.id),
    reference.tokens.map((t) => t.id),
  );
  assert.equal(summary.finishReason, 'length');
  assert.equal(summary.failovers, 1);
  const spare = cluster.nodes.find((n) => n.shardIndex === 1 && n.nodeId !== killed)!;
  assert.equal(summary.route[1]!.nodeId, spare.nodeId);
  // the step sent ahead when the victim was killed may have passed it already: it served that token or none
  assert.ok([killed, spare.nodeId].includes(tokens[KILL_AFTER]!.commitments[1]!.nodeId));
  assert.ok(tokens.slice(KILL_AFTER + 1).every((t) => t.commitments[1]!.nodeId === spare.nodeId));
  // after the replay the last shard still commits to the single-process logits
  assert.ok(tokens.every((t, i) => Buffer.from(t.commitments.at(-1)!.outputHash).equals(reference.logitsSha256[i]!)));
});
