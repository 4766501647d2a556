import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { ServerWritableStream } from '@grpc/grpc-js';
import { TesseraError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import type { Manifest, ShardEntry } from '../model/manifest.ts';
import type { GetShardRequest__Output } from '../proto/tessera/v1/GetShardRequest.ts';
import type { ShardChunk } from '../proto/tessera/v1/ShardChunk.ts';
import type { ShardFilesHandlers } from '../proto/tessera/v1/ShardFiles.ts';
import { tessera } from '../proto/services.ts';
import type { ServiceBinding } from '../rpc/server.ts';
import { peerHost } from '../rpc/rate-limit.ts';
import { toStatusObject } from '../rpc/status.ts';

/**
 * GetShard (issue 12): a model's files by name, so a joining node downloads only its own shard. Open
 * to anyone, so it serves only the names a manifest lists (never a path: nothing outside the
 * manifest's directory can be named) and bounds the streams one peer host and everyone together may
 * hold; a stream reads from disk only as fast as the caller takes it.
 */

/** A model whose files this server may hand out: its manifest and the directory they lie in. */
export interface ServedFiles {
  readonly manifest: Manifest;
  readonly dir: string;
  /** Which of the manifest's files this server hands out; default every shard file and the tokenizer. */
  readonly files?: readonly string[];
}

export interface ShardServerOptions {
  readonly models: ReadonlyMap<string, ServedFiles>;
  /** Streams one peer host may hold at once. Default 2. */
  readonly maxStreamsPerPeer?: number;
  /** Streams all peers together may hold at once. Default 16. */
  readonly maxStreams?: number;
  /** Bytes per chunk. Default 1 MiB. */
  readonly chunkBytes?: number;
  /** How long a stream may wait on a caller that reads nothing before it is ended (STREAM_STALLED). Default 60 s. */
  readonly stallMs?: number;
  readonly log?: Logger;
}

export const SHARD_SERVER_DEFAULTS = {
  maxStreamsPerPeer: 2,
  maxStreams: 16,
  chunkBytes: 1 << 20,
  stallMs: 60_000,
} as const;

/** The file names of a manifest a server hands out: its shards and its tokenizer. */
export function manifestFiles(manifest: Manifest): string[] {
  return [...manifest.shards.map((s) => s.file), manifest.tokenizerFile];
}

export function shardFilesHandlers(options: ShardServerOptions): ShardFilesHandlers {
  const perPeerMax = options.maxStreamsPerPeer ?? SHARD_SERVER_DEFAULTS.maxStreamsPerPeer;
  const totalMax = options.maxStreams ?? SHARD_SERVER_DEFAULTS.maxStreams;
  const chunkBytes = options.chunkBytes ?? SHARD_SERVER_DEFAULTS.chunkBytes;
  const stallMs = options.stallMs ?? SHARD_SERVER_DEFAULTS.stallMs;
  const log = options.log ?? (() => {});
  const perPeer = new Map<string, number>();
  let total = 0;

  /** The path of `file` of `modelId`, or the refusal. */
  const resolve = (modelId: string, file: string): string => {
    const served = options.models.get(modelId);
    if (served === undefined)
      throw new TesseraError(
        'UNKNOWN_MODEL',
        'not_found',
        `model "${modelId}" is not served here; it serves ${[...options.models.keys()].map((id) => `"${id}"`).join(', ') || 'none'}`,
      );
    // Only the manifest's own names, compared whole: "../x", "/etc/passwd" or "a/b" can never match.
    const names = served.files ?? manifestFiles(served.manifest);
    if (!names.includes(file))
      throw new TesseraError(
        'UNKNOWN_FILE',
        'not_found',
        `${JSON.stringify(file.slice(0, 200))} is not a file of model "${modelId}" served here; it serves ${names.map((n) => JSON.stringify(n)).join(', ')}`,
      );
    return join(served.dir, file);
  };

  const stream = async (call: ServerWritableStream<GetShardRequest__Output, ShardChunk>): Promise<void> => {
    const { modelId, file, offset } = call.request;
    const path = resolve(modelId, file);
    let handle;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      throw new TesseraError(
        'FILE_NOT_HELD',
        'unavailable',
        `this server does not hold ${file} of "${modelId}" (${(error as NodeJS.ErrnoException).code ?? 'unreadable'}); fetch it from another source`,
      );
    }
    let cancelled = false;
    let wake: (() => void) | undefined;
    call.once('cancelled', () => {
      cancelled = true;
      wake?.();
    });
    try {
      const size = (await handle.stat()).size;
      if (offset > size)
        throw new TesseraError(
          'OFFSET_PAST_END',
          'invalid',
          `offset ${offset} is past the end of ${file} (${size} bytes); resume from at most ${size}`,
        );
      for (let at = offset; at < size && !cancelled;) {
        const buffer = Buffer.allocUnsafe(Math.min(chunkBytes, size - at));
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, at);
        if (bytesRead === 0) break;
        at += bytesRead;
        if (!call.write({ data: buffer.subarray(0, bytesRead), totalBytes: size }))
          // A cancel that came while the chunk was read has fired already: check before waiting.
          await new Promise<void>((resolve, reject) => {
            if (cancelled) return resolve();
            // A caller that stops reading would otherwise hold its slot for good.
            const stalled = setTimeout(
              () =>
                reject(
                  new TesseraError(
                    'STREAM_STALLED',
                    'deadline_exceeded',
                    `the caller took nothing of ${file} for ${stallMs} ms; resume from offset ${at - bytesRead} or later`,
                  ),
                ),
              stallMs,
            );
            wake = () => {
              clearTimeout(stalled);
              resolve();
            };
            call.once('drain', wake);
          });
      }
      if (!cancelled) log('shard_file_served', { peer: call.getPeer(), modelId, file, offset, bytes: size - offset });
    } finally {
      await handle.close();
    }
  };

  return {
    GetShard: (call) => {
      const host = peerHost(call.getPeer());
      const held = perPeer.get(host) ?? 0;
      if (held >= perPeerMax || total >= totalMax) {
        const refusal = new TesseraError(
          'TOO_MANY_STREAMS',
          'resource_exhausted',
          held >= perPeerMax
            ? `${host} already holds ${held} GetShard streams here (at most ${perPeerMax} per address); finish one first`
            : `this server already serves ${total} GetShard streams (at most ${totalMax}); retry shortly or fetch from another source`,
        );
        log('shard_fetch_refused', { peer: call.getPeer(), code: refusal.code });
        call.emit('error', toStatusObject(refusal));
        return;
      }
      perPeer.set(host, held + 1);
      total++;
      stream(call)
        .then(
          () => call.end(),
          (error: unknown) => {
            if (error instanceof TesseraError)
              log('shard_fetch_refused', {
                peer: call.getPeer(),
                code: error.code,
                file: call.request.file.slice(0, 200),
              });
            call.emit('error', toStatusObject(error));
          },
        )
        .finally(() => {
          const left = (perPeer.get(host) ?? 1) - 1;
          if (left === 0) perPeer.delete(host);
          else perPeer.set(host, left);
          total--;
        });
    },
  };
}

/** What a compute node binds to serve its own shard file and the tokenizer to nodes joining after it. */
export function ownShardFilesBinding(manifest: Manifest, entry: ShardEntry, dir: string, log?: Logger): ServiceBinding {
  return {
    name: 'tessera.v1.ShardFiles',
    definition: tessera.v1.ShardFiles.service,
    handlers: shardFilesHandlers({
      models: new Map([[manifest.modelId, { manifest, dir, files: [entry.file, manifest.tokenizerFile] }]]),
      ...(log === undefined ? {} : { log }),
    }),
  };
}
