// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/node.proto

import type { Tensor as _tessera_v1_Tensor, Tensor__Output as _tessera_v1_Tensor__Output } from '../../tessera/v1/Tensor.ts';
import type { Long } from '@grpc/proto-loader';

export interface Step {
  'step'?: (number | string | Long);
  /**
   * The first position this step covers; the session's cache must hold exactly the positions before
   * it (a smaller value discards the rest: a replay).
   */
  'startPosition'?: (number);
  /**
   * Shard 0 takes token ids; later shards take hidden states.
   */
  'tokens'?: (number)[];
  'hidden'?: (_tessera_v1_Tensor | null);
  /**
   * Tokens generated so far that the last shard's repetition penalty should see.
   */
  'history'?: (number)[];
  /**
   * Set on every part of a step but its last. A node may send a long step to its next hop in parts,
   * each as soon as it has computed it, so that the next hop computes part p while this node
   * computes part p+1 (a long prompt crosses the route as a pipeline, not shard after shard). The
   * parts of a step carry its step number, follow each other on the stream with nothing between
   * them, and each starts where the one before it ended (start_position: the part's first
   * position); the history rides on the last part. A part gets no reply: the step, all its parts
   * together, is one step in everything else (one StepResult, one commitment per hop whose
   * input_hash and output_hash cover the concatenated inputs and outputs of its parts, exactly the
   * bytes of the step sent whole), so results, signatures, audits and receipts do not see parts.
   * Its positions together are bounded as a step's are. Sent only to a node whose Opened said
   * takes_parts.
   */
  'partial'?: (boolean);
}

export interface Step__Output {
  'step': (number);
  /**
   * The first position this step covers; the session's cache must hold exactly the positions before
   * it (a smaller value discards the rest: a replay).
   */
  'startPosition': (number);
  /**
   * Shard 0 takes token ids; later shards take hidden states.
   */
  'tokens': (number)[];
  'hidden': (_tessera_v1_Tensor__Output | null);
  /**
   * Tokens generated so far that the last shard's repetition penalty should see.
   */
  'history': (number)[];
  /**
   * Set on every part of a step but its last. A node may send a long step to its next hop in parts,
   * each as soon as it has computed it, so that the next hop computes part p while this node
   * computes part p+1 (a long prompt crosses the route as a pipeline, not shard after shard). The
   * parts of a step carry its step number, follow each other on the stream with nothing between
   * them, and each starts where the one before it ended (start_position: the part's first
   * position); the history rides on the last part. A part gets no reply: the step, all its parts
   * together, is one step in everything else (one StepResult, one commitment per hop whose
   * input_hash and output_hash cover the concatenated inputs and outputs of its parts, exactly the
   * bytes of the step sent whole), so results, signatures, audits and receipts do not see parts.
   * Its positions together are bounded as a step's are. Sent only to a node whose Opened said
   * takes_parts.
   */
  'partial': (boolean);
}
