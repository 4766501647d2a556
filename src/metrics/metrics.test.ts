import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Metrics } from './metrics.ts';
import { addProcessMetrics } from './process-metrics.ts';

test('counters and gauges render HELP, TYPE and one line per series, unlabelled ones from 0', async () => {
  const metrics = new Metrics();
  const requests = metrics.counter({ name: 'app_requests_total', help: 'Requests served.' });
  const depth = metrics.gauge({ name: 'app_queue_depth', help: 'Items waiting.' });
  assert.equal(
    await metrics.render(),
    [
      '# HELP app_requests_total Requests served.',
      '# TYPE app_requests_total counter',
      'app_requests_total 0',
      '# HELP app_queue_depth Items waiting.',
      '# TYPE app_queue_depth gauge',
      'app_queue_depth 0',
      '',
    ].join('\n'),
  );
  requests.inc();
  requests.inc(2.5);
  depth.set(7);
  depth.dec(3);
  depth.inc(0.5);
  const text = await metrics.render();
  assert.match(text, /^app_requests_total 3\.5$/m);
  assert.match(text, /^app_queue_depth 4\.5$/m);
});

test('labels: one series per set of values, in order of first use; HELP and label values escaped', async () => {
  const metrics = new Metrics();
  const errors = metrics.counter({
    name: 'app_errors_total',
    help: 'Errors by code.\nA second line, a \\ backslash.',
    labelNames: ['code', 'path'],
  });
  const notFound = errors.labels('NOT_FOUND', '/a');
  notFound.inc();
  notFound.inc();
  errors.labels('say "hi"\\now\nplease', '/b').inc(4);
  assert.equal(
    await metrics.render(),
    [
      '# HELP app_errors_total Errors by code.\\nA second line, a \\\\ backslash.',
      '# TYPE app_errors_total counter',
      'app_errors_total{code="NOT_FOUND",path="/a"} 2',
      'app_errors_total{code="say \\"hi\\"\\\\now\\nplease",path="/b"} 4',
      '',
    ].join('\n'),
  );
  // The same values are the same series, however they are reached.
  assert.equal(errors.labels('NOT_FOUND', '/a'), notFound);
  // Two values that would be ambiguous if simply joined stay apart.
  errors.labels('a,b', 'c').inc();
  errors.labels('a', 'b,c').inc();
  assert.equal((await metrics.render()).split('\n').filter((l) => l.startsWith('app_errors_total{code="a')).length, 2);
});

test('a histogram renders cumulative buckets, +Inf equal to the count, _sum and _count', async () => {
  const metrics = new Metrics();
  const latency = metrics.histogram({
    name: 'app_latency_seconds',
    help: 'Latency.',
    labelNames: ['kind'],
    buckets: [0.1, 0.5, 1],
  });
  const fast = latency.labels('fast');
  for (const v of [0.05, 0.1, 0.3, 0.7, 2, 0.01]) fast.observe(v);
  assert.equal(
    await metrics.render(),
    [
      '# HELP app_latency_seconds Latency.',
      '# TYPE app_latency_seconds histogram',
      // an observation equal to a bound counts in that bucket (le: less than or equal)
      'app_latency_seconds_bucket{kind="fast",le="0.1"} 3',
      'app_latency_seconds_bucket{kind="fast",le="0.5"} 4',
      'app_latency_seconds_bucket{kind="fast",le="1"} 5',
      'app_latency_seconds_bucket{kind="fast",le="+Inf"} 6',
      `app_latency_seconds_sum{kind="fast"} ${0.05 + 0.1 + 0.3 + 0.7 + 2 + 0.01}`,
      'app_latency_seconds_count{kind="fast"} 6',
      '',
    ].join('\n'),
  );

  const unlabelled = metrics.histogram({ name: 'app_size_bytes', help: 'Sizes.', buckets: [1024] });
  unlabelled.observe(5000);
  const text = await metrics.render();
  assert.match(text, /^app_size_bytes_bucket\{le="1024"\} 0$/m);
  assert.match(text, /^app_size_bytes_bucket\{le="\+Inf"\} 1$/m);
  assert.match(text, /^app_size_bytes_sum 5000$/m);
  assert.match(text, /^app_size_bytes_count 1$/m);
});

