import { randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { connect, type ConnectOptions, type GenerateRequest, type TesseraClient } from '../../src/client/client.ts';
import { generateKeyPair } from '../../src/crypto/keys.ts';
import { startVerifier, type VerifierHandle } from '../../src/verifier/verifier.ts';
import { startAuditNetwork, type AuditNetwork } from '../support/audit-network.ts';
import { waitFor } from '../support/registry-fixtures.ts';

const networks: AuditNetwork[] = [];
const clients: TesseraClient[] = [];
let verifier: VerifierHandle | undefined;
after(async () => {
  for (const client of clients) client.close();
  await verifier?.close();
  await Promise.all(networks.map((n) => n.close()));
});

async function generateText(
  network: AuditNetwork,
  request: Omit<GenerateRequest, 'model'>,
  options: Partial<ConnectOptions> = {},
) {
  const client = await connect({ registries: [network.registry.endpoint], ...options });
  clients.push(client);
  const { tokens, summary } = await client
    .generate({ model: network.manifest.modelId, temperature: 0, maxTokens: 24, ...request })
    .collect();
  return { ids: tokens.map((t) => t.id), text: summary.text, failovers: summary.failovers };
}

test('the SDK takes part in audits: at rate 1 every prefill of a generation is ticketed, requested and audited past shard 0, and the text is that of rate 0', async () => {
  // No canaries: the verifier's tally below is exactly the clients' tickets.
  const audited = await startAuditNetwork({ shards: 2, audit: { samplingRate: 1, canaryRate: 0 } });
  networks.push(audited);
  const plain = await startAuditNetwork({ shards: 2, audit: { samplingRate: 0 } });
  networks.push(plain);
  const verifierKey = generateKeyPair();
  await audited.ledger.grant(verifierKey.address, { stake: 1000n }, `0x${randomBytes(32).toString('hex')}`);
  verifier = await startVerifier({
    registry: audited.registry.endpoint,
    shardsDirs: [audited.shardsDir],
    key: verifierKey,
    batch: 8,
    // Idle pulls within the key's PullTickets rate (10/s).
    pollMs: 150,
    log: () => {},
  });

  const key = generateKeyPair();
  const logged: string[] = [];
  const requests = [{ prompt: 'Once upon a time' }, { prompt: 'The little dog' }];
  for (const request of requests) {
    const withAudits = await generateText(audited, request, {
      key,
      log: (event, fields) => logged.push(`${event} ${JSON.stringify(fields)}`),
    });
    const without = await generateText(plain, request);
    assert.equal(withAudits.failovers, 0);
    assert.ok(withAudits.ids.length > 0);
    assert.deepEqual(withAudits.ids, without.ids);
    assert.equal(withAudits.text, without.text);
  }

  // One session per generation, its prefill audited on every shard.
  const perNode = requests.length;
  const statuses = await waitFor(
    'every ticket to be audited',
    async () => {
      const all = await Promise.all(audited.nodes.map((n) => audited.audits.status(n.nodeId)));
      // shard 0's steps are the prompt: no ticket of them leaves the session
      return all.every((s, i) => s.ticketsPassed === (i === 0 ? 0 : perNode) && s.ticketsQueued === 0) && all;
    },
    60_000,
  );
  for (const s of statuses) {
    assert.equal(s.proofsConfirmed + s.proofsUnconfirmed + s.proofsRefuted, 0);
    assert.equal(s.refusals, 0);
    assert.equal(s.banned, false);
  }
  assert.deepEqual(verifier.stats(), { passed: perNode * (audited.nodes.length - 1), proofs: 0, errors: 0 });

  // The client's signed requests are on record (they are sent in the background), one per ticket.
  const db = new Database(audited.dbPath, { readonly: true });
  try {
    const rows = await waitFor("the client's audit requests", () => {
      const found = db.prepare('SELECT node_id AS nodeId FROM audit_requests WHERE client = ?').all(key.address) as {
        nodeId: string;
      }[];
      return found.length === perNode * (audited.nodes.length - 1) && found;
    });
    for (const [i, node] of audited.nodes.entries())
      assert.equal(rows.filter((r) => r.nodeId === node.nodeId).length, i === 0 ? 0 : perNode);
  } finally {
    db.close();
  }
  assert.deepEqual(logged, []);

  // At rate 0 nothing is committed to, so nothing is ticketed.
  for (const node of plain.nodes) {
    const s = await plain.audits.status(node.nodeId);
    assert.equal(s.ticketsPassed + s.ticketsQueued + s.requestsPending, 0);
  }
});
