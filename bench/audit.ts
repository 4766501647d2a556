// Audit costs (issue 4): tickets a verifier recomputes per second and the bytes each one weighs, on
// the Qwen2.5-0.5B shape; and decode speed through a pipeline whose clients audit at 5 % against 0 %.
import { fabricatedHiddenProof } from '../test/support/audit-tickets.ts';
import { sha256 } from '../src/crypto/hash.ts';
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateKeyPair, writeNewKeyFile } from '../src/crypto/keys.ts';
import { signCommitment } from '../src/protocol/commitment.ts';
import { recomputeOutputHash } from '../src/audit/recompute.ts';
import { requestAudits, SessionAudit } from '../src/audit/session-audit.ts';
import { encodeTicket, openTicket, type TicketInputBytes } from '../src/protocol/ticket.ts';
import { Engine } from '../src/model/engine.ts';
import { openModel } from '../src/model/open-model.ts';
import { QWEN2_5_0_5B, writeSyntheticModel } from '../test/support/synthetic-model.ts';
import { tessera } from '../src/proto/services.ts';
import type { Ticket__Output } from '../src/proto/tessera/v1/Ticket.ts';
import { f32ToF16Array } from '../src/tensor/half.ts';
import { createWasmBackend } from '../src/tensor/wasm-backend.ts';
import { auditedSession, promptTokens, startAuditNetwork, type AuditNetwork } from '../test/support/audit-network.ts';
import { ShardZeroCheck } from '../src/client/shard-zero-check.ts';
import { nodeBody } from '../test/support/registry-fixtures.ts';
import { RegistryClient } from '../src/registry/registry-client.ts';
import { startVerifier } from '../src/verifier/verifier.ts';
import { ForwardClient } from '../test/support/node-cluster.ts';
import type { BenchRow } from './row.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface AuditBenchOptions {
  /** Shorter tickets and fewer sessions. */
  readonly quick?: boolean;
}

/** The Qwen2.5-0.5B-shape GGUF in q8_0 (random weights), written once under .cache/bench. */
function qwenShapeModel(): string {
  const dir = join(ROOT, '.cache', 'bench');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'qwen2.5-0.5b-shape-q8_0.gguf');
  if (!existsSync(path)) {
    process.stderr.write(`writing ${path} (random weights) ...\n`);
    writeSyntheticModel(path, QWEN2_5_0_5B, { type: 'q8_0', seed: 1 });
  }
  return path;
}

/**
 * A verifier's work per ticket (inflate, hash, recover the commitment's signer, recompute the
 * shard's layers over the ticket's positions, hash) on the second quarter of the Qwen2.5-0.5B
 * shape's layers, with real hidden states (the first quarter's output) as input; and the ticket's
 * size on the wire with its input in f32 and in f16.
 */
