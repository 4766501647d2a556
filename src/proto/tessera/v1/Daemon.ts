// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/daemon.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { Block as _tessera_v1_Block, Block__Output as _tessera_v1_Block__Output } from '../../tessera/v1/Block.ts';
import type { ExchangeBlocksReply as _tessera_v1_ExchangeBlocksReply, ExchangeBlocksReply__Output as _tessera_v1_ExchangeBlocksReply__Output } from '../../tessera/v1/ExchangeBlocksReply.ts';
import type { ExchangeBlocksRequest as _tessera_v1_ExchangeBlocksRequest, ExchangeBlocksRequest__Output as _tessera_v1_ExchangeBlocksRequest__Output } from '../../tessera/v1/ExchangeBlocksRequest.ts';
import type { FeeEstimate as _tessera_v1_FeeEstimate, FeeEstimate__Output as _tessera_v1_FeeEstimate__Output } from '../../tessera/v1/FeeEstimate.ts';
import type { GetBlockRequest as _tessera_v1_GetBlockRequest, GetBlockRequest__Output as _tessera_v1_GetBlockRequest__Output } from '../../tessera/v1/GetBlockRequest.ts';
import type { GetBlocksReply as _tessera_v1_GetBlocksReply, GetBlocksReply__Output as _tessera_v1_GetBlocksReply__Output } from '../../tessera/v1/GetBlocksReply.ts';
import type { GetBlocksRequest as _tessera_v1_GetBlocksRequest, GetBlocksRequest__Output as _tessera_v1_GetBlocksRequest__Output } from '../../tessera/v1/GetBlocksRequest.ts';
import type { GetFeeEstimateRequest as _tessera_v1_GetFeeEstimateRequest, GetFeeEstimateRequest__Output as _tessera_v1_GetFeeEstimateRequest__Output } from '../../tessera/v1/GetFeeEstimateRequest.ts';
import type { GetHeadReply as _tessera_v1_GetHeadReply, GetHeadReply__Output as _tessera_v1_GetHeadReply__Output } from '../../tessera/v1/GetHeadReply.ts';
import type { GetHeadRequest as _tessera_v1_GetHeadRequest, GetHeadRequest__Output as _tessera_v1_GetHeadRequest__Output } from '../../tessera/v1/GetHeadRequest.ts';
import type { GetSettlementSummaryRequest as _tessera_v1_GetSettlementSummaryRequest, GetSettlementSummaryRequest__Output as _tessera_v1_GetSettlementSummaryRequest__Output } from '../../tessera/v1/GetSettlementSummaryRequest.ts';
import type { PushBlockReply as _tessera_v1_PushBlockReply, PushBlockReply__Output as _tessera_v1_PushBlockReply__Output } from '../../tessera/v1/PushBlockReply.ts';
import type { PushBlockRequest as _tessera_v1_PushBlockRequest, PushBlockRequest__Output as _tessera_v1_PushBlockRequest__Output } from '../../tessera/v1/PushBlockRequest.ts';
import type { SettlementSummary as _tessera_v1_SettlementSummary, SettlementSummary__Output as _tessera_v1_SettlementSummary__Output } from '../../tessera/v1/SettlementSummary.ts';
import type { SubmitSharesReply as _tessera_v1_SubmitSharesReply, SubmitSharesReply__Output as _tessera_v1_SubmitSharesReply__Output } from '../../tessera/v1/SubmitSharesReply.ts';
import type { SubmitSharesRequest as _tessera_v1_SubmitSharesRequest, SubmitSharesRequest__Output as _tessera_v1_SubmitSharesRequest__Output } from '../../tessera/v1/SubmitSharesRequest.ts';

/**
 * The share chain (docs/ARCHITECTURE.md §7). Shares travel as canonical JSON (src/protocol/share.ts);
 * a node signs each batch of them once, with a share-batch statement that lists their hashes
 * (src/protocol/share-batch.ts). Statements, usage receipts and block headers travel as Signed
 * canonical JSON (share-batch.ts, receipt.ts, src/chain/block.ts), so every daemon hashes and checks
 * the same bytes. Hashes are 32-byte sha256 digests.
 */
