import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClusterConfigError, clusterConfigFromFile, parseClusterConfig } from './cluster-config.ts';
import { writeShardsDir } from '../../test/support/registry-fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'tessera-cluster-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));
writeShardsDir(join(dir, 'tiny'), 'tiny', 2);

const problemsOf = (value: unknown): readonly string[] => {
  try {
    parseClusterConfig(value, dir, 'cluster.json');
  } catch (error) {
    assert.ok(error instanceof ClusterConfigError, String(error));
    return error.problems;
  }
  assert.fail('the config was accepted');
};

test('a minimal config gets defaults; the manifest may be named by its directory or its file', () => {
  writeFileSync(
    join(dir, 'cluster.json'),
    JSON.stringify({ clusterId: 'local', models: [{ manifest: 'tiny', pricePer1kTokens: 3 }] }),
  );
  const config = clusterConfigFromFile(join(dir, 'cluster.json'));
  assert.equal(config.clusterId, 'local');
  assert.deepEqual(
    config.models.map((m) => [m.id, m.pricePer1kTokens, m.manifest.shards.length, m.tokenizerPath]),
    [['tiny', 3, 2, join(dir, 'tiny', 'tokenizer.gguf')]],
  );
  assert.deepEqual(config.heartbeat, { intervalMs: 30_000, evictAfterMissed: 3 });
  // Left out, the ticket deadline gives a node four heartbeats to hear of a request and answer it.
  assert.equal(config.audit.ticketDeadlineMs, 120_000);
  const fast = parseClusterConfig(
    { clusterId: 'x', models: [{ manifest: 'tiny' }], heartbeat: { intervalMs: 1000 } },
    dir,
  );
  assert.equal(fast.audit.ticketDeadlineMs, 60_000, 'a fast heartbeat keeps the 60 s default');
  assert.equal(config.maxClockSkewMs, 30_000);
  assert.deepEqual(config.seeds, []);
  assert.deepEqual(config.operatorKeys, [], 'no operator key: nothing can grant value on the ledger');
  assert.equal(config.escrow, undefined);
  assert.deepEqual(config.stake.minimum, { node: 0n, daemon: 0n, verifier: 0n });
  assert.equal(config.stake.unstakeCooldownS, 7 * 24 * 3600);
  assert.equal(config.challengeWindowS, 60);
  const wei = parseClusterConfig(
    {
      clusterId: 'x',
      models: [{ manifest: 'tiny' }],
      stake: { minimum: { node: '32000000000000000000', daemon: 5 }, unstakeCooldownS: 0 },
      challengeWindowS: 1,
    },
    dir,
  );
  assert.deepEqual(wei.stake.minimum, { node: 32n * 10n ** 18n, daemon: 5n, verifier: 0n });
  assert.equal(wei.stake.unstakeCooldownS, 0);
  assert.equal(wei.challengeWindowS, 1);
  const byFile = parseClusterConfig(
    {
      clusterId: 'x',
      models: [{ id: 'tiny', manifest: 'tiny/manifest.json' }],
      escrow: { rpcUrl: 'http://127.0.0.1:8545', contract: `0x${'AB'.repeat(20)}` },
      operatorKeys: [`0x${'EF'.repeat(20)}`],
    },
    dir,
  );
  assert.equal(byFile.models[0]!.manifestPath, join(dir, 'tiny', 'manifest.json'));
  assert.equal(byFile.escrow!.contract, `0x${'ab'.repeat(20)}`);
  assert.deepEqual(byFile.operatorKeys, [`0x${'ef'.repeat(20)}`]);
});

