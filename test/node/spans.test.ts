// Nodes holding overlapping spans of a model cut one shard per layer, each started as an operator
// starts it (`tessera node --shard A-B`, its own process) and serving any span of what it holds as a
// hop: routes stitched over different layer boundaries give the tokens and logits of the model in
// one process, each hop committing to the span it ran.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { writeNewKeyFile } from '../../src/crypto/keys.ts';
import { shardModel } from '../../src/model/shards/shard.ts';
import { tessera } from '../../src/proto/services.ts';
import type { Hop } from '../../src/proto/tessera/v1/Hop.ts';
import type { InfoReply__Output } from '../../src/proto/tessera/v1/InfoReply.ts';
import type { NodeClient } from '../../src/proto/tessera/v1/Node.ts';
import { tokenBytes, verifyCommitment } from '../../src/protocol/commitment.ts';
import { sha256 } from '../../src/crypto/hash.ts';
import { localGreedy, type LocalRun } from '../support/local-reference.ts';
import { testModel } from '../support/models.ts';
import { ForwardClient } from '../support/node-cluster.ts';
import { spawnNodeProcess, type NodeProcess } from '../support/node-process.ts';

const TOKENS = 12;
/** Far beyond what a start takes: only a node that never starts fails on it. */
const START_MS = 60_000;
const scratch = mkdtempSync(join(tmpdir(), 'tessera-node-spans-'));
const shardsDir = join(scratch, 'shards');
const children: ChildProcess[] = [];
const clients: ForwardClient[] = [];
let reference: LocalRun;

interface SpanNode {
  readonly process: NodeProcess;
  readonly nodeId: string;
  readonly endpoint: string;
}
/** A holds shards 0–2, B shards 1–4, C shards 3–4 (stories260K's 5 layers, one shard each). */
const nodes: Record<'A' | 'B' | 'C', SpanNode> = {} as never;

async function spawnSpanNode(name: string, shards: string): Promise<SpanNode> {
  const key = join(scratch, `${name}.key`);
  writeNewKeyFile(key);
  const process = spawnNodeProcess(
    [
      ...['--shards-dir', shardsDir, '--shard', shards, '--key', key],
      ...['--port', '0', '--metrics-port', '0', '--threads', '1', '--cache-mb', '16'],
    ],
    children,
  );
  // `started` fails at once, with the node's output, should it exit instead.
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${name}: no node_started within ${START_MS} ms`)), START_MS);
  });
  const events = await Promise.race([process.started, late]).finally(() => clearTimeout(timer));
  const started = events.find((e) => e.event === 'node_started')!;
  return { process, nodeId: String(started.nodeId), endpoint: String(started.endpoint) };
}

before(async () => {
  const manifest = shardModel(testModel('stories260K.gguf'), 5, shardsDir);
  assert.deepEqual(
    manifest.shards.map((s) => [s.layerStart, s.layerEnd]),
    [
      [0, 1],
      [1, 2],
      [2, 3],
      [3, 4],
      [4, 5],
    ],
    'one shard per layer',
  );
  [nodes.A, nodes.B, nodes.C] = await Promise.all([
    spawnSpanNode('A', '0-2'),
    spawnSpanNode('B', '1-4'),
    spawnSpanNode('C', '3-4'),
  ]);
  reference = await localGreedy('Once upon a time', TOKENS);
});

after(async () => {
  for (const client of clients) client.close();
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : undefined)));
  rmSync(scratch, { recursive: true, force: true });
});

const hop = (node: SpanNode, shardIndex: number, shardEnd: number): Hop => ({
  nodeId: node.nodeId,
  endpoint: node.endpoint,
  shardIndex,
  shardEnd,
  tls: false,
});

function info(node: SpanNode): Promise<InfoReply__Output> {
  const client = new tessera.v1.Node(node.endpoint, credentials.createInsecure()) as unknown as NodeClient;
  return new Promise<InfoReply__Output>((resolve, reject) =>
    client.info({}, (error, reply) => (error ? reject(error) : resolve(reply!))),
  ).finally(() => client.close());
}

/**
 * Greedy generation through `route` on a raw Forward stream: every step's commitments name the
 * route's nodes and spans, link hop to hop and are signed, and the last hop's logits are those of
 * the model in one process. Returns the tokens sampled.
 */
async function generate(sessionId: string, route: Hop[]): Promise<number[]> {
  const client = new ForwardClient(route[0]!.endpoint!);
  clients.push(client);
  await client.openSession({
    sessionId,
    modelId: 'stories260K',
    route,
    outputMode: 'off',
    sampling: { temperature: 0 },
  });
  const prompt = reference.tokenizer.encode('Once upon a time');
  const ids: number[] = [];
  let input = prompt;
  let position = 0;
  for (let n = 0; n < reference.tokens.length; n++) {
    const reply = await client.write({ step: { step: n, startPosition: position, tokens: input } }).reply();
    assert.equal(reply.kind, 'result', `${sessionId} step ${n}`);
    const { commitments, sampled } = reply.result!;
    assert.deepEqual(
      commitments.map((c) => [c.nodeId, c.shardIndex, c.shardEnd]),
      route.map((h) => [h.nodeId, h.shardIndex, h.shardEnd]),
      `${sessionId} step ${n}: each hop commits to the span the route gave it`,
    );
    assert.ok(commitments[0]!.inputHash.equals(sha256(tokenBytes(input))), 'the first hop took the token ids');
    commitments.forEach((c, i) => {
      assert.ok(verifyCommitment(c), `${sessionId} step ${n}: hop ${i}'s commitment is signed by its node`);
      if (i > 0) assert.ok(c.inputHash.equals(commitments[i - 1]!.outputHash), `hop ${i} took hop ${i - 1}'s output`);
    });
    assert.ok(
      commitments.at(-1)!.outputHash.equals(reference.logitsSha256[n]!),
      `${sessionId} step ${n}: the logits bytes of the model in one process`,
    );
    ids.push(sampled!.token);
    position += input.length;
    input = [sampled!.token];
  }
  client.write({ close: {} });
  assert.ok('end' in (await client.next()), `${sessionId} ends with OK after Close`);
  return ids;
}

