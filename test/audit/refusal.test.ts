// Refusing an audit is provable and slashed: the registry hands every node the audits clients
// requested of it (at its heartbeats), so an honest node answers even when the client never revealed
// on the stream; one that never sends the ticket is slashed once by the configured fraction after the
// deadline, and a restart of the registry does not slash it again.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { status, type ServiceError } from '@grpc/grpc-js';
import Database from 'better-sqlite3';
import { AuditClient } from '../../src/audit/audit-client.ts';
import { signCommitment, type SignedCommitment } from '../../src/protocol/commitment.ts';
import { isAudited } from '../../src/protocol/audit-selection.ts';
import { SessionAudit } from '../../src/audit/session-audit.ts';
import { generateKeyPair } from '../../src/crypto/keys.ts';
import type { Commitment__Output } from '../../src/proto/tessera/v1/Commitment.ts';
import { auditRetentionMs, ClusterConfigError, parseClusterConfig } from '../../src/registry/cluster-config.ts';
import { RegistryClient } from '../../src/registry/registry-client.ts';
import { startRegistry, type RegistryHandle } from '../../src/registry/registry.ts';
import { committedStep } from '../support/audit-tickets.ts';
import { nodeBody, waitFor } from '../support/registry-fixtures.ts';
import { promptTokens, startAuditNetwork, type AuditNetwork } from '../support/audit-network.ts';
import { ForwardClient } from '../support/node-cluster.ts';
import {
  startTestOnlyTicketWithholdingProxy,
  type TicketWithholdingProxy,
} from '../support/test-only-ticket-withholding-proxy.ts';

const RATE = 0.5;
const DEADLINE_MS = 1_000;
// Deadline = 5 heartbeats: the least the cluster config allows is 4.
const HEARTBEAT = { intervalMs: 200, evictAfterMissed: 10 };
const STAKE = 1000n;

let honest: AuditNetwork | undefined;
let refusing: AuditNetwork | undefined;
let proxy: TicketWithholdingProxy | undefined;
let restarted: RegistryHandle | undefined;
after(async () => {
  await restarted?.close();
  await honest?.close();
  await refusing?.close();
  await proxy?.close();
});

function network(node?: Parameters<typeof startAuditNetwork>[0]['node']): Promise<AuditNetwork> {
  // Shard 0's steps are prompts: no ticket of them is owed (their clients check them), so shards 1 and 2 are audited here.
  return startAuditNetwork({
    shards: 3,
    stake: STAKE,
    heartbeat: HEARTBEAT,
    audit: { samplingRate: RATE, ticketDeadlineMs: DEADLINE_MS },
    ...(node === undefined ? {} : { node }),
  });
}

/** Whether `secret` selects the step of each shard after shard 0 as `want` says (`want[0]` is not read). */
const selects = (secret: Buffer, commitments: readonly Commitment__Output[], want: readonly boolean[]): boolean =>
  want.every((selected, shard) => shard === 0 || isAudited(secret, commitments[shard]!, RATE) === selected);

/**
 * Sessions of one prefill each, with a fresh secret committed at Open, until the secret selects the
 * step of each shard as `want` says: the draw covers the nodes' signatures, so a client learns what
 * its secret selects only once the step is committed. Only that last session is revealed on the
 * stream, when `reveal`; the others are closed unrevealed and never requested, so they owe nothing.
 */
async function drawnPrefill(
  net: AuditNetwork,
  seed: number,
  want: readonly boolean[],
  reveal: boolean,
): Promise<{ secret: Buffer; commitments: Commitment__Output[] }> {
  for (let sessions = 0; sessions < 64; sessions++) {
    const audit = new SessionAudit(RATE);
    const commitments = await prefill(net, seed, audit, (c) => reveal && selects(audit.secret, c, want));
    if (selects(audit.secret, commitments, want)) return { secret: audit.secret, commitments };
  }
  throw new Error(`no secret selected the shards' steps as ${JSON.stringify(want)} in 64 sessions`);
}

/** A secret other than any committed at Open that selects each of `commitments` (chosen after the fact). */
function selectingSecret(commitments: readonly Commitment__Output[]): Buffer {
  for (;;) {
    const secret = randomBytes(32);
    if (commitments.every((c) => isAudited(secret, c, RATE))) return secret;
  }
}

