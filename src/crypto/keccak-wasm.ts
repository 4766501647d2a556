// The keccak-f[1600] permutation as a small WebAssembly module, its bytes written out below: 64-bit
// lanes and rotations are native there, where JavaScript has to split every lane into two 32-bit
// halves. The module is built once per process from this description (no build step, no file).

/** Rotation offsets of rho, by lane x + 5y: R[x][y]. */
const R = [
  [0, 36, 3, 41, 18],
  [1, 44, 10, 45, 2],
  [62, 6, 43, 15, 61],
  [28, 55, 25, 21, 56],
  [27, 20, 39, 8, 14],
];

/** The 24 round constants of iota. */
const ROUND_CONSTANTS = [
  0x0000000000000001n,
  0x0000000000008082n,
  0x800000000000808an,
  0x8000000080008000n,
  0x000000000000808bn,
  0x0000000080000001n,
  0x8000000080008081n,
  0x8000000000008009n,
  0x000000000000008an,
  0x0000000000000088n,
  0x0000000080008009n,
  0x000000008000000an,
  0x000000008000808bn,
  0x800000000000008bn,
  0x8000000000008089n,
  0x8000000000008003n,
  0x8000000000008002n,
  0x8000000000000080n,
  0x000000000000800an,
  0x800000008000000an,
  0x8000000080008081n,
  0x8000000000008080n,
  0x0000000080000001n,
  0x8000000080008008n,
];

/** Where the module keeps things in its one page of memory. */
export const LAYOUT = {
  /** The 25 lanes of the state, little-endian u64 each. */
  state: 0,
  roundConstants: 200,
  /** Input blocks to absorb. */
  input: 512,
} as const;

// opcodes
const LOCAL_GET = 0x20;
const LOCAL_SET = 0x21;
const LOCAL_TEE = 0x22;
const I32_CONST = 0x41;
const I64_CONST = 0x42;
const I64_LOAD = 0x29;
const I64_STORE = 0x37;
const I32_EQZ = 0x45;
const I32_LT_U = 0x49;
const I32_ADD = 0x6a;
const I32_SUB = 0x6b;
const I32_SHL = 0x74;
const I64_AND = 0x83;
const I64_XOR = 0x85;
const I64_ROTL = 0x89;
const BLOCK = 0x02;
const LOOP = 0x03;
const BR = 0x0c;
const BR_IF = 0x0d;
const CALL = 0x10;
const END = 0x0b;
const VOID = 0x40;
const I32 = 0x7f;
const I64 = 0x7e;

function unsigned(value: number): number[] {
  const out: number[] = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value !== 0) byte |= 0x80;
    out.push(byte);
  } while (value !== 0);
  return out;
}

function signed(value: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = value & 0x7f;
    value >>= 7;
    if ((value === 0 && (byte & 0x40) === 0) || (value === -1 && (byte & 0x40) !== 0)) return [...out, byte];
    out.push(byte | 0x80);
  }
}

