import { sha256 } from '../crypto/hash.ts';
import { status } from '@grpc/grpc-js';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { Engine, EngineInputError, type ForwardInput } from '../model/engine.ts';
import type { Manifest } from '../model/manifest.ts';
import type { Backend } from '../tensor/backend.ts';
import { bf16ToF32Array, f16ToF32Array } from '../tensor/half.ts';
import { openSpanIn, type ShardSpan } from '../model/shards/span.ts';
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
 * states it sends on, or, for a span that ends at the last shard, the logits of the last position
 * (f32 bytes).
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
  } finally {
    cache.release();
  }
  const output = result.logits ?? result.hidden!;
  return sha256(new Uint8Array(output.buffer, output.byteOffset, output.byteLength));
}

export interface ShardsOnDisk {
  readonly manifest: Manifest;
  /** The directory holding the manifest's shard files. */
  readonly dir: string;
}

/** A shard file held: a verifier claims these, and takes tickets whose every shard it holds. */
export interface HeldShard {
  readonly modelId: string;
  readonly shardIndex: number;
  readonly shardSha256: string;
}

/** Engines kept at once: each holds its span's weights, and tickets come in many spans. */
const DEFAULT_MAX_ENGINES = 4;

/**
 * Engines over spans of the shards in some shard directories, each opened on first use (every file
 * of the span checked against the manifest first) and kept, the most recently used few: a verifier
 * recomputes the same spans over and over.
 */
export class ShardEngines {
  /** By "model/start-end", least recently used first. */
  private readonly engines = new Map<string, Engine>();

  constructor(
    private readonly models: readonly ShardsOnDisk[],
    private readonly backend: Backend,
    private readonly maxEngines = DEFAULT_MAX_ENGINES,
  ) {}

  /** The shards whose files are present (not yet hash-checked). */
  held(): HeldShard[] {
    return this.models.flatMap(({ manifest, dir }) =>
      manifest.shards
        .filter((entry) => present(dir, entry.file))
        .map((entry) => ({ modelId: manifest.modelId, shardIndex: entry.index, shardSha256: entry.sha256 })),
    );
  }

  manifest(modelId: string): Manifest | undefined {
    return this.models.find((m) => m.manifest.modelId === modelId)?.manifest;
  }

  /**
   * The engine of one span of a model's shards. Throws, naming the file, when a file of the span is
   * missing or is not the manifest's (ShardIntegrityError), or naming the problem when the span is
   * not one of the model's.
   */
  engine(modelId: string, span: ShardSpan): Engine {
    const key = `${modelId}/${span.start}-${span.end}`;
    let engine = this.engines.get(key);
    if (engine) {
      this.engines.delete(key);
      this.engines.set(key, engine);
      return engine;
    }
    const model = this.models.find((m) => m.manifest.modelId === modelId);
    if (!model) throw new Error(`no shards of model "${modelId}" here`);
    const opened = openSpanIn(model.dir, span, model.manifest);
    try {
      engine = new Engine(model.manifest.config, opened.layers, this.backend, opened.weights);
    } finally {
      opened.weights.close(); // the engine holds its own copy of the weights
    }
    this.engines.set(key, engine);
    for (const oldest of this.engines.keys()) {
      if (this.engines.size <= this.maxEngines) break;
      this.engines.delete(oldest);
    }
    return engine;
  }
}

const present = (dir: string, file: string): boolean =>
  statSync(join(dir, file), { throwIfNoEntry: false })?.isFile() === true;
