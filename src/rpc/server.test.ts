import assert from 'node:assert/strict';
import { credentials, status, type ServiceError } from '@grpc/grpc-js';
import { test } from 'node:test';
import { tessera } from '../proto/services.ts';
import type { ExchangePeersReply__Output } from '../proto/tessera/v1/ExchangePeersReply.ts';
import { CallLimits } from './call-limits.ts';
import { reasonOf } from './status.ts';
import { startGrpcServer } from './server.ts';

const unimplemented = (_call: unknown, callback: (error: object) => void) =>
  callback({ code: status.UNIMPLEMENTED, details: 'not in this test' });

async function peersServer(limits = new CallLimits()) {
  let answered = 0;
  const handlers = Object.fromEntries(
    Object.keys(tessera.v1.Registry.service).map((method) => [method, unimplemented]),
  ) as Record<string, unknown>;
  handlers.ExchangePeers = (_call: unknown, callback: (e: null, r: object) => void) => {
    answered++;
    callback(null, { peers: [{ endpoint: '127.0.0.1:1', clusterId: 'c', lastSeenMs: 1 }] });
  };
  const grpc = await startGrpcServer({
    role: 'test',
    port: 0,
    limits,
    services: [{ name: 'tessera.v1.Registry', definition: tessera.v1.Registry.service, handlers }],
  });
  const client = new tessera.v1.Registry(grpc.endpoint, credentials.createInsecure(), {
    'grpc.max_send_message_length': 64 * 1024 * 1024,
  });
  const exchange = (known: string[]) =>
    new Promise<ExchangePeersReply__Output>((resolve, reject) =>
      client.exchangePeers(
        { selfEndpoint: '', known },
        (error: ServiceError | null, reply?: ExchangePeersReply__Output) => (error ? reject(error) : resolve(reply!)),
      ),
    );
  return {
    grpc,
    exchange,
    answered: () => answered,
    close: async () => {
      client.close();
      await grpc.shutdown();
    },
  };
}

test('a request over its method bound is refused MESSAGE_TOO_LARGE before any handler sees it; a small one passes', async () => {
  const s = await peersServer();
  try {
    const huge = Array.from({ length: 1000 }, (_, i) => `${'h'.repeat(1000)}${i}:1`);
    const error = (await s.exchange(huge).then(
      () => assert.fail('a 1 MB ExchangePeers was taken'),
      (e: ServiceError) => e,
    )) as ServiceError;
    assert.equal(error.code, status.RESOURCE_EXHAUSTED);
    assert.equal(reasonOf(error), 'MESSAGE_TOO_LARGE');
    assert.equal(s.answered(), 0);
    const reply = await s.exchange(['127.0.0.1:2']);
    assert.equal(reply.peers[0]!.endpoint, '127.0.0.1:1');
    assert.equal(s.answered(), 1);
  } finally {
    await s.close();
  }
});

test('a peer past its bucket is refused RATE_LIMITED before the handler runs', async () => {
  const s = await peersServer(new CallLimits({ peers: { perSecond: 0.001, burst: 2 } }));
  try {
    await s.exchange([]);
    await s.exchange([]);
    const error = (await s.exchange([]).then(
      () => assert.fail('a third call passed a burst of 2'),
      (e: ServiceError) => e,
    )) as ServiceError;
    assert.equal(error.code, status.RESOURCE_EXHAUSTED);
    assert.equal(reasonOf(error), 'RATE_LIMITED');
    assert.equal(s.answered(), 2);
  } finally {
    await s.close();
  }
});

test('a service with a method the policy table lacks is refused at start', async () => {
  await assert.rejects(
    startGrpcServer({
      role: 'test',
      port: 0,
      services: [
        {
          name: 'tessera.v1.Node',
          definition: { ...tessera.v1.Node.service, Extra: tessera.v1.Node.service.Info },
          handlers: {},
        },
      ],
    }),
    /Extra has no policy/,
  );
});
