// Audits of prompts that crossed the route in parts (Step.partial): the audited step is the whole
// prompt step, recomputed in one piece from the parts' inputs the node joined; a node that altered
// one part of its output is proven to have cheated.
import { randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { SessionAudit } from '../../src/audit/session-audit.ts';
import { generateKeyPair } from '../../src/crypto/keys.ts';
import type { BatchItem, Engine } from '../../src/model/engine.ts';
import { startVerifier, type VerifierHandle } from '../../src/verifier/verifier.ts';
import { auditedSession, promptTokens, startAuditNetwork, type AuditNetwork } from '../support/audit-network.ts';
import { waitFor } from '../support/registry-fixtures.ts';

let network: AuditNetwork | undefined;
let verifier: VerifierHandle | undefined;
after(async () => {
  await verifier?.close();
  await network?.close();
});

/** Positions a batch of shard 0's node runs: a 40-token prompt leaves it, and so crosses every later hop, in 5 parts. */
const BUDGET = 8;
/** Whether shard 1's node alters the parts of a step but its last (TEST ONLY, as a cheater would). */
let tampering = false;
/** How many parts shard 1's node ran (each as one item: its budget takes a whole part). */
let partsRun = 0;

function alteringParts(engine: Engine): Engine {
  return new Proxy(engine, {
    get(target, property) {
      if (property === 'forwardBatch')
        return (items: readonly BatchItem[]) => {
          const results = target.forwardBatch(items);
          items.forEach((item, i) => {
            if (!item.partial) return;
            partsRun++;
            if (tampering) results[i]!.hidden![0]! += 1e-3;
          });
          return results;
        };
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

test('a prompt step that crossed in parts is audited whole: honest parts pass, an altered part is proven', async () => {
  // Every step from position 0 is audited (the cluster's rate is 1, which the nodes learn when they register).
  network = await startAuditNetwork({
    shards: 3,
    stake: 1000n,
    // no canaries: the verifier's counts below are the network's tickets only
    audit: { samplingRate: 1, canaryRate: 0 },
    node: (shard) => ({
      maxBatchPositions: shard === 0 ? BUDGET : 64,
      ...(shard === 1 ? { testOnlyWrapEngine: alteringParts } : {}),
    }),
  });
  const net = network;
  const [, middle, last] = net.nodes as [(typeof net.nodes)[0], (typeof net.nodes)[0], (typeof net.nodes)[0]];
  const verifierKey = generateKeyPair();
  await net.ledger.grant(verifierKey.address, { stake: 1000n }, `0x${randomBytes(32).toString('hex')}`);
  verifier = await startVerifier({
    registry: net.registry.endpoint,
    shardsDirs: [net.shardsDir],
    key: verifierKey,
    batch: 8,
    pollMs: 150,
    log: () => {},
  });

  const prompt = promptTokens(3, 5 * BUDGET);
  const [honest] = await auditedSession(net, [prompt], new SessionAudit(1));
  assert.equal(honest!.length, 3);
  assert.equal(partsRun, 4, 'the prompt reached shard 1 in 5 parts');
  await waitFor(
    "the honest step's tickets to pass",
    async () => {
      const [m, l] = await Promise.all([net.audits.status(middle.nodeId), net.audits.status(last.nodeId)]);
      return m.ticketsPassed === 1 && l.ticketsPassed === 1 && m.ticketsQueued === 0 && l.ticketsQueued === 0;
    },
    60_000,
  );

  tampering = true;
  await auditedSession(net, [promptTokens(4, 5 * BUDGET)], new SessionAudit(1));
  assert.equal(partsRun, 8);
  const proven = await waitFor(
    'the fraud proof against the node that altered a part',
    async () => {
      const s = await net.audits.status(middle.nodeId);
      return s.proofsConfirmed === 1 && s;
    },
    60_000,
  );
  assert.equal(proven.ticketsPassed, 1, 'only the honest step passed');
  assert.equal(proven.banned, true);
  // The next hop computed honestly on what it was sent: its step passes.
  const next = await waitFor(
    "the last hop's second ticket to pass",
    async () => {
      const s = await net.audits.status(last.nodeId);
      return s.ticketsPassed === 2 && s;
    },
    60_000,
  );
  assert.equal(next.proofsConfirmed + next.proofsUnconfirmed + next.proofsRefuted, 0);
  assert.deepEqual(verifier.stats(), { passed: 3, proofs: 1, errors: 0 });
});
