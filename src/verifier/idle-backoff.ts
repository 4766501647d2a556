/**
 * How long a verifier waits before asking for tickets again. An idle network has nothing to audit,
 * and a pull per second kept every idle verifier and its registry busy; so each empty pull doubles
 * the wait up to a ceiling, and work brings it back to the base at once. The ceiling is a few
 * seconds: a ticket's verdict comes at most that much later, while what must not be late (a node's
 * ticket, within audit.ticketDeadlineMs) does not wait on verifiers at all.
 */
export class IdleBackoff {
  readonly #baseMs: number;
  readonly #maxMs: number;
  #nextMs: number;

  constructor(baseMs: number, maxMs: number) {
    if (!(baseMs > 0) || !(maxMs >= baseMs))
      throw new RangeError(`idle backoff needs 0 < base (${baseMs} ms) <= max (${maxMs} ms)`);
    this.#baseMs = baseMs;
    this.#maxMs = maxMs;
    this.#nextMs = baseMs;
  }

  /** The wait after an empty pull; the next one is twice as long, up to the ceiling. */
  idle(): number {
    const wait = this.#nextMs;
    this.#nextMs = Math.min(this.#maxMs, wait * 2);
    return wait;
  }

  /** A pull brought work: the next empty one waits the base again. */
  busy(): void {
    this.#nextMs = this.#baseMs;
  }
}