export interface DaemonClient extends grpc.Client {
  /**
   * Gossip between daemons: the caller says where its chain is; the answer holds the blocks it
   * lacks when the answering daemon's chain is the better one.
   */
  ExchangeBlocks(argument: _tessera_v1_ExchangeBlocksRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ExchangeBlocksReply__Output>): grpc.ClientUnaryCall;
  ExchangeBlocks(argument: _tessera_v1_ExchangeBlocksRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_ExchangeBlocksReply__Output>): grpc.ClientUnaryCall;
  ExchangeBlocks(argument: _tessera_v1_ExchangeBlocksRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ExchangeBlocksReply__Output>): grpc.ClientUnaryCall;
  ExchangeBlocks(argument: _tessera_v1_ExchangeBlocksRequest, callback: grpc.requestCallback<_tessera_v1_ExchangeBlocksReply__Output>): grpc.ClientUnaryCall;
  /**
   * Gossip between daemons: the caller says where its chain is; the answer holds the blocks it
   * lacks when the answering daemon's chain is the better one.
   */
  exchangeBlocks(argument: _tessera_v1_ExchangeBlocksRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ExchangeBlocksReply__Output>): grpc.ClientUnaryCall;
  exchangeBlocks(argument: _tessera_v1_ExchangeBlocksRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_ExchangeBlocksReply__Output>): grpc.ClientUnaryCall;
  exchangeBlocks(argument: _tessera_v1_ExchangeBlocksRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ExchangeBlocksReply__Output>): grpc.ClientUnaryCall;
  exchangeBlocks(argument: _tessera_v1_ExchangeBlocksRequest, callback: grpc.requestCallback<_tessera_v1_ExchangeBlocksReply__Output>): grpc.ClientUnaryCall;
  
  /**
   * NOT_FOUND for a height above the head or an unknown hash.
   */
  GetBlock(argument: _tessera_v1_GetBlockRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_Block__Output>): grpc.ClientUnaryCall;
  GetBlock(argument: _tessera_v1_GetBlockRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_Block__Output>): grpc.ClientUnaryCall;
  GetBlock(argument: _tessera_v1_GetBlockRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_Block__Output>): grpc.ClientUnaryCall;
  GetBlock(argument: _tessera_v1_GetBlockRequest, callback: grpc.requestCallback<_tessera_v1_Block__Output>): grpc.ClientUnaryCall;
  /**
   * NOT_FOUND for a height above the head or an unknown hash.
   */
  getBlock(argument: _tessera_v1_GetBlockRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_Block__Output>): grpc.ClientUnaryCall;
  getBlock(argument: _tessera_v1_GetBlockRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_Block__Output>): grpc.ClientUnaryCall;
  getBlock(argument: _tessera_v1_GetBlockRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_Block__Output>): grpc.ClientUnaryCall;
  getBlock(argument: _tessera_v1_GetBlockRequest, callback: grpc.requestCallback<_tessera_v1_Block__Output>): grpc.ClientUnaryCall;
  
  /**
   * The canonical blocks from_height..to_height (inclusive), fewer when they would exceed the reply
   * size: continue from the last height returned.
   */
  GetBlocks(argument: _tessera_v1_GetBlocksRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_GetBlocksReply__Output>): grpc.ClientUnaryCall;
  GetBlocks(argument: _tessera_v1_GetBlocksRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_GetBlocksReply__Output>): grpc.ClientUnaryCall;
  GetBlocks(argument: _tessera_v1_GetBlocksRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_GetBlocksReply__Output>): grpc.ClientUnaryCall;
  GetBlocks(argument: _tessera_v1_GetBlocksRequest, callback: grpc.requestCallback<_tessera_v1_GetBlocksReply__Output>): grpc.ClientUnaryCall;
  /**
   * The canonical blocks from_height..to_height (inclusive), fewer when they would exceed the reply
   * size: continue from the last height returned.
   */
  getBlocks(argument: _tessera_v1_GetBlocksRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_GetBlocksReply__Output>): grpc.ClientUnaryCall;
  getBlocks(argument: _tessera_v1_GetBlocksRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_GetBlocksReply__Output>): grpc.ClientUnaryCall;
  getBlocks(argument: _tessera_v1_GetBlocksRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_GetBlocksReply__Output>): grpc.ClientUnaryCall;
  getBlocks(argument: _tessera_v1_GetBlocksRequest, callback: grpc.requestCallback<_tessera_v1_GetBlocksReply__Output>): grpc.ClientUnaryCall;
  
