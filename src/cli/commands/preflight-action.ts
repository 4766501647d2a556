import { existsSync } from 'node:fs';
import { preflightNode } from '../../node/preflight.ts';
import { CliError } from '../cli-error.ts';
import { defaultKeyPaths, heldSpanOf, tlsFilesOption } from './node.ts';
import type { PreflightNodeOptions } from './preflight.ts';

export async function preflightNodeCommand(options: PreflightNodeOptions): Promise<void> {
  const tls = tlsFilesOption(options.tlsCert, options.tlsKey);
  const span = heldSpanOf(options);
  const candidates = defaultKeyPaths(options.shardsDir);
  const keyPath = options.key ?? candidates.find((path) => existsSync(path)) ?? candidates[candidates.length - 1]!;
  const checks = await preflightNode({
    advertise: options.advertise,
    keyPath,
    host: options.host,
    ...(span === undefined ? {} : { shardIndex: span.start, shardEnd: span.end }),
    ...(tls === undefined ? {} : { tls }),
    ...(options.port === undefined ? {} : { port: options.port }),
    ...(options.registry === undefined ? {} : { registry: options.registry }),
    ...(options.shardsDir === undefined ? {} : { shardsDir: options.shardsDir }),
  });
  const width = Math.max(...checks.map((c) => c.name.length));
  for (const c of checks) process.stdout.write(`${c.ok ? 'ok  ' : 'FAIL'}  ${c.name.padEnd(width)}  ${c.detail}\n`);
  const failed = checks.filter((c) => !c.ok).length;
  if (failed > 0) throw new CliError(`${failed} of ${checks.length} checks failed`);
}
