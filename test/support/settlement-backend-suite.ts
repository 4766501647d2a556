/**
 * The behaviour every settlement back end must show, run against each (the ledger in
 * ledger-backend.test.ts, the contract on anvil in test/escrow/evm.test.ts) so they cannot diverge.
 * Each test gets a fresh back end with the default challenge window (60 s) and cooldown (7 days).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  BPS,
  DEFAULT_CHALLENGE_WINDOW_S,
  DEFAULT_UNSTAKE_COOLDOWN_S,
  EscrowError,
} from '../../src/registry/settlement-backend.ts';
import type { EscrowErrorCode, Hash32, SettlementBackend } from '../../src/registry/settlement-backend.ts';

export interface BackendHarness {
  readonly backend: SettlementBackend;
  /** At least two parties that can deposit. */
  readonly clients: readonly string[];
  /** At least three parties that can stake and claim. */
  readonly nodes: readonly string[];
  /**
   * Bonds stake the way the back end lets value in: a transfer from the node's account on the
   * contract, an operator's grant on the ledger.
   */
  bond(node: string, amount: bigint): Promise<void>;
  /** Moves the back end's clock forward. */
  advance(seconds: number): Promise<void>;
  close(): Promise<void>;
}

const ETH = 10n ** 18n;
const DAY_S = 24 * 60 * 60;

function hash(n: number): Hash32 {
  return `0x${n.toString(16).padStart(64, '0')}`;
}

