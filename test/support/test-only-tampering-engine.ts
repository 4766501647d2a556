import type { Engine } from '../../src/model/engine.ts';

/**
 * TEST ONLY: an engine that perturbs its outputs (adds 1e-3 to the first value of the hidden states
 * or logits it returns, for each session of a batch), as a cheating node would. Passed to startNode
 * through its explicit `testOnlyWrapEngine` option; nothing outside tests can reach it.
 */
export function testOnlyTamperingEngine(engine: Engine): Engine {
  return new Proxy(engine, {
    get(target, property) {
      if (property === 'forward') {
        return (...args: Parameters<Engine['forward']>) => {
          const result = target.forward(...args);
          const output = result.logits ?? result.hidden!;
          output[0]! += 1e-3;
          return result;
        };
      }
      if (property === 'forwardBatch') {
        return (...args: Parameters<Engine['forwardBatch']>) => {
          const results = target.forwardBatch(...args);
          for (const result of results) {
            const output = result.logits ?? result.hidden;
            if (output) output[0]! += 1e-3;
          }
          return results;
        };
      }
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