/**
 * One prefill through the whole route, then Close: with the audit commitment of `audit` at Open
 * (none without it) and its reveal on the stream only when `reveal` says so of the step's
 * commitments. Resolves with them once the session has ended on the first node.
 */
async function prefill(
  net: AuditNetwork,
  seed: number,
  audit: SessionAudit | undefined,
  reveal: boolean | ((commitments: Commitment__Output[]) => boolean),
): Promise<Commitment__Output[]> {
  const client = new ForwardClient(net.nodes[0]!.endpoint);
  try {
    await client.openSession({
      sessionId: randomUUID(),
      modelId: net.manifest.modelId,
      route: net.route,
      outputMode: 'off',
      sampling: { temperature: 0 },
      clientKey: net.clientKey.publicKey,
      auditCommitment: audit?.commitment ?? Buffer.alloc(0),
    });
    const reply = await client
      .write({ step: { step: 0, startPosition: 0, tokens: promptTokens(seed, 4 + (seed % 5)) } })
      .reply();
    const commitments = reply.result!.commitments;
    if (typeof reveal === 'function' ? reveal(commitments) : reveal) client.write(audit!.revealRequest());
    client.write({ close: {} });
    const end = await client.next();
    assert.ok('end' in end, `the session ended with ${JSON.stringify(end)}`);
    return commitments;
  } finally {
    client.close();
  }
}

/** The client's signed audit request for each commitment past shard 0's; resolves with the latest deadline. */
async function requestAll(
  net: AuditNetwork,
  commitments: readonly SignedCommitment[],
  secret: Buffer,
): Promise<number> {
  const replies = await Promise.all(
    commitments.filter((c) => c.shardIndex !== 0).map((c) => net.audits.requestAudit(net.clientKey, c, secret)),
  );
  return Math.max(...replies.map((r) => r.dueByMs));
}

function rows(dbPath: string, sql: string, ...params: unknown[]): Record<string, unknown>[] {
  const db = new Database(dbPath, { readonly: true });
  try {
    return db.prepare(sql).all(...params) as Record<string, unknown>[];
  } finally {
    db.close();
  }
}

test('an honest node answers every audit request the registry hands it, revealed on the stream or not, once each, and is never slashed', async () => {
  const events: { node: number; event: string; fields: Record<string, unknown> }[] = [];
  honest = await network((shard) => ({ log: (event, fields = {}) => events.push({ node: shard, event, fields }) }));
  const net = honest;
  let dueByMs = 0;

  // A client that commits at Open but never reveals on the stream: the session ends first, then it files its requests.
  const unrevealed = await drawnPrefill(net, 1, [true, true, true], false);
  dueByMs = Math.max(dueByMs, await requestAll(net, unrevealed.commitments, unrevealed.secret));

  // A client that sent no audit commitment at all: its steps bind none, so nothing can be asked of
  // them, not even with a secret chosen afterwards to select them all.
  const second = await prefill(net, 2, undefined, false);
  const uncommitted = selectingSecret(second);
  for (const c of second.slice(1)) {
    await assert.rejects(net.audits.requestAudit(net.clientKey, c, uncommitted), (error: ServiceError) => {
      assert.equal(error.code, status.FAILED_PRECONDITION, `${status[error.code]}: ${error.details}`);
      assert.match(error.details, /opened without an audit commitment, so none of its steps can be audited/);
      return true;
    });
  }
  // Another secret than the one committed at Open does not bind the steps either.
  const rebound = await drawnPrefill(net, 5, [true, true, true], false);
  const other = selectingSecret(rebound.commitments);
  await assert.rejects(
    net.audits.requestAudit(net.clientKey, rebound.commitments[1]!, other),
    /the secret is not the one the session committed to at Open/,
  );
  dueByMs = Math.max(dueByMs, await requestAll(net, rebound.commitments, rebound.secret));

  // An honest client: the reveal on the stream and the requests at the registry name the same steps.
  const revealed = await drawnPrefill(net, 3, [true, true, true], true);
  dueByMs = Math.max(dueByMs, await requestAll(net, revealed.commitments, revealed.secret));

  // Shard 0's steps hold prompts: nobody asks for them, and its node tickets none.
  await waitFor('every ticket', async () => {
    const all = await Promise.all(net.nodes.map((n) => net.audits.status(n.nodeId)));
    return all.every((s, shard) => s.ticketsQueued + s.ticketsPassed === (shard === 0 ? 0 : 3));
  });
  await waitFor('every deadline to pass', () => Date.now() > dueByMs);
  for (const [shard, node] of net.nodes.entries()) {
    const s = await net.audits.status(node.nodeId);
    assert.deepEqual(
      [s.ticketsQueued + s.ticketsPassed, s.refusals, s.requestsPending, s.slashedAmount],
      [shard === 0 ? 0 : 3, 0, 0, '0'],
    );
    assert.equal((await net.ledger.stakeOf(node.nodeId)).amount, STAKE);
  }
  assert.equal(events.filter((e) => e.node === 0 && e.event === 'audit_ticket_submitted').length, 0);
  for (const shard of [1, 2]) {
    const mine = events.filter((e) => e.node === shard);
    assert.equal(
      mine.filter((e) => e.event === 'audit_ticket_submitted').length,
      3,
      `node ${shard} tickets each step once`,
    );
    assert.deepEqual(
      mine.filter((e) =>
        /^audit_(ticket_failed|ticket_dropped|request_unanswerable|request_not_selected)$/.test(e.event),
      ),
      [],
    );
  }
  assert.deepEqual(rows(net.dbPath, 'SELECT * FROM audit_refusals'), []);
});

