import type { Engine } from '../model/engine.ts';

/** Weight of the newest step in the running average. */
const SMOOTHING = 0.2;

/**
 * This node's compute time per token for its layers, as it reports to the registry: measured once
 * at start (one position through a scratch cache) and then smoothed over the steps it serves.
 */
export class LoadMeter {
  private usPerToken: number;

  constructor(engine: Engine) {
    const { range, config } = engine;
    const cache = engine.createCache(1 << 24);
    const started = performance.now();
    engine.forward(cache, range.embedding ? { tokens: [0] } : { hidden: new Float32Array(config.hiddenSize) }, 0);
    this.usPerToken = (performance.now() - started) * 1000;
    cache.release();
  }

  get microsecondsPerToken(): number {
    return Math.round(this.usPerToken);
  }

  record(microseconds: number, positions: number): void {
    this.usPerToken += SMOOTHING * (microseconds / positions - this.usPerToken);
  }
}