  GetFeeEstimate(argument: _tessera_v1_GetFeeEstimateRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_FeeEstimate__Output>): grpc.ClientUnaryCall;
  GetFeeEstimate(argument: _tessera_v1_GetFeeEstimateRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_FeeEstimate__Output>): grpc.ClientUnaryCall;
  GetFeeEstimate(argument: _tessera_v1_GetFeeEstimateRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_FeeEstimate__Output>): grpc.ClientUnaryCall;
  GetFeeEstimate(argument: _tessera_v1_GetFeeEstimateRequest, callback: grpc.requestCallback<_tessera_v1_FeeEstimate__Output>): grpc.ClientUnaryCall;
  getFeeEstimate(argument: _tessera_v1_GetFeeEstimateRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_FeeEstimate__Output>): grpc.ClientUnaryCall;
  getFeeEstimate(argument: _tessera_v1_GetFeeEstimateRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_FeeEstimate__Output>): grpc.ClientUnaryCall;
  getFeeEstimate(argument: _tessera_v1_GetFeeEstimateRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_FeeEstimate__Output>): grpc.ClientUnaryCall;
  getFeeEstimate(argument: _tessera_v1_GetFeeEstimateRequest, callback: grpc.requestCallback<_tessera_v1_FeeEstimate__Output>): grpc.ClientUnaryCall;
  
  GetHead(argument: _tessera_v1_GetHeadRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_GetHeadReply__Output>): grpc.ClientUnaryCall;
  GetHead(argument: _tessera_v1_GetHeadRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_GetHeadReply__Output>): grpc.ClientUnaryCall;
  GetHead(argument: _tessera_v1_GetHeadRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_GetHeadReply__Output>): grpc.ClientUnaryCall;
  GetHead(argument: _tessera_v1_GetHeadRequest, callback: grpc.requestCallback<_tessera_v1_GetHeadReply__Output>): grpc.ClientUnaryCall;
  getHead(argument: _tessera_v1_GetHeadRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_GetHeadReply__Output>): grpc.ClientUnaryCall;
  getHead(argument: _tessera_v1_GetHeadRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_GetHeadReply__Output>): grpc.ClientUnaryCall;
  getHead(argument: _tessera_v1_GetHeadRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_GetHeadReply__Output>): grpc.ClientUnaryCall;
  getHead(argument: _tessera_v1_GetHeadRequest, callback: grpc.requestCallback<_tessera_v1_GetHeadReply__Output>): grpc.ClientUnaryCall;
  
  /**
   * FAILED_PRECONDITION while the window is not complete.
   */
  GetSettlementSummary(argument: _tessera_v1_GetSettlementSummaryRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_SettlementSummary__Output>): grpc.ClientUnaryCall;
  GetSettlementSummary(argument: _tessera_v1_GetSettlementSummaryRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_SettlementSummary__Output>): grpc.ClientUnaryCall;
  GetSettlementSummary(argument: _tessera_v1_GetSettlementSummaryRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_SettlementSummary__Output>): grpc.ClientUnaryCall;
  GetSettlementSummary(argument: _tessera_v1_GetSettlementSummaryRequest, callback: grpc.requestCallback<_tessera_v1_SettlementSummary__Output>): grpc.ClientUnaryCall;
  /**
   * FAILED_PRECONDITION while the window is not complete.
   */
  getSettlementSummary(argument: _tessera_v1_GetSettlementSummaryRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_SettlementSummary__Output>): grpc.ClientUnaryCall;
  getSettlementSummary(argument: _tessera_v1_GetSettlementSummaryRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_SettlementSummary__Output>): grpc.ClientUnaryCall;
  getSettlementSummary(argument: _tessera_v1_GetSettlementSummaryRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_SettlementSummary__Output>): grpc.ClientUnaryCall;
  getSettlementSummary(argument: _tessera_v1_GetSettlementSummaryRequest, callback: grpc.requestCallback<_tessera_v1_SettlementSummary__Output>): grpc.ClientUnaryCall;
  
