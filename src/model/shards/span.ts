import { createHash } from 'node:crypto';
import type { LayerRange } from '../engine.ts';
import { ggufWeightSource } from '../gguf/gguf-model.ts';
import { openGguf } from '../gguf/reader.ts';
import type { Manifest, ShardEntry } from '../manifest.ts';
import type { WeightSource } from '../model-files.ts';
import { readManifest, verifyShardFile } from './shard-files.ts';

/**
 * A run of a manifest's shards [start, end): what a node holds, and what one hop of a route runs (a
 * span of what its node holds). With a manifest of one shard per layer a span is any layer range;
 * with a pre-cut manifest, any run of its shards, so directories cut before spans keep working.
 */
export interface ShardSpan {
  readonly start: number;
  readonly end: number;
}

/** Why `span` is not a span of `manifest`'s shards, or undefined when it is. */
export function spanProblem(manifest: Pick<Manifest, 'shards' | 'modelId'>, span: ShardSpan): string | undefined {
  const count = manifest.shards.length;
  if (!Number.isInteger(span.start) || !Number.isInteger(span.end) || span.start < 0 || span.end <= span.start)
    return `shards [${span.start}, ${span.end}) is not a span: it needs 0 ≤ start < end`;
  if (span.end > count) return `shards [${span.start}, ${span.end}) reach past ${manifest.modelId}'s ${count} shards`;
  return undefined;
}

/** Throws a RangeError naming the problem unless `span` is a span of `manifest`'s shards. */
export function checkSpan(manifest: Pick<Manifest, 'shards' | 'modelId'>, span: ShardSpan): ShardSpan {
  const problem = spanProblem(manifest, span);
  if (problem !== undefined) throw new RangeError(problem);
  return span;
}

/** The span a message names in its fields shard_index and shard_end (a hop, a ticket, a listed node). */
export const spanOf = (named: { readonly shardIndex: number; readonly shardEnd: number }): ShardSpan => ({
  start: named.shardIndex,
  end: named.shardEnd,
});

/** The span holding only shard `index`. */
export const spanOfShard = (index: number): ShardSpan => ({ start: index, end: index + 1 });

export const spanLength = (span: ShardSpan): number => span.end - span.start;

export const sameSpan = (a: ShardSpan, b: ShardSpan): boolean => a.start === b.start && a.end === b.end;

/** Whether `outer` holds every shard of `inner`. */
export const spanContains = (outer: ShardSpan, inner: ShardSpan): boolean =>
  outer.start <= inner.start && inner.end <= outer.end;

/** The span's first shard holds the embedding: its hop takes the prompt's token ids. */
export const takesTokens = (span: ShardSpan): boolean => span.start === 0;

/** "shard 3" or "shards 3–7" (both ends included, as an operator counts them). */
export function formatSpan(span: ShardSpan): string {
  return span.end - span.start === 1 ? `shard ${span.start}` : `shards ${span.start}–${span.end - 1}`;
}

/** Parses "K" (one shard) or "A-B" (shards A to B, both included), as `--shard` takes them. */
export function parseSpan(text: string): ShardSpan | undefined {
  const match = /^(\d+)(?:-(\d+))?$/.exec(text.trim());
  if (!match) return undefined;
  const start = Number(match[1]);
  const last = match[2] === undefined ? start : Number(match[2]);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(last) || last < start) return undefined;
  return { start, end: last + 1 };
}

/** The manifest's entries of the span's shards, in order. */
export function spanEntries(manifest: Manifest, span: ShardSpan): ShardEntry[] {
  return manifest.shards.slice(checkSpan(manifest, span).start, span.end);
}

/** The layers the span runs, and whether it has the embedding and the head. */
export function spanLayers(manifest: Manifest, span: ShardSpan): LayerRange {
  const entries = spanEntries(manifest, span);
  const first = entries[0]!;
  const last = entries.at(-1)!;
  return { start: first.layerStart, end: last.layerEnd, embedding: first.embedding, head: last.head };
}

/** The weights' size in bytes: the span's shard files. */
export const spanBytes = (manifest: Manifest, span: ShardSpan): number =>
  spanEntries(manifest, span).reduce((sum, e) => sum + e.bytes, 0);

/**
 * Hex SHA-256 naming the span's weights, computable from the manifest alone: a one-shard span's is
 * its file's (as before spans), a longer one's the SHA-256 of its files' 32-byte digests in order.
 */
export function spanSha256(manifest: Manifest, span: ShardSpan): string {
  const entries = spanEntries(manifest, span);
  if (entries.length === 1) return entries[0]!.sha256;
  const hash = createHash('sha256');
  for (const e of entries) hash.update(Buffer.from(e.sha256, 'hex'));
  return hash.digest('hex');
}

/**
 * The tensors of several shard files as one source, read on demand. A tensor two files hold (a tied
 * embedding, in the first shard and the last) is read from the first.
 */
export function multiFileWeightSource(sources: readonly WeightSource[]): WeightSource {
  const owner = (name: string) => sources.find((s) => s.has(name));
  return {
    path: sources.map((s) => s.path).join(', '),
    has: (name) => owner(name) !== undefined,
    entry(name) {
      const source = owner(name);
      if (!source) throw new Error(`${sources.map((s) => s.path).join(', ')}: tensor ${name} is missing`);
      return source.entry(name);
    },
    read(name, into) {
      const source = owner(name);
      if (!source) throw new Error(`${sources.map((s) => s.path).join(', ')}: tensor ${name} is missing`);
      source.read(name, into);
    },
    close: () => sources.forEach((s) => s.close()),
  };
}

export interface OpenedSpan {
  readonly manifest: Manifest;
  readonly span: ShardSpan;
  readonly entries: readonly ShardEntry[];
  readonly layers: LayerRange;
  readonly weights: WeightSource;
}

/**
 * Reads the manifest of `shardsDir`, checks every file of the span against it (size and SHA-256;
 * ShardIntegrityError otherwise) and opens their tensors as one source.
 */
export function openSpanIn(shardsDir: string, span: ShardSpan, manifest = readManifest(shardsDir)): OpenedSpan {
  const entries = spanEntries(manifest, span);
  const paths = entries.map((entry) => verifyShardFile(shardsDir, entry));
  const opened: WeightSource[] = [];
  try {
    for (const path of paths) opened.push(ggufWeightSource(openGguf(path)));
  } catch (error) {
    opened.forEach((s) => s.close());
    throw error;
  }
  return { manifest, span, entries, layers: spanLayers(manifest, span), weights: multiFileWeightSource(opened) };
}
