import { readFileSync } from 'node:fs';
import {
  BaseError,
  ContractFunctionRevertedError,
  createPublicClient,
  createWalletClient,
  defineChain,
  getAddress,
  http,
  parseEventLogs,
} from 'viem';
import type { Abi, Address, Chain, Hex, PublicClient, TransactionReceipt, WalletClient } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import type { PrivateKeyAccount } from 'viem/accounts';
import { packagePath } from '../core/package-root.ts';
import {
  checkAmount,
  checkFraction,
  checkHash32,
  DEFAULT_CHALLENGE_WINDOW_S,
  DEFAULT_UNSTAKE_COOLDOWN_S,
  EscrowError,
  ESCROW_ERROR_CODES,
} from '../registry/settlement-backend.ts';
import type {
  Debit,
  EscrowErrorCode,
  Hash32,
  SettlementBackend,
  SettlementPost,
  SettlementState,
  SettlementStatus,
  StakeInfo,
} from '../registry/settlement-backend.ts';

interface Artifact {
  readonly abi: Abi;
  readonly bytecode: Hex;
}

/** Built by `npm run contracts` from contracts/TesseraEscrow.sol; a test keeps the two in step. */
export const escrowArtifact = JSON.parse(
  readFileSync(packagePath('src', 'escrow', 'contracts', 'TesseraEscrow.json'), 'utf8'),
) as Artifact;

const abi = escrowArtifact.abi;
const STATUS: readonly (SettlementStatus | 'none')[] = ['none', 'posted', 'challenged', 'finalized'];

export interface EvmConnectionOptions {
  readonly rpcUrl: string;
  /** How often to poll for receipts; a local node mines at once, a public chain every few seconds. */
  readonly pollingIntervalMs?: number;
}

export interface DeployEscrowOptions extends EvmConnectionOptions {
  /** Deploys the contract and becomes its owner: the registry's poster and treasury. */
  readonly ownerKey: Hex;
  readonly challenger: Address;
  readonly challengeWindowS?: number;
  readonly unstakeCooldownS?: number;
}

export interface EvmBackendOptions extends EvmConnectionOptions {
  readonly address: Address;
  /**
   * The key that posts, finalizes and slashes: the contract's owner, the registry. Without it the
   * backend acts only for `partyKeys`, as an operator's CLI does.
   */
  readonly ownerKey?: Hex;
  /** The verifier's key, to challenge; without it the owner key challenges (the contract allows both). */
  readonly challengerKey?: Hex;
  /** Keys of the clients and nodes this process deposits, stakes and claims for. */
  readonly partyKeys?: readonly Hex[];
}

interface Connection {
  readonly chain: Chain;
  readonly publicClient: PublicClient;
  readonly walletClient: WalletClient;
}

async function connect(options: EvmConnectionOptions): Promise<Connection> {
  const pollingInterval = options.pollingIntervalMs ?? 1_000;
  const probe = createPublicClient({ transport: http(options.rpcUrl, { retryCount: 0 }) });
  let id: number;
  try {
    id = await probe.getChainId();
  } catch (error) {
    throw new Error(`no EVM node answers at ${options.rpcUrl}: ${shortMessage(error)}`);
  }
  const chain = defineChain({
    id,
    name: `chain ${id}`,
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [options.rpcUrl] } },
  });
  return {
    chain,
    publicClient: createPublicClient({ chain, transport: http(options.rpcUrl), pollingInterval }),
    walletClient: createWalletClient({ chain, transport: http(options.rpcUrl), pollingInterval }),
  };
}

/** Deploys TesseraEscrow; returns its address once the deployment is mined. */
export async function deployEscrow(options: DeployEscrowOptions): Promise<Address> {
  const { chain, publicClient, walletClient } = await connect(options);
  const hash = await walletClient.deployContract({
    abi,
    bytecode: escrowArtifact.bytecode,
    account: privateKeyToAccount(options.ownerKey),
    chain,
    args: [
      BigInt(options.challengeWindowS ?? DEFAULT_CHALLENGE_WINDOW_S),
      BigInt(options.unstakeCooldownS ?? DEFAULT_UNSTAKE_COOLDOWN_S),
      getAddress(options.challenger),
    ],
  });
  const receipt = await publicClient.waitForTransactionReceipt({ hash });
  if (receipt.status !== 'success' || !receipt.contractAddress) throw new Error(`escrow deployment ${hash} failed`);
  return receipt.contractAddress;
}

/**
 * Connects to a deployed TesseraEscrow. Refuses, each with its own message, an RPC URL where no EVM
 * node answers, an address that holds no contract, and a contract without the escrow's owner().
 * The backend's `treasury` is that owner: compare it with the ownerKey's address to know the key
 * may post (the contract refuses anyone else with NotOwner).
 */