test('collected metrics read state at each scrape and replace their series entirely', async () => {
  const metrics = new Metrics();
  let nodes: Record<string, number> = { 0: 2, 1: 1 };
  let scrapes = 0;
  metrics.gauge({
    name: 'app_live_nodes',
    help: 'Live nodes by shard.',
    labelNames: ['shard'],
    collect: (set) => {
      for (const [shard, count] of Object.entries(nodes)) set(count, shard);
    },
  });
  metrics.counter({ name: 'app_scrapes_total', help: 'Scrapes.', collect: async (set) => set(++scrapes) });
  let text = await metrics.render();
  assert.match(text, /^app_live_nodes\{shard="0"\} 2$/m);
  assert.match(text, /^app_live_nodes\{shard="1"\} 1$/m);
  assert.match(text, /^app_scrapes_total 1$/m);
  nodes = { 1: 3 };
  text = await metrics.render();
  assert.doesNotMatch(text, /shard="0"/, 'a series the state no longer has is gone');
  assert.match(text, /^app_live_nodes\{shard="1"\} 3$/m);
  assert.match(text, /^app_scrapes_total 2$/m);
});

test("special values: NaN and infinities in the format's spelling", async () => {
  const metrics = new Metrics();
  metrics.gauge({
    name: 'a',
    help: 'a',
    labelNames: ['v'],
    collect: (set) => {
      set(NaN, 'nan');
      set(Infinity, 'inf');
      set(-Infinity, 'minf');
      set(1e21, 'big');
    },
  });
  const text = await metrics.render();
  assert.match(text, /^a\{v="nan"\} NaN$/m);
  assert.match(text, /^a\{v="inf"\} \+Inf$/m);
  assert.match(text, /^a\{v="minf"\} -Inf$/m);
  assert.match(text, /^a\{v="big"\} 1e\+21$/m);
});

test('mistakes in definitions and updates are refused with what is wrong', () => {
  const metrics = new Metrics();
  assert.throws(() => metrics.counter({ name: 'bad-name', help: '' }), /metric name "bad-name" is not/);
  assert.throws(() => metrics.counter({ name: 'ok', help: '', labelNames: ['__reserved'] }), /label name "__reserved"/);
  assert.throws(() => metrics.counter({ name: 'ok', help: '', labelNames: ['a', 'a'] }), /appears twice/);
  assert.throws(() => metrics.histogram({ name: 'h', help: '', buckets: [1, 1] }), /increase strictly, 1 follows 1/);
  assert.throws(() => metrics.histogram({ name: 'h', help: '', buckets: [1, Infinity] }), /not finite/);
  assert.throws(
    () => metrics.histogram({ name: 'h', help: '', labelNames: ['le'], buckets: [1] }),
    /"le" is the bucket label/,
  );
  const labelled = metrics.counter({ name: 'c_total', help: '', labelNames: ['code'] });
  assert.throws(() => labelled.inc(), /has labels \(code\): update it through labels/);
  assert.throws(() => labelled.labels('a', 'b'), /takes 1 label values \(code\), got 2/);
  assert.throws(() => labelled.labels('a').inc(-1), /a counter only goes up/);
  assert.throws(() => metrics.gauge({ name: 'c_total', help: '' }), /already defined/);
});

test('process metrics: memory, CPU, start time and event-loop lag, all plausible', async () => {
  const metrics = new Metrics();
  addProcessMetrics(metrics);
  const text = await metrics.render();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
  assert.ok(value('process_resident_memory_bytes') > 1024 * 1024);
  assert.ok(value('nodejs_heap_used_bytes') > 0);
  assert.ok(value('process_cpu_seconds_total') > 0);
  assert.ok(Math.abs(value('process_start_time_seconds') - (Date.now() / 1000 - process.uptime())) < 1);
  const lag = value('nodejs_eventloop_lag_p99_seconds');
  assert.ok(lag >= 0 && lag < 60, `lag ${lag}`);
});
