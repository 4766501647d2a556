// kill -9 of a node: restarted with the same data directory, it still tickets the audit step it owed
// (the client asks for the audit only after the crash) and sends the shares it earned but had not
// sent (its daemon was down), without the client doing anything again.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { Server, ServerCredentials, type ServerUnaryCall, type sendUnaryData } from '@grpc/grpc-js';
import { SessionAudit } from '../../src/audit/session-audit.ts';
import { writeNewKeyFile } from '../../src/crypto/keys.ts';
import { tessera } from '../../src/proto/services.ts';
import type { SubmitSharesRequest__Output } from '../../src/proto/tessera/v1/SubmitSharesRequest.ts';
import type { SubmitSharesReply } from '../../src/proto/tessera/v1/SubmitSharesReply.ts';
import { signReceipt } from '../../src/protocol/receipt.ts';
import { sessionHashOf, shareHashOf } from '../../src/protocol/share.ts';
import { promptTokens, startAuditNetwork, type AuditNetwork } from '../support/audit-network.ts';
import { ForwardClient } from '../support/node-cluster.ts';
import { waitFor } from '../support/registry-fixtures.ts';

const TESSERA = fileURLToPath(new URL('../../bin/tessera.js', import.meta.url));
const cleanups: (() => unknown)[] = [];
/** Bound on waiting for a log line: far beyond what each step takes, so only a missing one fails. */
const LOG_WAIT_MS = 30_000;
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