const vector = (items: number[][]): number[] => [...unsigned(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...unsigned(body.length), ...body];
const name = (text: string): number[] => vector([...Buffer.from(text)].map((b) => [b]));

/**
 * permute(): keccak-f[1600] on the state in memory. Locals 0-24 hold the lanes (a), 25-29 the
 * column parities (c), 30-34 theta's d, 35-59 the lanes after rho and pi (b), 60 the round.
 */
function permuteBody(): number[] {
  const a = (i: number) => i;
  const c = (x: number) => 25 + x;
  const d = (x: number) => 30 + x;
  const b = (i: number) => 35 + i;
  const ROUND = 60;
  const code: number[] = [];
  const get = (local: number) => code.push(LOCAL_GET, local);
  const set = (local: number) => code.push(LOCAL_SET, local);
  for (let i = 0; i < 25; i++) code.push(I32_CONST, 0, I64_LOAD, 3, ...unsigned(LAYOUT.state + 8 * i), LOCAL_SET, a(i));
  code.push(LOOP, VOID);
  // theta
  for (let x = 0; x < 5; x++) {
    get(a(x));
    for (let y = 1; y < 5; y++) {
      get(a(x + 5 * y));
      code.push(I64_XOR);
    }
    set(c(x));
  }
  for (let x = 0; x < 5; x++) {
    get(c((x + 4) % 5));
    get(c((x + 1) % 5));
    code.push(I64_CONST, 1, I64_ROTL, I64_XOR);
    set(d(x));
  }
  // theta applied, then rho and pi: b[y, 2x + 3y] = rotl(a[x, y] ^ d[x], R[x][y])
  for (let x = 0; x < 5; x++) {
    for (let y = 0; y < 5; y++) {
      get(a(x + 5 * y));
      get(d(x));
      code.push(I64_XOR);
      if (R[x]![y] !== 0) code.push(I64_CONST, ...signed(R[x]![y]!), I64_ROTL);
      set(b(y + 5 * ((2 * x + 3 * y) % 5)));
    }
  }
  // chi, and iota on lane 0
  for (let y = 0; y < 5; y++) {
    for (let x = 0; x < 5; x++) {
      get(b(x + 5 * y));
      get(b(((x + 1) % 5) + 5 * y));
      code.push(I64_CONST, ...signed(-1), I64_XOR);
      get(b(((x + 2) % 5) + 5 * y));
      code.push(I64_AND, I64_XOR);
      if (x === 0 && y === 0) {
        get(ROUND);
        code.push(I32_CONST, 3, I32_SHL, I64_LOAD, 3, ...unsigned(LAYOUT.roundConstants), I64_XOR);
      }
      set(a(x + 5 * y));
    }
  }
  get(ROUND);
  code.push(I32_CONST, 1, I32_ADD, LOCAL_TEE, ROUND, I32_CONST, 24, I32_LT_U, BR_IF, 0, END);
  for (let i = 0; i < 25; i++)
    code.push(I32_CONST, 0, LOCAL_GET, a(i), I64_STORE, 3, ...unsigned(LAYOUT.state + 8 * i));
  code.push(END);
  // locals: 60 i64, then 1 i32
  return [
    ...vector([
      [...unsigned(60), I64],
      [1, I32],
    ]),
    ...code,
  ];
}

/** absorb(pointer, blocks): XORs each 136-byte block at `pointer` into the state's first 17 lanes, then permutes. */
function absorbBody(): number[] {
  const POINTER = 0;
  const BLOCKS = 1;
  const code: number[] = [BLOCK, VOID, LOOP, VOID, LOCAL_GET, BLOCKS, I32_EQZ, BR_IF, 1];
  for (let i = 0; i < 17; i++) {
    const at = unsigned(LAYOUT.state + 8 * i);
    code.push(I32_CONST, 0, I32_CONST, 0, I64_LOAD, 3, ...at);
    code.push(LOCAL_GET, POINTER, I64_LOAD, 0, ...unsigned(8 * i), I64_XOR, I64_STORE, 3, ...at);
  }
  code.push(CALL, 0);
  code.push(LOCAL_GET, POINTER, I32_CONST, ...signed(136), I32_ADD, LOCAL_SET, POINTER);
  code.push(LOCAL_GET, BLOCKS, I32_CONST, 1, I32_SUB, LOCAL_SET, BLOCKS, BR, 0, END, END, END);
  return [...vector([]), ...code];
}

/** The module's bytes: one page of memory (exported), permute (function 0) and absorb (function 1, exported). */
export function keccakModuleBytes(): Uint8Array<ArrayBuffer> {
  const constants = Buffer.alloc(8 * ROUND_CONSTANTS.length);
  ROUND_CONSTANTS.forEach((value, i) => constants.writeBigUInt64LE(value, 8 * i));
  const body = (code: number[]) => [...unsigned(code.length), ...code];
  return Uint8Array.from([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(
      1,
      vector([
        [0x60, 0, 0],
        [0x60, 2, I32, I32, 0],
      ]),
    ),
    ...section(3, vector([[0], [1]])),
    ...section(5, vector([[0x00, 1]])),
    ...section(
      7,
      vector([
        [...name('memory'), 2, 0],
        [...name('absorb'), 0, 1],
      ]),
    ),
    ...section(10, vector([body(permuteBody()), body(absorbBody())])),
    ...section(
      11,
      vector([[0, I32_CONST, ...signed(LAYOUT.roundConstants), END, ...unsigned(constants.length), ...constants]]),
    ),
  ]);
}