async function refuses(work: Promise<unknown>, code: EscrowErrorCode, naming?: string): Promise<void> {
  await assert.rejects(work, (error: unknown) => {
    assert.ok(error instanceof EscrowError, `expected an EscrowError ${code}, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    // The contract names addresses checksummed, the ledger as given.
    if (naming !== undefined) assert.ok(error.message.toLowerCase().includes(naming.toLowerCase()), error.message);
    return true;
  });
}

export function settlementBackendSuite(name: string, open: () => Promise<BackendHarness>): void {
  const withBackend = (title: string, body: (h: BackendHarness) => Promise<void>): void => {
    test(title, async () => {
      const harness = await open();
      try {
        await body(harness);
      } finally {
        await harness.close();
      }
    });
  };

  describe(`settlement back end: ${name}`, () => {
    withBackend(
      'each client pays its own debits, in exactly the posted amounts, after the challenge window',
      async (h) => {
        const { backend: b } = h;
        const [c1, c2] = h.clients as [string, string];
        const [n1, n2, n3] = h.nodes as [string, string, string];
        // 10 ETH in wei: past SQLite's 64-bit integers, so the ledger must not lose precision.
        await b.deposit(c1, 6n * ETH);
        await b.deposit(c2, 3n * ETH);
        await b.deposit(c2, ETH);
        assert.equal(await b.balanceOf(c1), 6n * ETH);
        assert.equal(await b.balanceOf(c2), 4n * ETH);
        assert.equal(await b.deposited(c1), 6n * ETH);
        assert.equal(await b.deposited(c2), 4n * ETH);

        const payouts = [
          { node: n1, amount: 5n * ETH },
          { node: n2, amount: 3n * ETH },
          { node: n3, amount: 2n * ETH },
        ];
        const debits = [
          { client: c1, amount: 6n * ETH },
          { client: c2, amount: 4n * ETH },
        ];
        const endsAt = await b.postSettlement({ hash: hash(1), payouts, debits });
        const posted = await b.settlementState(hash(1));
        assert.ok(posted.status === 'posted', posted.status);
        assert.equal(posted.challengeEndsAtMs, endsAt);
        assert.equal(posted.challengeEndsAtMs - posted.postedAtMs, DEFAULT_CHALLENGE_WINDOW_S * 1000);
        assert.equal(posted.total, 10n * ETH);
        assert.deepEqual(posted.payouts, payouts);
        assert.deepEqual(posted.debits, debits);
        // Reserved at once: nothing the post took can be spent again while its window is open.
        assert.equal(await b.balanceOf(c1), 0n);
        assert.equal(await b.balanceOf(c2), 0n);

        await refuses(b.finalize(hash(1)), 'ChallengeWindowOpen');
        assert.equal((await b.settlementState(hash(1))).status, 'posted');
        assert.equal(await b.claimable(n1), 0n);
        await refuses(b.claim(n1), 'NothingToClaim');

        await h.advance(DEFAULT_CHALLENGE_WINDOW_S + 1);
        await b.finalize(hash(1));
        assert.equal((await b.settlementState(hash(1))).status, 'finalized');
        assert.equal(await b.balanceOf(c1), 0n);
        assert.equal(await b.deposited(c1), 6n * ETH, 'a payout does not rewrite what a client deposited');
        for (const p of payouts) assert.equal(await b.claimable(p.node), p.amount);
        for (const p of payouts) assert.equal(await b.claim(p.node), p.amount);
        for (const p of payouts) assert.equal(await b.claimable(p.node), 0n);
        await refuses(b.claim(n1), 'NothingToClaim');
        await refuses(b.finalize(hash(1)), 'AlreadyFinalized');
        await refuses(b.challenge(hash(1), 'too late'), 'AlreadyFinalized');
      },
    );

    withBackend('a challenged settlement is never finalized, pays nothing and gives its debits back', async (h) => {
      const { backend: b } = h;
      const [c1, c2] = h.clients as [string, string];
      const [n1, n2] = h.nodes as [string, string];
      await b.deposit(c1, 1000n);
      await b.deposit(c2, 500n);
      await b.postSettlement({
        hash: hash(2),
        payouts: [
          { node: n1, amount: 700n },
          { node: n2, amount: 300n },
        ],
        debits: [
          { client: c1, amount: 800n },
          { client: c2, amount: 200n },
        ],
      });
      assert.equal(await b.balanceOf(c1), 200n);
      assert.equal(await b.balanceOf(c2), 300n);
      await b.challenge(hash(2), 'share 17 has no receipt');
      assert.equal((await b.settlementState(hash(2))).status, 'challenged');
      assert.equal(await b.balanceOf(c1), 1000n);
      assert.equal(await b.balanceOf(c2), 500n);
      await refuses(b.challenge(hash(2), 'again'), 'AlreadyChallenged');
      assert.equal(await b.balanceOf(c1), 1000n, 'a second challenge releases nothing twice');

      await h.advance(DEFAULT_CHALLENGE_WINDOW_S + 1);
      await refuses(b.finalize(hash(2)), 'AlreadyChallenged');
      assert.equal((await b.settlementState(hash(2))).status, 'challenged');
      assert.equal(await b.claimable(n1), 0n);
      assert.equal(await b.claimable(n2), 0n);
      assert.equal(await b.balanceOf(c1), 1000n);
    });

    withBackend('a challenge after the window is refused and the settlement still finalizes', async (h) => {
      const { backend: b } = h;
      const n1 = h.nodes[0] as string;
      const c1 = h.clients[0] as string;
      await b.deposit(c1, 50n);
      await b.postSettlement({
        hash: hash(3),
        payouts: [{ node: n1, amount: 50n }],
        debits: [{ client: c1, amount: 50n }],
      });
      await h.advance(DEFAULT_CHALLENGE_WINDOW_S + 1);
      await refuses(b.challenge(hash(3), 'late'), 'ChallengeWindowClosed');
      assert.equal((await b.settlementState(hash(3))).status, 'posted');
      assert.equal(await b.balanceOf(c1), 0n);
      await b.finalize(hash(3));
      assert.equal(await b.claimable(n1), 50n);
    });

    withBackend('a post that overdraws one client is refused, naming it, and changes nothing', async (h) => {
      const { backend: b } = h;
      const [c1, c2] = h.clients as [string, string];
      const [n1, n2] = h.nodes as [string, string];
      await b.deposit(c1, 100n);
      await b.deposit(c2, 10n);
      // c1 could pay all of it; c2's share is its own to pay and it holds too little.
      await refuses(
        b.postSettlement({
          hash: hash(4),
          payouts: [{ node: n1, amount: 60n }],
          debits: [
            { client: c1, amount: 40n },
            { client: c2, amount: 20n },
          ],
        }),
        'InsufficientDeposits',
        c2,
      );
      assert.deepEqual(await b.settlementState(hash(4)), { status: 'none' });
      assert.equal(await b.balanceOf(c1), 100n, 'the debit checked before the refusal is not kept');
      assert.equal(await b.balanceOf(c2), 10n);

      // Debited twice in one post: the second is checked against what the first left.
      await refuses(
        b.postSettlement({
          hash: hash(5),
          payouts: [{ node: n2, amount: 12n }],
          debits: [
            { client: c2, amount: 6n },
            { client: c2, amount: 6n },
          ],
        }),
        'InsufficientDeposits',
        c2,
      );
      assert.equal(await b.balanceOf(c2), 10n);

      // Two settlements cannot both spend the same deposit.
      await b.postSettlement({
        hash: hash(6),
        payouts: [{ node: n1, amount: 70n }],
        debits: [{ client: c1, amount: 70n }],
      });
      await refuses(
        b.postSettlement({
          hash: hash(7),
          payouts: [{ node: n2, amount: 31n }],
          debits: [{ client: c1, amount: 31n }],
        }),
        'InsufficientDeposits',
        c1,
      );
      assert.equal(await b.balanceOf(c1), 30n);
      await b.postSettlement({
        hash: hash(7),
        payouts: [{ node: n2, amount: 30n }],
        debits: [{ client: c1, amount: 30n }],
      });
      assert.equal(await b.balanceOf(c1), 0n);
      await h.advance(DEFAULT_CHALLENGE_WINDOW_S + 1);
      await b.finalize(hash(6));
      await b.finalize(hash(7));
      assert.equal(await b.claimable(n1), 70n);
      assert.equal(await b.claimable(n2), 30n);
      assert.equal(await b.balanceOf(c1), 0n);
    });

    withBackend('payouts and debits that differ in sum are refused', async (h) => {
      const { backend: b } = h;
      const c1 = h.clients[0] as string;
      const n1 = h.nodes[0] as string;
      await b.deposit(c1, 100n);
      await refuses(
        b.postSettlement({ hash: hash(8), payouts: [{ node: n1, amount: 10n }], debits: [{ client: c1, amount: 9n }] }),
        'UnbalancedSettlement',
      );
      await refuses(
        b.postSettlement({ hash: hash(8), payouts: [{ node: n1, amount: 10n }], debits: [] }),
        'UnbalancedSettlement',
      );
      await refuses(
        b.postSettlement({ hash: hash(8), payouts: [{ node: n1, amount: 10n }], debits: [{ client: c1, amount: 0n }] }),
        'ZeroAmount',
      );
      assert.deepEqual(await b.settlementState(hash(8)), { status: 'none' });
      assert.equal(await b.balanceOf(c1), 100n);
    });

    withBackend('malformed, duplicate and unknown settlements are refused without changing state', async (h) => {
      const { backend: b } = h;
      const n1 = h.nodes[0] as string;
      const c1 = h.clients[0] as string;
      await b.deposit(c1, 100n);
      await refuses(b.postSettlement({ hash: hash(6), payouts: [], debits: [] }), 'EmptySettlement');
      await refuses(b.postSettlement({ hash: hash(6), payouts: [{ node: n1, amount: 0n }], debits: [] }), 'ZeroAmount');
      assert.deepEqual(await b.settlementState(hash(6)), { status: 'none' });

      await b.postSettlement({
        hash: hash(6),
        payouts: [{ node: n1, amount: 5n }],
        debits: [{ client: c1, amount: 5n }],
      });
      await refuses(
        b.postSettlement({ hash: hash(6), payouts: [{ node: n1, amount: 9n }], debits: [{ client: c1, amount: 9n }] }),
        'SettlementExists',
      );
      const state = await b.settlementState(hash(6));
      assert.ok(state.status === 'posted');
      assert.deepEqual(state.payouts, [{ node: n1, amount: 5n }]);
      assert.equal(await b.balanceOf(c1), 95n);

      await refuses(b.finalize(hash(7)), 'UnknownSettlement');
      await refuses(b.challenge(hash(7), 'what'), 'UnknownSettlement');
      assert.deepEqual(await b.settlementState(hash(7)), { status: 'none' });
      await assert.rejects(b.finalize('0x1234' as Hash32), TypeError);
    });

    withBackend('zero deposits and stakes are refused', async (h) => {
      const { backend: b } = h;
      await refuses(b.deposit(h.clients[0] as string, 0n), 'ZeroAmount');
      await refuses(b.stake(h.nodes[0] as string, 0n), 'ZeroAmount');
      await refuses(b.stakeFromEarnings(h.nodes[0] as string, 0n), 'ZeroAmount');
      assert.equal(await b.balanceOf(h.clients[0] as string), 0n);
      assert.equal(await b.deposited(h.clients[0] as string), 0n);
      assert.deepEqual(await b.stakeOf(h.nodes[0] as string), { amount: 0n });
    });

    withBackend('earnings bond as stake only up to what the node holds', async (h) => {
      const { backend: b } = h;
      const c1 = h.clients[0] as string;
      const [n1, n2] = h.nodes as [string, string];
      // Nothing earned: an ask as large as a uint256 is refused like any other.
      await refuses(b.stakeFromEarnings(n1, 10n ** 30n), 'InsufficientFunds', n1);
      assert.deepEqual(await b.stakeOf(n1), { amount: 0n });

      await b.deposit(c1, 10n);
      await b.postSettlement({
        hash: hash(9),
        payouts: [{ node: n1, amount: 10n }],
        debits: [{ client: c1, amount: 10n }],
      });
      await h.advance(DEFAULT_CHALLENGE_WINDOW_S + 1);
      await b.finalize(hash(9));
      await b.stakeFromEarnings(n1, 4n);
      assert.deepEqual(await b.stakeOf(n1), { amount: 4n });
      assert.equal(await b.claimable(n1), 6n);
      await refuses(b.stakeFromEarnings(n1, 7n), 'InsufficientFunds', n1);
      await refuses(b.stakeFromEarnings(n2, 1n), 'InsufficientFunds', n2);
      assert.deepEqual(await b.stakeOf(n1), { amount: 4n });
      assert.equal(await b.claimable(n1), 6n);
      await b.stakeFromEarnings(n1, 6n);
      assert.deepEqual(await b.stakeOf(n1), { amount: 10n });
      assert.equal(await b.claimable(n1), 0n);
    });

    withBackend('stake is locked through the unstaking cooldown, then withdrawn whole', async (h) => {
      const { backend: b } = h;
      const [n1, n2] = h.nodes as [string, string];
      await refuses(b.requestUnstake(n1), 'NoStake');
      await refuses(b.withdrawStake(n1), 'NotUnstaking');
      await h.bond(n1, 1000n);
      await h.bond(n1, 500n);
      await h.bond(n2, 7n);
      assert.deepEqual(await b.stakeOf(n1), { amount: 1500n });
      await refuses(b.withdrawStake(n1), 'NotUnstaking');

      const until = await b.requestUnstake(n1);
      assert.deepEqual(await b.stakeOf(n1), { amount: 1500n, unstakingUntilMs: until });
      assert.deepEqual(await b.stakeOf(n2), { amount: 7n });
      await refuses(b.requestUnstake(n1), 'AlreadyUnstaking');
      await refuses(h.bond(n1, 1n), 'AlreadyUnstaking');
      await refuses(b.withdrawStake(n1), 'CooldownActive');

      // Two minutes short of 7 days: still locked (the margin absorbs the chain's block times).
      await h.advance(DEFAULT_UNSTAKE_COOLDOWN_S - 120);
      await refuses(b.withdrawStake(n1), 'CooldownActive');
      assert.deepEqual(await b.stakeOf(n1), { amount: 1500n, unstakingUntilMs: until });

      await h.advance(240);
      assert.equal(await b.withdrawStake(n1), 1500n);
      assert.deepEqual(await b.stakeOf(n1), { amount: 0n });
      await refuses(b.withdrawStake(n1), 'NotUnstaking');
      assert.deepEqual(await b.stakeOf(n2), { amount: 7n });

      // Having left, a node may bond again.
      await h.bond(n1, 3n);
      assert.deepEqual(await b.stakeOf(n1), { amount: 3n });
    });

    withBackend('slashing moves the fraction of stake to the treasury, once per piece of evidence', async (h) => {
      const { backend: b } = h;
      const [n1, n2] = h.nodes as [string, string];
      await h.bond(n1, 10_000n);
      await h.bond(n2, 3n);

      assert.equal(await b.slash(n1, 2500, hash(100)), 2500n);
      assert.deepEqual(await b.stakeOf(n1), { amount: 7500n });
      assert.equal(await b.claimable(b.treasury), 2500n);

      await refuses(b.slash(n1, 2500, hash(100)), 'EvidenceAlreadyUsed');
      for (const bad of [0, BPS + 1, 12.5]) await refuses(b.slash(n1, bad, hash(101)), 'InvalidFraction');
      assert.deepEqual(await b.stakeOf(n1), { amount: 7500n });
      assert.equal(await b.claimable(b.treasury), 2500n);

      // Rounds down: half of 3 is 1.
      assert.equal(await b.slash(n2, 5000, hash(102)), 1n);
      assert.deepEqual(await b.stakeOf(n2), { amount: 2n });

      assert.equal(await b.slash(n1, BPS, hash(103)), 7500n);
      assert.deepEqual(await b.stakeOf(n1), { amount: 0n });
      await refuses(b.slash(n1, 100, hash(104)), 'NoStake');
      assert.equal(await b.claim(b.treasury), 10_001n);
    });

    withBackend('an unstaking node can still be slashed and withdraws only what is left', async (h) => {
      const { backend: b } = h;
      const n1 = h.nodes[0] as string;
      await h.bond(n1, 1000n);
      const until = await b.requestUnstake(n1);
      assert.equal(await b.slash(n1, 1000, hash(200)), 100n);
      assert.deepEqual(await b.stakeOf(n1), { amount: 900n, unstakingUntilMs: until });
      await h.advance(DEFAULT_UNSTAKE_COOLDOWN_S + DAY_S);
      assert.equal(await b.withdrawStake(n1), 900n);
      assert.equal(await b.claimable(b.treasury), 100n);
    });
  });
}