interface NodeProcess {
  readonly child: ChildProcess;
  readonly endpoint: string;
  readonly nodeId: string;
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
  /** Whether a log line of `event` came already. */
  seen(event: string): boolean;
  /** Resolves with the fields of the first log line of `event` that `match` accepts. */
  logged(event: string, match?: (fields: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
}

async function spawnNode(args: readonly string[]): Promise<NodeProcess> {
  const child = spawn(process.execPath, [TESSERA, 'node', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  const lines: Record<string, unknown>[] = [];
  const watchers: {
    event: string;
    match: (f: Record<string, unknown>) => boolean;
    resolve: (f: Record<string, unknown>) => void;
  }[] = [];
  const tail: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => {
    tail.push(line);
    let fields: Record<string, unknown>;
    try {
      fields = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    lines.push(fields);
    for (const w of [...watchers])
      if (fields.event === w.event && w.match(fields)) {
        watchers.splice(watchers.indexOf(w), 1);
        w.resolve(fields);
      }
  });
  const logged = (event: string, match: (f: Record<string, unknown>) => boolean = () => true) => {
    const seen = lines.find((f) => f.event === event && match(f));
    if (seen) return Promise.resolve(seen);
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${event} within ${LOG_WAIT_MS} ms`)), LOG_WAIT_MS);
      watchers.push({
        event,
        match,
        resolve: (fields) => {
          clearTimeout(timer);
          resolve(fields);
        },
      });
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`the node exited before logging ${event}:\n${tail.join('\n')}`));
      });
    });
  };
  const started = await logged('node_started');
  const seen = (event: string) => lines.some((f) => f.event === event);
  return { child, endpoint: String(started.endpoint), nodeId: String(started.nodeId), exited, logged, seen };
}

/** A daemon stand-in that accepts every share and keeps what it was sent. */
async function recordingDaemon(): Promise<{ endpoint: string; shares: Buffer[] }> {
  const shares: Buffer[] = [];
  const server = new Server();
  server.addService(tessera.v1.Daemon.service, {
    SubmitShares(
      call: ServerUnaryCall<SubmitSharesRequest__Output, SubmitSharesReply>,
      done: sendUnaryData<SubmitSharesReply>,
    ) {
      const sent = call.request.batches.flatMap((b) => b.shares);
      shares.push(...sent);
      done(null, { verdicts: sent.map((s) => ({ shareHash: shareHashOf(s), accepted: true })) });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  cleanups.push(() => new Promise((resolve) => server.tryShutdown(resolve)));
  return { endpoint: `127.0.0.1:${port}`, shares };
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

test('kill -9, restart on the same data directory: the owed audit step is ticketed and the unsent shares are sent', async () => {
  // The crashing node serves shard 1: shard 0's steps are prompts, of which no ticket is ever owed.
  const net: AuditNetwork = await startAuditNetwork({
    shards: 2,
    stake: 1000n,
    heartbeat: { intervalMs: 200, evictAfterMissed: 10 },
    audit: { samplingRate: 1 },
  });
  cleanups.push(() => net.close());
  const keyPath = join(net.dir, 'crash-node.key');
  const key = writeNewKeyFile(keyPath);
  await net.ledger.grant(key.address, { stake: 1000n }, `0x${randomBytes(32).toString('hex')}`);
  const dataDir = join(net.dir, 'crash-node-data');
  const common = ['--shards-dir', net.shardsDir, '--shard', '1', '--port', '0', '--threads', '1'];
  const flags = (daemon: string) => [
    ...common,
    '--registry',
    net.registry.endpoint,
    '--key',
    keyPath,
    '--data-dir',
    dataDir,
    '--daemon',
    daemon,
    '--metrics-port',
    '0',
  ];

  const first = await spawnNode(flags(`127.0.0.1:${await closedPort()}`));
  const sessionId = randomUUID();
  const audit = new SessionAudit(1);
  const client = new ForwardClient(first.endpoint);
  cleanups.push(() => client.close());
  await client.openSession({
    sessionId,
    modelId: net.manifest.modelId,
    route: [net.route[0]!, { nodeId: first.nodeId, endpoint: first.endpoint, shardIndex: 1, shardEnd: 2, tls: false }],
    outputMode: 'off',
    sampling: { temperature: 0 },
    clientKey: net.clientKey.publicKey,
    auditCommitment: audit.commitment,
  });
  const width = net.manifest.config.hiddenSize;
  const tokens = promptTokens(3, 6);
  const hidden = Float32Array.from({ length: tokens.length * width }, (_, i) => Math.sin(i));
  const reply = await client
    .write({
      step: {
        step: 0,
        startPosition: 0,
        hidden: { dtype: 'DTYPE_F32', shape: [tokens.length, width], data: new Uint8Array(hidden.buffer) },
      },
    })
    .reply();
  const commitment = reply.result!.commitments.find((c) => c.shardIndex === 1)!;
  const receipt = signReceipt(net.clientKey, {
    sessionHash: sessionHashOf(sessionId),
    modelId: net.manifest.modelId,
    tokensPerShard: [tokens.length, tokens.length],
    route: [net.nodes[0]!.nodeId, first.nodeId],
    timestampMs: Date.now(),
  });
  client.write({ usage: { receipt: { payload: receipt.payload, signature: receipt.signature } } });
  // The daemon is down: the shares wait in the queue (and, before that, in the node's store).
  const unsent = Number((await first.logged('shares_submit_failed', (f) => Number(f.queued) > 0)).queued);
  first.child.kill('SIGKILL');
  assert.equal((await first.exited).signal, 'SIGKILL');
  client.close();

  const daemon = await recordingDaemon();
  const second = await spawnNode(flags(daemon.endpoint));
  assert.equal(second.nodeId, first.nodeId);
  await waitFor('the unsent shares at the daemon', () => daemon.shares.length >= unsent, 20_000);
  assert.equal(daemon.shares.length, unsent, 'each share sent once');

  // Only now does the client ask for the audit: the registry hands it to the restarted node.
  await net.audits.requestAudit(net.clientKey, commitment, audit.secret);
  const ticketed = await second.logged('audit_ticket_submitted');
  assert.deepEqual([ticketed.shard, ticketed.shardEnd], [1, 2]);
  assert.equal(second.seen('audit_request_unanswerable'), false, 'the node held the step it owed');
});
