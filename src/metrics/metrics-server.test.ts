import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Metrics, TEXT_CONTENT_TYPE } from './metrics.ts';
import { healthy, startMetricsServer, unhealthy, type Health } from './metrics-server.ts';

const metrics = new Metrics();
const served = metrics.counter({ name: 'test_served_total', help: 'Served.' });
let failCollect = false;
metrics.gauge({
  name: 'test_state',
  help: 'Read at scrape.',
  collect: (set) => {
    if (failCollect) throw new Error('database is closed');
    set(42);
  },
});
let health: () => Health = () => healthy({ nodeId: '0xabc' });
const server = await startMetricsServer({ role: 'node', metrics, health: () => health(), host: '127.0.0.1', port: 0 });
after(() => server.close());

test('GET /metrics answers the text format with its content type', async () => {
  served.inc(3);
  const response = await fetch(`${server.url}/metrics`);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-type'), TEXT_CONTENT_TYPE);
  const text = await response.text();
  assert.match(text, /^test_served_total 3$/m);
  assert.match(text, /^test_state 42$/m);
  // a query string does not change the answer
  assert.equal((await fetch(`${server.url}/metrics?x=1`)).status, 200);
});

test('GET /healthz: 200 with the role and details while healthy, 503 with the reason when not', async () => {
  let response = await fetch(`${server.url}/healthz`);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-type'), 'application/json');
  assert.deepEqual(await response.json(), { status: 'ok', role: 'node', nodeId: '0xabc' });

  health = () => unhealthy('heartbeat to registry 127.0.0.1:1 failed: connection refused', { registry: '127.0.0.1:1' });
  response = await fetch(`${server.url}/healthz`);
  assert.equal(response.status, 503);
  assert.deepEqual(await response.json(), {
    status: 'unhealthy',
    role: 'node',
    reason: 'heartbeat to registry 127.0.0.1:1 failed: connection refused',
    registry: '127.0.0.1:1',
  });

  health = () => {
    throw new Error('store is gone');
  };
  response = await fetch(`${server.url}/healthz`);
  assert.equal(response.status, 503);
  assert.equal(((await response.json()) as { reason: string }).reason, 'the health check failed: store is gone');
  health = () => healthy();
});

test('other paths are 404, other methods 405, a failing collector 500; the server stays up', async () => {
  const missing = await fetch(`${server.url}/metric`);
  assert.equal(missing.status, 404);
  assert.match(await missing.text(), /no \/metric here: this endpoint serves GET \/metrics and GET \/healthz/);

  const post = await fetch(`${server.url}/metrics`, { method: 'POST', body: 'x' });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get('allow'), 'GET, HEAD');
  assert.match(await post.text(), /POST \/metrics is not allowed: use GET/);

  const head = await fetch(`${server.url}/healthz`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(await head.text(), '');

  failCollect = true;
  const failed = await fetch(`${server.url}/metrics`);
  assert.equal(failed.status, 500);
  assert.match(await failed.text(), /the metrics could not be read: database is closed/);
  failCollect = false;
  assert.equal((await fetch(`${server.url}/metrics`)).status, 200);
});

test('a port in use is refused with the address and the cause', async () => {
  await assert.rejects(
    startMetricsServer({ role: 'node', metrics, health: () => healthy(), host: '127.0.0.1', port: server.port }),
    new RegExp(`cannot serve metrics on 127\\.0\\.0\\.1:${server.port}: listen EADDRINUSE`),
  );
});
