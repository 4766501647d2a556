import { randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { status, type ServiceError } from '@grpc/grpc-js';
import { detectionProbability } from '../../src/protocol/audit-selection.ts';
import { requestAudits, SessionAudit } from '../../src/audit/session-audit.ts';
import { generateKeyPair, writeNewKeyFile } from '../../src/crypto/keys.ts';
import { RegistryClient } from '../../src/registry/registry-client.ts';
import { auditedSession, promptTokens, startAuditNetwork, type AuditNetwork } from '../support/audit-network.ts';
import { testOnlyTamperingEngine } from '../support/test-only-tampering-engine.ts';
import { nodeBody, waitFor } from '../support/registry-fixtures.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const RATE = 0.05;
/**
 * Sessions the cheater may serve before the test gives up. Every session's prefill is a pass the
 * cheater tampers with, so P(not selected once in K) = (1 − 0.05)^K ≈ 2·10⁻⁷ for K = 300.
 */
const K = 300;

let network: AuditNetwork | undefined;
let verifier: ChildProcess | undefined;
after(async () => {
  if (verifier && verifier.exitCode === null && verifier.signalCode === null) verifier.kill('SIGKILL');
  await network?.close();
});

test('a node that perturbs its outputs is audited, proven by a verifier process, slashed and evicted within the passes 5 % predicts', async (t) => {
  assert.ok(detectionProbability(RATE, K) > 1 - 1e-6);
  const cheaterKey = generateKeyPair();
  network = await startAuditNetwork({
    shards: 2,
    stake: 1000n,
    // The cheater serves shard 1: shard 0's steps hold prompts and only their clients check them
    // (test/attacks/audits.test.ts); a verifier process audits the rest.
    node: (shard) => (shard === 1 ? { key: cheaterKey, testOnlyWrapEngine: testOnlyTamperingEngine } : {}),
  });
  const net = network;
  const [honest, cheater] = net.nodes as [(typeof net.nodes)[0], (typeof net.nodes)[0]];

  const keyPath = join(net.dir, 'verifier.key');
  const verifierKey = writeNewKeyFile(keyPath);
  // Only a staked verifier leases tickets.
  await net.ledger.grant(verifierKey.address, { stake: 1000n }, `0x${randomBytes(32).toString('hex')}`);
  const child = spawn(
    process.execPath,
    [
      join(ROOT, 'bin/tessera.js'),
      'verifier',
      '--registry',
      net.registry.endpoint,
      '--shards-dir',
      net.shardsDir,
      '--key',
      keyPath,
      // any free port: a default one may be taken on a shared machine
      '--metrics-port',
      '0',
    ],
    {
      cwd: net.dir,
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  verifier = child;
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  await waitFor('the verifier to start', () => stderr.includes('"verifier_started"'), 30_000);

  // Sessions until the client's secret selects a tampered prefill of the cheater.
  let sessions = 0;
  let caught = false;
  while (!caught && sessions < K) {
    const audit = new SessionAudit(RATE);
    const [commitments] = await auditedSession(net, [promptTokens(sessions, 3 + (sessions % 9))], audit);
    sessions++;
    const outcomes = await requestAudits(net.audits, net.clientKey, audit, commitments!);
    assert.deepEqual(
      outcomes.filter((o) => o.error !== undefined),
      [],
    );
    caught = outcomes.some((o) => o.nodeId === cheater.nodeId);
    assert.equal(outcomes.filter((o) => o.nodeId === honest.nodeId).length, 0, 'a request for shard 0 was filed');
  }
  assert.ok(caught, `the cheater was not selected in ${K} sessions`);
  t.diagnostic(`the cheater's tampering was first selected for audit in session ${sessions}`);

  const proven = await waitFor(
    'the fraud proof',
    async () => {
      const s = await net.audits.status(cheater.nodeId);
      return s.proofsConfirmed === 1 && s;
    },
    60_000,
  );
  assert.equal(proven.banned, true);
  assert.equal(proven.slashedAmount, '500');
  assert.equal(proven.ticketsPassed, 0, 'no tampered pass is counted as audited');
  assert.equal((await net.ledger.stakeOf(cheater.nodeId)).amount, 500n);
  await waitFor('the verifier to log the confirmed proof', () =>
    /"event":"verifier_fraud_proof".*"status":"PROOF_CONFIRMED"/.test(stderr),
  );

  // Evicted from discovery, and refused when it registers again.
  const registry = new RegistryClient(net.registry.endpoint);
  try {
    const { nodes } = await registry.discover(net.manifest.modelId);
    assert.deepEqual(
      nodes.map((n) => n.nodeId),
      [honest.nodeId],
    );
    await assert.rejects(
      registry.register(
        cheaterKey,
        nodeBody(cheaterKey, { modelId: net.manifest.modelId, shardIndex: 1, endpoint: cheater.endpoint }),
      ),
      (error: ServiceError) => {
        assert.equal(error.code, status.PERMISSION_DENIED);
        assert.match(error.details, /slashed and evicted for fraud \(proof [0-9a-f]{64}.*it may not rejoin/);
        return true;
      },
    );
  } finally {
    registry.close();
  }

  // The honest node upstream: shard 0's steps are the prompt, so none was ticketed or asked of it.
  const fair = await waitFor(
    "the honest node's audits",
    async () => {
      const s = await net.audits.status(honest.nodeId);
      return s.ticketsQueued === 0 && s.ticketsPassed === 0 && s.requestsPending === 0 && s;
    },
    60_000,
  );
  assert.equal(fair.proofsConfirmed + fair.proofsUnconfirmed + fair.proofsRefuted, 0);
  assert.equal(fair.banned, false);
  assert.equal((await net.ledger.stakeOf(honest.nodeId)).amount, 1000n);

  child.kill('SIGTERM');
  assert.equal(await new Promise((resolve) => child.on('exit', resolve)), 0);
  assert.match(stderr, /"event":"verifier_stopped"/);
});
