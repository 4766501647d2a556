// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/node.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { ForwardReply as _tessera_v1_ForwardReply, ForwardReply__Output as _tessera_v1_ForwardReply__Output } from '../../tessera/v1/ForwardReply.ts';
import type { ForwardRequest as _tessera_v1_ForwardRequest, ForwardRequest__Output as _tessera_v1_ForwardRequest__Output } from '../../tessera/v1/ForwardRequest.ts';
import type { InfoReply as _tessera_v1_InfoReply, InfoReply__Output as _tessera_v1_InfoReply__Output } from '../../tessera/v1/InfoReply.ts';
import type { InfoRequest as _tessera_v1_InfoRequest, InfoRequest__Output as _tessera_v1_InfoRequest__Output } from '../../tessera/v1/InfoRequest.ts';

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
export interface NodeClient extends grpc.Client {
  Forward(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_tessera_v1_ForwardRequest, _tessera_v1_ForwardReply__Output>;
  Forward(options?: grpc.CallOptions): grpc.ClientDuplexStream<_tessera_v1_ForwardRequest, _tessera_v1_ForwardReply__Output>;
  forward(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_tessera_v1_ForwardRequest, _tessera_v1_ForwardReply__Output>;
  forward(options?: grpc.CallOptions): grpc.ClientDuplexStream<_tessera_v1_ForwardRequest, _tessera_v1_ForwardReply__Output>;
  
  Info(argument: _tessera_v1_InfoRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_InfoReply__Output>): grpc.ClientUnaryCall;
  Info(argument: _tessera_v1_InfoRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_InfoReply__Output>): grpc.ClientUnaryCall;
  Info(argument: _tessera_v1_InfoRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_InfoReply__Output>): grpc.ClientUnaryCall;
  Info(argument: _tessera_v1_InfoRequest, callback: grpc.requestCallback<_tessera_v1_InfoReply__Output>): grpc.ClientUnaryCall;
  info(argument: _tessera_v1_InfoRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_InfoReply__Output>): grpc.ClientUnaryCall;
  info(argument: _tessera_v1_InfoRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_InfoReply__Output>): grpc.ClientUnaryCall;
  info(argument: _tessera_v1_InfoRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_InfoReply__Output>): grpc.ClientUnaryCall;
  info(argument: _tessera_v1_InfoRequest, callback: grpc.requestCallback<_tessera_v1_InfoReply__Output>): grpc.ClientUnaryCall;
  
}

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
export interface NodeHandlers extends grpc.UntypedServiceImplementation {
  Forward: grpc.handleBidiStreamingCall<_tessera_v1_ForwardRequest__Output, _tessera_v1_ForwardReply>;
  
  Info: grpc.handleUnaryCall<_tessera_v1_InfoRequest__Output, _tessera_v1_InfoReply>;
  
}

export interface NodeDefinition extends grpc.ServiceDefinition {
  Forward: MethodDefinition<_tessera_v1_ForwardRequest, _tessera_v1_ForwardReply, _tessera_v1_ForwardRequest__Output, _tessera_v1_ForwardReply__Output>
  Info: MethodDefinition<_tessera_v1_InfoRequest, _tessera_v1_InfoReply, _tessera_v1_InfoRequest__Output, _tessera_v1_InfoReply__Output>
}
