import type { Logger } from '../core/log.ts';
import { availableParallelism } from 'node:os';
import { bytesToHex } from '@noble/hashes/utils.js';
import type { DaemonEnrollment } from '../chain/daemon.ts';
import type { KeyPair } from '../crypto/keys.ts';
import { RegistryClient, startHeartbeats, type AnnouncementBody } from '../registry/registry-client.ts';

/**
 * A daemon's enrollment at the registry at `registry`: it registers (role "daemon") with `key`, sends
 * heartbeats, and unregisters when it leaves.
 */
export function registryEnrollment(registry: string, key: KeyPair, log: Logger): DaemonEnrollment {
  const client = new RegistryClient(registry);
  let body: (() => AnnouncementBody) | undefined;
  let stopHeartbeats: (() => Promise<void>) | undefined;
  let left: Promise<void> | undefined;
  return {
    async join(endpoint) {
      const announce = (): AnnouncementBody => ({
        role: 'daemon',
        modelId: '',
        shardIndex: 0,
        shareKey: bytesToHex(key.publicKey),
        endpoint,
        tls: false,
        capabilities: {
          tier: 'daemon',
          cpuCores: availableParallelism(),
          memoryGiB: 0,
          gpu: 'none',
          region: '',
          workloads: ['share-chain'],
          clientVersion: '0.1.0',
        },
        load: { activeSessions: 0, maxSessions: 0, computeUsPerToken: 0 },
        pricePer1kTokens: 0,
      });
      let reply;
      try {
        reply = await client.register(key, announce());
      } catch (error) {
        throw new Error(
          `registry ${registry} refused or did not answer the daemon's registration: ${(error as { details?: string }).details || (error as Error).message}`,
        );
      }
      body = announce;
      stopHeartbeats = startHeartbeats(client, key, announce, {
        intervalMs: reply.heartbeatIntervalMs,
        onError: (error) => log('heartbeat_failed', { error: error.message }),
      });
    },
    leave: () =>
      (left ??= (async () => {
        await stopHeartbeats?.();
        if (body !== undefined) {
          try {
            await client.unregister(key, body());
          } catch (error) {
            log('unregister_failed', { error: (error as { details?: string }).details || (error as Error).message });
          }
        }
        client.close();
      })()),
  };
}