test('every mistake is named by its JSON path, all at once', () => {
  const problems = problemsOf({
    clusterId: 'has spaces',
    models: [
      { id: 'tiny', manifest: 'missing-dir' },
      { id: 'other', manifest: 'tiny' },
      { manifest: 'tiny', pricePer1kTokens: -1 },
      { manifest: 'tiny', price: 3 },
    ],
    heartbeat: { intervalMs: 0, evictAfterMissed: 1.5 },
    maxClockSkewMs: '30s',
    rateLimit: { perSecond: 0, burst: 0 },
    stake: { minimum: { node: -5, daemon: '1e18', miner: 1 }, slashFractions: { fraud: 1.5 }, unstakeCooldownS: -1 },
    challengeWindowS: 'a minute',
    escrow: { rpcUrl: 'localhost:8545', contract: '0x1234' },
    seeds: ['127.0.0.1:50051', 'no-port'],
    registryKeys: [`0x${'ab'.repeat(20)}`, 'registry-a'],
    operatorKeys: [`0x${'CD'.repeat(20)}`, `0x${'cd'.repeat(20)}`, 7],
    gossip: true,
  });
  assert.deepEqual(problems, [
    'gossip: unknown key (expected one of: clusterId, models, heartbeat, maxClockSkewMs, rateLimit, nonceCacheMax, stake, challengeWindowS, audit, escrow, seeds, registryKeys, operatorKeys, gossipIntervalMs)',
    `clusterId: must be 1-64 letters, digits, '.', '_' or '-', got "has spaces"`,
    `models[0].manifest: file not found: ${join(dir, 'missing-dir')}`,
    `models[1].id: "other" differs from the manifest's modelId "tiny" (${join(dir, 'tiny', 'manifest.json')})`,
    'models[2].pricePer1kTokens: must be an integer >= 0, got -1',
    'models[3].price: unknown key (expected one of: id, manifest, pricePer1kTokens)',
    'models[3].id: model "tiny" is listed twice',
    'rateLimit.perSecond: must be a positive number, got 0',
    'stake.minimum.miner: unknown key (expected one of: node, daemon, verifier)',
    'escrow.rpcUrl: must be an http(s) or ws(s) URL, got "localhost:8545"',
    'escrow.contract: must be a 0x-prefixed 20-byte hex address, got "0x1234"',
    'seeds[1]: must be "HOST:PORT", got "no-port"',
    'registryKeys[1]: must be a 0x-prefixed 20-byte hex address, got "registry-a"',
    `operatorKeys[1]: 0x${'cd'.repeat(20)} is listed twice`,
    'operatorKeys[2]: must be a 0x-prefixed 20-byte hex address, got 7',
    'heartbeat.intervalMs: must be an integer >= 10, got 0',
    'heartbeat.evictAfterMissed: must be an integer >= 1, got 1.5',
    'maxClockSkewMs: must be an integer >= 1, got "30s"',
    'rateLimit.burst: must be an integer >= 1, got 0',
    'stake.minimum.node: must be an amount >= 0: an integer, or a decimal string for amounts beyond 2^53; got -5',
    'stake.minimum.daemon: must be an amount >= 0: an integer, or a decimal string for amounts beyond 2^53; got "1e18"',
    'stake.slashFractions.fraud: must be a fraction from 0 to 1, got 1.5',
    'stake.unstakeCooldownS: must be an integer >= 0, got -1',
    'challengeWindowS: must be an integer >= 0, got "a minute"',
  ]);
});

test('a broken manifest or tokenizer is named with its model entry', () => {
  const broken = join(dir, 'broken');
  mkdirSync(broken, { recursive: true });
  writeFileSync(join(broken, 'manifest.json'), '{"version": 1}');
  assert.deepEqual(problemsOf({ clusterId: 'c', models: [{ manifest: 'broken' }] }), [
    `models[0].manifest: ${join(broken, 'manifest.json')}: invalid manifest: version 1 is not supported (expected 2)`,
  ]);

  const badTokenizer = join(dir, 'bad-tokenizer');
  writeShardsDir(badTokenizer, 'tiny', 2);
  writeFileSync(join(badTokenizer, 'tokenizer.gguf'), 'changed');
  assert.match(
    problemsOf({ clusterId: 'c', models: [{ manifest: 'bad-tokenizer' }] })[0]!,
    /^models\[0\]\.manifest: tokenizer .*tokenizer\.gguf has SHA-256 [0-9a-f]{64}, the manifest says [0-9a-f]{64}$/,
  );

  assert.deepEqual(problemsOf({ clusterId: 'c', models: [] }), ['models: must be a non-empty array, got []']);
  assert.deepEqual(problemsOf([]), [
    '$: must be an object, got []',
    "clusterId: must be 1-64 letters, digits, '.', '_' or '-', got nothing",
    'models: must be a non-empty array, got nothing',
  ]);
});

test('a missing or unparsable file is reported as such', () => {
  assert.throws(
    () => clusterConfigFromFile(join(dir, 'none.json')),
    /none\.json: invalid cluster config:\n {2}file not found: /,
  );
  writeFileSync(join(dir, 'bad.json'), '{ clusterId: ');
  assert.throws(
    () => clusterConfigFromFile(join(dir, 'bad.json')),
    /bad\.json: invalid cluster config:\n {2}not valid JSON: /,
  );
});
