import { DEFAULT_SAMPLING_RATE } from '../../src/protocol/audit-selection.ts';
import { nodeSigned, selectedStep } from '../support/audit-tickets.ts';
import { sha256 } from '../../src/crypto/hash.ts';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { AuditClient } from '../../src/audit/audit-client.ts';
import { ENGINE_VERSION } from '../../src/model/engine-version.ts';
import { encodeTicket } from '../../src/protocol/ticket.ts';
import { generateKeyPair } from '../../src/crypto/keys.ts';
import { shardModel } from '../../src/model/shards/shard.ts';
import { RegistryClient } from '../../src/registry/registry-client.ts';
import { nodeBody, removeDir, tempDir, waitFor } from '../support/registry-fixtures.ts';
import { testModel } from '../support/models.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dir = tempDir('audit-durability');
const children: ChildProcess[] = [];
after(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  removeDir(dir);
});

/** `tessera registry` on a free port; resolves with its endpoint once it serves. */
async function registryProcess(): Promise<{ child: ChildProcess; endpoint: string }> {
  const child = spawn(
    process.execPath,
    [
      join(ROOT, 'bin/tessera.js'),
      'registry',
      '--port',
      '0',
      '--cluster-config',
      'cluster.json',
      '--db',
      'registry.db',
    ],
    { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const endpoint = await waitFor(
    'the registry to start',
    () => /"event":"registry_started","endpoint":"([^"]+)"/.exec(stderr)?.[1],
    30_000,
  );
  return { child, endpoint };
}

test('every ticket the registry acknowledged is still queued after kill -9', async () => {
  const manifest = shardModel(testModel('stories260K.gguf'), 2, join(dir, 'shards'));
  writeFileSync(
    join(dir, 'cluster.json'),
    JSON.stringify({ clusterId: 'durability', models: [{ manifest: 'shards' }] }),
  );
  const node = generateKeyPair();
  const first = await registryProcess();
  const registry = new RegistryClient(first.endpoint);
  await registry.register(
    node,
    nodeBody(node, { modelId: manifest.modelId, shardIndex: 1, endpoint: '127.0.0.1:50100' }),
  );
  registry.close();

  const tickets = await Promise.all(
    Array.from({ length: 200 }, async () => {
      // Shard 1 (hidden states): shard 0's tickets hold prompts and are never queued.
      const width = manifest.config.hiddenSize;
      const bytes = new Uint8Array(Float32Array.from({ length: 3 * width }, () => Math.random() - 0.5).buffer);
      const { secret, commitment } = selectedStep(
        node,
        { shardIndex: 1, inputHash: sha256(bytes), outputHash: randomBytes(32) },
        DEFAULT_SAMPLING_RATE,
      );
      const encoded = await encodeTicket({
        modelId: manifest.modelId,
        shardIndex: 1,
        shardEnd: 2,
        shardSha256: manifest.shards[1]!.sha256,
        engineVersion: ENGINE_VERSION,
        input: { tokens: false, dtype: 'DTYPE_F32', positions: 3, width, bytes },
        startPosition: 0,
        commitment,
      });
      return nodeSigned(node, encoded, commitment, secret);
    }),
  );
  const audits = new AuditClient(first.endpoint);
  const acknowledged: string[] = [];
  let killed = false;
  await Promise.all(
    tickets.map((ticket) =>
      audits.submitTicket(ticket).then(
        (id) => {
          acknowledged.push(id);
          // Killed in the middle of the submissions: the rest are in flight.
          if (acknowledged.length === 100) {
            first.child.kill('SIGKILL');
            killed = true;
          }
        },
        () => undefined,
      ),
    ),
  );
  audits.close();
  assert.equal(killed, true);
  assert.ok(acknowledged.length >= 100);

  await new Promise((resolve) =>
    first.child.exitCode === null && first.child.signalCode === null
      ? first.child.once('exit', resolve)
      : resolve(undefined),
  );
  const second = await registryProcess();
  const status = new AuditClient(second.endpoint);
  try {
    const queued = (await status.status(node.address)).ticketsQueued;
    assert.ok(queued >= acknowledged.length, `${queued} queued, ${acknowledged.length} acknowledged`);
    const db = new Database(join(dir, 'registry.db'), { readonly: true });
    try {
      const held = new Set(
        (db.prepare('SELECT ticket_id AS id FROM audit_tickets').all() as { id: string }[]).map((r) => r.id),
      );
      assert.deepEqual(
        acknowledged.filter((id) => !held.has(id)),
        [],
      );
    } finally {
      db.close();
    }
  } finally {
    status.close();
    second.child.kill('SIGTERM');
  }
});
