// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { Block as _tessera_v1_Block, Block__Output as _tessera_v1_Block__Output } from './tessera/v1/Block.ts';
import type {
  BlockShare as _tessera_v1_BlockShare,
  BlockShare__Output as _tessera_v1_BlockShare__Output,
} from './tessera/v1/BlockShare.ts';
import type {
  DaemonClient as _tessera_v1_DaemonClient,
  DaemonDefinition as _tessera_v1_DaemonDefinition,
} from './tessera/v1/Daemon.ts';
import type {
  ExchangeBlocksReply as _tessera_v1_ExchangeBlocksReply,
  ExchangeBlocksReply__Output as _tessera_v1_ExchangeBlocksReply__Output,
} from './tessera/v1/ExchangeBlocksReply.ts';
import type {
  ExchangeBlocksRequest as _tessera_v1_ExchangeBlocksRequest,
  ExchangeBlocksRequest__Output as _tessera_v1_ExchangeBlocksRequest__Output,
} from './tessera/v1/ExchangeBlocksRequest.ts';
import type {
  FeeEstimate as _tessera_v1_FeeEstimate,
  FeeEstimate__Output as _tessera_v1_FeeEstimate__Output,
} from './tessera/v1/FeeEstimate.ts';
import type {
  GetBlockRequest as _tessera_v1_GetBlockRequest,
  GetBlockRequest__Output as _tessera_v1_GetBlockRequest__Output,
} from './tessera/v1/GetBlockRequest.ts';
import type {
  GetBlocksReply as _tessera_v1_GetBlocksReply,
  GetBlocksReply__Output as _tessera_v1_GetBlocksReply__Output,
} from './tessera/v1/GetBlocksReply.ts';
import type {
  GetBlocksRequest as _tessera_v1_GetBlocksRequest,
  GetBlocksRequest__Output as _tessera_v1_GetBlocksRequest__Output,
} from './tessera/v1/GetBlocksRequest.ts';
import type {
  GetFeeEstimateRequest as _tessera_v1_GetFeeEstimateRequest,
  GetFeeEstimateRequest__Output as _tessera_v1_GetFeeEstimateRequest__Output,
} from './tessera/v1/GetFeeEstimateRequest.ts';
import type {
  GetHeadReply as _tessera_v1_GetHeadReply,
  GetHeadReply__Output as _tessera_v1_GetHeadReply__Output,
} from './tessera/v1/GetHeadReply.ts';
import type {
  GetHeadRequest as _tessera_v1_GetHeadRequest,
  GetHeadRequest__Output as _tessera_v1_GetHeadRequest__Output,
} from './tessera/v1/GetHeadRequest.ts';
import type {
  GetSettlementSummaryRequest as _tessera_v1_GetSettlementSummaryRequest,
  GetSettlementSummaryRequest__Output as _tessera_v1_GetSettlementSummaryRequest__Output,
} from './tessera/v1/GetSettlementSummaryRequest.ts';
import type {
  PushBlockReply as _tessera_v1_PushBlockReply,
  PushBlockReply__Output as _tessera_v1_PushBlockReply__Output,
} from './tessera/v1/PushBlockReply.ts';
import type {
  PushBlockRequest as _tessera_v1_PushBlockRequest,
  PushBlockRequest__Output as _tessera_v1_PushBlockRequest__Output,
} from './tessera/v1/PushBlockRequest.ts';
import type {
  SettlementSummary as _tessera_v1_SettlementSummary,
  SettlementSummary__Output as _tessera_v1_SettlementSummary__Output,
} from './tessera/v1/SettlementSummary.ts';
import type {
  ShareBatch as _tessera_v1_ShareBatch,
  ShareBatch__Output as _tessera_v1_ShareBatch__Output,
} from './tessera/v1/ShareBatch.ts';
import type {
  ShareVerdict as _tessera_v1_ShareVerdict,
  ShareVerdict__Output as _tessera_v1_ShareVerdict__Output,
} from './tessera/v1/ShareVerdict.ts';
import type {
  Signed as _tessera_v1_Signed,
  Signed__Output as _tessera_v1_Signed__Output,
} from './tessera/v1/Signed.ts';
import type {
  SubmitSharesReply as _tessera_v1_SubmitSharesReply,
  SubmitSharesReply__Output as _tessera_v1_SubmitSharesReply__Output,
} from './tessera/v1/SubmitSharesReply.ts';
import type {
  SubmitSharesRequest as _tessera_v1_SubmitSharesRequest,
  SubmitSharesRequest__Output as _tessera_v1_SubmitSharesRequest__Output,
} from './tessera/v1/SubmitSharesRequest.ts';
import type {
  Tensor as _tessera_v1_Tensor,
  Tensor__Output as _tessera_v1_Tensor__Output,
} from './tessera/v1/Tensor.ts';
import type {
  UsageFlow as _tessera_v1_UsageFlow,
  UsageFlow__Output as _tessera_v1_UsageFlow__Output,
} from './tessera/v1/UsageFlow.ts';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new (...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  tessera: {
    v1: {
      Block: MessageTypeDefinition<_tessera_v1_Block, _tessera_v1_Block__Output>;
      BlockShare: MessageTypeDefinition<_tessera_v1_BlockShare, _tessera_v1_BlockShare__Output>;
      DType: EnumTypeDefinition;
      /**
       * The share chain (docs/ARCHITECTURE.md §7). Shares travel as canonical JSON (src/protocol/share.ts);
       * a node signs each batch of them once, with a share-batch statement that lists their hashes
       * (src/protocol/share-batch.ts). Statements, usage receipts and block headers travel as Signed
       * canonical JSON (share-batch.ts, receipt.ts, src/chain/block.ts), so every daemon hashes and checks
       * the same bytes. Hashes are 32-byte sha256 digests.
       */
      Daemon: SubtypeConstructor<typeof grpc.Client, _tessera_v1_DaemonClient> & {
        service: _tessera_v1_DaemonDefinition;
      };
      ExchangeBlocksReply: MessageTypeDefinition<
        _tessera_v1_ExchangeBlocksReply,
        _tessera_v1_ExchangeBlocksReply__Output
      >;
      ExchangeBlocksRequest: MessageTypeDefinition<
        _tessera_v1_ExchangeBlocksRequest,
        _tessera_v1_ExchangeBlocksRequest__Output
      >;
      FeeEstimate: MessageTypeDefinition<_tessera_v1_FeeEstimate, _tessera_v1_FeeEstimate__Output>;
      GetBlockRequest: MessageTypeDefinition<_tessera_v1_GetBlockRequest, _tessera_v1_GetBlockRequest__Output>;
      GetBlocksReply: MessageTypeDefinition<_tessera_v1_GetBlocksReply, _tessera_v1_GetBlocksReply__Output>;
      GetBlocksRequest: MessageTypeDefinition<_tessera_v1_GetBlocksRequest, _tessera_v1_GetBlocksRequest__Output>;
      GetFeeEstimateRequest: MessageTypeDefinition<
        _tessera_v1_GetFeeEstimateRequest,
        _tessera_v1_GetFeeEstimateRequest__Output
      >;
      GetHeadReply: MessageTypeDefinition<_tessera_v1_GetHeadReply, _tessera_v1_GetHeadReply__Output>;
      GetHeadRequest: MessageTypeDefinition<_tessera_v1_GetHeadRequest, _tessera_v1_GetHeadRequest__Output>;
      GetSettlementSummaryRequest: MessageTypeDefinition<
        _tessera_v1_GetSettlementSummaryRequest,
        _tessera_v1_GetSettlementSummaryRequest__Output
      >;
      PushBlockReply: MessageTypeDefinition<_tessera_v1_PushBlockReply, _tessera_v1_PushBlockReply__Output>;
      PushBlockRequest: MessageTypeDefinition<_tessera_v1_PushBlockRequest, _tessera_v1_PushBlockRequest__Output>;
      SettlementSummary: MessageTypeDefinition<_tessera_v1_SettlementSummary, _tessera_v1_SettlementSummary__Output>;
      ShareBatch: MessageTypeDefinition<_tessera_v1_ShareBatch, _tessera_v1_ShareBatch__Output>;
      ShareRejection: EnumTypeDefinition;
      ShareVerdict: MessageTypeDefinition<_tessera_v1_ShareVerdict, _tessera_v1_ShareVerdict__Output>;
      Signed: MessageTypeDefinition<_tessera_v1_Signed, _tessera_v1_Signed__Output>;
      SubmitSharesReply: MessageTypeDefinition<_tessera_v1_SubmitSharesReply, _tessera_v1_SubmitSharesReply__Output>;
      SubmitSharesRequest: MessageTypeDefinition<
        _tessera_v1_SubmitSharesRequest,
        _tessera_v1_SubmitSharesRequest__Output
      >;
      Tensor: MessageTypeDefinition<_tessera_v1_Tensor, _tessera_v1_Tensor__Output>;
      UsageFlow: MessageTypeDefinition<_tessera_v1_UsageFlow, _tessera_v1_UsageFlow__Output>;
    };
  };
}
