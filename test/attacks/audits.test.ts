// Attacks on audits by a stranger with its own valid keys (issue 13): a client that queues tickets
// of its sessions' steps that no audit selected, unsigned or signed by itself, to fill a node's
// queue; lazy verifiers; fabricated fraud proofs; replays; and anyone who would read a prompt
// through an audit (shard 0's tickets never leave the session: its client checks them); a node's
// tickets naming another span than its commitment signs. Each is refused with its status and
// reason, state is unchanged, and honest work goes on meanwhile.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import Database from 'better-sqlite3';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AuditClient } from '../../src/audit/audit-client.ts';
import { sha256 } from '../../src/crypto/hash.ts';
import { shardModel } from '../../src/model/shards/shard.ts';
import { RegistryClient } from '../../src/registry/registry-client.ts';
import { testModel } from '../support/models.ts';
import { nodeBody, removeDir, tempDir, testClusterConfig, writeShardsDir } from '../support/registry-fixtures.ts';
import { fabricatedHiddenProof, nodeSigned, selectedStep } from '../support/audit-tickets.ts';
import {
  auditCommitmentOf,
  auditThreshold,
  DEFAULT_SAMPLING_RATE,
  isAudited,
} from '../../src/protocol/audit-selection.ts';
import { startRegistry } from '../../src/registry/registry.ts';
import { status, type ServiceError } from '@grpc/grpc-js';
import { generateKeyPair, keyPairFromSecret, type KeyPair } from '../../src/crypto/keys.ts';
import { SessionAudit } from '../../src/audit/session-audit.ts';
import {
  signCommitment,
  stepIdOf,
  tokenBytes,
  verifyCommitment,
  type SignedCommitment,
} from '../../src/protocol/commitment.ts';
import { ENGINE_VERSION } from '../../src/model/engine-version.ts';
import {
  commitmentFromProto,
  encodeTicket,
  openTicket,
  ticketIdOf,
  type TicketInputBytes,
} from '../../src/protocol/ticket.ts';
import { spanOf, spanSha256, type ShardSpan } from '../../src/model/shards/span.ts';
import { signFraudProof } from '../../src/protocol/audit-statements.ts';
import { connect } from '../../src/client/client.ts';
import { startNode, type NodeHandle } from '../../src/node/node-server.ts';
import { tessera } from '../../src/proto/services.ts';
import type { Step } from '../../src/proto/tessera/v1/Step.ts';
import type { Ticket__Output } from '../../src/proto/tessera/v1/Ticket.ts';
import { signTicket } from '../../src/protocol/ticket-signature.ts';
import type { Ticket } from '../../src/proto/tessera/v1/Ticket.ts';
import { reasonOf } from '../../src/rpc/status.ts';
import { auditedSession, promptTokens, startAuditNetwork, type AuditNetwork } from '../support/audit-network.ts';
import { startVerifier } from '../../src/verifier/verifier.ts';
import { drawValidators } from '../../src/registry/validator-draw.ts';
import { ForwardClient } from '../support/node-cluster.ts';
import { waitFor } from '../support/registry-fixtures.ts';
import { testOnlyTamperingEngine } from '../support/test-only-tampering-engine.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dir = tempDir('attack-audits');
const networks: AuditNetwork[] = [];
const children: ChildProcess[] = [];
after(async () => {
  for (const network of networks) await network.close();
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  removeDir(dir);
});

const refusedWith = async (call: Promise<unknown>, code: status, reason: string): Promise<ServiceError> => {
  const error = (await call.then(
    () => assert.fail(`the registry took the call instead of refusing it ${reason}`),
    (e: ServiceError) => e,
  )) as ServiceError;
  assert.equal(status[error.code], status[code], error.details);
  assert.equal(reasonOf(error), reason, error.details);
  return error;
};

interface ServedStep {
  /** The step's input to the shard it was opened at, as the node hashed it. */
  readonly input: TicketInputBytes;
  /** That shard's commitment of the step. */
  readonly commitment: SignedCommitment;
}

type StepBody = Omit<Step, 'step' | 'startPosition'>;

/** A step of made-up hidden states (f32) for a shard after the first, as a previous hop would send. */
function hiddenStep(network: AuditNetwork, seed: number, positions: number): StepBody {
  const width = network.manifest.config.hiddenSize;
  let x = seed * 2654435761 + 1;
  const values = Float32Array.from({ length: positions * width }, () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return (x / 2 ** 32 - 0.5) * 4;
  });
  return { hidden: { dtype: 'DTYPE_F32', shape: [positions, width], data: new Uint8Array(values.buffer) } };
}

const tokenStep = (tokens: number[]): StepBody => ({ tokens });

function inputOf(network: AuditNetwork, step: StepBody): TicketInputBytes {
  if (step.tokens && step.tokens.length > 0)
    return { tokens: true, positions: step.tokens.length, bytes: tokenBytes(step.tokens) };
  const [positions, width] = step.hidden!.shape as number[];
  assert.equal(width, network.manifest.config.hiddenSize);
  return {
    tokens: false,
    dtype: 'DTYPE_F32',
    positions: positions!,
    width: width!,
    bytes: step.hidden!.data as Uint8Array,
  };
}

/**
 * A session opened at `shard`'s node with `audit`'s commitment, one step from position 0 per body,
 * closed without a reveal (so no node tickets anything yet): each step's input and that shard's
 * commitment.
 */
async function unrevealedSession(
  network: AuditNetwork,
  audit: SessionAudit,
  bodies: readonly StepBody[],
  stepNumber: (i: number) => number = (i) => i,
  sessionId: string = randomUUID(),
  shard = 1,
): Promise<ServedStep[]> {
  const client = new ForwardClient(network.nodes[shard]!.endpoint);
  try {
    await client.openSession({
      sessionId,
      modelId: network.manifest.modelId,
      route: network.route,
      outputMode: 'off',
      sampling: { temperature: 0 },
      clientKey: network.clientKey.publicKey,
      auditCommitment: audit.commitment,
    });
    bodies.forEach((body, i) => client.write({ step: { ...body, step: stepNumber(i), startPosition: 0 } }));
    const served: ServedStep[] = [];
    for (const body of bodies) {
      const reply = await client.reply();
      assert.equal(reply.kind, 'result');
      const own = reply.result!.commitments.find((c) => c.shardIndex === shard)!;
      served.push({ input: inputOf(network, body), commitment: commitmentFromProto(own) });
    }
    client.write({ close: {} });
    for (;;) {
      const item = await client.next();
      if ('end' in item) break;
      if ('error' in item) throw new Error(`session ended with status ${item.error.code}: ${item.error.details}`);
    }
    return served;
  } finally {
    client.close();
  }
}