  /**
   * Gossip between daemons: a new block from its producer.
   */
  PushBlock(argument: _tessera_v1_PushBlockRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_PushBlockReply__Output>): grpc.ClientUnaryCall;
  PushBlock(argument: _tessera_v1_PushBlockRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_PushBlockReply__Output>): grpc.ClientUnaryCall;
  PushBlock(argument: _tessera_v1_PushBlockRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_PushBlockReply__Output>): grpc.ClientUnaryCall;
  PushBlock(argument: _tessera_v1_PushBlockRequest, callback: grpc.requestCallback<_tessera_v1_PushBlockReply__Output>): grpc.ClientUnaryCall;
  /**
   * Gossip between daemons: a new block from its producer.
   */
  pushBlock(argument: _tessera_v1_PushBlockRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_PushBlockReply__Output>): grpc.ClientUnaryCall;
  pushBlock(argument: _tessera_v1_PushBlockRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_PushBlockReply__Output>): grpc.ClientUnaryCall;
  pushBlock(argument: _tessera_v1_PushBlockRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_PushBlockReply__Output>): grpc.ClientUnaryCall;
  pushBlock(argument: _tessera_v1_PushBlockRequest, callback: grpc.requestCallback<_tessera_v1_PushBlockReply__Output>): grpc.ClientUnaryCall;
  
  /**
   * Checks batches of compute shares and answers one verdict per share, in order (the shares of the
   * first batch, then of the second, ...). A share is accepted only once it is committed to the
   * daemon's database.
   */
  SubmitShares(argument: _tessera_v1_SubmitSharesRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_SubmitSharesReply__Output>): grpc.ClientUnaryCall;
  SubmitShares(argument: _tessera_v1_SubmitSharesRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_SubmitSharesReply__Output>): grpc.ClientUnaryCall;
  SubmitShares(argument: _tessera_v1_SubmitSharesRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_SubmitSharesReply__Output>): grpc.ClientUnaryCall;
  SubmitShares(argument: _tessera_v1_SubmitSharesRequest, callback: grpc.requestCallback<_tessera_v1_SubmitSharesReply__Output>): grpc.ClientUnaryCall;
  /**
   * Checks batches of compute shares and answers one verdict per share, in order (the shares of the
   * first batch, then of the second, ...). A share is accepted only once it is committed to the
   * daemon's database.
   */
  submitShares(argument: _tessera_v1_SubmitSharesRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_SubmitSharesReply__Output>): grpc.ClientUnaryCall;
  submitShares(argument: _tessera_v1_SubmitSharesRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_SubmitSharesReply__Output>): grpc.ClientUnaryCall;
  submitShares(argument: _tessera_v1_SubmitSharesRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_SubmitSharesReply__Output>): grpc.ClientUnaryCall;
  submitShares(argument: _tessera_v1_SubmitSharesRequest, callback: grpc.requestCallback<_tessera_v1_SubmitSharesReply__Output>): grpc.ClientUnaryCall;
  
}

/**
 * The share chain (docs/ARCHITECTURE.md §7). Shares travel as canonical JSON (src/protocol/share.ts);
 * a node signs each batch of them once, with a share-batch statement that lists their hashes
 * (src/protocol/share-batch.ts). Statements, usage receipts and block headers travel as Signed
 * canonical JSON (share-batch.ts, receipt.ts, src/chain/block.ts), so every daemon hashes and checks
 * the same bytes. Hashes are 32-byte sha256 digests.
 */