export async function openEvmBackend(options: EvmBackendOptions): Promise<EvmBackend> {
  const connection = await connect(options);
  const address = getAddress(options.address);
  const where = `${address} on ${options.rpcUrl} (chain ${connection.chain.id})`;
  const code = await connection.publicClient.getCode({ address });
  if (code === undefined || code === '0x')
    throw new Error(`no contract at ${where}: deploy TesseraEscrow there, or name the address it was deployed at`);
  let owner: Address;
  try {
    owner = (await connection.publicClient.readContract({ address, abi, functionName: 'owner', args: [] })) as Address;
  } catch (error) {
    throw new Error(`the contract at ${where} is not a TesseraEscrow: owner() cannot be read (${shortMessage(error)})`);
  }
  return new EvmBackend(options, connection, owner);
}

/**
 * The settlement interface over a deployed TesseraEscrow. Every write is simulated first, so a
 * refusal surfaces as the contract's custom error (an EscrowError) without spending gas, then sent
 * and awaited until mined. Writes go one at a time: concurrent sends from one key would race for
 * its nonce.
 */
export class EvmBackend implements SettlementBackend {
  readonly kind = 'evm';
  /** The contract's owner, as it reports. */
  readonly treasury: Address;
  readonly address: Address;
  readonly #conn: Connection;
  readonly #owner: PrivateKeyAccount | undefined;
  readonly #challenger: PrivateKeyAccount | undefined;
  readonly #signers = new Map<Address, PrivateKeyAccount>();
  #queue: Promise<unknown> = Promise.resolve();

  /** Use openEvmBackend, which checks the contract and reads its `owner`. */
  constructor(options: EvmBackendOptions, connection: Connection, owner: Address) {
    this.address = getAddress(options.address);
    this.#conn = connection;
    this.#owner = options.ownerKey === undefined ? undefined : privateKeyToAccount(options.ownerKey);
    this.#challenger = options.challengerKey === undefined ? undefined : privateKeyToAccount(options.challengerKey);
    this.treasury = owner;
    const keys = [options.ownerKey, options.challengerKey, ...(options.partyKeys ?? [])].filter(
      (key) => key !== undefined,
    );
    for (const key of keys) {
      const account = privateKeyToAccount(key);
      this.#signers.set(account.address, account);
    }
  }

  async deposit(client: string, amount: bigint): Promise<void> {
    await this.#send(this.#signer(client), 'deposit', [], checkAmount(amount, 'deposit'));
  }