/** A ticket of the step, exactly as the node hashed its input (the attacker made that input). */
function ticketOf(network: AuditNetwork, step: ServedStep): Promise<Ticket> {
  const { shardIndex, shardEnd } = step.commitment;
  return encodeTicket({
    modelId: network.manifest.modelId,
    shardIndex,
    shardEnd,
    shardSha256: spanSha256(network.manifest, spanOf(step.commitment)),
    engineVersion: ENGINE_VERSION,
    input: step.input,
    startPosition: 0,
    commitment: step.commitment,
  });
}

test('a client queueing tickets of unselected steps, unsigned or signed by itself is refused before anything is queued; the node still tickets the step it owes', async () => {
  const RATE = 0.5;
  const network = await startAuditNetwork({ shards: 2, stake: 1000n, audit: { samplingRate: RATE } });
  networks.push(network);
  const attacker: KeyPair = network.clientKey;
  // Shard 1's node: shard 0's tickets are refused whoever signs them (TICKET_HOLDS_PROMPT, below).
  const node = network.nodes[1]!;

  // Sessions until the attacker's secret selects one of shard 0's steps and leaves at least one unselected.
  let audit: SessionAudit;
  let steps: ServedStep[];
  let sessions = 0;
  do {
    audit = new SessionAudit(RATE);
    steps = await unrevealedSession(
      network,
      audit,
      Array.from({ length: 6 }, (_, i) => hiddenStep(network, sessions * 6 + i, 3 + i)),
    );
    sessions++;
  } while (
    sessions < 20 &&
    !(
      steps.some((s) => isAudited(audit.secret, s.commitment, RATE)) &&
      steps.some((s) => !isAudited(audit.secret, s.commitment, RATE))
    )
  );
  const selected = steps.filter((s) => isAudited(audit.secret, s.commitment, RATE));
  const unselected = steps.filter((s) => !isAudited(audit.secret, s.commitment, RATE));
  assert.ok(selected.length > 0 && unselected.length > 0, `no mixed session in ${sessions}`);

  // The honest request, made before the flood: the node learns of it at its next heartbeat.
  const requested = await network.audits.requestAudit(attacker, selected[0]!.commitment, audit.secret);
  assert.equal(requested.ticketed, false);

  const queuedBefore = await network.audits.status(node.nodeId);
  assert.equal(queuedBefore.ticketsQueued, 0);

  for (let round = 0; round < 10; round++) {
    for (const step of unselected) {
      const wire = await ticketOf(network, step);
      // The session's real secret, signed by the attacker's key: the secret does not select the step.
      await refusedWith(
        network.audits.submitTicket(signTicket(attacker, wire, step.commitment, audit.secret)),
        status.FAILED_PRECONDITION,
        'TICKET_NOT_SELECTED',
      );
      // No secret at all.
      await refusedWith(network.audits.submitTicket(wire), status.FAILED_PRECONDITION, 'TICKET_NOT_SELECTED');
    }
  }
  for (const step of selected) {
    const wire = await ticketOf(network, step);
    await refusedWith(
      network.audits.submitTicket({ ...wire, auditSecret: audit.secret }),
      status.UNAUTHENTICATED,
      'TICKET_UNSIGNED',
    );
    await refusedWith(
      network.audits.submitTicket(signTicket(attacker, wire, step.commitment, audit.secret)),
      status.PERMISSION_DENIED,
      'TICKET_WRONG_SIGNER',
    );
    // A stranger's key fares no better than the client's.
    await refusedWith(
      network.audits.submitTicket(signTicket(generateKeyPair(), wire, step.commitment, audit.secret)),
      status.PERMISSION_DENIED,
      'TICKET_WRONG_SIGNER',
    );
  }

  // Nothing the attacker sent was queued; the node's own ticket for the requested step is.
  const owed = await waitFor(
    "the node's ticket for the requested step",
    async () => {
      const s = await network.audits.status(node.nodeId);
      return s.ticketsQueued + s.ticketsPassed > 0 && s;
    },
    30_000,
  );
  assert.equal(owed.ticketsQueued + owed.ticketsPassed, 1);
  assert.equal(owed.requestsPending, 0);
  assert.equal(owed.refusals, 0);
  assert.equal((await network.audits.status(network.nodes[0]!.nodeId)).ticketsQueued, 0);
});

/**
 * The draw as it was before it covered the node's signature, H(secret || stepId || k): everything
 * in it is the client's to choose before any node has committed to anything.
 */
function oldStyleSelected(secret: Uint8Array, stepId: Uint8Array, shardIndex: number, rate: number): boolean {
  const shard = Buffer.alloc(4);
  shard.writeUInt32BE(shardIndex);
  const draw = BigInt(`0x${createHash('sha256').update(secret).update(stepId).update(shard).digest('hex')}`);
  return draw < auditThreshold(rate);
}

/** Deterministic bytes for `label` (a seeded stream, so that a run's numbers are the same every time). */
const seeded = (label: string): Buffer => createHash('sha256').update('audits.test seed 13/').update(label).digest();

/** s flipped to n − s (and the recovery bit): the second encoding of the node's signature, which only low-s verification refuses. */
function malleated(signature: Uint8Array): Buffer {
  const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
  const out = Buffer.from(signature);
  Buffer.from((n - BigInt(`0x${out.toString('hex', 32, 64)}`)).toString(16).padStart(64, '0'), 'hex').copy(out, 32);
  out[64] = out[64]! ^ 1;
  return out;
}

test("a client that grinds session ids offline until its secret would select an honest node's position-0 step gets it selected only at the rate: the draw covers the node's signature, in either encoding", () => {
  const RATE = DEFAULT_SAMPLING_RATE;
  const N = 1000;
  const secret = seeded('secret');
  const node = keyPairFromSecret(seeded('node key'));
  // The attack: with its secret drawn, the client tries session ids until the draw of step 0 on
  // shard 0 selects it, before it opens any session (it knows everything such a draw reads).
  const ground: string[] = [];
  for (let i = 0; ground.length < N; i++) {
    const sessionId = `ground-${i}`;
    if (oldStyleSelected(secret, stepIdOf(sessionId, 0), 0, RATE)) ground.push(sessionId);
  }
  // The honest node commits to each of them (fixed times and inputs: the same signatures every run).
  const commitments = ground.map((sessionId, i) =>
    signCommitment(node, {
      shardIndex: 0,
      shardEnd: 1,
      stepId: stepIdOf(sessionId, 0),
      inputHash: seeded(`input ${sessionId}`),
      outputHash: seeded(`output ${sessionId}`),
      timestampMs: 1_700_000_000_000 + i,
      auditCommitment: auditCommitmentOf(secret),
    }),
  );
  assert.equal(
    commitments.filter((c) => oldStyleSelected(secret, c.stepId, 0, RATE)).length,
    N,
    'without the signature every ground step would be audited',
  );
  const selected = commitments.filter((c) => isAudited(secret, c, RATE)).length;
  // Binomial(N, rate): mean 50, standard deviation about 6.9; six of them either side.
  const mean = RATE * N;
  const bound = 6 * Math.sqrt(N * RATE * (1 - RATE));
  assert.ok(
    selected > mean - bound && selected < mean + bound,
    `${selected} of ${N} ground steps selected, expected about ${mean}`,
  );
  // Whoever holds a commitment may flip its signature's s: that encoding is refused (only low s
  // verifies), and it would draw the same anyway.
  const eitherEncoding = commitments.filter((c) => {
    const other = { ...c, signature: malleated(c.signature) };
    assert.equal(verifyCommitment(other), false);
    return isAudited(secret, c, RATE) || isAudited(secret, other, RATE);
  }).length;
  assert.equal(eitherEncoding, selected);
});

