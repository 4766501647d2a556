import { jsonLogger } from '../../core/log.ts';
import { join } from 'node:path';
import type { Command } from 'commander';
import { startGateway } from '../../gateway/gateway.ts';
import { parseIntegerOption } from '../cli-error.ts';
import { cacheDirectory } from '../model-option.ts';
import { addRegistryOption, registriesOf } from '../registry-option.ts';
import {
  addMetricsOptions,
  closeOnSignal,
  metricsPortBeside,
  serveRoleMetrics,
  stopSignal,
  type MetricsFlags,
} from '../serve.ts';

interface GatewayOptions extends MetricsFlags {
  registry?: string[];
  port: number;
  host: string;
}

export function registerGatewayCommand(program: Command): void {
  const command = addRegistryOption(
    program
      .command('gateway')
      .description(
        'Serve an OpenAI-compatible HTTP API (/v1/models, /v1/completions, /v1/chat/completions) on the network.',
      ),
  )
    .option('--port <port>', 'HTTP port (0: any free port)', parseIntegerOption('port', 0, 65535), 8000)
    .option('--host <address>', 'address to listen on', '127.0.0.1');
  addMetricsOptions(command, '--port + 1000').action(async (options: GatewayOptions) => gatewayCommand(options));
}

async function gatewayCommand(options: GatewayOptions): Promise<void> {
  const signal = stopSignal();
  const log = jsonLogger('gateway');
  const endpoint = await serveRoleMetrics(
    'gateway',
    options.metricsHost,
    options.metricsPort ?? metricsPortBeside(options.port),
    log,
  );
  const gateway = await startGateway({
    registries: registriesOf(options),
    port: options.port,
    host: options.host,
    cacheDir: join(cacheDirectory(), 'tokenizers'),
    metrics: endpoint.metrics,
  });
  endpoint.watch(() => gateway.health());
  log('gateway_started', { url: gateway.url, registries: gateway.client.registries });
  await closeOnSignal(signal, () => gateway.close().finally(() => endpoint.server.close()), log);
  log('gateway_stopped', { url: gateway.url });
}
