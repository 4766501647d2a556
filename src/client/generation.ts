import type { SamplingOptions } from '../model/sampling.ts';
import type { Commitment__Output } from '../proto/tessera/v1/Commitment.ts';
import type { StepResult__Output } from '../proto/tessera/v1/StepResult.ts';
import { checkCommitmentChain, checkResultCovered } from './commitment-chain.ts';
import { joinSignatures, signedCommitments } from './pending-signatures.ts';
import type { ModelHandle } from './model-handle.ts';
import { HopFailure, type PipelineSession, type SentStep } from './pipeline-session.ts';
import type { RouteHop } from './routing.ts';

export interface TokenAlternative {
  readonly id: number;
  readonly text: string;
  readonly logprob: number;
}

export interface GeneratedToken extends TokenAlternative {
  /** The most likely alternatives at this position, best first (when logprobs were asked for). */
  readonly top: readonly TokenAlternative[];
  /** The signed commitments of the step that produced this token, one per hop in route order (chain and signatures checked). */
  readonly commitments: readonly Commitment__Output[];
}

export type FinishReason = 'stop' | 'length';

export interface Usage {
  readonly promptTokens: number;
  readonly completionTokens: number;
}

export interface GenerationSummary {
  /** Everything generated, including `tail`. */
  readonly text: string;
  /** Bytes the decoder still held when generation ended, as text (empty unless it ended inside a character). */
  readonly tail: string;
  readonly usage: Usage;
  readonly finishReason: FinishReason;
  /** Routes replaced because a hop failed. */
  readonly failovers: number;
  /** The route that produced the last token. */
  readonly route: readonly RouteHop[];
}

export interface GenerationOptions extends SamplingOptions {
  readonly maxTokens: number;
  /** How many top alternatives to report per token (0: none). */
  readonly logprobs?: number;
}

export class GenerationInputError extends Error {
  readonly code = 'INVALID_REQUEST';
}

export class GenerationFailedError extends Error {
  readonly code = 'GENERATION_FAILED';
}

/** What the generation loop needs from the client: sessions on fresh routes, and fault handling. */
export interface SessionSource {
  /**
   * Opens a session on the best route that avoids banned nodes; after a failure it may wait a little
   * for the shards of a failed node to get a node again.
   */
  open(model: ModelHandle, afterFailure: boolean): Promise<PipelineSession>;
  /** Records a failure on `route` (bans whoever caused it); afterwards a new session is opened. */
  recover(route: readonly RouteHop[], failure: HopFailure): Promise<void>;
  /**
   * Called once per session, when the step from position 0 (the prefill: what audits recompute) is
   * back and its commitment chain and signatures check out: reveals the session's audit secret and asks the
   * registry for the audits it selects; `tokens` (what the step sent) let the client check the first
   * hop's step (it took the prompt) itself. Never fails the generation.
   */
  revealAudit(session: PipelineSession, commitments: readonly Commitment__Output[], tokens: readonly number[]): void;
  /** Index of the first commitment not signed by the node it names, or -1. */
  checkSignatures(commitments: readonly Commitment__Output[]): Promise<number>;
  /** A step whose result checked out took `elapsedUs` over `positions` positions (the client's measure of the route). */
  served?(route: readonly RouteHop[], elapsedUs: number, positions: number): void;
  readonly maxFailovers: number;
}

/** A long generation attests its usage this often, so nodes need not wait for its end to claim shares. */
const RECEIPT_EVERY_STEPS = 32;

/** A step sent on the current session, with what it was sent with. */
interface InFlight {
  readonly step: number;
  readonly startPosition: number;
  readonly sent: readonly number[];
  readonly history: readonly number[];
  readonly sentAt: number;
  readonly replies: SentStep;
}

/**
 * Continues `promptIds` through the network, one token per step. When a hop fails, the failure is
 * recorded, a new session on a new route replays everything so far as one prefill, and generation
 * goes on from the same position: the caller sees no error and (greedy) the same tokens. Each step
 * goes out as soon as the result before it checks out, while that result's signatures are still on
 * their way; a token reaches the caller only once its step's signatures check out, so a failure
 * they show takes back nothing the caller saw.
 */