async function ticketRows(positions: number, tickets: number): Promise<BenchRow[]> {
  process.stderr.write(`measuring ticket recomputation (qwen2.5-0.5B shape, ${positions} positions) ...\n`);
  const model = openModel(qwenShapeModel());
  const backend = await createWasmBackend({ threads: 1 });
  try {
    const { config } = model;
    const quarter = config.layers / 4;
    const first = new Engine(config, { start: 0, end: quarter, embedding: true, head: false }, backend, model.weights);
    const second = new Engine(
      config,
      { start: quarter, end: 2 * quarter, embedding: false, head: false },
      backend,
      model.weights,
    );
    const tokens = Array.from({ length: positions }, (_, i) => (i * 7919) % config.vocabSize);
    const hidden = first.forward(first.createCache(1 << 30), { tokens }, 0).hidden!;
    const key = generateKeyPair();
    const codec = tessera.v1.Audit.service.SubmitTicket;
    const make = async (input: TicketInputBytes) => {
      const outputHash = recomputeOutputHash(second, input);
      const commitment = signCommitment(key, {
        shardIndex: 1,
        shardEnd: 2,
        stepId: sha256(Buffer.from(randomUUID())),
        inputHash: sha256(input.bytes),
        outputHash,
      });
      const ticket = await encodeTicket({
        modelId: 'qwen-shape',
        shardIndex: 1,
        shardEnd: 2,
        shardSha256: '00'.repeat(32),
        engineVersion: 'bench',
        input,
        startPosition: 0,
        commitment,
      });
      return codec.requestSerialize(ticket);
    };
    const f32 = {
      tokens: false as const,
      dtype: 'DTYPE_F32' as const,
      positions,
      width: config.hiddenSize,
      bytes: new Uint8Array(hidden.buffer),
    };
    const f16 = {
      tokens: false as const,
      dtype: 'DTYPE_F16' as const,
      positions,
      width: config.hiddenSize,
      bytes: new Uint8Array(f32ToF16Array(hidden).buffer),
    };
    const wireF32 = await make(f32);
    const wireF16 = await make(f16);

    const verify = async (wire: Buffer) => {
      const ticket = await openTicket(codec.requestDeserialize(wire) as Ticket__Output, 1 << 30);
      if (!recomputeOutputHash(second, ticket.input).equals(ticket.commitment.outputHash))
        throw new Error('the engine is not deterministic: a recomputed ticket differs');
    };
    await verify(wireF32);
    const started = performance.now();
    for (let i = 0; i < tickets; i++) await verify(i % 2 === 0 ? wireF32 : wireF16);
    const perSecond = tickets / ((performance.now() - started) / 1000);
    const shape = `qwen2.5-0.5B shape q8_0, layers ${quarter}-${2 * quarter} of ${config.layers}, ${positions}-position prefill`;
    return [
      { figure: `tickets verified per second, ${shape}, 1 thread`, ours: perSecond, unit: 'tickets/s' },
      {
        figure: `bytes per ticket, ${shape}, hidden states f32, deflate`,
        ours: wireF32.length,
        reference: f32.bytes.length,
        referenceName: 'input uncompressed',
        unit: 'bytes',
      },
      {
        figure: `bytes per ticket, ${shape}, hidden states f16, deflate`,
        ours: wireF16.length,
        reference: f16.bytes.length,
        referenceName: 'input uncompressed',
        unit: 'bytes',
      },
    ];
  } finally {
    model.weights.close();
    await backend.close();
  }
}

/** Greedy decode of `decodeTokens` after a prefill; an audited session reveals right after the prefill. Returns decode seconds. */
async function decodeSession(
  net: AuditNetwork,
  prompt: number[],
  decodeTokens: number,
  audit?: SessionAudit,
  shardZero?: ShardZeroCheck,
): Promise<number> {
  const client = new ForwardClient(net.nodes[0]!.endpoint);
  try {
    await client.openSession({
      sessionId: randomUUID(),
      modelId: net.manifest.modelId,
      route: net.route,
      outputMode: 'off',
      sampling: { temperature: 0 },
      clientKey: net.clientKey.publicKey,
      auditCommitment: audit?.commitment ?? Buffer.alloc(0),
    });
    let reply = await client.write({ step: { step: 0, startPosition: 0, tokens: prompt } }).reply();
    if (audit) {
      client.write(audit.revealRequest());
      // The client files its audit requests on the side, and checks shard 0's step itself on a
      // worker when its secret selects it (as the SDK does): decoding waits for neither.
      void requestAudits(net.audits, net.clientKey, audit, reply.result!.commitments);
      shardZero?.check({
        registry: net.registry.endpoint,
        modelId: net.manifest.modelId,
        span: { start: 0, end: 1 },
        shardSha256: net.manifest.shards[0]!.sha256,
        secret: audit.secret,
        rate: audit.rate,
        tokens: prompt,
        commitment: reply.result!.commitments[0]!,
      });
    }
    const started = performance.now();
    for (let i = 0; i < decodeTokens; i++) {
      reply = await client
        .write({ step: { step: i + 1, startPosition: prompt.length + i, tokens: [reply.result!.sampled!.token] } })
        .reply();
    }
    const seconds = (performance.now() - started) / 1000;
    client.write({ close: {} });
    await client.next();
    return seconds;
  } finally {
    client.close();
  }
}

