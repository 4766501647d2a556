/**
 * The one interface over both settlement back ends: the registry's SQLite ledger (the default) and
 * the TesseraEscrow contract on an EVM chain (both in src/escrow, which implements what the registry
 * declares here: the registry sits above escrow in docs/ARCHITECTURE.md §11). Both follow the
 * contract's rules, and both refuse with an EscrowError whose code is the contract's custom error
 * name, so callers handle one set of codes.
 *
 * Amounts are bigint in the smallest unit (wei on a chain). Durations are configured in seconds,
 * the granularity of a block timestamp; points in time come back as unix milliseconds.
 */

/** A 32-byte hash as 0x-prefixed hex: a settlement hash or a fraud proof's evidence hash. */
export type Hash32 = `0x${string}`;

export const DEFAULT_CHALLENGE_WINDOW_S = 60;
export const DEFAULT_UNSTAKE_COOLDOWN_S = 7 * 24 * 60 * 60;
export const BPS = 10_000;

export interface Payout {
  readonly node: string;
  readonly amount: bigint;
}

/** What one client pays into a settlement, from its own deposit. */
export interface Debit {
  readonly client: string;
  readonly amount: bigint;
}

/**
 * A window's settlement: each node's payout, and which client's deposit pays how much of it. The
 * two sums are equal, so no settlement pays a node from a pool shared with strangers.
 */
export interface SettlementPost {
  readonly hash: Hash32;
  readonly payouts: readonly Payout[];
  readonly debits: readonly Debit[];
}

export type SettlementStatus = 'posted' | 'challenged' | 'finalized';

export type SettlementState =
  | { readonly status: 'none' }
  | {
      readonly status: SettlementStatus;
      readonly postedAtMs: number;
      /** Challenges are accepted before this instant, finalization from it on. */
      readonly challengeEndsAtMs: number;
      readonly total: bigint;
      readonly payouts: readonly Payout[];
      readonly debits: readonly Debit[];
    };

export interface StakeInfo {
  readonly amount: bigint;
  /** Present while the node is unstaking: it gets no new work and may withdraw from this instant. */
  readonly unstakingUntilMs?: number;
}

/** What an operator grant credits (src/registry/grant.ts); at least one of the two, each positive. */
export interface GrantAmounts {
  readonly stake?: bigint;
  readonly deposit?: bigint;
}

export interface SettlementBackend {
  readonly kind: 'ledger' | 'evm';
  /** Who receives slashed stake (claimable like any payout). */
  readonly treasury: string;

  /**
   * On the contract a real transfer from the client's account; the ledger holds no one's money, so
   * its deposits arrive only through grant() (no RPC reaches this method on the ledger).
   */
  deposit(client: string, amount: bigint): Promise<void>;
  /** Everything the client has ever deposited. */
  deposited(client: string): Promise<bigint>;
  /**
   * What the client may still be debited: its deposits less the debits of its settlements that are
   * posted (reserved) or finalized (spent). A challenge gives a settlement's debits back.
   */
  balanceOf(client: string): Promise<bigint>;

  /**
   * Bonds stake from the node's own money: on the contract the value sent from its account; on the
   * ledger its claimable earnings, refused InsufficientFunds when it holds less (nothing changes).
   */
  stake(node: string, amount: bigint): Promise<void>;
  /** Moves `amount` of the node's claimable earnings into its stake; InsufficientFunds when it holds less. */
  stakeFromEarnings(node: string, amount: bigint): Promise<void>;
  /** Starts the cooldown; returns the instant (unix ms) the stake may be withdrawn. */
  requestUnstake(node: string): Promise<number>;
  /** Pays the whole remaining stake back once the cooldown is over; returns the amount. */
  withdrawStake(node: string): Promise<bigint>;
  stakeOf(node: string): Promise<StakeInfo>;

  /**
   * Reserves each debit from its client's balance and opens the settlement's challenge window;
   * returns when it ends (unix ms). Refused, changing nothing: UnbalancedSettlement when the payouts
   * and the debits differ in sum, InsufficientDeposits (naming the client) when a client's balance
   * is short.
   */
  postSettlement(post: SettlementPost): Promise<number>;
  /** Gives the reserved debits back to their clients; the settlement never pays. */
  challenge(hash: Hash32, reason: string): Promise<void>;
  /** Credits the payouts from the reserved debits once the window has passed without a challenge. */
  finalize(hash: Hash32): Promise<void>;
  settlementState(hash: Hash32): Promise<SettlementState>;

  claimable(party: string): Promise<bigint>;
  /** Pays out everything claimable; returns the amount. */
  claim(party: string): Promise<bigint>;

  /** Moves fractionBps / 10000 of the node's stake to the treasury; returns the amount. */
  slash(node: string, fractionBps: number, evidenceHash: Hash32): Promise<bigint>;

  close(): Promise<void>;
}

/** The contract's custom errors, which both back ends raise under the same names. */
export const ESCROW_ERROR_CODES = [
  'NotOwner',
  'NotChallenger',
  'ZeroAmount',
  'ZeroAddress',
  'NoStake',
  'AlreadyUnstaking',
  'NotUnstaking',
  'CooldownActive',
  'EmptySettlement',
  'LengthMismatch',
  'SettlementExists',
  'UnknownSettlement',
  'AlreadyChallenged',
  'AlreadyFinalized',
  'ChallengeWindowOpen',
  'ChallengeWindowClosed',
  'InsufficientDeposits',
  'UnbalancedSettlement',
  'InsufficientFunds',
  'NothingToClaim',
  'InvalidFraction',
  'EvidenceAlreadyUsed',
  'TransferFailed',
] as const;

export type EscrowErrorCode = (typeof ESCROW_ERROR_CODES)[number];

export class EscrowError extends Error {
  readonly code: EscrowErrorCode;

  constructor(code: EscrowErrorCode, detail: string) {
    super(`${code}: ${detail}`);
    this.name = 'EscrowError';
    this.code = code;
  }
}

const HASH32 = /^0x[0-9a-fA-F]{64}$/;

/**
 * The ledger's way in for value (issue 14): a grant the registry checked was signed by one of the
 * cluster's operator keys. `evidence` is the signed grant's hash, which credits once.
 */
export interface GrantLedger {
  grant(to: string, amounts: GrantAmounts, evidence: Hash32): Promise<void>;
}

/** Lower-cased, so the same hash is one key in both back ends. */
export function checkHash32(value: string, what: string): Hash32 {
  if (!HASH32.test(value))
    throw new TypeError(`${what} must be 32 bytes as 0x-prefixed hex, got ${JSON.stringify(value)}`);
  return value.toLowerCase() as Hash32;
}

/** Negative amounts are a caller's bug, not a rule of the escrow (which refuses zero itself). */
export function checkAmount(amount: bigint, what: string): bigint {
  if (amount < 0n) throw new RangeError(`${what} must not be negative, got ${amount}`);
  return amount;
}

/** Checked before reaching either back end, so a fraction the contract's uint16 cannot hold fails alike. */
export function checkFraction(fractionBps: number): number {
  if (!Number.isInteger(fractionBps) || fractionBps <= 0 || fractionBps > BPS) {
    throw new EscrowError('InvalidFraction', `fraction ${fractionBps} bps is not an integer in 1..${BPS}`);
  }
  return fractionBps;
}
