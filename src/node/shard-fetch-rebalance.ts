import { freemem } from 'node:os';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../core/log.ts';
import type { KeyPair } from '../crypto/keys.ts';
import type { Manifest } from '../model/manifest.ts';
import { unhealthy, type Health } from '../metrics/metrics-server.ts';
import { assignShard, fetchShard } from './shard-fetch-join.ts';
import { discoverShardSources } from './shard-sources.ts';

/**
 * Rebalancing (issue 12; Petals' `should_choose_other_blocks`): every interval an assigned node asks
 * the registry whether moving to another shard would raise the network's weakest shard past the
 * hysteresis without uncovering its own. If so it fetches the new shard first (from nodes serving
 * it, as a joining node does, the registry last), then stops serving the old one (unregistering,
 * letting its sessions finish), serves the new one under the same key, and deletes the old file: it
 * holds one shard's bytes, as when it joined.
 */

/** What a serving node is to this loop: a thing to ask for health and to close. */
export interface ServingNode {
  health(): Health;
  close(): Promise<void>;
}

export interface RebalanceOptions {
  readonly registry: string;
  readonly modelId: string;
  readonly key: KeyPair;
  readonly manifest: Manifest;
  /** Where the model's files are kept. */
  readonly dir: string;
  readonly kvBudgetBytes: number;
  readonly intervalMs: number;
  readonly log: Logger;
  /** The node as it serves now. */
  readonly shardIndex: number;
  readonly node: ServingNode;
  /** Starts serving `shardIndex` from `dir` (registering it). */
  readonly start: (shardIndex: number) => Promise<ServingNode>;
  readonly onProgress?: (file: string, held: number, total: number | undefined) => void;
  /** The tokenizer file the join fetched: its metadata goes into a shard assembled from ranges. */
  readonly tokenizerPath: string;
  /** The model's GGUF, when the join fetched by range: a move's shard comes from there first. */
  readonly rangeUrl?: URL;
}

export function serveWithRebalancing(options: RebalanceOptions): ServingNode {
  const { log, manifest } = options;
  let shardIndex = options.shardIndex;
  let node: ServingNode | undefined = options.node;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();

  const move = async (target: number): Promise<void> => {
    const from = manifest.shards[shardIndex]!;
    const to = manifest.shards[target]!;
    log('shard_moving', { from: from.index, to: to.index });
    await fetchShard({
      modelId: options.modelId,
      manifest,
      entry: to,
      dir: options.dir,
      tokenizerPath: options.tokenizerPath,
      ...(options.rangeUrl === undefined ? {} : { rangeUrl: options.rangeUrl }),
      sources: await discoverShardSources(options.registry, options.modelId, to.index, options.key.address, log),
      log,
      ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
    });
    if (closed) return;
    await node!.close();
    node = undefined;
    try {
      node = await options.start(to.index);
    } catch (error) {
      log('shard_move_failed', { from: from.index, to: to.index, error: (error as Error).message });
      node = await options.start(from.index);
      return;
    }
    shardIndex = to.index;
    rmSync(join(options.dir, from.file), { force: true });
    log('shard_moved', { from: from.index, to: to.index });
  };

  const check = async (): Promise<void> => {
    try {
      const reply = await assignShard(options.registry, options.key, {
        modelId: options.modelId,
        // The shard it serves now is freed by a move: it counts as room.
        freeBytes: freemem() + (manifest.shards[shardIndex]!.bytes ?? 0),
        kvBudgetBytes: options.kvBudgetBytes,
        tier: 'unmeasured',
        held: [shardIndex],
        serving: shardIndex,
      });
      if (!closed && reply.shardIndex !== shardIndex) await move(reply.shardIndex);
    } catch (error) {
      log('rebalance_failed', { shard: shardIndex, error: (error as Error).message });
    }
  };

  const schedule = () => {
    if (closed) return;
    timer = setTimeout(() => {
      running = check().finally(schedule);
    }, options.intervalMs);
  };
  schedule();

  return {
    health: () => node?.health() ?? unhealthy(`moving from shard ${shardIndex}`),
    close: async () => {
      closed = true;
      clearTimeout(timer);
      await running;
      await node?.close();
    },
  };
}
