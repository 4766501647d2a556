import { X509Certificate } from 'node:crypto';
import { createServer, isIP } from 'node:net';
import { readKeyFile } from '../crypto/keys.ts';
import { RegistryClient } from '../registry/registry-client.ts';
import {
  checkAdvertisedEndpoint,
  isLoopbackHost,
  readTlsFiles,
  splitEndpoint,
  type TlsFiles,
} from './endpoint-security.ts';
import { readManifest, verifyShardFile } from '../model/shards/shard-files.ts';
import { formatSpan, spanEntries, spanLayers } from '../model/shards/span.ts';

export interface PreflightOptions {
  readonly advertise: string;
  readonly keyPath: string;
  readonly tls?: TlsFiles;
  /** The port the node will listen on; default: the advertised port. */
  readonly port?: number;
  /** The interface it will listen on; default 127.0.0.1. */
  readonly host?: string;
  readonly registry?: string;
  readonly registryTimeoutMs?: number;
  readonly shardsDir?: string;
  /** The shards [shardIndex, shardEnd) the node will hold; default shard 0, shardEnd shardIndex + 1. */
  readonly shardIndex?: number;
  readonly shardEnd?: number;
}

export interface PreflightCheck {
  readonly name: string;
  readonly ok: boolean;
  /** What was found, or what to fix. */
  readonly detail: string;
}

function check(name: string, run: () => string): PreflightCheck {
  try {
    return { name, ok: true, detail: run() };
  } catch (error) {
    return { name, ok: false, detail: (error as Error).message };
  }
}

async function checkAsync(name: string, run: () => Promise<string>): Promise<PreflightCheck> {
  try {
    return { name, ok: true, detail: await run() };
  } catch (error) {
    return { name, ok: false, detail: (error as Error).message };
  }
}

function portFree(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new Error(
          `cannot listen on ${host}:${port} (${error.code ?? error.message}): stop what holds the port or choose another with --port`,
        ),
      ),
    );
    server.listen(port, host, () => server.close(() => resolve(`${host}:${port} is free`)));
  });
}

function tlsCheck(options: PreflightOptions): string {
  const { host } = splitEndpoint(options.advertise);
  if (!options.tls) {
    checkAdvertisedEndpoint(options.advertise, false);
    return 'no TLS: the advertised endpoint is loopback, reachable from this machine only';
  }
  const { cert } = readTlsFiles(options.tls);
  const x509 = new X509Certificate(cert);
  const names = isIP(host) ? x509.checkIP(host) : x509.checkHost(host);
  if (names === undefined && !isLoopbackHost(host)) {
    throw new Error(
      `TLS certificate ${options.tls.cert} does not name ${host} (subject alternative names: ${x509.subjectAltName ?? 'none'}): clients connecting to ${options.advertise} will refuse it; issue one for ${host}`,
    );
  }
  return `certificate ${x509.subject.replace(/\n/g, ', ')} with its key, valid until ${x509.validTo}`;
}

async function registryCheck(registry: string, timeoutMs: number, modelId: string | undefined): Promise<string> {
  const client = new RegistryClient(registry, { deadlineMs: timeoutMs });
  try {
    const models = await client.listModels().catch((error: { details?: string; message: string }) => {
      throw new Error(
        `registry ${registry} did not answer ListModels within ${timeoutMs} ms (${error.details || error.message}): check the address and that the registry runs`,
      );
    });
    const ids = models.map((m) => m.modelId);
    if (modelId !== undefined && !ids.includes(modelId)) {
      throw new Error(
        `registry ${registry} does not serve model ${modelId} (it serves: ${ids.join(', ') || 'nothing'}); add the model to its cluster config`,
      );
    }
    return `registry ${registry} answers; models: ${ids.join(', ') || 'none'}`;
  } finally {
    client.close();
  }
}

/**
 * Everything a node needs before it can serve, checked without starting it: its key file, its port,
 * its TLS files (and TLS itself for a non-loopback endpoint), the registry and the shard files it will hold.
 * Every check runs, so one pass names every problem.
 */
export async function preflightNode(options: PreflightOptions): Promise<PreflightCheck[]> {
  const checks: PreflightCheck[] = [];
  checks.push(
    check('endpoint', () => {
      splitEndpoint(options.advertise);
      return `advertising ${options.advertise}`;
    }),
  );
  checks.push(check('key', () => `${options.keyPath}: node id ${readKeyFile(options.keyPath).address}`));
  const host = options.host ?? '127.0.0.1';
  checks.push(await checkAsync('port', () => portFree(host, options.port ?? splitEndpoint(options.advertise).port)));
  checks.push(check('tls', () => tlsCheck(options)));
  let modelId: string | undefined;
  if (options.shardsDir !== undefined) {
    checks.push(
      check('shard', () => {
        const manifest = readManifest(options.shardsDir!);
        modelId = manifest.modelId;
        const start = options.shardIndex ?? 0;
        const span = { start, end: options.shardEnd ?? start + 1 };
        const entries = spanEntries(manifest, span);
        for (const entry of entries) verifyShardFile(options.shardsDir!, entry);
        const layers = spanLayers(manifest, span);
        return `${manifest.modelId} ${formatSpan(span)} (layers ${layers.start} to ${layers.end - 1}) ${entries.length === 1 ? 'matches its SHA-256' : 'match their SHA-256s'}`;
      }),
    );
  }
  if (options.registry !== undefined)
    checks.push(
      await checkAsync('registry', () => registryCheck(options.registry!, options.registryTimeoutMs ?? 3000, modelId)),
    );
  return checks;
}
