import { existsSync } from 'node:fs';
import { status, type ServiceError } from '@grpc/grpc-js';
import { bytesToHex } from '@noble/hashes/utils.js';
import type { Address } from 'viem';
import { KeyFileError, readKeyFile, type KeyPair } from '../../crypto/keys.ts';
import { RegistryClient, type Account } from '../../registry/registry-client.ts';
import { EscrowError, type SettlementBackend } from '../../registry/settlement-backend.ts';
import { CliError } from '../cli-error.ts';
import { registriesOf } from '../registry-option.ts';
import { defaultKeyPaths } from './node.ts';
import type { KeyOptions } from './stake.ts';

/** What one operator action does, on the registry's ledger or, with the escrow contract, on chain. */
interface ActionSpec {
  readonly viaRegistry: (client: RegistryClient, key: KeyPair) => Promise<string>;
  readonly onChain: (escrow: SettlementBackend, key: KeyPair) => Promise<string>;
}

export async function stakeCommand(options: KeyOptions & { amount: bigint }): Promise<void> {
  await act(options, {
    viaRegistry: async (client, key) =>
      `staked ${options.amount} on the registry's ledger; the stake of ${key.address} is now ${await client.stake(key, options.amount)}`,
    onChain: async (escrow, key) => {
      await escrow.stake(key.address, options.amount);
      return `staked ${options.amount} in the escrow contract; the stake of ${key.address} is now ${(await escrow.stakeOf(key.address)).amount}`;
    },
  });
}

const untilLine = (key: KeyPair, untilMs: number) =>
  `${key.address} is unstaking: it gets no new work from now, and may withdraw its stake from ${new Date(untilMs).toISOString()} (tessera withdraw)`;

export async function unstakeCommand(options: KeyOptions): Promise<void> {
  await act(options, {
    viaRegistry: async (client, key) => untilLine(key, await client.requestUnstake(key)),
    onChain: async (escrow, key) => untilLine(key, await escrow.requestUnstake(key.address)),
  });
}

export async function withdrawCommand(options: KeyOptions): Promise<void> {
  await act(options, {
    viaRegistry: async (client, key) => `withdrew ${await client.withdrawStake(key)} (the stake of ${key.address})`,
    onChain: async (escrow, key) => `withdrew ${await escrow.withdrawStake(key.address)} (the stake of ${key.address})`,
  });
}

export async function claimCommand(options: KeyOptions): Promise<void> {
  await act(options, {
    viaRegistry: async (client, key) => `claimed ${await client.claim(key)} for ${key.address}`,
    onChain: async (escrow, key) => `claimed ${await escrow.claim(key.address)} for ${key.address}`,
  });
}

export async function accountCommand(
  address: string | undefined,
  options: KeyOptions & { json: boolean },
): Promise<void> {
  if (address !== undefined && options.key !== undefined) throw new CliError('give an ADDRESS or --key, not both', 2);
  if (address !== undefined && !/^0x[0-9a-fA-F]{40}$/.test(address))
    throw new CliError(`ADDRESS must be 0x and 40 hex digits (a node id), got "${address}"`, 2);
  const registry = registriesOf(options)[0]!;
  const client = new RegistryClient(registry);
  try {
    const account = await fromRegistry(registry, () => client.account(address ?? operatorKey(options).address));
    process.stdout.write(
      options.json ? `${JSON.stringify(accountJson(account), null, 2)}\n` : accountText(account, registry),
    );
  } finally {
    client.close();
  }
}

/** --key, else the key `tessera node` uses by default; never a new one (it would hold nothing). */
function operatorKey(options: KeyOptions): KeyPair {
  const path = options.key ?? defaultKeyPaths(undefined).find((p) => existsSync(p));
  if (path === undefined)
    throw new CliError(
      `no --key given and no key at ${defaultKeyPaths(undefined).join(' or ')}: pass --key FILE, the node's key`,
      2,
    );
  try {
    return readKeyFile(path);
  } catch (error) {
    if (error instanceof KeyFileError) throw new CliError(error.message);
    throw error;
  }
}

/**
 * Asks the registry where the cluster settles, then acts: on its ledger through the registry, or on
 * the escrow contract with transactions this process signs with the node's own key (the node's
 * secp256k1 key is its Ethereum account; the registry never holds it).
 */
async function act(options: KeyOptions, spec: ActionSpec): Promise<void> {
  const key = operatorKey(options);
  const registry = registriesOf(options)[0]!;
  const client = new RegistryClient(registry, { deadlineMs: 30_000 });
  try {
    const { escrow } = await fromRegistry(registry, () => client.account(key.address));
    if (escrow.backend === 'ledger') {
      process.stdout.write(`${await fromRegistry(registry, () => spec.viaRegistry(client, key))}\n`);
      return;
    }
    // viem is most of a CLI start: loaded only by the commands that reach a chain.
    const { openEvmBackend } = await import('../../escrow/evm-backend.ts');
    const { BaseError } = await import('viem');
    let backend;
    try {
      backend = await openEvmBackend({
        rpcUrl: escrow.rpcUrl,
        address: escrow.contract as Address,
        partyKeys: [`0x${bytesToHex(key.secretKey)}`],
      });
    } catch (error) {
      throw new CliError(`the escrow registry ${registry} names: ${(error as Error).message}`);
    }
    try {
      process.stdout.write(`${await spec.onChain(backend, key)}\n`);
    } catch (error) {
      if (error instanceof EscrowError) throw new CliError(error.message);
      if (error instanceof BaseError)
        throw new CliError(`escrow ${escrow.contract} on ${escrow.rpcUrl}: ${error.shortMessage}`);
      throw error;
    } finally {
      await backend.close();
    }
  } finally {
    client.close();
  }
}

/** A registry's refusal becomes exit 1 with its message. */
async function fromRegistry<T>(registry: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    const e = error as ServiceError;
    if (typeof e.code !== 'number') throw error;
    if (e.code === status.UNAVAILABLE || e.code === status.DEADLINE_EXCEEDED) {
      throw new CliError(
        `no registry answers at ${registry} (${e.details}); start a network with \`tessera up\`, or pass --registry HOST:PORT`,
        1,
        { kind: 'unavailable' },
      );
    }
    throw new CliError(`registry ${registry}: ${status[e.code]}: ${e.details}`);
  }
}

function accountJson(a: Account) {
  return {
    address: a.address,
    stake: String(a.stake),
    unstakingUntil: a.unstakingUntilMs === undefined ? null : new Date(a.unstakingUntilMs).toISOString(),
    claimable: String(a.claimable),
    deposited: String(a.deposited),
    balance: String(a.balance),
    escrow: a.escrow,
  };
}

function accountText(a: Account, registry: string): string {
  const unstaking =
    a.unstakingUntilMs === undefined
      ? ''
      : ` (unstaking: no new work; withdrawable from ${new Date(a.unstakingUntilMs).toISOString()})`;
  const escrow =
    a.escrow.backend === 'ledger'
      ? `the ledger of registry ${registry}`
      : `contract ${a.escrow.contract} on ${a.escrow.rpcUrl}`;
  return (
    [
      `address    ${a.address}`,
      `stake      ${a.stake}${unstaking}`,
      `claimable  ${a.claimable}`,
      `deposited  ${a.deposited} (spendable ${a.balance})`,
      `escrow     ${escrow}`,
    ].join('\n') + '\n'
  );
}
