import { bytesToHex } from '@noble/hashes/utils.js';
import { availableParallelism, totalmem } from 'node:os';
import { band, measureEndpointRttMs, networkBandOf } from './capability.ts';
import type { KeyPair } from '../crypto/keys.ts';
import type { Load } from '../registry/announcement.ts';
import type { OwedAudit__Output } from '../proto/tessera/v1/OwedAudit.ts';
import { RegistryClient, startHeartbeats, type AnnouncementBody } from '../registry/registry-client.ts';
import { CLIENT_VERSION } from '../protocol/version.ts';

export interface RegistrationOptions {
  /** HOST:PORT of the registry. */
  readonly registry: string;
  readonly key: KeyPair;
  readonly modelId: string;
  /** The node holds shards [shardIndex, shardEnd) of the model (and serves any span of them). */
  readonly shardIndex: number;
  readonly shardEnd: number;
  /** Where clients and other nodes reach this node. */
  readonly endpoint: string;
  readonly tls: boolean;
  readonly pricePer1kTokens: number;
  readonly region: string;
  /** The speed tier measured on the node's own layers (src/node/capability.ts). */
  readonly tier: string;
  /** The load (and state) reported at each heartbeat. */
  readonly load: () => Load;
  readonly onError: (error: Error) => void;
  /** Each heartbeat the registry accepted. */
  readonly onHeartbeat: () => void;
  /** The cluster's audit sampling rate, as the registry answered the registration. */
  readonly onAuditSamplingRate?: (rate: number) => void;
  /** How long the cluster needs each step that may be audited kept, as the registry answered the registration. */
  readonly onAuditRetention?: (retentionMs: number) => void;
  /** The audits the registry says this node owes (clients' requests), with each heartbeat that lists any. */
  readonly onOwedAudits?: (owed: readonly OwedAudit__Output[]) => void;
  /** What the registration and each heartbeat answered of the stake's cooldown: 0 unless unstaking. */
  readonly onUnstaking?: (untilMs: number) => void;
}

/**
 * Registers the node with its registry and keeps it listed with heartbeats carrying the current
 * load; the returned function stops them and unregisters.
 */
export async function registerNode(options: RegistrationOptions): Promise<() => Promise<void>> {
  const client = new RegistryClient(options.registry);
  // Measured, not claimed: a registry that does not answer is refused below with its own message.
  const network = networkBandOf(await measureEndpointRttMs(options.registry).catch(() => undefined));
  const body = (): AnnouncementBody => ({
    role: 'node',
    modelId: options.modelId,
    shardIndex: options.shardIndex,
    shardEnd: options.shardEnd,
    shareKey: bytesToHex(options.key.publicKey),
    endpoint: options.endpoint,
    tls: options.tls,
    capabilities: {
      tier: options.tier,
      // Bands, as `tessera profile` shows them: enough to route by, too coarse to fingerprint.
      cpuCores: band(availableParallelism()),
      memoryGiB: band(totalmem() / 2 ** 30),
      gpu: 'none',
      region: options.region,
      network,
      workloads: ['llm-shard'],
      clientVersion: CLIENT_VERSION,
    },
    load: options.load(),
    pricePer1kTokens: options.pricePer1kTokens,
  });
  let reply;
  try {
    reply = await client.register(options.key, body());
  } catch (error) {
    client.close();
    throw new Error(
      `registry ${options.registry} refused or did not answer the registration: ${(error as { details?: string }).details || (error as Error).message}`,
    );
  }
  options.onAuditSamplingRate?.(reply.auditSamplingRate);
  options.onAuditRetention?.(reply.auditRetentionMs);
  options.onUnstaking?.(reply.unstakingUntilMs);
  const stopHeartbeats = startHeartbeats(client, options.key, body, {
    intervalMs: reply.heartbeatIntervalMs,
    onError: options.onError,
    onSuccess: options.onHeartbeat,
    ...(options.onOwedAudits === undefined ? {} : { onOwedAudits: options.onOwedAudits }),
    ...(options.onUnstaking === undefined ? {} : { onUnstaking: options.onUnstaking }),
  });
  return async () => {
    await stopHeartbeats();
    try {
      await client.unregister(options.key, body());
    } catch (error) {
      options.onError(error as Error);
    } finally {
      client.close();
    }
  };
}
