/**
 * Nodes that failed this client recently. A ban expires so that a node that restarts (or whose
 * network hiccup passes) gets traffic again without anyone lifting it by hand.
 */
export class BanList {
  private readonly until = new Map<string, number>();

  constructor(
    private readonly durationMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** `durationMs`: shorter than the default for a node that is only busy, never longer than a ban it has. */
  ban(nodeId: string, durationMs = this.durationMs): void {
    const until = this.now() + durationMs;
    this.until.set(nodeId, Math.max(until, this.until.get(nodeId) ?? 0));
  }

  isBanned(nodeId: string): boolean {
    const until = this.until.get(nodeId);
    if (until === undefined) return false;
    if (until > this.now()) return true;
    this.until.delete(nodeId);
    return false;
  }

  /** The node ids banned right now. */
  current(): Set<string> {
    return new Set([...this.until.keys()].filter((id) => this.isBanned(id)));
  }
}
