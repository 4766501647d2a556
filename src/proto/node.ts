// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type {
  AuditReveal as _tessera_v1_AuditReveal,
  AuditReveal__Output as _tessera_v1_AuditReveal__Output,
} from './tessera/v1/AuditReveal.ts';
import type { Close as _tessera_v1_Close, Close__Output as _tessera_v1_Close__Output } from './tessera/v1/Close.ts';
import type {
  Closed as _tessera_v1_Closed,
  Closed__Output as _tessera_v1_Closed__Output,
} from './tessera/v1/Closed.ts';
import type {
  Commitment as _tessera_v1_Commitment,
  Commitment__Output as _tessera_v1_Commitment__Output,
} from './tessera/v1/Commitment.ts';
import type {
  ForwardReply as _tessera_v1_ForwardReply,
  ForwardReply__Output as _tessera_v1_ForwardReply__Output,
} from './tessera/v1/ForwardReply.ts';
import type {
  ForwardRequest as _tessera_v1_ForwardRequest,
  ForwardRequest__Output as _tessera_v1_ForwardRequest__Output,
} from './tessera/v1/ForwardRequest.ts';
import type { Hop as _tessera_v1_Hop, Hop__Output as _tessera_v1_Hop__Output } from './tessera/v1/Hop.ts';
import type {
  InfoReply as _tessera_v1_InfoReply,
  InfoReply__Output as _tessera_v1_InfoReply__Output,
} from './tessera/v1/InfoReply.ts';
import type {
  InfoRequest as _tessera_v1_InfoRequest,
  InfoRequest__Output as _tessera_v1_InfoRequest__Output,
} from './tessera/v1/InfoRequest.ts';
import type {
  NodeClient as _tessera_v1_NodeClient,
  NodeDefinition as _tessera_v1_NodeDefinition,
} from './tessera/v1/Node.ts';
import type { Open as _tessera_v1_Open, Open__Output as _tessera_v1_Open__Output } from './tessera/v1/Open.ts';
import type {
  Opened as _tessera_v1_Opened,
  Opened__Output as _tessera_v1_Opened__Output,
} from './tessera/v1/Opened.ts';
import type {
  SampledToken as _tessera_v1_SampledToken,
  SampledToken__Output as _tessera_v1_SampledToken__Output,
} from './tessera/v1/SampledToken.ts';
import type {
  Sampling as _tessera_v1_Sampling,
  Sampling__Output as _tessera_v1_Sampling__Output,
} from './tessera/v1/Sampling.ts';
import type {
  Signed as _tessera_v1_Signed,
  Signed__Output as _tessera_v1_Signed__Output,
} from './tessera/v1/Signed.ts';
import type { Step as _tessera_v1_Step, Step__Output as _tessera_v1_Step__Output } from './tessera/v1/Step.ts';
import type {
  StepResult as _tessera_v1_StepResult,
  StepResult__Output as _tessera_v1_StepResult__Output,
} from './tessera/v1/StepResult.ts';
import type {
  StepSignatures as _tessera_v1_StepSignatures,
  StepSignatures__Output as _tessera_v1_StepSignatures__Output,
} from './tessera/v1/StepSignatures.ts';
import type {
  Tensor as _tessera_v1_Tensor,
  Tensor__Output as _tessera_v1_Tensor__Output,
} from './tessera/v1/Tensor.ts';
import type {
  TokenLogprob as _tessera_v1_TokenLogprob,
  TokenLogprob__Output as _tessera_v1_TokenLogprob__Output,
} from './tessera/v1/TokenLogprob.ts';
import type {
  UsageAttestation as _tessera_v1_UsageAttestation,
  UsageAttestation__Output as _tessera_v1_UsageAttestation__Output,
} from './tessera/v1/UsageAttestation.ts';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new (...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  tessera: {
    v1: {
      AuditReveal: MessageTypeDefinition<_tessera_v1_AuditReveal, _tessera_v1_AuditReveal__Output>;
      Close: MessageTypeDefinition<_tessera_v1_Close, _tessera_v1_Close__Output>;
      Closed: MessageTypeDefinition<_tessera_v1_Closed, _tessera_v1_Closed__Output>;
      Commitment: MessageTypeDefinition<_tessera_v1_Commitment, _tessera_v1_Commitment__Output>;
      DType: EnumTypeDefinition;
      ForwardReply: MessageTypeDefinition<_tessera_v1_ForwardReply, _tessera_v1_ForwardReply__Output>;
      ForwardRequest: MessageTypeDefinition<_tessera_v1_ForwardRequest, _tessera_v1_ForwardRequest__Output>;
      Hop: MessageTypeDefinition<_tessera_v1_Hop, _tessera_v1_Hop__Output>;
      InfoReply: MessageTypeDefinition<_tessera_v1_InfoReply, _tessera_v1_InfoReply__Output>;
      InfoRequest: MessageTypeDefinition<_tessera_v1_InfoRequest, _tessera_v1_InfoRequest__Output>;
      /**
       * A compute node serves one shard. A session is one bidirectional Forward stream: Open first, then
       * Steps (a prefill, then one decode position each), answered in order. A node that is not the last
       * hop opens its own stream to the next hop and relays the results back; it may pass a long step on
       * in parts (Step.partial), each as soon as it has computed it, so the route works on a long prompt
       * as a pipeline.
       *
       * Signatures follow results (the rule). For each step n a node sends, on its stream, first
       * StepResult n (each hop's Commitment with every field but `signature`, which is empty), then
       * StepSignatures n (the signature of each of those commitments, in the same order), and StepSignatures
       * n must come before StepResult n+1. A Close asks for what is still owed: a node answers it with the
       * StepSignatures of every step whose result it sent and has not signed yet, then Closed. So signing,
       * and checking the signatures below, leave the path a result takes: a node signs while its result
       * travels up, and the signatures of step n travel while step n+1 is computed.
       * - A relaying node checks StepResult n's commitment fields (route, chain, result hash) before it
       * relays it, and StepSignatures n before it relays them with its own signature first: one
       * signature for each commitment it relayed, 65 bytes each, the first (its next hop's) recovering
       * to the node that commitment names over exactly the fields relayed and the hash of the
       * signatures after it (Commitment.relayed_hash). It signs its own commitment only then, over the
       * hash of all it relays: its next hop vouched for the signatures below it, and this node vouches
       * for its next hop's. A next hop whose StepResult n+1 or Closed comes before its StepSignatures n,
       * whose stream ends without them, or whose signatures do not check is the failure
       * NEXT_HOP_BAD_RESULT, reported by this node.
       * - The client checks StepResult n's fields when it arrives and may then send Step n+1 (the token is
       * its input), but it gives token n to its caller, counts step n as served, covers it with a usage
       * receipt and reveals the audit secret on it only once StepSignatures n has come and every
       * signature checks. StepResult n+1 or Closed before StepSignatures n, or a stream that ends
       * without them, is the first hop's failure (SIGNATURES_WITHHELD). A signature that does not check
       * (COMMITMENT_UNSIGNED) is the failure of the hop above the first one that does not, which signed
       * the hash of the signatures below it, the bad one among them; the first hop's when its own does
       * not check, or when one is not 65 bytes (every relay checks their lengths). After its
       * last step the client sends Close and waits for that step's signatures and Closed; only then does
       * it attest its usage, half-close the stream and end the generation: no step is left unsigned.
       * - Audits keep their order: the client reveals the audit secret only after it has checked every
       * hop's signature of the step from position 0, so each node's signature, which the audit draw
       * reads, is fixed before the node can know the secret that the draw also reads.
       */
      Node: SubtypeConstructor<typeof grpc.Client, _tessera_v1_NodeClient> & { service: _tessera_v1_NodeDefinition };
      Open: MessageTypeDefinition<_tessera_v1_Open, _tessera_v1_Open__Output>;
      Opened: MessageTypeDefinition<_tessera_v1_Opened, _tessera_v1_Opened__Output>;
      SampledToken: MessageTypeDefinition<_tessera_v1_SampledToken, _tessera_v1_SampledToken__Output>;
      Sampling: MessageTypeDefinition<_tessera_v1_Sampling, _tessera_v1_Sampling__Output>;
      Signed: MessageTypeDefinition<_tessera_v1_Signed, _tessera_v1_Signed__Output>;
      Step: MessageTypeDefinition<_tessera_v1_Step, _tessera_v1_Step__Output>;
      StepResult: MessageTypeDefinition<_tessera_v1_StepResult, _tessera_v1_StepResult__Output>;
      StepSignatures: MessageTypeDefinition<_tessera_v1_StepSignatures, _tessera_v1_StepSignatures__Output>;
      Tensor: MessageTypeDefinition<_tessera_v1_Tensor, _tessera_v1_Tensor__Output>;
      TokenLogprob: MessageTypeDefinition<_tessera_v1_TokenLogprob, _tessera_v1_TokenLogprob__Output>;
      UsageAttestation: MessageTypeDefinition<_tessera_v1_UsageAttestation, _tessera_v1_UsageAttestation__Output>;
    };
  };
}
