/** The same pseudo-random prompt for every engine: ids spread over the vocabulary, none special. */
export function benchTokens(vocabSize: number, count: number): number[] {
  const tokens: number[] = [];
  let state = 12345;
  for (let i = 0; i < count; i++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    // stay inside the ordinary part of the vocabulary (controls and byte tokens live at its ends)
    tokens.push(300 + (state % Math.max(1, Math.min(vocabSize - 400, 100000))));
  }
  return tokens;
}