test('against real nodes, ground step numbers of a ground session id are selected at the rate, not always; the selected ones are still ticketed when requested', async () => {
  const RATE = 0.25;
  const N = 48;
  const network = await startAuditNetwork({ shards: 2, stake: 1000n, audit: { samplingRate: RATE } });
  networks.push(network);
  const node = network.nodes[1]!;
  const audit = new SessionAudit(RATE);
  // The client grinds a session id and N step numbers whose old-style draws select shard 1's step.
  let sessionId: string;
  do sessionId = randomUUID();
  while (!oldStyleSelected(audit.secret, stepIdOf(sessionId, 0), 1, RATE));
  const stepNumbers: number[] = [];
  for (let step = 0; stepNumbers.length < N; step++)
    if (oldStyleSelected(audit.secret, stepIdOf(sessionId, step), 1, RATE)) stepNumbers.push(step);
  const steps = await unrevealedSession(
    network,
    audit,
    Array.from({ length: N }, (_, i) => hiddenStep(network, 100 + i, 3 + (i % 4))),
    (i) => stepNumbers[i]!,
    sessionId,
  );
  assert.equal(steps.length, N);
  const selected = steps.filter((s) => isAudited(audit.secret, s.commitment, RATE));
  // Binomial(48, 0.25): mean 12, standard deviation 3; past 30 has odds below one in ten million.
  assert.ok(selected.length <= 30, `${selected.length} of ${N} ground steps selected, expected about 12`);
  assert.ok(selected.length >= 1, `none of ${N} steps selected (odds about one in a million)`);

  // The honest flow: the client requests the selected steps, and the node tickets each.
  for (const step of selected) await network.audits.requestAudit(network.clientKey, step.commitment, audit.secret);
  // The others cannot be asked for (a few of them: the client key's RequestAudit burst is 50).
  for (const step of steps.filter((s) => !selected.includes(s)).slice(0, 8)) {
    const error = await refusedWith(
      network.audits.requestAudit(network.clientKey, step.commitment, audit.secret),
      status.FAILED_PRECONDITION,
      'TICKET_NOT_SELECTED',
    );
    assert.match(error.details, /the secret does not select this step of shard 1 at the cluster's sampling rate 0.25/);
  }
  const done = await waitFor(
    "the node's tickets",
    async () => {
      const s = await network.audits.status(node.nodeId);
      return s.ticketsQueued === selected.length && s;
    },
    30_000,
  );
  assert.deepEqual([done.requestsPending, done.refusals, done.proofsConfirmed + done.proofsUnconfirmed], [0, 0, 0]);
});

function asOutput(ticket: Ticket): Ticket__Output {
  const codec = tessera.v1.Audit.service.SubmitTicket;
  return codec.requestDeserialize(codec.requestSerialize(ticket)) as Ticket__Output;
}

/** `tessera registry` in `cwd` (its cluster.json there) on a free port; resolves with its endpoint once it serves. */
async function registryProcess(cwd: string): Promise<{ child: ChildProcess; endpoint: string }> {
  const child = spawn(
    process.execPath,
    [
      join(ROOT, 'bin/tessera.js'),
      'registry',
      '--port',
      '0',
      '--metrics-port',
      '0',
      '--cluster-config',
      'cluster.json',
      '--db',
      'registry.db',
    ],
    { cwd, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const endpoint = await waitFor(
    'the registry to start',
    () => /"event":"registry_started","endpoint":"([^"]+)"/.exec(stderr)?.[1],
    30_000,
  );
  return { child, endpoint };
}

function p99(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)]!;
}

