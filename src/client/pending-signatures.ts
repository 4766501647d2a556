import type { Commitment__Output } from '../proto/tessera/v1/Commitment.ts';
import { relayFailure, ResultRefusal } from './commitment-chain.ts';
import type { HopFailure } from './pipeline-session.ts';
import type { RouteHop } from './routing.ts';

/**
 * Signature checks of a generation's steps, running while the next steps go on: a bad signature
 * fails the route at the next step (`takeFailure`), and the generation ends only once every check
 * has come back (`settle`).
 */
export class PendingSignatures {
  private readonly checks: Promise<void>[] = [];
  private failure?: HopFailure;
  private checkerError?: Error;

  constructor(private readonly check: (commitments: readonly Commitment__Output[]) => Promise<number>) {}

  add(commitments: readonly Commitment__Output[], route: readonly RouteHop[], step: number): void {
    this.checks.push(
      this.check(commitments).then(
        (bad) => {
          if (bad < 0) return;
          const hop = route[bad]!;
          // every hop checks the signatures below it before relaying: the first hop delivered this one
          this.failure ??= relayFailure(
            route,
            step,
            ResultRefusal.COMMITMENT_UNSIGNED,
            `the commitment of node ${hop.nodeId} (shard ${hop.shardIndex}) is not signed by it`,
          );
        },
        (error: Error) => void (this.checkerError ??= error),
      ),
    );
  }

  /** A bad signature found since the last call, if any. */
  takeFailure(): HopFailure | undefined {
    const failure = this.failure;
    this.failure = undefined;
    return failure;
  }

  /** Waits for every check; rejects when the checker broke, or with a bad signature nobody took yet. */
  async settle(): Promise<void> {
    await Promise.all(this.checks);
    if (this.checkerError) throw this.checkerError;
    const failure = this.takeFailure();
    if (failure) throw failure;
  }
}
