import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Server, ServerCredentials, status, type ServiceError } from '@grpc/grpc-js';
import { tessera } from '../proto/services.ts';
import type { RegistryHandlers } from '../proto/tessera/v1/Registry.ts';
import { RegistryClient } from './registry-client.ts';
import { waitFor } from '../../test/support/registry-fixtures.ts';

const server = new Server();
const received: string[] = [];
// A registry that takes calls and never answers: a hung peer.
server.addService(tessera.v1.Registry.service, {
  ExchangePeers: (call) => void received.push(call.request.selfEndpoint),
} as Partial<RegistryHandlers> as RegistryHandlers);
const port = await new Promise<number>((resolve, reject) =>
  server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) =>
    error ? reject(error) : resolve(bound),
  ),
);
after(() => server.forceShutdown());

test('close() cancels the calls in flight instead of waiting for their deadline', async () => {
  const client = new RegistryClient(`127.0.0.1:${port}`, { deadlineMs: 600_000 });
  const pending = client.exchangePeers('127.0.0.1:1', []);
  await waitFor('the hung registry to receive the call', () => received.length > 0);
  client.close();
  await assert.rejects(pending, (error: ServiceError) => error.code === status.CANCELLED);
  assert.deepEqual(received, ['127.0.0.1:1']);
});