/**
 * Decode through two stories260K shard nodes (in this process) with a registry and a verifier
 * process, in pairs of sessions back to back: one whose client audits at 5 % (and checks shard 0's
 * selected steps itself, holding its weights), one not audited (the order alternating). This machine's load drifts by more than the effect, so the ratio is the
 * median of the pairs' ratios. stories260K is tiny, so the fixed costs of auditing weigh the most
 * here.
 */
async function decodeRows(pairs: number, decodeTokens: number): Promise<BenchRow[]> {
  process.stderr.write(`measuring decode with audits at 5 % and 0 % (${pairs} pairs of sessions) ...\n`);
  const net = await startAuditNetwork({ shards: 2 });
  const keyPath = join(net.dir, 'verifier.key');
  // Only a staked verifier leases tickets.
  const verifierKey = writeNewKeyFile(keyPath);
  await net.ledger.grant(verifierKey.address, { stake: 1000n }, `0x${randomBytes(32).toString('hex')}`);
  const verifier = spawn(
    process.execPath,
    [
      join(ROOT, 'bin/tessera.js'),
      'verifier',
      '--registry',
      net.registry.endpoint,
      '--shards-dir',
      net.shardsDir,
      '--key',
      keyPath,
      '--metrics-port',
      '0',
    ],
    { stdio: 'ignore' },
  );
  const shardZero = new ShardZeroCheck({
    shardsDir: net.shardsDir,
    key: net.clientKey,
    log: () => {},
    ban: () => {},
    registry: () => net.audits,
  });
  try {
    const totals = { audited: 0, plain: 0 };
    const ratios: number[] = [];
    await decodeSession(net, promptTokens(0, 16), decodeTokens); // warm up
    for (let i = 0; i < pairs; i++) {
      const audited = () =>
        decodeSession(net, promptTokens(2 * i + 1, 16), decodeTokens, new SessionAudit(0.05), shardZero);
      const plain = () => decodeSession(net, promptTokens(2 * i + 2, 16), decodeTokens);
      let a: number;
      let p: number;
      if (i % 2 === 0) {
        a = await audited();
        p = await plain();
      } else {
        p = await plain();
        a = await audited();
      }
      totals.audited += a;
      totals.plain += p;
      ratios.push(p / a);
    }
    ratios.sort((x, y) => x - y);
    const median =
      ratios.length % 2 === 1
        ? ratios[(ratios.length - 1) / 2]!
        : (ratios[ratios.length / 2 - 1]! + ratios[ratios.length / 2]!) / 2;
    await shardZero.settled();
    if (shardZero.stats.mismatched > 0) throw new Error("the client's check of shard 0 found an honest node wrong");
    const at = 'stories260K f32, 2 shard nodes, registry and verifier on this machine, client checks shard 0';
    return [
      {
        figure: `decode with audits at 5 %, ${at}`,
        ours: (pairs * decodeTokens) / totals.audited,
        reference: (pairs * decodeTokens) / totals.plain,
        referenceName: 'audits at 0 %',
        unit: 'tok/s',
      },
      { figure: 'decode audits 5 % / 0 %, median of paired sessions (target >= 0.98)', ours: median, unit: 'ratio' },
    ];
  } finally {
    await shardZero.close();
    verifier.kill('SIGTERM');
    await new Promise((resolve) => verifier.once('exit', resolve));
    await net.close();
  }
}

/**
 * The verifier work canaries add: canaries an honest verifier was leased (and caught) per audited
 * pass, every prefill audited, at the default audit.canaryRate (5 %: c / (1 − c) ≈ 5.3 % expected).
 */
