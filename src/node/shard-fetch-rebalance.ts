import { freemem } from 'node:os';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../core/log.ts';
import type { KeyPair } from '../crypto/keys.ts';
import type { Manifest } from '../model/manifest.ts';
import {
  formatSpan,
  sameSpan,
  spanBytes,
  spanContains,
  spanEntries,
  spanOfShard,
  type ShardSpan,
} from '../model/shards/span.ts';
import { unhealthy, type Health } from '../metrics/metrics-server.ts';
import { assignedSpan, assignShard, fetchSpan } from './shard-fetch-join.ts';
import { discoverSpanSources } from './shard-sources.ts';

/**
 * Rebalancing (issue 12; Petals' `should_choose_other_blocks`): every interval an assigned node asks
 * the registry whether moving to another span would raise the network's weakest shard past the
 * hysteresis without uncovering any. If so it fetches the files of the new span it lacks first (from
 * nodes holding them, as a joining node does, the registry last), then stops serving the old span
 * (unregistering, letting its sessions finish), serves the new one under the same key, and deletes
 * the files it no longer holds: it keeps one span's bytes, as when it joined.
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
  /**
   * Memory the node may fill, as given when it joined; default the machine's free memory now plus
   * the span it holds (a move frees it).
   */
  readonly freeBytes?: number;
  readonly intervalMs: number;
  readonly log: Logger;
  /** The span the node holds and serves now. */
  readonly span: ShardSpan;
  readonly node: ServingNode;
  /** Starts serving `span` from `dir` (registering it). */
  readonly start: (span: ShardSpan) => Promise<ServingNode>;
  /** One bar over a move's span (fetchSpan's onProgress). */
  readonly onProgress?: (label: string, held: number, total: number) => void;
  /** The tokenizer file the join fetched: its metadata goes into a shard assembled from ranges. */
  readonly tokenizerPath: string;
  /** The model's GGUF, when the join fetched by range: a move's shards come from there first. */
  readonly rangeUrl?: URL;
}

export function serveWithRebalancing(options: RebalanceOptions): ServingNode {
  const { log, manifest } = options;
  let span = options.span;
  let node: ServingNode | undefined = options.node;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const fields = (from: ShardSpan, to: ShardSpan) => ({
    from: from.start,
    fromEnd: from.end,
    to: to.start,
    toEnd: to.end,
  });

  const move = async (target: ShardSpan): Promise<void> => {
    const from = span;
    log('shard_moving', { ...fields(from, target), span: formatSpan(target) });
    // The files it keeps are checked and served now: only the others come over the network.
    await fetchSpan({
      modelId: options.modelId,
      manifest,
      span: target,
      keep: from,
      dir: options.dir,
      tokenizerPath: options.tokenizerPath,
      ...(options.rangeUrl === undefined ? {} : { rangeUrl: options.rangeUrl }),
      sources: await discoverSpanSources(options.registry, options.modelId, options.key.address, log),
      log,
      ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
    });
    if (closed) return;
    await node!.close();
    node = undefined;
    try {
      node = await options.start(target);
    } catch (error) {
      log('shard_move_failed', { ...fields(from, target), error: (error as Error).message });
      node = await options.start(from);
      return;
    }
    span = target;
    for (const entry of spanEntries(manifest, from))
      if (!spanContains(target, spanOfShard(entry.index))) rmSync(join(options.dir, entry.file), { force: true });
    log('shard_moved', fields(from, target));
  };

  const check = async (): Promise<void> => {
    try {
      const reply = await assignShard(options.registry, options.key, {
        modelId: options.modelId,
        // The span it holds now is freed by a move: it counts as room.
        freeBytes: options.freeBytes ?? freemem() + spanBytes(manifest, span),
        kvBudgetBytes: options.kvBudgetBytes,
        tier: 'unmeasured',
        held: spanEntries(manifest, span).map((e) => e.index),
        serving: span.start,
      });
      const target = assignedSpan(options.registry, manifest, reply);
      if (!closed && !sameSpan(target, span)) await move(target);
    } catch (error) {
      log('rebalance_failed', { shard: span.start, shardEnd: span.end, error: (error as Error).message });
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
    health: () => node?.health() ?? unhealthy(`moving from ${formatSpan(span)}`),
    close: async () => {
      closed = true;
      clearTimeout(timer);
      await running;
      await node?.close();
    },
  };
}
