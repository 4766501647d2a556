// Attacks on the route a generation takes, against real node processes on loopback (a staked
// registry, two nodes of shard 0 and one of shard 1), each made with the attacker's own valid,
// staked keys: a relaying hop that rewrites the sampled token or a logprob, a hop that withholds or
// forges the signatures that follow a step's result, a hop that blames an honest node with a report
// it forged, and a fresh key that claims to compute for free. Each is refused or caught with a
// precise reason, and an honest generation meanwhile gives the reference text. Then Opens whose
// route does not tile the model, against nodes holding overlapping spans of a cut one shard per layer.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  Server,
  ServerCredentials,
  status,
  type sendUnaryData,
  type ServerDuplexStream,
  type ServerUnaryCall,
  type StatusObject,
} from '@grpc/grpc-js';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { blame, type Verdict } from '../../src/client/blame.ts';
import { connect, type TesseraClient } from '../../src/client/client.ts';
import { ResultRefusal } from '../../src/client/commitment-chain.ts';
import { generateThroughNetwork, type GenerationOptions, type SessionSource } from '../../src/client/generation.ts';
import { encodePrompt, type ModelHandle } from '../../src/client/model-handle.ts';
import { NodePool } from '../../src/client/node-pool.ts';
import { HopFailure, PipelineSession } from '../../src/client/pipeline-session.ts';
import type { RouteHop } from '../../src/client/routing.ts';
import { SignatureChecker } from '../../src/client/signature-checker.ts';
import { generateKeyPair, type KeyPair } from '../../src/crypto/keys.ts';
import { LedgerBackend } from '../../src/escrow/ledger-backend.ts';
import type { Manifest } from '../../src/model/manifest.ts';
import { shardModel } from '../../src/model/shards/shard.ts';
import { startNode, type NodeHandle, type NodeOptions } from '../../src/node/node-server.ts';
import {
  relayedHashOf,
  signCommitment,
  signCommitmentFields,
  stepIdOf,
  verifyCommitment,
} from '../../src/protocol/commitment.ts';
import type { Commitment__Output } from '../../src/proto/tessera/v1/Commitment.ts';
import { signedCommitments } from '../../src/client/pending-signatures.ts';
import { sha256 } from '../../src/crypto/hash.ts';
import type { ForwardReply__Output } from '../../src/proto/tessera/v1/ForwardReply.ts';
import type { StepResult__Output } from '../../src/proto/tessera/v1/StepResult.ts';
import { sessionDigestOf, signFailureReport } from '../../src/protocol/failure-report.ts';
import { failedHopMetadata, ForwardReason } from '../../src/protocol/forward-status.ts';
import { REASON_KEY } from '../../src/rpc/status.ts';
import type { ServiceError } from '@grpc/grpc-js';
import { parseClusterConfig } from '../../src/registry/cluster-config.ts';
import { RegistryClient } from '../../src/registry/registry-client.ts';
import { startRegistry, type RegistryHandle } from '../../src/registry/registry.ts';
import { localGreedy, type LocalRun } from '../support/local-reference.ts';
import { testModel } from '../support/models.ts';
import { nodeBody, waitFor } from '../support/registry-fixtures.ts';
import { tessera } from '../../src/proto/services.ts';
import type { InfoReply } from '../../src/proto/tessera/v1/InfoReply.ts';
import { ENGINE_VERSION, FORWARD_PROTOCOL } from '../../src/protocol/version.ts';
import { reasonOf } from '../../src/rpc/status.ts';
import { startTestOnlyRewritingHop, type RewritingHop } from '../support/test-only-rewriting-hop.ts';
import { credentials } from '@grpc/grpc-js';
import type { Hop } from '../../src/proto/tessera/v1/Hop.ts';
import type { InfoReply__Output } from '../../src/proto/tessera/v1/InfoReply.ts';
import type { NodeClient } from '../../src/proto/tessera/v1/Node.ts';
import { FAILED_NODE_KEY } from '../../src/protocol/forward-status.ts';
import { ForwardClient } from '../support/node-cluster.ts';

const PROMPT = 'Once upon a time';
const TOKENS = 12;
const MINIMUM_NODE_STAKE = 100n;

const dir = mkdtempSync(join(tmpdir(), 'tessera-attack-route-'));
const shardsDir = join(dir, 'shards');
let manifest: Manifest;
let ledger: LedgerBackend;
let registry: RegistryHandle;
let registryClient: RegistryClient;
let operator: KeyPair;
const nodes: NodeHandle[] = [];
let rewriting: RewritingHop;
/** The key of the node behind the rewriting hop: the attacker's own, staked. */
const rogueKey = generateKeyPair();
type TamperMode =
  'token' | 'logprob' | 'sampling' | 'history' | 'unsigned' | 'forged' | 'other-session' | 'own-word' | SignatureTamper;
/** What the rewriting hop does to the signatures that follow step results (none: passes them on). */
type SignatureTamper = 'forge-own' | 'forge-other' | 'withhold' | 'withhold-last';
/** The step whose signatures a signature tamper goes for, when not the last. */
const TAMPERED_STEP = 2;
/** How the rewriting hop tampers with each step result. */
let tamperMode: TamperMode = 'token';
let honest: TesseraClient;
let reference: LocalRun;
/** The commitments of the last result each session relayed through the rewriting hop, by session step id. */
const relayedFields = new Map<string, StepResult__Output>();
/** The routes through the rewriting hop's node (shard 0), the honest node of shard 0, and shard 1's node. */
const hops: { rewriter?: RouteHop; honest0?: RouteHop; honest1?: RouteHop } = {};
const pool = new NodePool();
const checker = new SignatureChecker();

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function stakedNode(
  shardIndex: number,
  options: Partial<NodeOptions> = {},
  key = generateKeyPair(),
): Promise<NodeHandle> {
  await registryClient.grant(operator, key.address, { stake: MINIMUM_NODE_STAKE });
  const node = await startNode({
    shardsDir,
    shardIndex,
    port: 0,
    registry: registry.endpoint,
    key,
    threads: 1,
    drainGraceMs: 2000,
    log: () => {},
    ...options,
  });
  nodes.push(node);
  return node;
}