test('each node starts on the span it was given and says so in Info', async () => {
  const held = await Promise.all([nodes.A, nodes.B, nodes.C].map(info));
  assert.deepEqual(
    held.map((i) => [i.nodeId, i.shardIndex, i.shardEnd, i.layerStart, i.layerEnd]),
    [
      [nodes.A.nodeId, 0, 3, 0, 3],
      [nodes.B.nodeId, 1, 5, 1, 5],
      [nodes.C.nodeId, 3, 5, 3, 5],
    ],
  );
  const started = nodes.B.process.events.find((e) => e.event === 'node_started')!;
  assert.deepEqual([started.shard, started.shardEnd], [1, 5]);
});

test('routes over overlapping spans, run at once, each give the single-process greedy tokens and logits', async () => {
  const expected = reference.tokens.map((t) => t.id);
  assert.ok(expected.length > 4, 'a generation of several tokens');
  // B runs two spans at once (shards 2–4 and its whole 1–4), each on its own view of its weights.
  const [subSpans, wholeSecond] = await Promise.all([
    generate('sub-spans', [hop(nodes.A, 0, 2), hop(nodes.B, 2, 5)]),
    generate('whole-second', [hop(nodes.A, 0, 1), hop(nodes.B, 1, 5)]),
  ]);
  assert.deepEqual(subSpans, expected);
  assert.deepEqual(wholeSecond, expected);
  // A's whole span, then C's; and three hops through all three nodes.
  assert.deepEqual(await generate('whole-first', [hop(nodes.A, 0, 3), hop(nodes.C, 3, 5)]), expected);
  assert.deepEqual(
    await generate('three-hops', [hop(nodes.A, 0, 2), hop(nodes.B, 2, 4), hop(nodes.C, 4, 5)]),
    expected,
  );
  assert.equal(
    reference.tokenizer.decode(subSpans),
    reference.tokenizer.decode(expected),
    'the text of the model in one process',
  );
});
