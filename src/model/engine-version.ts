/**
 * Names the bytes the engine computes: nodes that report the same engine version compute the same
 * bytes from the same inputs (the engine is deterministic), so a ticket is recomputed only by an
 * engine of its own version, and a client routes only through nodes of its own (it recomputes steps
 * of the first hop itself). Raise it with any change to any output byte; src/model/engine.test.ts
 * records the logits of one prompt, and fails on a change that forgot to.
 *
 * tessera-engine/0.1.0: attention summed in f64. tessera-engine/2: attention summed in f32, every
 * product and sum rounded (as f32 SIMD lanes compute). tessera-engine/3: SwiGLU and attention's
 * exponentials in f32 (exact-math's expF32), attention's weights summed in four running sums and
 * normalised once per output.
 */
export const ENGINE_VERSION = 'tessera-engine/3';
