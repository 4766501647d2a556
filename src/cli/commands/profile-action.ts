import { freemem } from 'node:os';
import type { ServiceError } from '@grpc/grpc-js';
import {
  capabilityManifest,
  measureEndpointRttMs,
  measureLayerMs,
  roleFits,
  type CapabilityManifest,
  type RoleFit,
} from '../../node/capability.ts';
import { RegistryClient } from '../../registry/registry-client.ts';
import { createWasmBackend } from '../../tensor/wasm-backend.ts';
import { CliError } from '../cli-error.ts';
import { openModelOption } from '../model-option.ts';
import type { ProfileOptions } from './profile.ts';

export async function profileCommand(options: ProfileOptions): Promise<void> {
  const model = await openModelOption(options.model);
  let rttMs: number | undefined;
  if (options.registry !== undefined) {
    const registry = new RegistryClient(options.registry);
    try {
      // A call first, so that an address where no registry answers is named as such.
      await registry.listModels();
      // Microseconds are the most a loopback handshake can tell apart.
      rttMs = Math.round((await measureEndpointRttMs(options.registry)) * 1000) / 1000;
    } catch (error) {
      throw new CliError(
        `registry ${options.registry} did not answer: ${(error as ServiceError).details || (error as Error).message}`,
      );
    } finally {
      registry.close();
    }
  }
  const backend = await createWasmBackend({ threads: options.threads });
  let manifest: CapabilityManifest;
  let roles: RoleFit[];
  try {
    manifest = capabilityManifest({
      layerMs: measureLayerMs(model, backend),
      ...(rttMs === undefined ? {} : { rttMs }),
      region: options.region,
    });
    roles = roleFits(model, freemem(), options.kvMb * 2 ** 20);
  } finally {
    await backend.close();
    model.weights.close();
  }
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ model: model.path, manifest, rttMs, roles }, null, 2)}\n`);
    return;
  }
  const lines = [
    `memory      ${manifest.memoryGiB} GiB band (${manifest.freeMemoryGiB} GiB free)`,
    `cpu         ${manifest.cpuCores} cores band, accelerator ${manifest.accelerator}`,
    `speed       ${manifest.speedTier} (one layer of ${model.path}: ${manifest.layerMs} ms a decode step)`,
    `network     ${manifest.network}${rttMs === undefined ? ' (no --registry given)' : ` (${rttMs.toFixed(2)} ms to ${options.registry})`}`,
    `region      ${manifest.region === '' ? '(not given)' : manifest.region}`,
    `version     ${manifest.clientVersion}`,
    '',
    'roles:',
    ...roles.map((r) => `  ${r.fits ? 'yes' : 'no '}  ${r.role.padEnd(9)} ${r.what}: ${r.why}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