export async function canaryRows(sessions: number): Promise<BenchRow[]> {
  process.stderr.write(`measuring canary overhead (${sessions} sessions of 8 audited prefills) ...\n`);
  const net = await startAuditNetwork({ shards: 2, audit: { samplingRate: 1 } });
  const key = generateKeyPair();
  await net.ledger.grant(key.address, { stake: 1000n }, `0x${randomBytes(32).toString('hex')}`);
  const verifier = await startVerifier({
    registry: net.registry.endpoint,
    shardsDirs: [net.shardsDir],
    key,
    batch: 16,
    // Idle pulls within the key's PullTickets rate (10/s).
    pollMs: 150,
    log: () => {},
  });
  try {
    for (let s = 0; s < sessions; s++)
      await auditedSession(
        net,
        Array.from({ length: 8 }, (_, i) => promptTokens(s * 8 + i, 4 + (i % 8))),
        new SessionAudit(1),
      );
    // shard 0's steps are prompts: no ticket of them leaves the session
    const expected = sessions * 8 * (net.nodes.length - 1);
    for (;;) {
      const all = await Promise.all(net.nodes.map((n) => net.audits.status(n.nodeId)));
      if (all.reduce((sum, st) => sum + st.ticketsPassed, 0) >= expected) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const { passed, proofs } = verifier.stats();
    return [
      {
        figure: 'canary overhead: canaries per audited pass, audit.canaryRate 5 % (stories260K, every prefill audited)',
        ours: proofs / passed,
        reference: 0.05 / 0.95,
        referenceName: 'c / (1 − c)',
        unit: 'ratio',
      },
    ];
  } finally {
    await verifier.close();
    await net.close();
  }
}

function p99(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)]!;
}

/**
 * The registry's Heartbeat latency p99 while staked verifiers file fabricated fraud proofs (each
 * recomputed on the worker pool, a stories260K shard over 6 positions) against at rest.
 */
export async function heartbeatRows(proofs: number): Promise<BenchRow[]> {
  process.stderr.write(`measuring heartbeat latency during ${proofs} fraud proofs ...\n`);
  const net = await startAuditNetwork({ shards: 2 });
  const registry = new RegistryClient(net.registry.endpoint);
  try {
    const members = Array.from({ length: 16 }, () => generateKeyPair());
    const bodies = members.map((m, i) =>
      nodeBody(m, { modelId: net.manifest.modelId, shardIndex: 0, endpoint: `127.0.0.1:${51000 + i}` }),
    );
    for (const [i, m] of members.entries()) await registry.register(m, bodies[i]!);
    const accusedKey = generateKeyPair();
    await registry.register(
      accusedKey,
      nodeBody(accusedKey, { modelId: net.manifest.modelId, shardIndex: 1, endpoint: '127.0.0.1:50999' }),
    );
    // Proofs spread over verifiers: each may have 4 recomputing at once.
    const verifiers = Array.from({ length: Math.ceil(proofs / 4) }, () => generateKeyPair());
    for (const v of verifiers) {
      await registry.register(
        v,
        nodeBody(v, { role: 'verifier', modelId: '', shardIndex: 0, endpoint: '127.0.0.1:0' }),
      );
      await net.ledger.grant(v.address, { stake: 1000n }, `0x${randomBytes(32).toString('hex')}`);
    }
    const probe = async (rounds: number, during?: () => boolean): Promise<number[]> => {
      const latencies: number[] = [];
      for (let i = 0; during ? during() || i < rounds : i < rounds; i++) {
        const started = performance.now();
        await registry.heartbeat(members[i % members.length]!, bodies[i % members.length]!);
        latencies.push(performance.now() - started);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      return latencies;
    };
    const idle = await probe(64);
    const fabricated = await Promise.all(
      Array.from({ length: proofs }, (_, i) =>
        fabricatedHiddenProof(accusedKey, verifiers[i % verifiers.length]!, net.manifest),
      ),
    );
    let busy = true;
    const during = probe(16, () => busy);
    await Promise.allSettled(fabricated.map((proof) => net.audits.submitFraudProof(proof)));
    busy = false;
    const loaded = await during;
    return [
      {
        figure: `registry Heartbeat p99 while recomputing ${proofs} fraud proofs (worker pool)`,
        ours: p99(loaded),
        reference: p99(idle),
        referenceName: 'at rest',
        unit: 'ms',
      },
    ];
  } finally {
    registry.close();
    await net.close();
  }
}

export async function auditBenchRows(options: AuditBenchOptions = {}): Promise<BenchRow[]> {
  const quick = options.quick ?? false;
  return [
    ...(await ticketRows(quick ? 32 : 128, quick ? 4 : 10)),
    ...(await decodeRows(quick ? 20 : 60, 32)),
    ...(await canaryRows(quick ? 10 : 40)),
    ...(await heartbeatRows(quick ? 16 : 64)),
  ];
}
