import { join } from 'node:path';
import { jsonLogger } from '../../core/log.ts';
import { apiKeysOf } from '../../gateway/api-keys.ts';
import { startGateway } from '../../gateway/gateway.ts';
import { cacheDirectory } from '../model-option.ts';
import { registriesOf } from '../registry-option.ts';
import { closeOnSignal, metricsPortBeside, serveRoleMetrics, stopSignal } from '../serve.ts';
import type { GatewayOptions } from './gateway.ts';

export async function gatewayCommand(options: GatewayOptions): Promise<void> {
  const apiKeys = apiKeysOf(options.apiKey, options.apiKeysFile);
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
    apiKeys,
    allowedOrigins: options.allowOrigin,
    allowedHosts: options.allowHost,
    maxConcurrent: options.maxConcurrent,
    maxQueue: options.maxQueue,
    maxBodyBytes: options.maxBodyBytes,
    maxPromptChars: options.maxPromptChars,
    ...(options.auditShardZero === undefined ? {} : { auditShardZero: options.auditShardZero }),
  });
  endpoint.watch(() => gateway.health());
  log('gateway_started', { url: gateway.url, registries: gateway.client.registries, apiKeys: apiKeys.length });
  await closeOnSignal(signal, () => gateway.close().finally(() => endpoint.server.close()), log);
  log('gateway_stopped', { url: gateway.url });
}
