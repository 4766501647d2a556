import { resolve } from 'node:path';
import { bytesToHex } from '@noble/hashes/utils.js';
import type { Address } from 'viem';
import { jsonLogger } from '../../core/log.ts';
import { KeyFileError, readKeyFile, type KeyPair } from '../../crypto/keys.ts';
import type { EvmBackend } from '../../escrow/evm-backend.ts';
import { LedgerBackend } from '../../escrow/ledger-backend.ts';
import { ClusterConfigError, clusterConfigFromFile, type ClusterConfig } from '../../registry/cluster-config.ts';
import { startRegistry } from '../../registry/registry.ts';
import type { SettlementBackend } from '../../registry/settlement-backend.ts';
import { CliError } from '../cli-error.ts';
import { closeOnSignal, metricsPortBeside, serveRoleMetrics, stopSignal } from '../serve.ts';
import type { RegistryOptions } from './registry.ts';

export async function runRegistry(options: RegistryOptions): Promise<void> {
  const signal = stopSignal();
  let clusterConfig;
  try {
    clusterConfig = clusterConfigFromFile(options.clusterConfig);
  } catch (error) {
    if (error instanceof ClusterConfigError) throw new CliError(error.message, 2);
    throw error;
  }
  const log = jsonLogger('registry');
  const endpoint = await serveRoleMetrics(
    'registry',
    options.metricsHost,
    options.metricsPort ?? metricsPortBeside(options.port),
    log,
  );
  const backend = await settlementBackend(clusterConfig, options);
  log(
    'settlement_backend',
    backend.kind === 'evm' ? { kind: 'evm', ...clusterConfig.escrow } : { kind: 'ledger', db: resolve(options.db) },
  );
  let key: KeyPair | undefined;
  if (options.key !== undefined) {
    try {
      key = readKeyFile(options.key);
    } catch (error) {
      if (error instanceof KeyFileError) throw new CliError(`--key: ${error.message}`);
      throw error;
    }
  }
  const handle = await startRegistry({
    ...(key === undefined ? {} : { key }),
    port: options.port,
    host: options.host,
    dbPath: resolve(options.db),
    clusterConfig,
    seeds: options.seed,
    log,
    settlement: backend,
    stakes: backend,
    settle: { backend },
    accounts: backend,
    ...(options.advertise === undefined ? {} : { advertise: options.advertise }),
    metrics: endpoint.metrics,
  });
  endpoint.watch(() => handle.health());
  await closeOnSignal(
    signal,
    () =>
      handle
        .close()
        .then(() => backend.close())
        .finally(() => endpoint.server.close()),
    log,
  );
}

/**
 * Without an `escrow` section, stakes, slashes and settlements live in the registry's own file
 * (tables prefixed ledger_); with one, on that contract, driven with its owner's key.
 */
async function settlementBackend(config: ClusterConfig, options: RegistryOptions): Promise<SettlementBackend> {
  if (config.escrow === undefined) {
    if (options.escrowKey !== undefined)
      throw new CliError(
        `--escrow-key is for a cluster config with an "escrow" section; ${options.clusterConfig} has none, so stakes live in the registry's ledger`,
        2,
      );
    return new LedgerBackend({
      path: resolve(options.db),
      unstakeCooldownS: config.stake.unstakeCooldownS,
      challengeWindowS: config.challengeWindowS,
    });
  }
  const { rpcUrl, contract } = config.escrow;
  if (options.escrowKey === undefined) {
    throw new CliError(
      `${options.clusterConfig} settles on the escrow contract ${contract} at ${rpcUrl}: pass --escrow-key FILE, the key of the contract's owner (mode 0600)`,
      2,
    );
  }
  let key: KeyPair;
  try {
    key = readKeyFile(options.escrowKey);
  } catch (error) {
    if (error instanceof KeyFileError) throw new CliError(`--escrow-key: ${error.message}`);
    throw error;
  }
  // viem is most of a CLI start: loaded only by the commands that reach a chain.
  const { openEvmBackend } = await import('../../escrow/evm-backend.ts');
  let escrow;
  try {
    escrow = await openEvmBackend({ rpcUrl, address: contract as Address, ownerKey: `0x${bytesToHex(key.secretKey)}` });
  } catch (error) {
    throw new CliError(`escrow in ${options.clusterConfig}: ${(error as Error).message}`);
  }
  const mismatch = await escrowMismatch(escrow, config, key, options);
  if (mismatch !== undefined) {
    await escrow.close();
    throw new CliError(mismatch);
  }
  return escrow;
}

/** Why this contract cannot serve this registry, if it cannot: another owner, or other durations than the config's. */
async function escrowMismatch(
  escrow: EvmBackend,
  config: ClusterConfig,
  key: KeyPair,
  options: RegistryOptions,
): Promise<string | undefined> {
  const contract = config.escrow!.contract;
  if (escrow.treasury.toLowerCase() !== key.address) {
    return `--escrow-key ${options.escrowKey} is the key of ${key.address}, but the escrow ${contract} is owned by ${escrow.treasury.toLowerCase()}: pass the owner's key`;
  }
  // The contract fixes both durations when it is deployed; a config that says otherwise would mislead operators.
  const { challengeWindowS, unstakeCooldownS } = await escrow.durations();
  if (challengeWindowS !== config.challengeWindowS || unstakeCooldownS !== config.stake.unstakeCooldownS) {
    return (
      `the escrow ${contract} was deployed with a challenge window of ${challengeWindowS} s and an unstaking cooldown of ${unstakeCooldownS} s, ` +
      `but ${options.clusterConfig} says ${config.challengeWindowS} s and ${config.stake.unstakeCooldownS} s: make challengeWindowS and stake.unstakeCooldownS match the contract`
    );
  }
  return undefined;
}