test('a forged or unselected audit request is refused at the registry and changes nothing', async () => {
  const net = honest!;
  const { secret, commitments } = await drawnPrefill(net, 4, [true, true, false], false);
  const [, shard1, shard2] = commitments as [Commitment__Output, Commitment__Output, Commitment__Output];
  const tables = [
    'audit_tickets',
    'audit_requests',
    'audit_refusals',
    'audit_slashes',
    'ledger_stakes',
    'ledger_slashes',
  ];
  const snapshot = () => Object.fromEntries(tables.map((t) => [t, rows(net.dbPath, `SELECT * FROM ${t} ORDER BY 1`)]));
  const before = snapshot();

  const refused = (code: status, pattern: RegExp) => (error: ServiceError) => {
    assert.equal(error.code, code, `${status[error.code]}: ${error.details}`);
    assert.match(error.details, pattern);
    return true;
  };
  const outsider = generateKeyPair();
  const forged = { ...shard1, signature: signCommitment(outsider, shard1).signature };
  await assert.rejects(
    net.audits.requestAudit(net.clientKey, forged, secret),
    refused(status.UNAUTHENTICATED, /the commitment is not signed by node 0x[0-9a-f]{40}/),
  );
  const altered = { ...shard1, outputHash: randomBytes(32) };
  await assert.rejects(
    net.audits.requestAudit(net.clientKey, altered, secret),
    refused(status.UNAUTHENTICATED, /the commitment is not signed by node/),
  );
  await assert.rejects(
    net.audits.requestAudit(net.clientKey, shard2, secret),
    refused(
      status.FAILED_PRECONDITION,
      /the secret does not select this step of shard 2 at the cluster's sampling rate 0.5: nothing is owed/,
    ),
  );
  assert.deepEqual(snapshot(), before);
});

test('a request for a step committed longer ago than audit.requestWindowMs is refused and changes nothing', async () => {
  const net = honest!;
  const node = generateKeyPair();
  const registryClient = new RegistryClient(net.registry.endpoint);
  await registryClient.register(
    node,
    nodeBody(node, { modelId: net.manifest.modelId, shardIndex: 1, endpoint: '127.0.0.1:50101' }),
  );
  registryClient.close();
  const { requestWindowMs } = net.clusterConfig.audit;
  const secret = randomBytes(32);
  const outdated = committedStep(
    node,
    secret,
    {
      shardIndex: 1,
      inputHash: randomBytes(32),
      outputHash: randomBytes(32),
      timestampMs: Date.now() - requestWindowMs - 5_000,
    },
    RATE,
  );
  const tables = [
    'audit_tickets',
    'audit_requests',
    'audit_refusals',
    'audit_slashes',
    'ledger_stakes',
    'ledger_slashes',
  ];
  const snapshot = () => Object.fromEntries(tables.map((t) => [t, rows(net.dbPath, `SELECT * FROM ${t} ORDER BY 1`)]));
  const before = snapshot();
  await assert.rejects(net.audits.requestAudit(net.clientKey, outdated, secret), (error: ServiceError) => {
    assert.equal(error.code, status.FAILED_PRECONDITION, `${status[error.code]}: ${error.details}`);
    assert.match(
      error.details,
      new RegExp(
        `the commitment is dated \\S+, 125 s ago, past the cluster's audit request window of 120 s: node ${node.address} no longer owes a ticket for it`,
      ),
    );
    return true;
  });
  assert.deepEqual(snapshot(), before);
});

