// What a daemon learns of a member's held span from the registry's Membership service, over real gRPC:
// the span a node registered, and one shard for a member answered by a registry from before spans.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { bytesToHex } from '@noble/hashes/utils.js';
import { generateKeyPair } from '../../src/crypto/keys.ts';
import { membershipHandlers } from '../../src/chain/membership-service.ts';
import { RegistryMembership, type Member } from '../../src/chain/membership.ts';
import { tessera } from '../../src/proto/services.ts';
import type { MembershipHandlers } from '../../src/proto/tessera/v1/Membership.ts';
import { startGrpcServer, type GrpcServer } from '../../src/rpc/server.ts';

const spanning = generateKeyPair();
const old = generateKeyPair();
const member = (key: typeof spanning, shardIndex: number, shardEnd: number): Member => ({
  nodeId: key.address,
  role: 'node',
  modelId: 'tiny',
  shardIndex,
  shardEnd,
  shareKey: bytesToHex(key.publicKey),
  shareKeys: [bytesToHex(key.publicKey)],
  endpoint: '127.0.0.1:50100',
  tls: false,
  status: 'live',
  lastSeenMs: 1,
});

const servers: GrpcServer[] = [];
const clients: RegistryMembership[] = [];

async function serve(handlers: MembershipHandlers): Promise<RegistryMembership> {
  const server = await startGrpcServer({
    role: 'registry',
    port: 0,
    services: [{ name: 'tessera.v1.Membership', definition: tessera.v1.Membership.service, handlers }],
  });
  servers.push(server);
  const membership = new RegistryMembership(server.endpoint, { ttlMs: 0 });
  clients.push(membership);
  return membership;
}

let current: RegistryMembership;
let beforeSpans: RegistryMembership;

before(async () => {
  const directory = {
    members: (ids: readonly string[]) => [member(spanning, 0, 3)].filter((m) => ids.includes(m.nodeId)),
  };
  current = await serve(membershipHandlers(directory));
  // A registry from before spans: its members carry no shard_end.
  const { shardEnd: _, ...unspanned } = member(old, 2, 3);
  beforeSpans = await serve({
    ...membershipHandlers(directory),
    LookupMembers: (_call, callback) =>
      callback(null, { members: [{ ...unspanned, shareKeys: [...unspanned.shareKeys], status: 'MEMBER_LIVE' }] }),
  });
});

after(async () => {
  for (const c of clients) c.close();
  for (const s of servers) await s.shutdown();
});

test('a member answers the span it holds, [shardIndex, shardEnd)', async () => {
  const found = (await current.lookup([spanning.address])).get(spanning.address);
  assert.deepEqual([found?.shardIndex, found?.shardEnd], [0, 3]);
  assert.equal((await current.lookup([old.address])).size, 0, 'an unknown id is absent');
});

test('a member answered without a shard end holds its one shard', async () => {
  const found = (await beforeSpans.lookup([old.address])).get(old.address);
  assert.deepEqual([found?.shardIndex, found?.shardEnd], [2, 3]);
});
