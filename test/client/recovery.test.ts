// A client that met a full node serves again the moment the node has room: a full node is neither
// banned nor remembered as full (its load is asked again each time), so nothing lingers after the
// sessions that filled it end.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { connect, type TesseraClient } from '../../src/client/client.ts';
import { NoRouteError } from '../../src/client/routing.ts';
import { generateKeyPair } from '../../src/crypto/keys.ts';
import { tessera } from '../../src/proto/services.ts';
import type { NodeClient } from '../../src/proto/tessera/v1/Node.ts';
import { startAuditNetwork, type AuditNetwork } from '../support/audit-network.ts';
import { ForwardClient } from '../support/node-cluster.ts';
import { waitFor } from '../support/registry-fixtures.ts';

let net: AuditNetwork;
let client: TesseraClient;
let info: NodeClient;
const holders: ForwardClient[] = [];

before(async () => {
  net = await startAuditNetwork({
    shards: 2,
    audit: { samplingRate: 0 },
    node: () => ({ maxSessions: 2, maxSessionsPerClient: 2, maxSessionsPerPeer: 2 }),
  });
  client = await connect({ registries: [net.registry.endpoint], cacheDir: join(net.dir, 'client') });
  info = new tessera.v1.Node(net.nodes[0]!.endpoint, credentials.createInsecure()) as unknown as NodeClient;
});

after(async () => {
  for (const h of holders) h.close();
  info?.close();
  client?.close();
  await net?.close();
});

const activeSessions = () =>
  new Promise<number>((resolve, reject) =>
    info.info({}, { deadline: Date.now() + 5000 }, (error, reply) =>
      error ? reject(error) : resolve(reply!.activeSessions),
    ),
  );

const generate = () =>
  client.generate({ model: net.manifest.modelId, prompt: 'Once upon a time', maxTokens: 4, temperature: 0 }).collect();

test('a full first node: no route while it is full, a generation at once after its sessions end', async () => {
  assert.ok((await generate()).tokens.length > 0);
  const key = generateKeyPair();
  for (let i = 0; i < 2; i++) {
    const holder = new ForwardClient(net.nodes[0]!.endpoint);
    holders.push(holder);
    await holder.openSession({
      sessionId: randomUUID(),
      modelId: net.manifest.modelId,
      route: net.route,
      outputMode: 'off',
      clientKey: key.publicKey,
    });
  }
  await assert.rejects(generate(), (error: unknown) => error instanceof NoRouteError && error.missingShards[0] === 0);

  for (const h of holders) h.close();
  await waitFor('the node to have room again', async () => (await activeSessions()) === 0 || undefined);
  const { tokens, summary } = await generate();
  assert.ok(tokens.length > 0);
  assert.equal(summary.failovers, 0, 'the full node was not banned');
});
