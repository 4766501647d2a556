import { status } from '@grpc/grpc-js';
import { bf16ToF32Array, f16ToF32Array } from '../tensor/half.ts';
import type { Step__Output } from '../proto/tessera/v1/Step.ts';
import type { Tensor__Output } from '../proto/tessera/v1/Tensor.ts';
import { tokenBytes } from '../protocol/commitment.ts';
import { ForwardReason, NodeStatusError } from '../protocol/forward-status.ts';
import { formatSpan, takesTokens, type ShardSpan } from '../model/shards/span.ts';

/** What a step may ask of this node, whatever span it runs. */
export interface NodeBounds {
  readonly hiddenSize: number;
  readonly contextLength: number;
  /** Most positions one step may carry (a prefill chunk). */
  readonly maxStepPositions: number;
  /** Token ids (of the input and of the history) must be below it. */
  readonly vocabSize: number;
}

/** What a step of one session may ask: the node's bounds and the span of the session's hop. */
export interface StepBounds extends NodeBounds {
  /** A span from shard 0 takes token ids, any other hidden states. */
  readonly span: ShardSpan;
}

/** A validated step input and the bytes its commitment hashes (as received). */
export type StepInput =
  | { readonly tokens: number[]; readonly positions: number; readonly bytes: Uint8Array }
  | { readonly hidden: Float32Array; readonly positions: number; readonly bytes: Uint8Array };

const BYTES_PER_VALUE: Readonly<Record<string, number>> = { DTYPE_F32: 4, DTYPE_F16: 2, DTYPE_BF16: 2 };

const invalid = (message: string, code: ForwardReason = ForwardReason.INVALID_STEP) =>
  new NodeStatusError(code, 'invalid', message);
const tooManyPositions = (positions: number, bounds: NodeBounds) =>
  invalid(`step carries ${positions} positions, this node takes at most ${bounds.maxStepPositions} per step`);

/** Default bound on one message: the largest step's hidden states in f32, plus room for the rest. */
export function defaultMaxMessageBytes(bounds: Pick<NodeBounds, 'hiddenSize' | 'maxStepPositions'>): number {
  return Math.max(4 << 20, bounds.maxStepPositions * bounds.hiddenSize * 4 + (1 << 20));
}

function decodeHidden(tensor: Tensor__Output, bounds: NodeBounds): Float32Array {
  const width = BYTES_PER_VALUE[tensor.dtype];
  if (width === undefined)
    throw invalid(`hidden tensor has dtype ${tensor.dtype}; send DTYPE_F32, DTYPE_F16 or DTYPE_BF16`);
  const shape = tensor.shape;
  if (shape.length !== 2)
    throw invalid(`hidden tensor has shape [${shape.join(', ')}]; expected [positions, ${bounds.hiddenSize}]`);
  const [positions, hidden] = shape as [number, number];
  if (hidden !== bounds.hiddenSize) throw invalid(`hidden size ${hidden}, this node expects ${bounds.hiddenSize}`);
  if (positions < 1) throw invalid('hidden tensor holds no positions');
  if (positions > bounds.maxStepPositions) throw tooManyPositions(positions, bounds);
  const expected = positions * hidden * width;
  if (tensor.data.length !== expected) {
    throw invalid(
      `hidden tensor of shape [${positions}, ${hidden}] in ${tensor.dtype} needs ${expected} bytes, data has ${tensor.data.length}`,
    );
  }
  if (tensor.dtype === 'DTYPE_F32') {
    // The received bytes may sit at any offset; copying aligns them.
    const values = new Float32Array(positions * hidden);
    new Uint8Array(values.buffer).set(tensor.data);
    return values;
  }
  const halves = new Uint16Array(positions * hidden);
  new Uint8Array(halves.buffer).set(tensor.data);
  return tensor.dtype === 'DTYPE_F16' ? f16ToF32Array(halves) : bf16ToF32Array(halves);
}

/** NaN or ±Infinity would poison the session's cache and every later hop's output. */
function checkFinite(values: Float32Array, bounds: NodeBounds): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]!)) {
      const position = Math.floor(i / bounds.hiddenSize);
      throw invalid(
        `hidden states hold ${values[i]} at position ${position}, index ${i % bounds.hiddenSize}; activations must be finite`,
        ForwardReason.NON_FINITE_ACTIVATION,
      );
    }
  }
}

/** The step number ends up in a u64 of the step id, hashed and signed: it must be exact in a double. */
export function checkStepNumber(step: number): void {
  if (!Number.isSafeInteger(step) || step < 0)
    throw invalid(
      `step number ${step} is beyond ${Number.MAX_SAFE_INTEGER}, the largest this node takes`,
      ForwardReason.INTEGER_OUT_OF_RANGE,
    );
}

function checkTokenIds(ids: readonly number[], what: 'token id' | 'history token id', bounds: NodeBounds): void {
  for (const id of ids) {
    if (!Number.isInteger(id) || id < 0 || id >= bounds.vocabSize)
      throw invalid(
        `${what} ${id} is outside the vocabulary of ${bounds.vocabSize}`,
        ForwardReason.TOKEN_OUT_OF_VOCABULARY,
      );
  }
}

/**
 * Checks a step against the session's span and its cache (which holds `cachedPositions`), so the
 * engine only ever sees well-formed input. Violations are INVALID_ARGUMENT, or OUT_OF_RANGE past the
 * model's context.
 */
export function validateStep(step: Step__Output, bounds: StepBounds, cachedPositions: number): StepInput {
  checkStepNumber(step.step);
  let input: StepInput;
  const hop = `a hop running ${formatSpan(bounds.span)}`;
  if (takesTokens(bounds.span)) {
    if (step.hidden) throw invalid(`${hop} takes token ids, not hidden states`);
    if (step.tokens.length === 0) throw invalid('step has no token ids');
    checkTokenIds(step.tokens, 'token id', bounds);
    input = { tokens: step.tokens, positions: step.tokens.length, bytes: tokenBytes(step.tokens) };
  } else {
    if (step.tokens.length > 0) throw invalid(`${hop} takes hidden states, not token ids`);
    if (!step.hidden) throw invalid(`step has no hidden states for ${hop}`);
    const values = decodeHidden(step.hidden, bounds);
    checkFinite(values, bounds);
    input = { hidden: values, positions: values.length / bounds.hiddenSize, bytes: step.hidden.data };
  }
  if (step.history.length > bounds.contextLength)
    throw invalid(`history of ${step.history.length} tokens exceeds the model's context of ${bounds.contextLength}`);
  checkTokenIds(step.history, 'history token id', bounds);
  if (input.positions > bounds.maxStepPositions) throw tooManyPositions(input.positions, bounds);
  if (step.startPosition > cachedPositions) {
    throw invalid(
      `step starts at position ${step.startPosition}, the session's cache holds only ${cachedPositions} positions`,
    );
  }
  const end = step.startPosition + input.positions;
  if (end > bounds.contextLength) {
    throw new NodeStatusError(
      ForwardReason.CONTEXT_EXCEEDED,
      'invalid',
      `positions ${step.startPosition} to ${end - 1} exceed the model's context of ${bounds.contextLength}`,
      undefined,
      status.OUT_OF_RANGE,
    );
  }
  return input;
}
