import { sha256 } from '../crypto/hash.ts';
import { status } from '@grpc/grpc-js';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { Engine, EngineInputError, type ForwardInput } from '../model/engine.ts';
import { ggufWeightSource } from '../model/gguf/gguf-model.ts';
import { openGguf } from '../model/gguf/reader.ts';
import type { Manifest } from '../model/manifest.ts';
import type { Backend } from '../tensor/backend.ts';
import { bf16ToF32Array, f16ToF32Array } from '../tensor/half.ts';

import { sha256File } from '../crypto/hash.ts';
import { AuditError, type TicketInputBytes } from '../protocol/ticket.ts';

/** The engine's input for a ticket, decoded exactly as a node decodes a step (src/node/limits.ts). */
export function ticketForwardInput(input: TicketInputBytes): ForwardInput {
  const { bytes } = input;
  if (input.tokens) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return { tokens: Array.from({ length: input.positions }, (_, i) => view.getUint32(i * 4, true)) };
  }
  const count = input.positions * input.width;
  if (input.dtype === 'DTYPE_F32') {
    // The bytes may sit at any offset; copying aligns them.
    const values = new Float32Array(count);
    new Uint8Array(values.buffer).set(bytes);
    return { hidden: values };
  }
  const halves = new Uint16Array(count);
  new Uint8Array(halves.buffer).set(bytes);
  return { hidden: input.dtype === 'DTYPE_F16' ? f16ToF32Array(halves) : bf16ToF32Array(halves) };
}

/**
 * Runs a ticket's step on a fresh cache and hashes the output the way a node does: the hidden
 * states it sends on, or on the last shard the logits of the last position (f32 bytes).
 */
export function recomputeOutputHash(engine: Engine, input: TicketInputBytes): Buffer {
  const { config, range } = engine;
  const positions = input.positions;
  const cache = engine.createCache(
    Math.max(1, range.end - range.start) * config.kvHeads * config.headDim * 8 * positions,
  );
  let result;
  try {
    result = engine.forward(cache, ticketForwardInput(input), 0);
  } catch (error) {
    if (error instanceof EngineInputError)
      throw new AuditError(
        status.INVALID_ARGUMENT,
        'TICKET_MALFORMED',
        `ticket input is not a valid step: ${error.message}`,
      );
    throw error;
  }
  const output = result.logits ?? result.hidden!;
  return sha256(new Uint8Array(output.buffer, output.byteOffset, output.byteLength));
}

export interface ShardsOnDisk {
  readonly manifest: Manifest;
  /** The directory holding the manifest's shard files. */
  readonly dir: string;
}

export interface HeldShard {
  readonly modelId: string;
  readonly shardIndex: number;
  readonly shardSha256: string;
}

/**
 * Engines for the shards in some shard directories, opened on first use (the file's SHA-256 checked
 * against the manifest first) and kept: a verifier recomputes the same shards over and over.
 */
export class ShardEngines {
  private readonly engines = new Map<string, Engine>();

  constructor(
    private readonly models: readonly ShardsOnDisk[],
    private readonly backend: Backend,
  ) {}

  /** The shards whose files are present (not yet hash-checked). */
  held(): HeldShard[] {
    return this.models.flatMap(({ manifest, dir }) =>
      manifest.shards
        .filter((entry) => statSync(join(dir, entry.file), { throwIfNoEntry: false })?.isFile() === true)
        .map((entry) => ({ modelId: manifest.modelId, shardIndex: entry.index, shardSha256: entry.sha256 })),
    );
  }

  manifest(modelId: string): Manifest | undefined {
    return this.models.find((m) => m.manifest.modelId === modelId)?.manifest;
  }

  /** The engine of one shard; throws when its file is missing or is not the manifest's. */
  engine(modelId: string, shardIndex: number): Engine {
    const key = `${modelId}/${shardIndex}`;
    let engine = this.engines.get(key);
    if (engine) return engine;
    const model = this.models.find((m) => m.manifest.modelId === modelId);
    const entry = model?.manifest.shards[shardIndex];
    if (!model || !entry) throw new Error(`no shard ${shardIndex} of model "${modelId}" here`);
    const path = join(model.dir, entry.file);
    const actual = sha256File(path);
    if (actual !== entry.sha256)
      throw new Error(`shard file ${path} has SHA-256 ${actual}, the manifest says ${entry.sha256}`);
    const weights = ggufWeightSource(openGguf(path));
    try {
      engine = new Engine(
        model.manifest.config,
        { start: entry.layerStart, end: entry.layerEnd, embedding: entry.embedding, head: entry.head },
        this.backend,
        weights,
      );
    } finally {
      weights.close(); // the engine holds its own copy of the weights
    }
    this.engines.set(key, engine);
    return engine;
  }
}