export async function* generateThroughNetwork(
  sessions: SessionSource,
  model: ModelHandle,
  promptIds: readonly number[],
  options: GenerationOptions,
): AsyncGenerator<GeneratedToken, GenerationSummary> {
  const { tokenizer, manifest } = model;
  const { contextLength } = manifest.config;
  if (promptIds.length === 0) throw new GenerationInputError('the prompt is empty: nothing to continue');
  if (promptIds.length >= contextLength) {
    throw new GenerationInputError(
      `the prompt has ${promptIds.length} tokens; model ${manifest.modelId}'s context holds ${contextLength}, leaving no room to generate`,
    );
  }
  const maxTokens = Math.min(options.maxTokens, contextLength - promptIds.length);
  const penalized = (options.repetitionPenalty ?? 1) !== 1;
  const tokens = [...promptIds];
  const decoder = tokenizer.streamDecoder();
  let text = '';
  let session: PipelineSession | undefined;
  // positions the current session's caches hold by steps whose signatures checked, and its next step number
  let processed = 0;
  let step = 0;
  let failovers = 0;
  let finishReason: FinishReason = 'length';
  let route: readonly RouteHop[] = [];
  // the step sent ahead on the current session, before the signatures of the one before it were in
  let ahead: InFlight | undefined;
  const send = (on: PipelineSession, number: number, context: readonly number[], startPosition: number): InFlight => {
    const sent = context.slice(startPosition);
    const history = penalized ? [...context] : [];
    return {
      step: number,
      startPosition,
      sent,
      history,
      sentAt: performance.now(),
      replies: on.step(number, { startPosition, tokens: sent, history }),
    };
  };
  try {
    for (let produced = 0; produced < maxTokens;) {
      let result: StepResult__Output;
      let signed: Commitment__Output[];
      try {
        session ??= await sessions.open(model, failovers > 0);
        const current = ahead ?? send(session, step, tokens, processed);
        ahead = undefined;
        const { sent, history } = current;
        result = await current.replies.result;
        const elapsedUs = (performance.now() - current.sentAt) * 1000;
        const checked = {
          sessionId: session.sessionId,
          step,
          tokens: sent,
          auditCommitment: session.auditCommitment,
        };
        try {
          checkCommitmentChain(result.commitments, session.route, checked);
        } catch (error) {
          if (!(error instanceof HopFailure)) throw error;
          // whom a break is pinned on depends on who signed what: that shows once the signatures are in
          const signatures = await current.replies.signatures;
          checkCommitmentChain(joinSignatures(result.commitments, signatures), session.route, checked);
          throw error;
        }
        if (!result.sampled)
          throw new HopFailure(
            `the last hop of the route (${session.route.at(-1)!.nodeId}) returned no token`,
            'hop',
            session.route.at(-1)!.nodeId,
          );
        checkResultCovered(result.commitments, session.route, step, result.sampled, {
          position: current.startPosition + sent.length,
          sampling: session.sampling,
          history,
        });
        const token = result.sampled.token;
        // The next step goes out now, its input this token, while this step's signatures come and are
        // checked: nothing below acts on this result before they check out.
        if (!tokenizer.isEndOfGeneration(token) && produced + 1 < maxTokens)
          ahead = send(session, step + 1, [...tokens, token], processed + sent.length);
        else void session.requestClose().catch(() => undefined);
        signed = await signedCommitments(
          result.commitments,
          await current.replies.signatures,
          session.route,
          step,
          (commitments) => sessions.checkSignatures(commitments),
        );
        sessions.served?.(session.route, elapsedUs, sent.length);
        if (current.startPosition === 0) sessions.revealAudit(session, signed, sent);
        processed += sent.length;
        if ((step + 1) % RECEIPT_EVERY_STEPS === 0) session.attest(processed);
      } catch (error) {
        if (!(error instanceof HopFailure) || error.kind === 'caller') throw error;
        failovers++;
        if (failovers > sessions.maxFailovers)
          throw new GenerationFailedError(`gave up after ${failovers} failed routes; last failure: ${error.message}`);
        await sessions.recover(session?.route ?? [], error);
        session?.close();
        session = undefined;
        ahead = undefined;
        processed = 0;
        step = 0;
        continue;
      }
      route = session.route;
      step++;
      const sampled = result.sampled;
      if (tokenizer.isEndOfGeneration(sampled.token)) {
        finishReason = 'stop';
        break;
      }
      tokens.push(sampled.token);
      produced++;
      // the alternatives decoded in the context the chosen token is, before it moves the decoder on
      const top = sampled.top.map((t) => ({ id: t.token, text: decoder.peek(t.token), logprob: t.logprob }));
      const piece = decoder.push(sampled.token);
      text += piece;
      yield {
        id: sampled.token,
        text: piece,
        logprob: sampled.logprob,
        top,
        commitments: signed,
      };
    }
  } finally {
    session?.attest(processed);
    session?.close();
  }
  const tail = decoder.flush();
  return {
    text: text + tail,
    tail,
    usage: { promptTokens: promptIds.length, completionTokens: tokens.length - promptIds.length },
    finishReason,
    failovers,
    route,
  };
}