test('a node that withholds its tickets is slashed by the configured fraction once per refusal, after the deadline, and a registry restart slashes nothing twice', async () => {
  refusing = await network(async (shard, registry) =>
    shard === 1 ? { registry: (proxy = await startTestOnlyTicketWithholdingProxy(registry)).endpoint } : {},
  );
  const net = refusing;
  const [, refuser, fair] = net.nodes as [(typeof net.nodes)[0], (typeof net.nodes)[0], (typeof net.nodes)[0]];

  const refuseOnce = async (seed: number): Promise<number> => {
    const { secret, commitments } = await drawnPrefill(net, seed, [true, true, true], true);
    return requestAll(net, commitments, secret);
  };
  const dueByMs = await refuseOnce(10);
  const first = await waitFor('the refusal slash', async () => {
    const s = await net.audits.status(refuser.nodeId);
    return s.slashedAmount !== '0' && s;
  });
  // stake.slashFractions.auditRefusal is 0.1 by default.
  assert.deepEqual([first.refusals, first.slashedAmount, first.banned], [1, '100', false]);
  assert.equal((await net.ledger.stakeOf(refuser.nodeId)).amount, 900n);
  assert.ok(proxy!.withheld() >= 1);
  const [refusal] = rows(
    net.dbPath,
    'SELECT f.at_ms AS atMs, r.due_by_ms AS dueByMs, f.fraction_bps AS bps, f.excuse FROM audit_refusals f JOIN audit_requests r USING (ticket_id)',
  );
  assert.deepEqual([refusal!.bps, refusal!.excuse], [1000, '']);
  assert.ok((refusal!.dueByMs as number) <= dueByMs);
  assert.ok((refusal!.atMs as number) > (refusal!.dueByMs as number), 'slashed only after the deadline');
  const fairStatus = await net.audits.status(fair.nodeId);
  assert.deepEqual(
    [fairStatus.ticketsQueued + fairStatus.ticketsPassed, fairStatus.refusals, fairStatus.slashedAmount],
    [1, 0, '0'],
  );

  // The registry restarts on the same port and database: the decided refusal stays decided.
  await net.registry.close();
  restarted = await startRegistry({
    port: net.registry.port,
    host: '127.0.0.1',
    dbPath: net.dbPath,
    clusterConfig: net.clusterConfig,
    settlement: net.ledger,
  });
  // A second refusal after the restart: once it is slashed, the registry has swept its requests at
  // least once, and the first slash must not have been taken again (10 % of 900, not of 810).
  await refuseOnce(11);
  await waitFor(
    'the second refusal slash',
    async () => (await net.audits.status(refuser.nodeId)).slashedAmount === '190',
  );
  assert.equal((await net.ledger.stakeOf(refuser.nodeId)).amount, 810n);
  assert.equal(rows(net.dbPath, 'SELECT * FROM audit_slashes WHERE node_id = ?', refuser.nodeId).length, 2);
  assert.equal(rows(net.dbPath, 'SELECT * FROM ledger_slashes WHERE node = ?', refuser.nodeId).length, 2);
  assert.equal((await net.ledger.stakeOf(fair.nodeId)).amount, STAKE);
  const fairAfter = await net.audits.status(fair.nodeId);
  assert.equal(fairAfter.ticketsQueued + fairAfter.ticketsPassed, 2);
});

