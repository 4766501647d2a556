// A prompt of about 500 tokens through 2- and 3-shard networks of real node processes (each node
// cuts it into chunks of its batch budget and sends each on as soon as it has run it): the same
// tokens, log-probabilities, text and last-shard logits as the engine in one process; on 3 shards the
// middle node is killed after the first tokens, and the replay on its spare crosses in parts too.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type TesseraClient } from '../../src/client/client.ts';
import type { GeneratedToken } from '../../src/client/generation.ts';
import { launchLocalCluster, type LocalCluster } from '../../src/cli/local-cluster.ts';
import { DEFAULT_BATCH_POSITIONS } from '../../src/node/step-batcher.ts';
import { localGreedy } from '../support/local-reference.ts';
import { testModel } from '../support/models.ts';

const SENTENCE = 'Once upon a time there was a little girl named Lily. She loved to play outside in the park. ';
const TOKENS = 6;
const LOGPROBS = 3;
/** On 3 shards, the middle node is killed once this many tokens are out. */
const KILL_AFTER = 2;
const workDirs: string[] = [];
const running: { cluster?: LocalCluster; client?: TesseraClient }[] = [];

after(async () => {
  for (const { client, cluster } of running) {
    client?.close();
    await cluster?.close();
  }
  for (const dir of workDirs) rmSync(dir, { recursive: true, force: true });
});

const reference = localGreedy(SENTENCE.repeat(17), TOKENS, LOGPROBS);

for (const shards of [2, 3]) {
  test(`a ${shards}-shard network continues a long prompt with the bytes of one process`, async () => {
    const prompt = SENTENCE.repeat(17);
    const local = await reference;
    const promptTokens = local.tokenizer.encode(prompt).length;
    assert.ok(promptTokens > 3 * DEFAULT_BATCH_POSITIONS, `the prompt (${promptTokens} tokens) crosses in parts`);
    const workDir = mkdtempSync(join(tmpdir(), `tessera-long-prompt-${shards}-`));
    workDirs.push(workDir);
    const held: (typeof running)[number] = {};
    running.push(held);
    held.cluster = await launchLocalCluster({
      modelPath: testModel('stories260K.gguf'),
      shards,
      spareShards: shards === 3 ? [1] : [],
      workDir,
      registryPort: 0,
      threadsPerNode: 1,
    });
    held.client = await connect({ registries: [held.cluster.registryEndpoint], cacheDir: join(workDir, 'client') });
    const cluster = held.cluster;
    const generation = held.client.generate({
      model: cluster.manifest.modelId,
      prompt,
      maxTokens: TOKENS,
      temperature: 0,
      logprobs: LOGPROBS,
    });
    const tokens: GeneratedToken[] = [];
    let killed: string | undefined;
    for await (const token of generation) {
      tokens.push(token);
      if (shards === 3 && tokens.length === KILL_AFTER) {
        killed = token.commitments[1]!.nodeId;
        const victim = cluster.nodes.find((n) => n.nodeId === killed)!;
        victim.process.kill('SIGKILL');
        // the next step must meet a dead node, not one still dying
        assert.equal((await victim.process.exited).signal, 'SIGKILL');
      }
    }
    const summary = generation.summary!;
    assert.equal(summary.usage.promptTokens, promptTokens);
    assert.equal(summary.failovers, shards === 3 ? 1 : 0);
    if (killed !== undefined) {
      assert.notEqual(summary.route[1]!.nodeId, killed);
      // the step sent ahead when the victim was killed may have passed it already: it served that token or none
      const spare = summary.route[1]!.nodeId;
      assert.ok([killed, spare].includes(tokens[KILL_AFTER]!.commitments[1]!.nodeId));
      assert.ok(tokens.slice(KILL_AFTER + 1).every((t) => t.commitments[1]!.nodeId === spare));
    }
    assert.equal(summary.text, local.text);
    assert.deepEqual(
      tokens.map((t) => [t.id, t.logprob, t.top.map((a) => [a.id, a.logprob])]),
      local.tokens.map((t) => [t.id, Math.fround(t.logprob), t.top.map((a) => [a.id, Math.fround(a.logprob)])]),
    );
    tokens.forEach((token, i) => {
      const chain = token.commitments;
      assert.equal(chain.length, shards);
      for (let hop = 1; hop < chain.length; hop++)
        assert.ok(Buffer.from(chain[hop]!.inputHash).equals(chain[hop - 1]!.outputHash));
      assert.equal(
        Buffer.from(chain.at(-1)!.outputHash).toString('hex'),
        local.logitsSha256[i]!.toString('hex'),
        `logits of step ${i}`,
      );
    });
  });
}
