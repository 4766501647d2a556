import type { StakeInfo } from './settlement-backend.ts';
import type { ClusterConfig } from './cluster-config.ts';

/** Where the registry reads bonds: a SettlementBackend (the ledger by default, or the escrow contract). */
export interface StakeReader {
  stakeOf(node: string): Promise<StakeInfo>;
}

type Role = keyof ClusterConfig['stake']['minimum'];

/** Why a member may not hold its membership (undefined: it may), and the stake read to decide it. */
export interface StakeStanding {
  readonly refusal?: string;
  readonly stake?: StakeInfo;
}

/**
 * Admission by bond (docs/ARCHITECTURE.md §8): a member gets new work only while its stake is at least
 * its role's minimum and it is not unstaking. Slashing lowers the stake, so a slashed node drops out
 * as soon as it falls below the minimum.
 */
export class StakeGate {
  constructor(
    private readonly stakes: StakeReader,
    private readonly minimum: ClusterConfig['stake']['minimum'],
  ) {}

  /** Why `nodeId` may not get new work, or undefined when it may. */
  async refusal(nodeId: string, role: Role): Promise<string | undefined> {
    const stake = await this.stakes.stakeOf(nodeId);
    if (stake.unstakingUntilMs !== undefined)
      return `${nodeId} is unstaking (withdrawable from ${new Date(stake.unstakingUntilMs).toISOString()})`;
    const minimum = this.minimum[role];
    if (stake.amount < minimum) return `${nodeId} has stake ${stake.amount}, below the ${role} minimum ${minimum}`;
    return undefined;
  }

  /**
   * Why `nodeId`'s bond is below its role's minimum (Register and Heartbeat check it), or undefined.
   * Unstaking does not count here: an unstaking member stays registered, it only gets no new work.
   */
  async belowMinimum(nodeId: string, role: Role): Promise<string | undefined> {
    return (await this.standing(nodeId, role)).refusal;
  }

  /**
   * belowMinimum, with the stake it read (none when the role's minimum is 0): a caller that needs the
   * stake too (a heartbeat's reply says when its cooldown ends) uses it rather than reading it again,
   * which on the EVM back end is another round trip to the chain.
   */
  async standing(nodeId: string, role: Role): Promise<StakeStanding> {
    const minimum = this.minimum[role];
    if (minimum === 0n) return {};
    const stake = await this.stakes.stakeOf(nodeId);
    if (stake.amount >= minimum) return { stake };
    return {
      stake,
      refusal: `${role} ${nodeId} has stake ${stake.amount}, below the ${role} minimum ${minimum} (bond ${minimum - stake.amount} more: \`tessera stake\` from its earnings or its account, or a grant from the cluster's operator)`,
    };
  }

  /** The members eligible for new work, in their order. */
  async eligible<T extends { readonly nodeId: string }>(members: readonly T[], role: Role): Promise<T[]> {
    const refusals = await Promise.all(members.map((m) => this.refusal(m.nodeId, role)));
    return members.filter((_, i) => refusals[i] === undefined);
  }
}
