// Keccak-256 (the original Keccak padding, as Ethereum uses: not NIST SHA3-256, so Node's OpenSSL
// sha3-256 cannot stand in). A decoded token costs a 4-shard route about 38 keccak blocks (each hop signs
// a commitment, each relay and the client check the ones below), which @noble/hashes' JavaScript took
// tens of microseconds each to hash here; the permutation runs in WebAssembly instead (keccak-wasm.ts),
// 12-27x faster on these inputs (npm run bench -- --only=crypto).
import { keccakModuleBytes, LAYOUT } from './keccak-wasm.ts';

/** Bytes absorbed per permutation (1088 bits: capacity 512 for a 256-bit digest). */
const RATE = 136;
/** Blocks staged in the module's memory before they are absorbed together. */
const STAGED_BLOCKS = 64;

const instance = new WebAssembly.Instance(new WebAssembly.Module(keccakModuleBytes()));
// one page that never grows, so this view stays valid
const heap = new Uint8Array((instance.exports.memory as WebAssembly.Memory).buffer);
const absorb = instance.exports.absorb as (pointer: number, blocks: number) => void;

/** keccak-256 of `parts` concatenated, as 32 bytes. */
export function keccak256(...parts: readonly Uint8Array[]): Uint8Array {
  // a hash runs start to end without yielding, so the module's one state serves every call
  heap.fill(0, LAYOUT.state, LAYOUT.state + 200);
  const capacity = STAGED_BLOCKS * RATE;
  let staged = 0;
  for (const part of parts) {
    for (let at = 0; at < part.length;) {
      const take = Math.min(capacity - staged, part.length - at);
      heap.set(take === part.length ? part : part.subarray(at, at + take), LAYOUT.input + staged);
      staged += take;
      at += take;
      if (staged === capacity) {
        absorb(LAYOUT.input, STAGED_BLOCKS);
        staged = 0;
      }
    }
  }
  const blocks = Math.floor(staged / RATE) + 1;
  const end = LAYOUT.input + blocks * RATE;
  heap.fill(0, LAYOUT.input + staged, end);
  heap[LAYOUT.input + staged]! ^= 0x01;
  heap[end - 1]! ^= 0x80;
  absorb(LAYOUT.input, blocks);
  return heap.slice(LAYOUT.state, LAYOUT.state + 32);
}