test("a deadline runs only while the registry is up: requests open across a restart get a whole deadline again, and a refusal past the step's retention is excused", async () => {
  const net = honest!;
  const dbPath = `${net.dir}/restart.db`;
  const start = () =>
    startRegistry({ port: 0, host: '127.0.0.1', dbPath, clusterConfig: net.clusterConfig, settlement: net.ledger });
  let registry = await start();
  const node = generateKeyPair();
  const registryClient = new RegistryClient(registry.endpoint);
  await registryClient.register(
    node,
    nodeBody(node, { modelId: net.manifest.modelId, shardIndex: 1, endpoint: '127.0.0.1:50100' }),
  );
  registryClient.close();
  // Dated so that the deadline, moved past the downtime, falls after the node's retention of the step.
  const { requestWindowMs, ticketDeadlineMs } = net.clusterConfig.audit;
  const secret = randomBytes(32);
  const commitment = committedStep(
    node,
    secret,
    {
      shardIndex: 1,
      inputHash: randomBytes(32),
      outputHash: randomBytes(32),
      timestampMs: Date.now() - requestWindowMs + 1_000,
    },
    RATE,
  );
  let audits = new AuditClient(registry.endpoint);
  const { dueByMs } = await audits.requestAudit(net.clientKey, commitment, secret);
  audits.close();
  await registry.close();
  await waitFor('the deadline to pass while the registry is down', () => Date.now() > dueByMs);
  registry = await start();
  audits = new AuditClient(registry.endpoint);
  try {
    const s = await audits.status(node.address);
    assert.deepEqual([s.requestsPending, s.refusals], [1, 0]);
    const [row] = rows(dbPath, 'SELECT due_by_ms AS dueByMs FROM audit_requests');
    assert.ok((row!.dueByMs as number) > dueByMs, 'the deadline moved past the downtime');
    // The moved deadline passes without a ticket: past the time the node had to keep the step, so excused.
    const refusal = await waitFor(
      'the refusal decided',
      () => rows(dbPath, 'SELECT fraction_bps AS bps, excuse FROM audit_refusals')[0],
    );
    const keptUntil = new Date(commitment.timestampMs + requestWindowMs + ticketDeadlineMs).toISOString();
    assert.deepEqual(
      [refusal.bps, refusal.excuse],
      [
        0,
        `the deadline moved past the registry's downtime to ${new Date(row!.dueByMs as number).toISOString()}, after ${keptUntil}, until when the node must keep the step`,
      ],
    );
    const after = await audits.status(node.address);
    assert.deepEqual([after.refusals, after.requestsPending, after.slashedAmount], [0, 0, '0']);
  } finally {
    audits.close();
    await registry.close();
  }
});

test('the cluster config refuses a ticket deadline shorter than 4 heartbeat intervals', () => {
  const config = (ticketDeadlineMs: number) =>
    parseClusterConfig(
      {
        clusterId: 'c',
        models: [{ manifest: 'shards' }],
        heartbeat: { intervalMs: 1000 },
        audit: { ticketDeadlineMs },
      },
      honest!.dir,
    );
  assert.throws(
    () => config(3999),
    (error: ClusterConfigError) => {
      assert.deepEqual(error.problems, [
        'audit.ticketDeadlineMs: must be at least 4 heartbeat intervals (4000 ms at heartbeat.intervalMs 1000), got 3999',
      ]);
      return true;
    },
  );
  assert.equal(config(4000).audit.ticketDeadlineMs, 4000);
});

test('the cluster config refuses a request window too short for a client to file against a backdated commitment', () => {
  const config = (audit: Record<string, number>, maxClockSkewMs?: number) =>
    parseClusterConfig(
      {
        clusterId: 'c',
        models: [{ manifest: 'shards' }],
        // The ticket deadline below must be at least 4 heartbeats, whatever the default interval.
        heartbeat: { intervalMs: 5_000, evictAfterMissed: 3 },
        audit,
        ...(maxClockSkewMs === undefined ? {} : { maxClockSkewMs }),
      },
      honest!.dir,
    );
  assert.equal(config({}).audit.requestWindowMs, 120_000);
  assert.throws(
    () => config({ requestWindowMs: 119_999 }),
    (error: ClusterConfigError) => {
      assert.deepEqual(error.problems, [
        "audit.requestWindowMs: must be at least maxClockSkewMs + 60000 ms (how far a client accepts a commitment's time from its clock) + 30000 ms to file a request: 120000 ms at maxClockSkewMs 30000, got 119999",
      ]);
      return true;
    },
  );
  assert.equal(config({ requestWindowMs: 100_000 }, 10_000).audit.requestWindowMs, 100_000);
  assert.equal(auditRetentionMs(config({ requestWindowMs: 100_000, ticketDeadlineMs: 20_000 }, 10_000)), 130_000);
});