const hopOf = (node: NodeHandle, shardIndex: number, shardEnd = shardIndex + 1): RouteHop => ({
  nodeId: node.nodeId,
  endpoint: node.endpoint,
  shardIndex,
  shardEnd,
  tls: false,
});

/** A node of its own key, outside the registry, holding shards [shardIndex, shardEnd) of the cut in `dir`. */
const spanNode = (dir: string, shardIndex: number, shardEnd: number, extra: Partial<NodeOptions> = {}) =>
  startNode({
    shardsDir: dir,
    shardIndex,
    shardEnd,
    port: 0,
    key: generateKeyPair(),
    threads: 1,
    log: () => {},
    ...extra,
  });

before(async () => {
  manifest = shardModel(testModel('stories260K.gguf'), 2, shardsDir);
  const dbPath = join(dir, 'registry.db');
  operator = generateKeyPair();
  ledger = new LedgerBackend({ path: dbPath });
  registry = await startRegistry({
    port: 0,
    host: '127.0.0.1',
    dbPath,
    settlement: ledger,
    stakes: ledger,
    accounts: ledger,
    clusterConfig: parseClusterConfig(
      {
        clusterId: 'route-attacks',
        models: [{ id: manifest.modelId, manifest: 'shards' }],
        heartbeat: { intervalMs: 1000, evictAfterMissed: 5 },
        stake: { minimum: { node: Number(MINIMUM_NODE_STAKE), daemon: 0, verifier: 0 } },
        operatorKeys: [operator.address],
        rateLimit: { perSecond: 1000, burst: 1000 },
      },
      dir,
    ),
  });
  registryClient = new RegistryClient(registry.endpoint);
  rewriting = await startTestOnlyRewritingHop(
    (result) => {
      relayedFields.set(String(result.step), structuredClone(result));
      const sampled = result.sampled!;
      if (tamperMode === 'token') sampled.token = sampled.token ^ 1;
      else if (tamperMode === 'logprob') sampled.logprob -= 1;
      else if (['unsigned', 'forged', 'other-session', 'own-word'].includes(tamperMode))
        return blameHonest(tamperMode, result.commitments[0]!.stepId);
    },
    (request) => {
      // on the way down: other sampling settings in Open, another history in each step
      if (tamperMode === 'sampling' && request.open?.sampling) request.open.sampling.seed += 1;
      if (tamperMode === 'history' && request.step) request.step.history = [...request.step.history, 1];
    },
    (reply) => tamperSignatures(reply),
    isScripted,
  );
  // The rewriting hop stands in front of a real, staked node of shard 0, which advertises it.
  const port = await freePort();
  rewriting.setUpstream(`127.0.0.1:${port}`);
  hops.rewriter = hopOf(await stakedNode(0, { port, advertise: rewriting.endpoint }, rogueKey), 0);
  hops.honest0 = hopOf(await stakedNode(0), 0);
  hops.honest1 = hopOf(await stakedNode(1), 1);
  await waitFor(
    'the three staked nodes listed',
    async () => (await registryClient.discover(manifest.modelId)).nodes.length === 3,
  );
  honest = await connect({ registries: [registry.endpoint], cacheDir: join(dir, 'client'), log: () => {} });
  reference = await localGreedy(PROMPT, TOKENS);
});