  async deposited(client: string): Promise<bigint> {
    return (await this.#read('deposited', [getAddress(client)])) as bigint;
  }

  async balanceOf(client: string): Promise<bigint> {
    return (await this.#read('balance', [getAddress(client)])) as bigint;
  }

  async stake(node: string, amount: bigint): Promise<void> {
    await this.#send(this.#signer(node), 'stake', [], checkAmount(amount, 'stake'));
  }

  async stakeFromEarnings(node: string, amount: bigint): Promise<void> {
    await this.#send(this.#signer(node), 'stakeFromEarnings', [checkAmount(amount, 'stake')]);
  }

  async requestUnstake(node: string): Promise<number> {
    const receipt = await this.#send(this.#signer(node), 'requestUnstake', []);
    return ms(this.#event(receipt, 'UnstakeRequested').until as bigint);
  }

  async withdrawStake(node: string): Promise<bigint> {
    const receipt = await this.#send(this.#signer(node), 'withdrawStake', []);
    return this.#event(receipt, 'StakeWithdrawn').amount as bigint;
  }

  /** The challenge window and unstaking cooldown the contract was deployed with. */
  async durations(): Promise<{ challengeWindowS: number; unstakeCooldownS: number }> {
    const [challengeWindow, unstakeCooldown] = await Promise.all([
      this.#read('challengeWindow', []),
      this.#read('unstakeCooldown', []),
    ]);
    return { challengeWindowS: Number(challengeWindow as bigint), unstakeCooldownS: Number(unstakeCooldown as bigint) };
  }

  async stakeOf(node: string): Promise<StakeInfo> {
    const [amount, until] = (await this.#read('stakes', [getAddress(node)])) as readonly [bigint, bigint];
    return until === 0n ? { amount } : { amount, unstakingUntilMs: ms(until) };
  }

  async postSettlement(post: SettlementPost): Promise<number> {
    const hash = checkHash32(post.hash, 'settlement hash');
    const nodes = post.payouts.map((p) => getAddress(p.node));
    const amounts = post.payouts.map((p) => checkAmount(p.amount, 'payout'));
    const clients = post.debits.map((d) => getAddress(d.client));
    const debits = post.debits.map((d) => checkAmount(d.amount, 'debit'));
    const receipt = await this.#send(this.#ownerAccount(), 'postSettlement', [hash, nodes, amounts, clients, debits]);
    return ms(this.#event(receipt, 'SettlementPosted').challengeEndsAt as bigint);
  }

  async challenge(hash: Hash32, reason: string): Promise<void> {
    const account = this.#challenger ?? this.#owner;
    if (account === undefined)
      throw new Error('this escrow client has no challenger or owner key: pass challengerKey or ownerKey');
    await this.#send(account, 'challenge', [checkHash32(hash, 'settlement hash'), reason]);
  }

  async finalize(hash: Hash32): Promise<void> {
    await this.#send(this.#ownerAccount(), 'finalizeSettlement', [checkHash32(hash, 'settlement hash')]);
  }

  async settlementState(hash: Hash32): Promise<SettlementState> {
    const key = checkHash32(hash, 'settlement hash');
    const [[status, postedAt, endsAt, total, nodes, amounts], [clients, debits]] = (await Promise.all([
      this.#read('settlement', [key]),
      this.#read('settlementDebits', [key]),
    ])) as [
      readonly [number, bigint, bigint, bigint, readonly Address[], readonly bigint[]],
      readonly [readonly Address[], readonly bigint[]],
    ];
    const name = STATUS[status];
    if (name === undefined) throw new Error(`escrow ${this.address} reports unknown settlement status ${status}`);
    if (name === 'none') return { status: 'none' };
    return {
      status: name,
      postedAtMs: ms(postedAt),
      challengeEndsAtMs: ms(endsAt),
      total,
      payouts: nodes.map((node, i) => ({ node, amount: amounts[i] as bigint })),
      debits: clients.map((client, i): Debit => ({ client, amount: debits[i] as bigint })),
    };
  }

  async claimable(party: string): Promise<bigint> {
    return (await this.#read('claimable', [getAddress(party)])) as bigint;
  }

  async claim(party: string): Promise<bigint> {
    const receipt = await this.#send(this.#signer(party), 'claim', []);
    return this.#event(receipt, 'Claimed').amount as bigint;
  }

  async slash(node: string, fractionBps: number, evidenceHash: Hash32): Promise<bigint> {
    const args = [getAddress(node), checkFraction(fractionBps), checkHash32(evidenceHash, 'evidence hash')];
    const receipt = await this.#send(this.#ownerAccount(), 'slash', args);
    return this.#event(receipt, 'Slashed').amount as bigint;
  }

  async close(): Promise<void> {
    await this.#queue.catch(() => undefined);
  }

  #ownerAccount(): PrivateKeyAccount {
    if (this.#owner === undefined)
      throw new Error(`this escrow client has no owner key: only ${this.treasury} may post, finalize and slash`);
    return this.#owner;
  }

  #signer(party: string): PrivateKeyAccount {
    const account = this.#signers.get(getAddress(party));
    if (account === undefined) throw new Error(`no key for ${party}: pass it in partyKeys`);
    return account;
  }

  async #read(functionName: string, args: readonly unknown[]): Promise<unknown> {
    return this.#conn.publicClient.readContract({ address: this.address, abi, functionName, args });
  }

  #send(
    account: PrivateKeyAccount,
    functionName: string,
    args: readonly unknown[],
    value?: bigint,
  ): Promise<TransactionReceipt> {
    const { publicClient, walletClient, chain } = this.#conn;
    const run = async (): Promise<TransactionReceipt> => {
      try {
        const { request } = await publicClient.simulateContract({
          address: this.address,
          abi,
          functionName,
          args,
          account,
          chain,
          value,
        });
        const hash = await walletClient.writeContract(request);
        const receipt = await publicClient.waitForTransactionReceipt({ hash });
        if (receipt.status !== 'success')
          throw new Error(`${functionName} transaction ${hash} reverted on-chain after a clean simulation`);
        return receipt;
      } catch (error) {
        throw this.#escrowError(error, functionName) ?? error;
      }
    };
    const result = this.#queue.then(run, run);
    this.#queue = result.catch(() => undefined);
    return result;
  }

  #escrowError(error: unknown, functionName: string): EscrowError | undefined {
    if (!(error instanceof BaseError)) return undefined;
    const revert = error.walk((e) => e instanceof ContractFunctionRevertedError);
    if (!(revert instanceof ContractFunctionRevertedError) || revert.data === undefined) return undefined;
    const name = revert.data.errorName;
    if (!isEscrowErrorCode(name)) return undefined;
    const args = (revert.data.args ?? []).map(String).join(', ');
    // The contract's instants are chain seconds; say when, as the ledger does.
    const until =
      name === 'CooldownActive'
        ? `: may withdraw from ${new Date(ms(revert.data.args?.[1] as bigint)).toISOString()}`
        : '';
    return new EscrowError(name, `escrow ${this.address} refused ${functionName}: ${name}(${args})${until}`);
  }

  #event(receipt: TransactionReceipt, eventName: string): Record<string, unknown> {
    const [log] = parseEventLogs({ abi, logs: receipt.logs, eventName });
    if (log === undefined) throw new Error(`transaction ${receipt.transactionHash} emitted no ${eventName}`);
    return log.args as Record<string, unknown>;
  }
}

function shortMessage(error: unknown): string {
  return error instanceof BaseError ? error.shortMessage : (error as Error).message;
}

function isEscrowErrorCode(name: string): name is EscrowErrorCode {
  return (ESCROW_ERROR_CODES as readonly string[]).includes(name);
}

function ms(chainSeconds: bigint): number {
  return Number(chainSeconds) * 1000;
}