export interface DaemonHandlers extends grpc.UntypedServiceImplementation {
  /**
   * Gossip between daemons: the caller says where its chain is; the answer holds the blocks it
   * lacks when the answering daemon's chain is the better one.
   */
  ExchangeBlocks: grpc.handleUnaryCall<_tessera_v1_ExchangeBlocksRequest__Output, _tessera_v1_ExchangeBlocksReply>;
  
  /**
   * NOT_FOUND for a height above the head or an unknown hash.
   */
  GetBlock: grpc.handleUnaryCall<_tessera_v1_GetBlockRequest__Output, _tessera_v1_Block>;
  
  /**
   * The canonical blocks from_height..to_height (inclusive), fewer when they would exceed the reply
   * size: continue from the last height returned.
   */
  GetBlocks: grpc.handleUnaryCall<_tessera_v1_GetBlocksRequest__Output, _tessera_v1_GetBlocksReply>;
  
  GetFeeEstimate: grpc.handleUnaryCall<_tessera_v1_GetFeeEstimateRequest__Output, _tessera_v1_FeeEstimate>;
  
  GetHead: grpc.handleUnaryCall<_tessera_v1_GetHeadRequest__Output, _tessera_v1_GetHeadReply>;
  
  /**
   * FAILED_PRECONDITION while the window is not complete.
   */
  GetSettlementSummary: grpc.handleUnaryCall<_tessera_v1_GetSettlementSummaryRequest__Output, _tessera_v1_SettlementSummary>;
  
  /**
   * Gossip between daemons: a new block from its producer.
   */
  PushBlock: grpc.handleUnaryCall<_tessera_v1_PushBlockRequest__Output, _tessera_v1_PushBlockReply>;
  
  /**
   * Checks batches of compute shares and answers one verdict per share, in order (the shares of the
   * first batch, then of the second, ...). A share is accepted only once it is committed to the
   * daemon's database.
   */
  SubmitShares: grpc.handleUnaryCall<_tessera_v1_SubmitSharesRequest__Output, _tessera_v1_SubmitSharesReply>;
  
}

export interface DaemonDefinition extends grpc.ServiceDefinition {
  ExchangeBlocks: MethodDefinition<_tessera_v1_ExchangeBlocksRequest, _tessera_v1_ExchangeBlocksReply, _tessera_v1_ExchangeBlocksRequest__Output, _tessera_v1_ExchangeBlocksReply__Output>
  GetBlock: MethodDefinition<_tessera_v1_GetBlockRequest, _tessera_v1_Block, _tessera_v1_GetBlockRequest__Output, _tessera_v1_Block__Output>
  GetBlocks: MethodDefinition<_tessera_v1_GetBlocksRequest, _tessera_v1_GetBlocksReply, _tessera_v1_GetBlocksRequest__Output, _tessera_v1_GetBlocksReply__Output>
  GetFeeEstimate: MethodDefinition<_tessera_v1_GetFeeEstimateRequest, _tessera_v1_FeeEstimate, _tessera_v1_GetFeeEstimateRequest__Output, _tessera_v1_FeeEstimate__Output>
  GetHead: MethodDefinition<_tessera_v1_GetHeadRequest, _tessera_v1_GetHeadReply, _tessera_v1_GetHeadRequest__Output, _tessera_v1_GetHeadReply__Output>
  GetSettlementSummary: MethodDefinition<_tessera_v1_GetSettlementSummaryRequest, _tessera_v1_SettlementSummary, _tessera_v1_GetSettlementSummaryRequest__Output, _tessera_v1_SettlementSummary__Output>
  PushBlock: MethodDefinition<_tessera_v1_PushBlockRequest, _tessera_v1_PushBlockReply, _tessera_v1_PushBlockRequest__Output, _tessera_v1_PushBlockReply__Output>
  SubmitShares: MethodDefinition<_tessera_v1_SubmitSharesRequest, _tessera_v1_SubmitSharesReply, _tessera_v1_SubmitSharesRequest__Output, _tessera_v1_SubmitSharesReply__Output>
}