after(async () => {
  honest?.close();
  pool.close();
  registryClient?.close();
  await Promise.all(nodes.map((n) => n.close()));
  await rewriting?.close();
  await registry?.close();
  await ledger?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The step a generation of TOKENS tokens ends on: the one that reaches TOKENS, or samples the end. */
const lastStep = () => (reference.tokens.length < TOKENS ? reference.tokens.length : TOKENS - 1);

/**
 * The signature tampers, with the rogue's own key: a signature of other fields (its own commitment
 * with another output hash) in place of its own, or its own signature in shard 1's place; or the
 * signatures of a step left out, of a step in the middle or of the last one (before Closed).
 */
function tamperSignatures(reply: ForwardReply__Output): ForwardReply__Output[] {
  const signatures = reply.signatures;
  if (!signatures || !['forge-own', 'forge-other', 'withhold', 'withhold-last'].includes(tamperMode)) return [reply];
  const target = tamperMode === 'withhold-last' ? lastStep() : TAMPERED_STEP;
  if (signatures.step !== target) return [reply];
  rewrittenSignatures++;
  if (tamperMode === 'withhold' || tamperMode === 'withhold-last') return [];
  const own = relayedFields.get(String(signatures.step))!.commitments[0]!;
  const forged = [...signatures.signatures];
  if (tamperMode === 'forge-own')
    forged[0] = Buffer.from(
      signCommitment(rogueKey, { ...own, outputHash: sha256(Buffer.from('other hidden states')) }).signature,
    );
  else forged[1] = Buffer.from(signCommitment(rogueKey, own).signature);
  return [{ ...reply, signatures: { ...signatures, signatures: forged } }];
}
let rewrittenSignatures = 0;

const alive = async (hop: RouteHop) => (await pool.probe(hop.endpoint, 1000, hop.tls))?.info.nodeId === hop.nodeId;

/**
 * The client's own generation loop on routes this test picks, one per session (the first one's
 * failure is recorded and judged by the client's blame), so that the attacked route is surely tried.
 */
function scriptedSource(
  routes: RouteHop[][],
  failures: { failure: HopFailure; verdict: Verdict; yielded?: number }[],
  yielded: () => number = () => 0,
): SessionSource {
  const key = generateKeyPair();
  return {
    maxFailovers: routes.length - 1,
    open: async (model: ModelHandle) => {
      const sessionId = randomBytes(16).toString('hex');
      sessionOfStep.set(stepIdOf(sessionId, 0).toString('hex'), sessionId);
      scriptedSessions.add(sessionId);
      return new PipelineSession(
        pool,
        sessionId,
        routes.shift()!,
        {
          modelId: model.manifest.modelId,
          sampling: { temperature: 0, topK: 0, topP: 1, minP: 0, repetitionPenalty: 1, seed: 0, logprobs: 2 },
          clientKey: key,
        },
        30_000,
      );
    },
    recover: async (route, failure) => {
      failures.push({ failure, verdict: await blame(route, failure, alive), yielded: yielded() });
    },
    revealAudit: () => {},
    checkSignatures: (commitments) => checker.check(commitments),
  };
}

async function runScripted(source: SessionSource, model: ModelHandle, options: GenerationOptions, ids: number[] = []) {
  const stream = generateThroughNetwork(source, model, encodePrompt(model, { prompt: PROMPT }), options);
  for (;;) {
    const next = await stream.next();
    if (next.done) return { ids, summary: next.value };
    ids.push(next.value.id);
  }
}

const referenceIds = () => reference.tokens.map((t) => t.id);

/** Session ids of the sessions the scripted client opened, by the step id of their first step. */
const sessionOfStep = new Map<string, string>();
/** The attacks go for the scripted client's sessions only: the honest client's meet honest relays. */
const scriptedSessions = new Set<string>();
const isScripted = (sessionId: string) => scriptedSessions.has(sessionId);

/**
 * The status the rogue ends a session with, naming the honest shard-1 node as the one that failed:
 * with no report, with a report in the honest node's name signed by the rogue, with a report the
 * rogue signed in its own name for another session, or with one for this session in its own name.
 */
function blameHonest(mode: TamperMode, stepId: Buffer): Partial<StatusObject> {
  const honest1 = hops.honest1!;
  const sessionId = sessionOfStep.get(stepId.toString('hex')) ?? 'unknown';
  const report = (reporter: string, session: string) => {
    const signed = signFailureReport(rogueKey, {
      failedNode: honest1.nodeId,
      failedShard: 1,
      reason: ForwardReason.NEXT_HOP_FAILED,
      sessionHash: sessionDigestOf(session),
      timestampMs: Date.now(),
    });
    // the reporter field is signed: naming another node breaks the signature
    if (reporter !== rogueKey.address) signed.write(reporter.slice(2), 0, 'hex');
    return signed;
  };
  const signed = {
    unsigned: undefined,
    forged: report(honest1.nodeId, sessionId),
    'other-session': report(rogueKey.address, 'another session'),
    'own-word': report(rogueKey.address, sessionId),
  }[mode as 'unsigned' | 'forged' | 'other-session' | 'own-word'];
  const metadata = failedHopMetadata(honest1.nodeId, 1, signed);
  metadata.set(REASON_KEY, ForwardReason.NEXT_HOP_FAILED);
  return {
    code: status.UNAVAILABLE,
    details: `next hop 1 (shard 1, ${honest1.nodeId}) failed: it ended the stream`,
    metadata,
  };
}

test('a hop that rewrites the sampled token or a logprob, or the sampling settings or history it passes on, is caught by the client, which pins it on that hop and goes on to the reference text', async () => {
  const model = await honest.model(manifest.modelId);
  for (const mode of ['token', 'logprob', 'sampling', 'history'] as const) {
    tamperMode = mode;
    const rewrittenBefore = rewriting.rewritten();
    const failures: { failure: HopFailure; verdict: Verdict }[] = [];
    const source = scriptedSource(
      [
        [hops.rewriter!, hops.honest1!],
        [hops.honest0!, hops.honest1!],
      ],
      failures,
    );
    const [attacked, meanwhile] = await Promise.all([
      runScripted(source, model, { maxTokens: TOKENS, temperature: 0, logprobs: 2 }),
      honest.generate({ model: manifest.modelId, prompt: PROMPT, maxTokens: TOKENS, temperature: 0 }).collect(),
    ]);
    assert.ok(rewriting.rewritten() > rewrittenBefore, `the ${mode} rewrite was performed`);
    assert.equal(failures.length, 1);
    const [{ failure, verdict }] = failures as [{ failure: HopFailure; verdict: Verdict }];
    assert.equal(failure.kind, 'commitment');
    assert.equal(failure.reason, ResultRefusal.RESULT_NOT_COVERED);
    assert.equal(failure.failedNodeId, hops.rewriter!.nodeId);
    assert.deepEqual(verdict.bans, [{ nodeId: hops.rewriter!.nodeId }]);
    // no rewritten token reached the caller: the generation is the reference, on the honest route
    assert.deepEqual(attacked.ids, referenceIds());
    assert.equal(attacked.summary.text, reference.text);
    assert.equal(attacked.summary.failovers, 1);
    assert.deepEqual(attacked.summary.route, [hops.honest0, hops.honest1]);
    assert.equal(meanwhile.summary.text, reference.text);
  }
});

test("a hop that forges or withholds the signatures that follow a step's result is caught before the client acts on that step, only that hop banned, and the generation gives the reference text", async () => {
  const model = await honest.model(manifest.modelId);
  const cases: { mode: SignatureTamper; reason: string; step: () => number }[] = [
    // its own key over other fields in place of its own signature, or in shard 1's place
    { mode: 'forge-own', reason: ResultRefusal.COMMITMENT_UNSIGNED, step: () => TAMPERED_STEP },
    { mode: 'forge-other', reason: ResultRefusal.COMMITMENT_UNSIGNED, step: () => TAMPERED_STEP },
    // the next result comes first
    { mode: 'withhold', reason: ResultRefusal.SIGNATURES_WITHHELD, step: () => TAMPERED_STEP },
    // Closed comes first: the last step is never left unsigned
    { mode: 'withhold-last', reason: ResultRefusal.SIGNATURES_WITHHELD, step: lastStep },
  ];
  for (const { mode, reason, step } of cases) {
    tamperMode = mode;
    const tamperedBefore = rewrittenSignatures;
    const failures: { failure: HopFailure; verdict: Verdict; yielded?: number }[] = [];
    const ids: number[] = [];
    const source = scriptedSource(
      [
        [hops.rewriter!, hops.honest1!],
        [hops.honest0!, hops.honest1!],
      ],
      failures,
      () => ids.length,
    );
    const [attacked, meanwhile] = await Promise.all([
      runScripted(source, model, { maxTokens: TOKENS, temperature: 0 }, ids),
      honest.generate({ model: manifest.modelId, prompt: PROMPT, maxTokens: TOKENS, temperature: 0 }).collect(),
    ]);
    assert.ok(rewrittenSignatures > tamperedBefore, `the ${mode} tamper was performed`);
    assert.equal(failures.length, 1, mode);
    const [{ failure, verdict, yielded }] = failures as [{ failure: HopFailure; verdict: Verdict; yielded: number }];
    assert.equal(failure.kind, 'commitment', mode);
    assert.equal(failure.reason, reason, mode);
    assert.equal(failure.failedNodeId, hops.rewriter!.nodeId, mode);
    assert.deepEqual(verdict.bans, [{ nodeId: hops.rewriter!.nodeId }], mode);
    // the token of the step whose signatures failed never reached the caller (step s gives token s)
    assert.equal(yielded, step(), mode);
    assert.deepEqual(attacked.ids, referenceIds(), mode);
    assert.equal(attacked.summary.text, reference.text, mode);
    assert.equal(attacked.summary.failovers, 1, mode);
    assert.deepEqual(attacked.summary.route, [hops.honest0, hops.honest1], mode);
    assert.equal(meanwhile.summary.text, reference.text, mode);
  }
});

test('an honest relay checks the signatures a deeper hop sends after its results: forged or withheld ones end the session NEXT_HOP_BAD_RESULT, reported by the relay, before the client acts on that step', async () => {
  const model = await honest.model(manifest.modelId);
  const deepKey = generateKeyPair();
  let mode: 'forge' | 'withhold' | 'none' = 'none';
  let tampered = 0;
  const deepFields = new Map<number, StepResult__Output>();
  const deepProxy = await startTestOnlyRewritingHop(
    (result) => void deepFields.set(Number(result.step), structuredClone(result)),
    () => {},
    (reply) => {
      if (mode === 'none' || reply.signatures?.step !== TAMPERED_STEP) return [reply];
      tampered++;
      if (mode === 'withhold') return [];
      // its own key over other fields than the commitment it sent
      const own = deepFields.get(TAMPERED_STEP)!.commitments[0]!;
      const forged = signCommitment(deepKey, { ...own, outputHash: sha256(Buffer.from('other logits')) });
      return [{ ...reply, signatures: { ...reply.signatures, signatures: [Buffer.from(forged.signature)] } }];
    },
    isScripted,
  );
  const port = await freePort();
  deepProxy.setUpstream(`127.0.0.1:${port}`);
  const deep = await stakedNode(1, { port, advertise: deepProxy.endpoint }, deepKey);
  const deepHop = hopOf(deep, 1);
  try {
    for (const tamper of ['forge', 'withhold'] as const) {
      mode = tamper;
      const tamperedBefore = tampered;
      const failures: { failure: HopFailure; verdict: Verdict; yielded?: number }[] = [];
      const ids: number[] = [];
      const source = scriptedSource(
        [
          [hops.honest0!, deepHop],
          [hops.honest0!, hops.honest1!],
        ],
        failures,
        () => ids.length,
      );
      const [attacked, meanwhile] = await Promise.all([
        runScripted(source, model, { maxTokens: TOKENS, temperature: 0 }, ids),
        honest.generate({ model: manifest.modelId, prompt: PROMPT, maxTokens: TOKENS, temperature: 0 }).collect(),
      ]);
      assert.ok(tampered > tamperedBefore, `the ${tamper} tamper was performed`);
      assert.equal(failures.length, 1, tamper);
      const [{ failure, verdict, yielded }] = failures as [{ failure: HopFailure; verdict: Verdict; yielded: number }];
      assert.equal(failure.reason, ForwardReason.NEXT_HOP_BAD_RESULT, tamper);
      assert.equal(failure.failedNodeId, deepHop.nodeId, tamper);
      // the deeper hop still answers Info: the client cannot see who lies, and sets both aside
      assert.deepEqual(verdict.bans, [{ nodeId: hops.honest0!.nodeId }, { nodeId: deepHop.nodeId }], tamper);
      // the relay's own signed word, for this session
      assert.equal(failure.reporter, hops.honest0!.nodeId, tamper);
      assert.equal(yielded, TAMPERED_STEP, tamper);
      assert.deepEqual(attacked.ids, referenceIds(), tamper);
      assert.deepEqual(attacked.summary.route, [hops.honest0, hops.honest1], tamper);
      assert.equal(meanwhile.summary.text, reference.text, tamper);
    }
  } finally {
    mode = 'none';
    await deep.close();
    nodes.splice(nodes.indexOf(deep), 1);
    await deepProxy.close();
  }
});

test('a hop that blames an honest node with an unsigned, forged or replayed report gets no honest node banned; with merely its own signed word it is banned beside the node it named', async () => {
  const model = await honest.model(manifest.modelId);
  const cases: { mode: TamperMode; reporter?: string }[] = [
    { mode: 'unsigned' },
    { mode: 'forged' },
    { mode: 'other-session' },
    // a report in its own name is its word, signed, about a node that still answers: this client
    // cannot tell who lies, so it sets both aside (a liar pays with itself for each node it names)
    { mode: 'own-word', reporter: rogueKey.address },
  ];
  for (const { mode, reporter } of cases) {
    tamperMode = mode;
    const failures: { failure: HopFailure; verdict: Verdict }[] = [];
    const source = scriptedSource(
      [
        [hops.rewriter!, hops.honest1!],
        [hops.honest0!, hops.honest1!],
      ],
      failures,
    );
    const [attacked, meanwhile] = await Promise.all([
      runScripted(source, model, { maxTokens: TOKENS, temperature: 0 }),
      honest.generate({ model: manifest.modelId, prompt: PROMPT, maxTokens: TOKENS, temperature: 0 }).collect(),
    ]);
    assert.equal(failures.length, 1, mode);
    const [{ failure, verdict }] = failures as [{ failure: HopFailure; verdict: Verdict }];
    assert.equal(failure.reason, ForwardReason.NEXT_HOP_FAILED, mode);
    assert.equal(failure.failedNodeId, hops.honest1!.nodeId, mode);
    assert.equal(failure.reporter, reporter, mode);
    assert.deepEqual(
      verdict.bans,
      mode === 'own-word'
        ? [{ nodeId: hops.rewriter!.nodeId }, { nodeId: hops.honest1!.nodeId }]
        : [{ nodeId: hops.rewriter!.nodeId }],
      mode,
    );
    // the honest node it blamed carries on: the failover route through it gives the reference text
    assert.deepEqual(attacked.ids, referenceIds(), mode);
    assert.deepEqual(attacked.summary.route, [hops.honest0, hops.honest1]);
    assert.equal(meanwhile.summary.text, reference.text);
  }
  const listed = (await registryClient.discover(manifest.modelId)).nodes.map((n) => n.nodeId);
  assert.ok(listed.includes(hops.honest1!.nodeId));
});

test("a deeper hop's own signed report travels through an honest relay, and the client bans that hop on it", async () => {
  const model = await honest.model(manifest.modelId);
  // shard 1's node shuts down mid-generation: it ends the session NODE_DRAINING, in its own signed
  // word, which shard 0's node checks and relays
  const doomed = await stakedNode(1);
  const doomedHop = hopOf(doomed, 1);
  const failures: { failure: HopFailure; verdict: Verdict }[] = [];
  const source = scriptedSource(
    [
      [hops.honest0!, doomedHop],
      [hops.honest0!, hops.honest1!],
    ],
    failures,
  );
  const stream = generateThroughNetwork(source, model, encodePrompt(model, { prompt: PROMPT }), {
    maxTokens: TOKENS,
    temperature: 0,
  });
  const ids: number[] = [];
  for (;;) {
    const next = await stream.next();
    if (next.done) break;
    ids.push(next.value.id);
    if (ids.length === 1) await doomed.close();
  }
  assert.deepEqual(ids, referenceIds());
  assert.equal(failures.length, 1);
  const [{ failure, verdict }] = failures as [{ failure: HopFailure; verdict: Verdict }];
  assert.equal(failure.reason, ForwardReason.NODE_DRAINING);
  assert.equal(failure.failedNodeId, doomedHop.nodeId);
  assert.equal(failure.reporter, doomedHop.nodeId);
  assert.deepEqual(verdict.bans, [{ nodeId: doomedHop.nodeId }]);
});

/**
 * A real Node server that records whatever Forward message reaches it (a prompt, were it routed one)
 * and answers Info with `info` for `key`.
 */
async function startRecordingNode(
  key: KeyPair,
  info: Omit<InfoReply, 'nodeId' | 'modelId'>,
  received: unknown[],
): Promise<{ server: Server; endpoint: string }> {
  const server = new Server();
  server.addService(tessera.v1.Node.service, {
    Forward(call: ServerDuplexStream<unknown, unknown>) {
      call.on('data', (request) => received.push(request));
    },
    Info(_call: ServerUnaryCall<unknown, InfoReply>, done: sendUnaryData<InfoReply>) {
      done(null, { nodeId: key.address, modelId: manifest.modelId, activeSessions: 0, maxSessions: 64, ...info });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  return { server, endpoint: `127.0.0.1:${port}` };
}

test('a fresh key with no stake, or less than the minimum, claiming computeUsPerToken 0 never receives a prompt', async () => {
  const entry = manifest.shards[0]!;
  const prompts: unknown[] = [];
  const rogues: { key: KeyPair; server: Server; endpoint: string }[] = [];
  try {
    for (const stake of [0n, MINIMUM_NODE_STAKE - 1n]) {
      const key = generateKeyPair();
      if (stake > 0n) await registryClient.grant(operator, key.address, { stake });
      // it answers Info truly
      const { server, endpoint } = await startRecordingNode(
        key,
        {
          shardIndex: 0,
          shardEnd: 1,
          layerStart: entry.layerStart,
          layerEnd: entry.layerEnd,
          engineVersion: ENGINE_VERSION,
          forwardProtocol: FORWARD_PROTOCOL,
        },
        prompts,
      );
      rogues.push({ key, server, endpoint });
      const body = nodeBody(key, {
        modelId: manifest.modelId,
        shardIndex: 0,
        endpoint,
        load: { activeSessions: 0, maxSessions: 64, computeUsPerToken: 0 },
      });
      await assert.rejects(registryClient.register(key, body), (error: unknown) => {
        assert.equal(reasonOf(error as ServiceError), 'STAKE_BELOW_MINIMUM');
        return true;
      });
    }
    // honest generations meanwhile and after, by the client that served before and by a fresh one
    const fresh = await connect({ registries: [registry.endpoint], cacheDir: join(dir, 'fresh'), log: () => {} });
    try {
      for (const client of [honest, fresh, fresh]) {
        const { summary } = await client
          .generate({ model: manifest.modelId, prompt: PROMPT, maxTokens: TOKENS, temperature: 0 })
          .collect();
        assert.equal(summary.text, reference.text);
      }
    } finally {
      fresh.close();
    }
    assert.deepEqual(prompts, [], 'no Open or step ever reached a rogue');
    const listed = (await registryClient.discover(manifest.modelId)).nodes.map((n) => n.nodeId);
    for (const rogue of rogues) assert.ok(!listed.includes(rogue.key.address));
  } finally {
    for (const rogue of rogues) rogue.server.forceShutdown();
  }
});

test("a staked node whose Info names another engine version (no client could recompute its steps) or other Forward rules (its signatures and checks are another release's) is never routed: alone they leave no route, beside an honest node they get no prompt", async () => {
  // its own registry for the model, so that at first the rogue is the only node that holds it all
  const versionsDir = join(dir, 'engine-versions');
  mkdirSync(versionsDir);
  const dbPath = join(versionsDir, 'registry.db');
  const versionsLedger = new LedgerBackend({ path: dbPath });
  const versions = await startRegistry({
    port: 0,
    host: '127.0.0.1',
    dbPath,
    settlement: versionsLedger,
    stakes: versionsLedger,
    accounts: versionsLedger,
    clusterConfig: parseClusterConfig(
      {
        clusterId: 'engine-versions',
        models: [{ id: manifest.modelId, manifest: '../shards' }],
        stake: { minimum: { node: Number(MINIMUM_NODE_STAKE), daemon: 0, verifier: 0 } },
        operatorKeys: [operator.address],
      },
      versionsDir,
    ),
  });
  const versionsClient = new RegistryClient(versions.endpoint);
  const whole = manifest.shards.length;
  const prompts: unknown[] = [];
  const rogues = await Promise.all(
    [
      { engineVersion: 'tessera-engine/0.1.0', forwardProtocol: FORWARD_PROTOCOL },
      // this engine, but Forward rules of before (Info named none): relays that check every signature
      { engineVersion: ENGINE_VERSION, forwardProtocol: '' },
    ].map(async (versions) => {
      const key = generateKeyPair();
      const info = { shardIndex: 0, shardEnd: whole, layerStart: 0, layerEnd: manifest.config.layers, ...versions };
      return { key, ...(await startRecordingNode(key, info, prompts)) };
    }),
  );
  let honestWhole: NodeHandle | undefined;
  const client = await connect({
    registries: [versions.endpoint],
    cacheDir: join(versionsDir, 'client'),
    routeWaitMs: 300,
    log: () => {},
  });
  try {
    for (const { key, endpoint } of rogues) {
      await versionsClient.grant(operator, key.address, { stake: MINIMUM_NODE_STAKE });
      await versionsClient.register(
        key,
        nodeBody(key, {
          modelId: manifest.modelId,
          shardIndex: 0,
          shardEnd: whole,
          endpoint,
          load: { activeSessions: 0, maxSessions: 64, computeUsPerToken: 0 },
        }),
      );
    }
    const listed = await versionsClient.discover(manifest.modelId);
    assert.deepEqual(
      listed.nodes.map((n) => n.nodeId).sort(),
      rogues.map((r) => r.key.address).sort(),
      'the rogues are staked and listed',
    );
    const ask = () =>
      client.generate({ model: manifest.modelId, prompt: PROMPT, maxTokens: TOKENS, temperature: 0 }).collect();
    // alone: no route, named as such; meanwhile an honest generation on the main network
    const [alone, meanwhile] = await Promise.allSettled([
      ask(),
      honest.generate({ model: manifest.modelId, prompt: PROMPT, maxTokens: TOKENS, temperature: 0 }).collect(),
    ]);
    assert.equal(alone.status, 'rejected');
    const refusal = (alone as PromiseRejectedResult).reason as Error & { code?: string };
    assert.equal(refusal.code, 'NO_ROUTE', refusal.message);
    assert.match(
      refusal.message,
      /shards 0–1's 2 node\(s\) are unreachable, full, banned or run another engine version or Forward protocol/,
    );
    assert.equal(meanwhile.status, 'fulfilled');
    assert.equal(
      (meanwhile as PromiseFulfilledResult<{ summary: { text: string } }>).value.summary.text,
      reference.text,
    );
    // beside an honest node of this engine holding the whole model: every generation goes there
    const honestKey = generateKeyPair();
    await versionsClient.grant(operator, honestKey.address, { stake: MINIMUM_NODE_STAKE });
    honestWhole = await startNode({
      shardsDir,
      shardIndex: 0,
      shardEnd: whole,
      port: 0,
      registry: versions.endpoint,
      key: honestKey,
      threads: 1,
      log: () => {},
    });
    for (let i = 0; i < 3; i++) {
      const { summary } = await ask();
      assert.equal(summary.text, reference.text);
      assert.deepEqual(
        summary.route.map((h) => h.nodeId),
        [honestKey.address],
      );
    }
    assert.deepEqual(prompts, [], 'no Open or step ever reached a rogue');
  } finally {
    client.close();
    await honestWhole?.close();
    for (const rogue of rogues) rogue.server.forceShutdown();
    versionsClient.close();
    await versions.close();
    versionsLedger.close();
  }
});

describe('Opens whose route does not tile the model, or asks a node for shards it does not hold', () => {
  // stories260K cut one shard per layer; A holds shards 0–2, B shards 1–4, C shards 3–4.
  const spansDir = join(dir, 'spans');
  const held: { A?: NodeHandle; B?: NodeHandle; C?: NodeHandle } = {};
  const streams: ForwardClient[] = [];

  before(async () => {
    shardModel(testModel('stories260K.gguf'), 5, spansDir);
    const start = (shardIndex: number, shardEnd: number) => spanNode(spansDir, shardIndex, shardEnd);
    [held.A, held.B, held.C] = await Promise.all([start(0, 3), start(1, 5), start(3, 5)]);
  });

  after(async () => {
    for (const stream of streams) stream.close();
    await Promise.all(Object.values(held).map((n) => n.close()));
  });

  const stream = (node: NodeHandle) => {
    const opened = new ForwardClient(node.endpoint);
    streams.push(opened);
    return opened;
  };
  const spanHop = (node: NodeHandle, shardIndex: number, shardEnd: number): Hop => ({
    nodeId: node.nodeId,
    endpoint: node.endpoint,
    shardIndex,
    shardEnd,
    tls: false,
  });
  const info = (node: NodeHandle) => {
    const client = new tessera.v1.Node(node.endpoint, credentials.createInsecure()) as unknown as NodeClient;
    return new Promise<InfoReply__Output>((resolve, reject) =>
      client.info({}, (error, reply) => (error ? reject(error) : resolve(reply!))),
    ).finally(() => client.close());
  };
  const sessionsHeld = async () =>
    (await Promise.all([held.A!, held.B!, held.C!].map(info))).map((i) => i.activeSessions);

  test('each is refused INVALID_OPEN with its precise reason by the node it reached, which holds nothing for it; an honest session meanwhile gives the reference tokens', async () => {
    const { A, B, C } = held as Required<typeof held>;
    const attacker = generateKeyPair();
    const attacks: { name: string; at: NodeHandle; route: Hop[]; details: string }[] = [
      {
        name: 'a gap',
        at: A,
        route: [spanHop(A, 0, 2), spanHop(B, 3, 5)],
        details: 'route hop 1 starts at shard 3, hop 0 ends before shard 2: no hop runs shard 2',
      },
      {
        name: 'an overlap',
        at: A,
        route: [spanHop(A, 0, 3), spanHop(B, 2, 5)],
        details: 'route hop 1 starts at shard 2, hop 0 ends before shard 3: both run shard 2',
      },
      {
        name: 'a node twice',
        at: A,
        route: [spanHop(A, 0, 2), spanHop(B, 2, 4), spanHop(A, 4, 5)],
        details: `route names node ${A.nodeId} for hops 0 and 2; a node runs one hop of a route`,
      },
      {
        name: 'more shards than the first node holds',
        at: A,
        route: [spanHop(A, 0, 4), spanHop(C, 4, 5)],
        details: `route hop 0 asks node ${A.nodeId} for shards 0–3; it holds shards 0–2`,
      },
      {
        name: 'shards the second node does not hold',
        at: C,
        route: [spanHop(A, 0, 2), spanHop(C, 2, 5)],
        details: `route hop 1 asks node ${C.nodeId} for shards 2–4; it holds shards 3–4`,
      },
      {
        name: 'no hop for shard 0',
        at: B,
        route: [spanHop(B, 1, 5)],
        details: 'route hop 0 starts at shard 1, not at shard 0: no hop runs shard 0',
      },
      {
        name: 'an empty span',
        at: A,
        route: [spanHop(A, 0, 3), spanHop(B, 3, 3), spanHop(C, 3, 5)],
        details: `route hop 1 (node ${B.nodeId}): shards [3, 3) is not a span: it needs 0 ≤ start < end`,
      },
    ];

    // The honest session opens and runs its prompt first; the attacks come while it is open.
    const honestRoute = [spanHop(A, 0, 2), spanHop(B, 2, 5)];
    const honestStream = stream(A);
    await honestStream.openSession({
      sessionId: `honest-${randomBytes(8).toString('hex')}`,
      modelId: manifest.modelId,
      route: honestRoute,
      outputMode: 'off',
      sampling: { temperature: 0 },
    });
    assert.deepEqual(await sessionsHeld(), [1, 1, 0]);
    const expected = reference.tokens.map((t) => t.id);
    const ids: number[] = [];
    let input = reference.tokenizer.encode(PROMPT);
    let position = 0;
    const honestStep = async () => {
      const reply = await honestStream
        .write({ step: { step: ids.length, startPosition: position, tokens: input } })
        .reply();
      const { commitments, sampled } = reply.result!;
      assert.deepEqual(
        commitments.map((c) => [c.nodeId, c.shardIndex, c.shardEnd]),
        honestRoute.map((h) => [h.nodeId, h.shardIndex, h.shardEnd]),
      );
      position += input.length;
      input = [sampled!.token];
      ids.push(sampled!.token);
    };
    await honestStep();

    for (const { name, at, route, details } of attacks) {
      const refused = stream(at);
      refused.write({
        open: {
          sessionId: randomBytes(8).toString('hex'),
          modelId: manifest.modelId,
          route,
          outputMode: 'off',
          clientKey: attacker.publicKey,
        },
      });
      const error = await refused.status();
      assert.equal(error.code, status.INVALID_ARGUMENT, `${name}: ${error.details}`);
      assert.equal(reasonOf(error), ForwardReason.INVALID_OPEN, name);
      assert.equal(error.details, details, name);
      assert.equal(error.metadata.get(FAILED_NODE_KEY)[0], at.nodeId, `${name}: the node it reached refused it`);
      assert.deepEqual(await sessionsHeld(), [1, 1, 0], `${name}: no node holds a session for it`);
      // the honest session goes on between the attacks
      if (ids.length < expected.length) await honestStep();
    }
    while (ids.length < expected.length) await honestStep();
    assert.deepEqual(ids, expected, 'the honest session gave the reference tokens');
    honestStream.write({ close: {} });
    assert.ok('end' in (await honestStream.next()));
    await waitFor(
      'the honest session released on every node',
      async () => (await sessionsHeld()).every((n) => n === 0) || undefined,
    );
  });
});

describe('a relay that signs for a bad signature below it', () => {
  // stories260K cut one shard per layer; the route runs A on shard 0, the rogue relay R (the attacker's
  // own node and key, behind a hop that rewrites what it relays) on shards 1–2, and C on shards 3–4.
  const vouchDir = join(dir, 'vouch');
  const rogue = generateKeyPair();
  const held: { A?: NodeHandle; R?: NodeHandle; C?: NodeHandle } = {};
  let proxy: RewritingHop;
  const streams: ForwardClient[] = [];
  /** The step results R relayed in the attacked session, by step: the fields its forgery signs over. */
  const fieldsSeen = new Map<number, StepResult__Output>();
  let attacked = '';
  let forged = 0;
  const TAMPERED = 1;

  before(async () => {
    shardModel(testModel('stories260K.gguf'), 5, vouchDir);
    const start = (shardIndex: number, shardEnd: number, extra: Partial<NodeOptions> = {}) =>
      spanNode(vouchDir, shardIndex, shardEnd, extra);
    proxy = await startTestOnlyRewritingHop(
      (result) => void fieldsSeen.set(Number(result.step), structuredClone(result)),
      () => {},
      (reply) => {
        if (reply.signatures?.step !== TAMPERED) return [reply];
        // C's signature replaced by one over other fields (the attacker holds no key of C's), and R's
        // own signed again over the hash of what it now relays: R vouches for the forgery
        const [mine, below] = fieldsSeen.get(TAMPERED)!.commitments as [Commitment__Output, Commitment__Output];
        const bad = Buffer.from(
          signCommitmentFields(generateKeyPair(), { ...below, outputHash: sha256(Buffer.from('other logits')) })
            .signature,
        );
        const vouching = Buffer.from(
          signCommitmentFields(rogue, { ...mine, relayedHash: relayedHashOf([bad])! }).signature,
        );
        forged++;
        return [{ ...reply, signatures: { step: TAMPERED, signatures: [vouching, bad] } }];
      },
      (sessionId) => sessionId === attacked,
    );
    const port = await freePort();
    proxy.setUpstream(`127.0.0.1:${port}`);
    [held.A, held.R, held.C] = await Promise.all([start(0, 1), start(1, 3, { port, key: rogue }), start(3, 5)]);
  });

  after(async () => {
    for (const stream of streams) stream.close();
    await Promise.all(Object.values(held).map((n) => n.close()));
    await proxy.close();
  });

  test('the honest hop above it checks its one signature and relays; the client pins the bad signature on the relay that signed for it, not on the honest hop; an honest session meanwhile gives the reference tokens', async () => {
    const { A, R, C } = held as Required<typeof held>;
    const routeHop = (node: NodeHandle, shardIndex: number, shardEnd: number, endpoint = node.endpoint): RouteHop => ({
      nodeId: node.nodeId,
      endpoint,
      shardIndex,
      shardEnd,
      tls: false,
    });
    const route = [routeHop(A, 0, 1), routeHop(R, 1, 3, proxy.endpoint), routeHop(C, 3, 5)];
    const open = async (sessionId: string) => {
      const opened = new ForwardClient(A.endpoint);
      streams.push(opened);
      await opened.openSession({
        sessionId,
        modelId: manifest.modelId,
        route,
        outputMode: 'off',
        sampling: { temperature: 0 },
      });
      return opened;
    };
    /** Runs the session's next greedy step: its result, with the signatures that followed joined in. */
    const stepper = (stream: ForwardClient) => {
      const ids: number[] = [];
      let input = reference.tokenizer.encode(PROMPT);
      let position = 0;
      return {
        ids,
        next: async () => {
          const reply = await stream
            .write({ step: { step: ids.length, startPosition: position, tokens: input } })
            .reply();
          assert.equal(reply.kind, 'result', `step ${ids.length} was answered`);
          const result = reply.result!;
          position += input.length;
          input = [result.sampled!.token];
          ids.push(result.sampled!.token);
          return result;
        },
      };
    };
    /** What the client receives: the unsigned commitments, and the signatures that followed them. */
    const received = (result: StepResult__Output) => ({
      commitments: result.commitments.map((c) => ({ ...c, signature: Buffer.alloc(0), relayedHash: Buffer.alloc(0) })),
      signatures: { step: Number(result.step), signatures: result.commitments.map((c) => c.signature) },
    });
    const checked = (result: StepResult__Output) => {
      const { commitments, signatures } = received(result);
      return signedCommitments(commitments, signatures, route, Number(result.step), (c) => checker.check(c));
    };

    attacked = `vouch-${randomBytes(8).toString('hex')}`;
    const honest = stepper(await open(`honest-${randomBytes(8).toString('hex')}`));
    const attack = stepper(await open(attacked));
    await checked(await honest.next());
    // before the tamper: the attacked session's signatures check as the honest one's do
    await checked(await attack.next());
    const tampered = await attack.next();
    assert.equal(forged, 1, 'the forgery was performed');
    // A checked the one signature below it, R's, which covers the forgery, and relayed: it vouched only for R's
    const joined = tampered.commitments;
    assert.deepEqual(
      joined.map((c) => verifyCommitment(c)),
      [true, true, false],
      "A's and R's signatures check over what each relayed; C's is not C's",
    );
    const refusal = await checked(tampered).then(
      () => assert.fail('the forged signature passed the client'),
      (error: unknown) => error,
    );
    assert.ok(refusal instanceof HopFailure);
    assert.equal(refusal.kind, 'commitment');
    assert.equal(refusal.reason, ResultRefusal.COMMITMENT_UNSIGNED);
    assert.equal(refusal.failedNodeId, R.nodeId, 'pinned on the relay that signed for it, not on the first hop');
    assert.match(
      refusal.message,
      new RegExp(
        `node ${R.nodeId} \\(hop 1, shards 1–2\\) signed for the signatures below it, and the commitment of node ${C.nodeId} \\(hop 2, shards 3–4\\) among them is not signed by it`,
      ),
    );
    const verdict = await blame(route, refusal, async () => true);
    assert.deepEqual(verdict.bans, [{ nodeId: R.nodeId }], 'only the relay that signed for it is banned');
    // the honest session, through the same nodes, gives the reference tokens, every step's signatures checking
    const expected = referenceIds();
    while (honest.ids.length < expected.length) await checked(await honest.next());
    assert.deepEqual(honest.ids, expected);
  });
});