test('a burst of fabricated fraud proofs from a staked verifier is bounded and costs it stake; heartbeats and discovery are answered meanwhile, and SIGINT still stops the registry', async (t) => {
  const cwd = join(dir, 'burst');
  mkdirSync(cwd, { recursive: true });
  const manifest = shardModel(testModel('stories260K.gguf'), 2, join(cwd, 'shards'));
  const operator = generateKeyPair();
  writeFileSync(
    join(cwd, 'cluster.json'),
    JSON.stringify({
      clusterId: 'proof-burst',
      models: [{ id: manifest.modelId, manifest: 'shards' }],
      operatorKeys: [operator.address],
      // The probe heartbeats each member in turn: on a loaded machine a round can take seconds.
      heartbeat: { intervalMs: 1000, evictAfterMissed: 30 },
      rateLimit: { perSecond: 1000, burst: 1000 },
    }),
  );
  const { child, endpoint } = await registryProcess(cwd);
  const registry = new RegistryClient(endpoint);
  const audits = new AuditClient(endpoint);
  t.after(() => {
    registry.close();
    audits.close();
  });
  const node = generateKeyPair();
  // Heartbeats from several members: each key's own bucket allows a few a second.
  const members = Array.from({ length: 16 }, () => generateKeyPair());
  const [verifier, second, unstaked] = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
  await registry.register(
    node,
    nodeBody(node, { modelId: manifest.modelId, shardIndex: 1, endpoint: '127.0.0.1:50100' }),
  );
  const bodies = members.map((member, i) =>
    nodeBody(member, { modelId: manifest.modelId, shardIndex: 0, endpoint: `127.0.0.1:${50101 + i}` }),
  );
  for (const [i, member] of members.entries()) await registry.register(member, bodies[i]!);
  for (const key of [verifier, second, unstaked])
    await registry.register(
      key,
      nodeBody(key, { role: 'verifier', modelId: '', shardIndex: 0, endpoint: '127.0.0.1:0' }),
    );
  await registry.grant(operator, verifier.address, { stake: 1000n });
  await registry.grant(operator, second.address, { stake: 1000n });

  // A verifier with no stake may not make the registry recompute at all.
  await refusedWith(
    audits.submitFraudProof(await fabricatedHiddenProof(node, unstaked, manifest)),
    status.PERMISSION_DENIED,
    'VERIFIER_NOT_STAKED',
  );

  const BURST = 20;
  const proofs = await Promise.all(
    Array.from({ length: BURST }, () => fabricatedHiddenProof(node, verifier, manifest)),
  );
  const latencies: number[] = [];
  let probing = true;
  const probeFailures: string[] = [];
  const probe = (async () => {
    let calls = 0;
    while (probing || calls < 20) {
      const i = calls % members.length;
      try {
        let started = performance.now();
        await registry.heartbeat(members[i]!, bodies[i]!);
        latencies.push(performance.now() - started);
        started = performance.now();
        const { nodes } = await registry.discover(manifest.modelId);
        latencies.push(performance.now() - started);
        if (!nodes.some((n) => n.nodeId === members[i]!.address))
          probeFailures.push(`${members[i]!.address} not listed`);
      } catch (error) {
        probeFailures.push((error as Error).message);
      }
      calls++;
      // Paced, not synchronised: the members' heartbeats stay within their keys' rate.
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return calls;
  })();
  const outcomes = await Promise.allSettled(proofs.map((proof) => audits.submitFraudProof(proof)));
  probing = false;
  const probes = await probe;
  t.diagnostic(
    `heartbeat + discover during a burst of ${BURST} fabricated proofs: ${latencies.length} calls, p99 ${p99(latencies).toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms`,
  );
  assert.ok(probes >= 20);
  assert.deepEqual(probeFailures, []);

  // Its share of the recompute queue is taken at once; the rest is refused with a reason, not queued.
  const decided = outcomes.filter((o) => o.status === 'fulfilled').map((o) => o.value);
  const refused = outcomes.filter((o) => o.status === 'rejected').map((o) => o.reason as ServiceError);
  assert.ok(decided.length >= 1 && refused.length >= 1, `${decided.length} decided, ${refused.length} refused`);
  for (const error of refused) {
    assert.equal(status[error.code], 'RESOURCE_EXHAUSTED', error.details);
    assert.equal(reasonOf(error), 'RECOMPUTE_QUEUE_FULL');
  }
  // The registry recomputed a third hash each time: no node is accused, the verifier pays each time.
  for (const reply of decided) assert.equal(reply.status, 'PROOF_UNCONFIRMED', reply.detail);
  const nodeStatus = await audits.status(node.address);
  assert.equal(nodeStatus.banned, false);
  assert.equal(nodeStatus.proofsConfirmed, 0);
  assert.equal(nodeStatus.proofsUnconfirmed, decided.length);
  const verifierStatus = await waitFor('the verifier slashes', async () => {
    const s = await audits.status(verifier.address);
    return s.slashedAmount !== '0' && s;
  });
  let left = 1000n;
  for (let i = 0; i < decided.length; i++) left -= (left * 5000n) / 10_000n;
  assert.equal(BigInt(verifierStatus.slashedAmount), 1000n - left);
  assert.equal((await audits.status(node.address)).slashedAmount, '0');

  // SIGINT while another verifier's proofs are being recomputed: the registry stops.
  const inFlight = await Promise.all(Array.from({ length: 4 }, () => fabricatedHiddenProof(node, second, manifest)));
  const pending = Promise.allSettled(inFlight.map((proof) => audits.submitFraudProof(proof)));
  child.kill('SIGINT');
  await waitFor('the registry to exit', () => child.exitCode !== null || child.signalCode !== null, 30_000);
  assert.equal(child.exitCode, 0);
  await pending;
});

test("a lazy verifier that reports the committed hash without computing passes a canary and is slashed, its passes re-queued; an unstaked one leases nothing; an honest one is never slashed; no verifier sees shard 0's prompts and the registry holds none", async () => {
  const network = await startAuditNetwork({ shards: 3, stake: 1000n, audit: { samplingRate: 1, canaryRate: 0.5 } });
  networks.push(network);
  const registry = new RegistryClient(network.registry.endpoint);
  const { manifest } = network;
  const held = manifest.shards.map((s) => ({ modelId: manifest.modelId, shardIndex: s.index, shardSha256: s.sha256 }));
  const lazy = generateKeyPair();
  const unstaked = generateKeyPair();
  try {
    for (const key of [lazy, unstaked])
      await registry.register(
        key,
        nodeBody(key, { role: 'verifier', modelId: '', shardIndex: 0, endpoint: '127.0.0.1:0' }),
      );
  } finally {
    registry.close();
  }
  await network.ledger.grant(lazy.address, { stake: 1000n }, `0x${randomBytes(32).toString('hex')}`);

  // Every prefill is audited (rate 1): 4 sessions of 6 steps, 24 tickets per shard.
  for (let session = 0; session < 4; session++)
    await auditedSession(
      network,
      Array.from({ length: 6 }, (_, i) => promptTokens(session * 6 + i, 2 + i)),
      new SessionAudit(1),
    );
  // Shards 1 and 2 go to verifiers; shard 0's steps hold prompts and never leave their session.
  const [promptNode, ...verified] = network.nodes;
  const total = verified.length * 24;
  const queued = async () => {
    const all = await Promise.all(verified.map((n) => network.audits.status(n.nodeId)));
    return {
      queued: all.reduce((sum, s) => sum + s.ticketsQueued, 0),
      passed: all.reduce((sum, s) => sum + s.ticketsPassed, 0),
      proofs: all.reduce((sum, s) => sum + s.proofsConfirmed + s.proofsUnconfirmed + s.proofsRefuted, 0),
    };
  };
  await waitFor('every ticket to be queued', async () => (await queued()).queued === total, 30_000);

  await refusedWith(
    network.audits.pullTickets(unstaked, held, ENGINE_VERSION, 8),
    status.PERMISSION_DENIED,
    'VERIFIER_NOT_STAKED',
  );
  assert.deepEqual(await queued(), { queued: total, passed: 0, proofs: 0 });

  // The lazy verifier reports every leased ticket's committed output hash as the one it recomputed.
  let pulls = 0;
  let prompts = 0;
  while ((await network.audits.status(lazy.address)).slashedAmount === '0' && pulls < 40) {
    const leased = await network.audits.pullTickets(lazy, held, ENGINE_VERSION, 2);
    pulls++;
    if (leased.length === 0) break;
    prompts += leased.filter((l) => l.ticket!.shardIndex === 0 || l.ticket!.input!.tokens).length;
    await network.audits.completeTickets(
      lazy,
      leased.map((l) => ({ ticketId: l.ticketId, outputHash: l.ticket!.commitment!.outputHash })),
    );
  }
  const caught = await network.audits.status(lazy.address);
  assert.equal(caught.slashedAmount, '500', `not caught in ${pulls} pulls`);
  assert.equal(prompts, 0, 'a verifier leased a ticket holding a prompt');
  assert.equal((await network.ledger.stakeOf(lazy.address)).amount, 500n);
  // None of its passes stands: they are back in the queue, and no node was accused.
  assert.deepEqual(await queued(), { queued: total, passed: 0, proofs: 0 });

  // An honest verifier audits everything again, canaries included, and keeps its stake.
  const honestKey = generateKeyPair();
  await network.ledger.grant(honestKey.address, { stake: 1000n }, `0x${randomBytes(32).toString('hex')}`);
  const honest = await startVerifier({
    registry: network.registry.endpoint,
    shardsDirs: [network.shardsDir],
    key: honestKey,
    batch: 4,
    // Idle pulls within the key's PullTickets rate (10/s).
    pollMs: 150,
    log: () => {},
  });
  try {
    await waitFor('every ticket to be audited', async () => (await queued()).passed === total, 60_000);
    assert.deepEqual(await queued(), { queued: 0, passed: total, proofs: 0 });
    const stats = honest.stats();
    assert.equal(stats.passed, total);
    assert.ok(stats.proofs >= 1, 'the honest verifier was leased canaries and filed proofs against them');
    assert.equal(stats.errors, 0);
    assert.equal((await network.audits.status(honestKey.address)).slashedAmount, '0');
    assert.equal((await network.ledger.stakeOf(honestKey.address)).amount, 1000n);
  } finally {
    await honest.close();
  }
  // Shard 0's steps left no ticket anywhere: neither leased nor held, nor asked of the node.
  const own = await network.audits.status(promptNode!.nodeId);
  assert.deepEqual(
    [own.ticketsQueued, own.ticketsPassed, own.requestsPending, own.refusals, own.proofsConfirmed],
    [0, 0, 0, 0, 0],
  );
  assert.deepEqual(promptRows(network), { tickets: 0, canaries: 0, requests: 0, proofs: 0 });
  for (const node of network.nodes) assert.equal((await network.ledger.stakeOf(node.nodeId)).amount, 1000n);
});

test('a client replaying position 0 so that two commitments share a step id never makes the node answer for the other: the request names its commitment, and the node tickets that one', async () => {
  const network = await startAuditNetwork({ shards: 2, stake: 1000n, audit: { samplingRate: 1 } });
  networks.push(network);
  const node = network.nodes[1]!;
  const audit = new SessionAudit(1);
  // Step 0 twice, from position 0, with different inputs: one step id, two commitments.
  const [first, replay] = await unrevealedSession(
    network,
    audit,
    [hiddenStep(network, 1, 5), hiddenStep(network, 2, 7)],
    () => 0,
  );
  assert.deepEqual(first!.commitment.stepId, replay!.commitment.stepId);
  assert.notDeepEqual(first!.commitment.inputHash, replay!.commitment.inputHash);

  // The client asks for the first; the registry hands the request to the node at its next heartbeat.
  await network.audits.requestAudit(network.clientKey, first!.commitment, audit.secret);
  const answered = await waitFor(
    "the node's ticket",
    async () => {
      const s = await network.audits.status(node.nodeId);
      return s.ticketsQueued + s.ticketsPassed > 0 && s;
    },
    30_000,
  );
  assert.equal(answered.ticketsQueued + answered.ticketsPassed, 1);
  assert.equal(answered.requestsPending, 0, 'the request is answered by the ticket of the commitment it names');
  assert.equal(answered.refusals, 0);
  const db = new Database(network.dbPath, { readonly: true });
  try {
    const rows = db.prepare('SELECT ticket_id AS ticketId FROM audit_tickets WHERE node_id = ?').all(node.nodeId) as {
      ticketId: string;
    }[];
    assert.deepEqual(
      rows.map((r) => r.ticketId),
      [ticketIdOf(first!.commitment)],
    );
  } finally {
    db.close();
  }
  // The replay's step is still kept, owed to nobody yet: asked for, the node answers it too.
  await network.audits.requestAudit(network.clientKey, replay!.commitment, audit.secret);
  await waitFor(
    "the replay's ticket",
    async () => {
      const s = await network.audits.status(node.nodeId);
      return s.ticketsQueued + s.ticketsPassed === 2;
    },
    30_000,
  );
  const after = await network.audits.status(node.nodeId);
  assert.deepEqual([after.requestsPending, after.refusals], [0, 0]);
});

test("one host's tickets are bounded in the queue whichever nodes signed them: past audit.maxQueuedPerSubmitter it is refused SUBMITTER_QUEUE_FULL and nothing is queued", async () => {
  const cwd = join(dir, 'submitter');
  const { manifest } = writeShardsDir(join(cwd, 'tiny'), 'tiny', 3);
  const registry = await startRegistry({
    port: 0,
    host: '127.0.0.1',
    dbPath: join(cwd, 'registry.db'),
    clusterConfig: testClusterConfig(cwd, { audit: { maxQueuedPerSubmitter: 3 } }),
  });
  const client = new RegistryClient(registry.endpoint);
  const audits = new AuditClient(registry.endpoint);
  try {
    const nodes = [generateKeyPair(), generateKeyPair()];
    for (const [i, key] of nodes.entries())
      await client.register(key, nodeBody(key, { modelId: 'tiny', shardIndex: 1, endpoint: `127.0.0.1:${50100 + i}` }));
    const ticketOf = async (node: KeyPair) => {
      const width = manifest.config.hiddenSize;
      const bytes = new Uint8Array(Float32Array.from({ length: 3 * width }, () => Math.random()).buffer);
      const { secret, commitment } = selectedStep(
        node,
        { shardIndex: 1, inputHash: sha256(bytes), outputHash: randomBytes(32) },
        DEFAULT_SAMPLING_RATE,
      );
      const wire = await encodeTicket({
        modelId: 'tiny',
        shardIndex: 1,
        shardEnd: 2,
        shardSha256: manifest.shards[1]!.sha256,
        engineVersion: ENGINE_VERSION,
        input: { tokens: false, dtype: 'DTYPE_F32', positions: 3, width, bytes },
        startPosition: 0,
        commitment,
      });
      return nodeSigned(node, wire, commitment, secret);
    };
    // Three tickets from this host, of two nodes, fill its share.
    for (const node of [nodes[0]!, nodes[1]!, nodes[0]!]) await audits.submitTicket(await ticketOf(node));
    const before = await Promise.all(nodes.map((n) => audits.status(n.address)));
    for (const node of nodes)
      await refusedWith(audits.submitTicket(await ticketOf(node)), status.RESOURCE_EXHAUSTED, 'SUBMITTER_QUEUE_FULL');
    assert.deepEqual(await Promise.all(nodes.map((n) => audits.status(n.address))), before);
    assert.deepEqual(
      before.map((s) => s.ticketsQueued),
      [2, 1],
    );
  } finally {
    client.close();
    audits.close();
    await registry.close();
  }
});

test("a node that queues, with its own key, a ticket naming another span than its signed commitment's is refused TICKET_SPAN_MISMATCH and nothing is queued; a span it does not hold, its model lacks, or whose hash is another's is refused alike; honest span tickets are queued meanwhile", async () => {
  const cwd = join(dir, 'spans');
  const { manifest } = writeShardsDir(join(cwd, 'tiny'), 'tiny', 5);
  const dbPath = join(cwd, 'registry.db');
  const registry = await startRegistry({ port: 0, host: '127.0.0.1', dbPath, clusterConfig: testClusterConfig(cwd) });
  const client = new RegistryClient(registry.endpoint);
  const audits = new AuditClient(registry.endpoint);
  try {
    const [attacker, honest, requester] = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
    await client.register(
      attacker,
      nodeBody(attacker, { modelId: 'tiny', shardIndex: 1, shardEnd: 4, endpoint: '127.0.0.1:50100' }),
    );
    await client.register(
      honest,
      nodeBody(honest, { modelId: 'tiny', shardIndex: 1, shardEnd: 5, endpoint: '127.0.0.1:50101' }),
    );
    /** `key`'s commitment to a selected step over `committed`, and its own signed ticket naming `claimed`. */
    const made = async (key: KeyPair, committed: ShardSpan, claimed = committed, shardSha256?: string) => {
      const width = manifest.config.hiddenSize;
      const bytes = new Uint8Array(Float32Array.from({ length: 3 * width }, () => Math.random()).buffer);
      const { secret, commitment } = selectedStep(
        key,
        { shardIndex: committed.start, shardEnd: committed.end, inputHash: sha256(bytes), outputHash: randomBytes(32) },
        DEFAULT_SAMPLING_RATE,
      );
      const wire = await encodeTicket({
        modelId: 'tiny',
        shardIndex: claimed.start,
        shardEnd: claimed.end,
        shardSha256: shardSha256 ?? spanSha256(manifest, claimed),
        engineVersion: ENGINE_VERSION,
        input: { tokens: false, dtype: 'DTYPE_F32', positions: 3, width, bytes },
        startPosition: 0,
        commitment,
      });
      return { secret, commitment, ticket: nodeSigned(key, wire, commitment, secret) };
    };
    const rows = () => {
      const db = new Database(dbPath, { readonly: true });
      try {
        return ['audit_tickets', 'audit_requests', 'audit_proofs', 'audit_canaries'].map((t) =>
          db.prepare(`SELECT * FROM ${t} ORDER BY 1`).all(),
        );
      } finally {
        db.close();
      }
    };
    const before = rows();

    // It ran shards 1–3 and signed that; its ticket, signed with its own key over the span it names,
    // claims shard 1 alone (whose recomputation could never match its committed output).
    const narrower = await made(attacker, { start: 1, end: 4 }, { start: 1, end: 2 });
    const error = await refusedWith(
      audits.submitTicket(narrower.ticket),
      status.INVALID_ARGUMENT,
      'TICKET_SPAN_MISMATCH',
    );
    assert.match(
      error.details,
      /ticket is for shard 1, its commitment for shards 1–3: a ticket recomputes exactly the span its node signed/,
    );
    // Wider than it signed, too.
    await refusedWith(
      audits.submitTicket((await made(attacker, { start: 1, end: 2 }, { start: 1, end: 4 })).ticket),
      status.INVALID_ARGUMENT,
      'TICKET_SPAN_MISMATCH',
    );
    // The span it signed, named by the hash of its first file alone.
    const misnamed = await refusedWith(
      audits.submitTicket((await made(attacker, { start: 1, end: 4 }, undefined, manifest.shards[1]!.sha256)).ticket),
      status.INVALID_ARGUMENT,
      'TICKET_NOT_OF_MODEL',
    );
    assert.match(
      misnamed.details,
      new RegExp(
        `SHA-256 ${manifest.shards[1]!.sha256}; shards 1–3 of "tiny" have ${spanSha256(manifest, { start: 1, end: 4 })}`,
      ),
    );
    // A span past what it holds (shards 1–3).
    const unheld = await refusedWith(
      audits.submitTicket((await made(attacker, { start: 2, end: 5 })).ticket),
      status.INVALID_ARGUMENT,
      'TICKET_WRONG_SHARD',
    );
    assert.match(unheld.details, /holds shards 1–3 of "tiny", the ticket is for shards 2–4 of "tiny"/);
    // A span the model does not have, as a ticket and as a client's audit request.
    const beyond = await made(attacker, { start: 3, end: 7 }, undefined, 'ab'.repeat(32));
    const past = await refusedWith(audits.submitTicket(beyond.ticket), status.INVALID_ARGUMENT, 'TICKET_NOT_OF_MODEL');
    assert.match(past.details, /shards \[3, 7\) reach past tiny's 5 shards/);
    await refusedWith(
      audits.requestAudit(requester, beyond.commitment, beyond.secret),
      status.INVALID_ARGUMENT,
      'COMMITMENT_SPAN_INVALID',
    );
    assert.deepEqual(rows(), before);
    assert.equal((await audits.status(attacker.address)).ticketsQueued, 0);

    // Meanwhile an honest node's ticket of the span it ran is queued, and so is the attacker's own
    // ticket once it names the span it signed.
    const fair = await made(honest, { start: 1, end: 4 });
    assert.equal(await audits.submitTicket(fair.ticket), ticketIdOf(fair.commitment));
    const own = await made(attacker, { start: 2, end: 4 });
    assert.equal(await audits.submitTicket(own.ticket), ticketIdOf(own.commitment));
    assert.deepEqual(
      await Promise.all([honest, attacker].map(async (k) => (await audits.status(k.address)).ticketsQueued)),
      [1, 1],
    );
  } finally {
    client.close();
    audits.close();
    await registry.close();
  }
});

/** Rows of the registry's database that hold shard 0's step inputs (token ids: prompts). */
function promptRows(network: AuditNetwork): { tickets: number; canaries: number; requests: number; proofs: number } {
  const db = new Database(network.dbPath, { readonly: true });
  const count = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
  try {
    return {
      tickets: count('SELECT COUNT(*) AS n FROM audit_tickets WHERE shard_index = 0'),
      canaries: count(
        'SELECT COUNT(*) AS n FROM audit_canaries c JOIN audit_tickets t ON t.ticket_id = c.source_ticket_id WHERE t.shard_index = 0',
      ),
      requests: count('SELECT COUNT(*) AS n FROM audit_requests WHERE shard_index = 0'),
      proofs: count(
        // a client's evidence names a step no ticket row holds
        'SELECT COUNT(*) AS n FROM audit_proofs WHERE ticket_id NOT IN (SELECT ticket_id FROM audit_tickets)',
      ),
    };
  } finally {
    db.close();
  }
}

test('a node submitting its own properly signed, selected shard-0 ticket is refused TICKET_HOLDS_PROMPT and nothing is queued; an audit request for shard 0 is refused alike; an honest shard-1 ticket is queued meanwhile', async () => {
  const promptKey = generateKeyPair();
  const network = await startAuditNetwork({
    shards: 2,
    stake: 1000n,
    audit: { samplingRate: 1 },
    node: (shard) => (shard === 0 ? { key: promptKey } : {}),
  });
  networks.push(network);
  const audit = new SessionAudit(1);
  const [step] = await unrevealedSession(network, audit, [tokenStep(promptTokens(3, 6))], undefined, undefined, 0);
  assert.ok(isAudited(audit.secret, step!.commitment, 1));
  // The node's own key signs the ticket of the step it committed to, the secret selects it: all in order but its input.
  const signed = signTicket(promptKey, await ticketOf(network, step!), step!.commitment, audit.secret);
  const before = promptRows(network);
  await refusedWith(network.audits.submitTicket(signed), status.FAILED_PRECONDITION, 'TICKET_HOLDS_PROMPT');
  await refusedWith(
    network.audits.requestAudit(network.clientKey, step!.commitment, audit.secret),
    status.FAILED_PRECONDITION,
    'TICKET_HOLDS_PROMPT',
  );
  // Meanwhile an honest audited session through the route: shard 1's node tickets its step.
  await auditedSession(network, [promptTokens(4, 5)], new SessionAudit(1));
  const honest = await waitFor(
    "shard 1's ticket",
    async () => {
      const s = await network.audits.status(network.nodes[1]!.nodeId);
      return s.ticketsQueued === 1 && s;
    },
    30_000,
  );
  assert.equal(honest.refusals, 0);
  await refusedWith(network.audits.submitTicket(signed), status.FAILED_PRECONDITION, 'TICKET_HOLDS_PROMPT');
  const prompt = await network.audits.status(promptKey.address);
  assert.deepEqual([prompt.ticketsQueued, prompt.ticketsPassed, prompt.requestsPending], [0, 0, 0]);
  assert.deepEqual(promptRows(network), before);
  assert.deepEqual(before, { tickets: 0, canaries: 0, requests: 0, proofs: 0 });
});

test("a shard-0 node that tampers with its output is caught by the client's own check (it holds shard 0's weights), banned by it, and slashed on the client's evidence; the prompt reaches the registry only for that step", async () => {
  const cheaterKey = generateKeyPair();
  const network = await startAuditNetwork({
    shards: 2,
    stake: 1000n,
    audit: { samplingRate: 1 },
    node: (shard) => (shard === 0 ? { key: cheaterKey, testOnlyWrapEngine: testOnlyTamperingEngine } : {}),
  });
  networks.push(network);
  const clientKey = generateKeyPair();
  // The filer answers for its evidence as a verifier does: it is staked.
  await network.ledger.grant(clientKey.address, { stake: 1000n }, `0x${randomBytes(32).toString('hex')}`);
  const logged: { event: string; fields: Record<string, unknown> }[] = [];
  const client = await connect({
    registries: [network.registry.endpoint],
    key: clientKey,
    auditShardZero: network.shardsDir,
    cacheDir: join(dir, 'client-cache'),
    log: (event, fields) => logged.push({ event, fields: fields as Record<string, unknown> }),
  });
  let spare: NodeHandle | undefined;
  try {
    const first = await client
      .generate({ model: network.manifest.modelId, prompt: 'Once upon a time', maxTokens: 4, temperature: 0 })
      .collect();
    assert.equal(first.summary.route[0]!.nodeId, cheaterKey.address);
    await client.shardZeroChecks!.settled();
    assert.deepEqual(client.shardZeroChecks!.stats, { matched: 0, mismatched: 1, skipped: 0 });
    const mismatch = logged.find((l) => l.event === 'shard_zero_mismatch');
    assert.equal(mismatch?.fields.nodeId, cheaterKey.address);
    const filed = logged.find((l) => l.event === 'shard_zero_evidence_filed');
    assert.equal(filed?.fields.status, 'PROOF_CONFIRMED', JSON.stringify(logged));
    const proven = await network.audits.status(cheaterKey.address);
    assert.deepEqual([proven.proofsConfirmed, proven.banned], [1, true]);
    await waitFor('the slash', async () => (await network.ledger.stakeOf(cheaterKey.address)).amount === 500n);
    assert.equal((await network.ledger.stakeOf(clientKey.address)).amount, 1000n);
    assert.equal((await network.ledger.stakeOf(network.nodes[1]!.nodeId)).amount, 1000n);
    // The one step reported is the only prompt the registry holds: the proof, not a queued ticket.
    assert.deepEqual(promptRows(network), { tickets: 0, canaries: 0, requests: 0, proofs: 1 });

    // An honest node takes shard 0 over; the client routes around the cheater, and checks the new node.
    const spareKey = generateKeyPair();
    await network.ledger.grant(spareKey.address, { stake: 1000n }, `0x${randomBytes(32).toString('hex')}`);
    spare = await startNode({
      shardsDir: network.shardsDir,
      shardIndex: 0,
      port: 0,
      registry: network.registry.endpoint,
      key: spareKey,
      threads: 1,
      drainGraceMs: 5000,
      log: () => {},
    });
    const second = await client
      .generate({ model: network.manifest.modelId, prompt: 'Once upon a time', maxTokens: 4, temperature: 0 })
      .collect();
    assert.equal(second.summary.route[0]!.nodeId, spareKey.address);
    await client.shardZeroChecks!.settled();
    assert.deepEqual(client.shardZeroChecks!.stats, { matched: 1, mismatched: 1, skipped: 0 });
    assert.equal((await network.audits.status(spareKey.address)).banned, false);
  } finally {
    client.close();
    await spare?.close();
  }
});

test('a client that files evidence against an honest shard-0 node pays for it: unstaked, unselected or with an input the node never signed it is refused; a made-up output is refuted and slashes the filer, never the node', async () => {
  const network = await startAuditNetwork({ shards: 2, stake: 1000n, audit: { samplingRate: 1 } });
  networks.push(network);
  const node = network.nodes[0]!;
  const audit = new SessionAudit(1);
  const tokens = promptTokens(11, 7);
  const [step] = await unrevealedSession(network, audit, [tokenStep(tokens)], undefined, undefined, 0);
  const filer = generateKeyPair();
  const unstaked = generateKeyPair();
  await network.ledger.grant(filer.address, { stake: 1000n }, `0x${randomBytes(32).toString('hex')}`);
  const wire = await ticketOf(network, step!);
  // What the filer signs names the step (ticket id, model, shard, the node's hashes): opened from the true ticket.
  const named = await openTicket(asOutput(wire), 1 << 20);
  const evidence = (key: KeyPair, ticket: Ticket, secret: Uint8Array) =>
    signFraudProof(key, { ...ticket, auditSecret: Buffer.from(secret) }, named, randomBytes(32));
  await refusedWith(
    network.audits.submitFraudProof(evidence(unstaked, wire, audit.secret)),
    status.PERMISSION_DENIED,
    'FILER_NOT_STAKED',
  );
  await refusedWith(
    network.audits.submitFraudProof(evidence(filer, wire, randomBytes(32))),
    status.FAILED_PRECONDITION,
    'TICKET_NOT_SELECTED',
  );
  // Another prompt under the node's commitment: its hash is not the input the node signed.
  const otherTokens = [...tokens];
  otherTokens[0] = otherTokens[0]! + 1;
  const forged = await encodeTicket({
    modelId: network.manifest.modelId,
    shardIndex: 0,
    shardEnd: 1,
    shardSha256: network.manifest.shards[0]!.sha256,
    engineVersion: ENGINE_VERSION,
    input: { tokens: true, positions: otherTokens.length, bytes: tokenBytes(otherTokens) },
    startPosition: 0,
    commitment: step!.commitment,
  });
  await refusedWith(
    network.audits.submitFraudProof(evidence(filer, forged, audit.secret)),
    status.INVALID_ARGUMENT,
    'TICKET_INPUT_MISMATCH',
  );
  assert.equal((await network.ledger.stakeOf(filer.address)).amount, 1000n);

  // Meanwhile an honest session's shard-1 ticket is queued.
  await auditedSession(network, [promptTokens(12, 4)], new SessionAudit(1));
  await waitFor(
    "shard 1's ticket",
    async () => (await network.audits.status(network.nodes[1]!.nodeId)).ticketsQueued === 1,
    30_000,
  );

  const reply = await network.audits.submitFraudProof(evidence(filer, wire, audit.secret));
  assert.equal(reply.status, 'PROOF_REFUTED', reply.detail);
  await waitFor('the filer slashed', async () => (await network.ledger.stakeOf(filer.address)).amount === 500n);
  const honest = await network.audits.status(node.nodeId);
  assert.deepEqual(
    [honest.banned, honest.proofsConfirmed, honest.proofsRefuted, honest.slashedAmount],
    [false, 0, 1, '0'],
  );
  assert.equal((await network.ledger.stakeOf(node.nodeId)).amount, 1000n);
  // Once on record, the same step cannot be reported again.
  await refusedWith(
    network.audits.submitFraudProof(evidence(filer, wire, audit.secret)),
    status.ALREADY_EXISTS,
    'PROOF_ON_RECORD',
  );
  assert.equal((await network.ledger.stakeOf(filer.address)).amount, 500n);
});

test("a verifier cannot pick the tickets it audits: each ticket goes to the verifier its stake-weighted draw names (anyone recomputes it), another's pull passes over it, and the drawn one leases it", async () => {
  const network = await startAuditNetwork({
    shards: 2,
    stake: 1000n,
    audit: { samplingRate: 1, canaryRate: 0, drawnVerifiers: 1, drawGraceMs: 3_600_000 },
  });
  networks.push(network);
  const registry = new RegistryClient(network.registry.endpoint);
  const { manifest } = network;
  const held = manifest.shards.map((s) => ({ modelId: manifest.modelId, shardIndex: s.index, shardSha256: s.sha256 }));
  // The attacker is a staked verifier like any other; with equal stakes each is drawn for about a
  // third of the tickets (src/registry/validator-draw.test.ts shows stake's weight).
  const verifiers = [1000n, 1000n, 1000n].map((stake) => ({ key: generateKeyPair(), stake }));
  try {
    for (const { key, stake } of verifiers) {
      await registry.register(
        key,
        nodeBody(key, { role: 'verifier', modelId: '', shardIndex: 0, endpoint: '127.0.0.1:0' }),
      );
      await network.ledger.grant(key.address, { stake }, `0x${randomBytes(32).toString('hex')}`);
    }
  } finally {
    registry.close();
  }
  // Every prefill is audited: 3 sessions of 5 steps, 15 tickets of shard 1.
  for (let session = 0; session < 3; session++)
    await auditedSession(
      network,
      Array.from({ length: 5 }, (_, i) => promptTokens(100 + session * 5 + i, 2 + i)),
      new SessionAudit(1),
    );
  const node = network.nodes[1]!;
  await waitFor(
    'every ticket to be queued',
    async () => (await network.audits.status(node.nodeId)).ticketsQueued === 15,
    30_000,
  );

  // No settlement yet: the seed is the ticket id alone.
  const candidates = verifiers.map((v) => ({ id: v.key.address, stake: v.stake }));
  const drawnFor = (ticketId: string) => drawValidators(candidates, sha256(Buffer.from(ticketId, 'utf8')), 1)[0];

  const [attacker, ...others] = verifiers;
  const taken = await network.audits.pullTickets(attacker!.key, held, ENGINE_VERSION, 64);
  assert.ok(taken.length < 15, 'the attacker leased every ticket');
  for (const lease of taken) assert.equal(drawnFor(lease.ticketId), attacker!.key.address, lease.ticketId);
  // What it could not lease is still queued, unleased: each of the others leases exactly its own.
  let leasedByOthers = 0;
  for (const other of others) {
    const leased = await network.audits.pullTickets(other.key, held, ENGINE_VERSION, 64);
    for (const lease of leased) assert.equal(drawnFor(lease.ticketId), other.key.address, lease.ticketId);
    leasedByOthers += leased.length;
  }
  assert.equal(taken.length + leasedByOthers, 15, 'every ticket went to its drawn verifier');
  // A second pull by the attacker gets only its own again (a lease it holds), never the others'.
  const again = await network.audits.pullTickets(attacker!.key, held, ENGINE_VERSION, 64);
  assert.deepEqual(again.map((l) => l.ticketId).sort(), taken.map((l) => l.ticketId).sort());
  assert.equal((await network.audits.status(node.nodeId)).ticketsQueued, 15);
});
