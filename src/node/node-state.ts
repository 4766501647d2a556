import type { Logger } from '../core/log.ts';
import type { NodeStateName } from '../registry/announcement.ts';

export { NODE_STATES, isNodeState, type NodeStateName } from '../registry/announcement.ts';

/** How long a node holds no session before it is IDLE rather than READY. */
export const DEFAULT_IDLE_AFTER_MS = 60_000;

export interface NodeStateOptions {
  /** Sessions the node holds now. */
  readonly sessions: () => number;
  readonly idleAfterMs?: number;
  /** One `node_state` line at each change. */
  readonly log: Logger;
  readonly now?: () => number;
}

/**
 * The node's state, worked out from its session count, the time since it last held one and what the
 * registry last said of its stake. Sessions come and go without telling it, so it is read (update)
 * whenever someone looks and on a timer; a change is logged once.
 */
export class NodeState {
  readonly #options: NodeStateOptions;
  readonly #now: () => number;
  #lastBusyMs: number;
  #unstakingUntilMs: number | undefined;
  #current: NodeStateName;

  constructor(options: NodeStateOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#lastBusyMs = this.#now();
    this.#current = 'READY';
  }

  /** The instant the stake may be withdrawn while UNSTAKING; undefined otherwise. */
  get unstakingUntilMs(): number | undefined {
    return this.#unstakingUntilMs;
  }

  /**
   * What the registry answered of the stake: the end of its cooldown, or undefined (0 on the wire)
   * when it is not unstaking. A withdrawn stake leaves the node below the minimum, and the registry
   * then refuses its heartbeats: the cooldown's end passing alone does not end UNSTAKING.
   */
  setUnstaking(untilMs: number | undefined): void {
    this.#unstakingUntilMs = untilMs === undefined || untilMs === 0 ? undefined : untilMs;
    this.update();
  }

  /** The state now; logs `node_state` when it differs from the last one seen. */
  update(): NodeStateName {
    const nowMs = this.#now();
    const sessions = this.#options.sessions();
    if (sessions > 0) this.#lastBusyMs = nowMs;
    const next: NodeStateName =
      this.#unstakingUntilMs !== undefined
        ? 'UNSTAKING'
        : sessions > 0
          ? 'EXECUTING'
          : nowMs - this.#lastBusyMs > (this.#options.idleAfterMs ?? DEFAULT_IDLE_AFTER_MS)
            ? 'IDLE'
            : 'READY';
    if (next !== this.#current) {
      const previous = this.#current;
      this.#current = next;
      this.#options.log('node_state', {
        state: next,
        previous,
        sessions,
        ...(this.#unstakingUntilMs === undefined
          ? {}
          : { unstakingUntil: new Date(this.#unstakingUntilMs).toISOString() }),
      });
    }
    return next;
  }
}
