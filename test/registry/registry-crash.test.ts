// kill -9 of a registry process right after it answers: what it acknowledged is there after a restart.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { status, type ServiceError } from '@grpc/grpc-js';
import { generateKeyPair } from '../../src/crypto/keys.ts';
import { RegistryClient } from '../../src/registry/registry-client.ts';
import { reasonOf } from '../../src/rpc/status.ts';
import {
  announcement,
  nodeBody,
  removeDir,
  sendSigned,
  sign,
  tempDir,
  writeShardsDir,
} from '../support/registry-fixtures.ts';

const TESSERA = join(import.meta.dirname, '..', '..', 'bin', 'tessera.js');
const dir = tempDir('registry-crash');
writeShardsDir(join(dir, 'tiny'), 'tiny', 3);
const operator = generateKeyPair();
writeFileSync(
  join(dir, 'cluster.json'),
  JSON.stringify({ clusterId: 'crash', models: [{ id: 'tiny', manifest: 'tiny' }], operatorKeys: [operator.address] }),
);
const children: { child: ChildProcess; exited: Promise<unknown> }[] = [];
after(async () => {
  for (const c of children) c.child.kill('SIGKILL');
  await Promise.all(children.map((c) => c.exited));
  removeDir(dir);
});

/** `tessera registry` in a child process on the test's database; resolves with its endpoint once it logs registry_started. */
async function spawnRegistry(): Promise<{ child: ChildProcess; endpoint: string; exited: Promise<unknown> }> {
  const child = spawn(
    process.execPath,
    [
      TESSERA,
      'registry',
      '--port',
      '0',
      '--metrics-port',
      '0',
      '--cluster-config',
      join(dir, 'cluster.json'),
      '--db',
      join(dir, 'registry.db'),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const exited = new Promise((resolve) => child.once('exit', resolve));
  children.push({ child, exited });
  const tail: string[] = [];
  const started = await new Promise<Record<string, unknown>>((resolve, reject) => {
    createInterface({ input: child.stderr! }).on('line', (line) => {
      tail.push(line);
      if (line.includes('"event":"registry_started"')) resolve(JSON.parse(line) as Record<string, unknown>);
    });
    void exited.then(() => reject(new Error(`the registry exited before it started:\n${tail.join('\n')}`)));
  });
  return { child, endpoint: String(started.endpoint), exited };
}

test('kill -9 right after the answers: registrations, used nonces and granted stakes and deposits it acknowledged survive a restart', async () => {
  const first = await spawnRegistry();
  const client = new RegistryClient(first.endpoint);
  const node = generateKeyPair();
  const staker = generateKeyPair();
  const signed = sign(node, announcement(node, 'register', nodeBody(node, { shardIndex: 2 })));
  try {
    await sendSigned(first.endpoint, 'register', signed);
    assert.deepEqual(await client.grant(operator, staker.address, { stake: 7n, deposit: 3n }), {
      stake: 7n,
      balance: 3n,
    });
  } finally {
    client.close();
  }
  // The kill lands right after the last acknowledgement, with no orderly shutdown.
  first.child.kill('SIGKILL');
  await first.exited;

  const second = await spawnRegistry();
  const again = new RegistryClient(second.endpoint);
  try {
    assert.deepEqual(
      (await again.discover('tiny')).nodes.map((n) => [n.nodeId, n.shardIndex]),
      [[node.address, 2]],
    );
    // The nonce it acknowledged is still used: the same announcement is a replay.
    const replay = await sendSigned(second.endpoint, 'register', signed).then(
      () => assert.fail('the acknowledged announcement was taken again after the restart'),
      (error: ServiceError) => error,
    );
    assert.equal(replay.code, status.ALREADY_EXISTS);
    assert.equal(reasonOf(replay), 'NONCE_REPLAYED');
    const account = await again.account(staker.address);
    assert.deepEqual([account.stake, account.deposited], [7n, 3n]);
  } finally {
    again.close();
  }
});
