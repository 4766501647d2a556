import { hex } from '../crypto/hash.ts';
import { credentials as grpcCredentials, type ChannelCredentials } from '@grpc/grpc-js';
import { tessera } from '../proto/services.ts';
import type { DaemonClient as GrpcDaemonClient } from '../proto/tessera/v1/Daemon.ts';
import type { ExchangeBlocksReply__Output } from '../proto/tessera/v1/ExchangeBlocksReply.ts';
import type { FeeEstimate__Output } from '../proto/tessera/v1/FeeEstimate.ts';
import type { GetBlocksReply__Output } from '../proto/tessera/v1/GetBlocksReply.ts';
import type { GetHeadReply__Output } from '../proto/tessera/v1/GetHeadReply.ts';
import type { PushBlockReply__Output } from '../proto/tessera/v1/PushBlockReply.ts';
import type { SettlementSummary__Output } from '../proto/tessera/v1/SettlementSummary.ts';
import type { SubmitSharesReply__Output } from '../proto/tessera/v1/SubmitSharesReply.ts';
import type { Block__Output } from '../proto/tessera/v1/Block.ts';
import type { Verdict } from './admission.ts';
import { type Block } from './block.ts';
import type { SignedRecord } from '../protocol/record.ts';
import type { ShareBatch } from '../protocol/share-batch.ts';
import { summaryHashOf, type SettlementSummary } from './summary.ts';
import { blockFromWire, blockToWire } from './wire.ts';
import { UnaryCalls } from '../rpc/unary-calls.ts';

/** Blocks and share batches are far larger than gRPC's default 4 MiB. */
export const DAEMON_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

export interface FeeEstimate {
  /** The base price per token of the next block. */
  readonly baseFeePerToken: number;
  readonly headHeight: number;
  readonly headBaseFeePerToken: number;
  readonly headShares: number;
  readonly targetShares: number;
  readonly maxShares: number;
  readonly pendingShares: number;
}

export interface ExchangeRequest {
  readonly genesisHash: Uint8Array;
  readonly locator: readonly Uint8Array[];
  readonly headHeight: number;
  readonly headHash: Uint8Array;
  readonly maxBlocks: number;
  readonly fromEndpoint: string;
}

/**
 * A typed, promise-returning client of one daemon. Failed calls reject with the gRPC ServiceError
 * (`code` a `status`, `details` the daemon's message).
 */
export class DaemonClient {
  readonly #grpc: GrpcDaemonClient;
  readonly #calls: UnaryCalls;

  constructor(
    readonly endpoint: string,
    options: { credentials?: ChannelCredentials; deadlineMs?: number } = {},
  ) {
    this.#calls = new UnaryCalls(options.deadlineMs ?? 30_000);
    this.#grpc = new tessera.v1.Daemon(endpoint, options.credentials ?? grpcCredentials.createInsecure(), {
      'grpc.max_receive_message_length': DAEMON_MAX_MESSAGE_BYTES,
      'grpc.max_send_message_length': DAEMON_MAX_MESSAGE_BYTES,
      // Daemons gossip with peers that come and go: reconnect within seconds, not gRPC's default two minutes.
      'grpc.initial_reconnect_backoff_ms': 200,
      'grpc.max_reconnect_backoff_ms': 2_000,
    });
  }

  /** One verdict per share, in order (the first batch's shares, then the second's, ...); an accepted share is durable at the daemon. */
  async submitShares(batches: readonly ShareBatch[], receipts: readonly SignedRecord[] = []): Promise<Verdict[]> {
    const request = {
      batches: batches.map((b) => ({ statement: signed(b.statement), shares: [...b.shares] })),
      receipts: receipts.map(signed),
    };
    const reply = await this.#calls.call<SubmitSharesReply__Output>((cb) =>
      this.#grpc.submitShares(request, this.#calls.options(), cb),
    );
    return reply.verdicts.map((v) => ({
      shareHash: v.shareHash,
      accepted: v.accepted,
      message: v.message,
      ...(v.accepted ? {} : { rejection: v.rejection as Exclude<Verdict['rejection'], undefined> }),
    }));
  }

  async head(): Promise<{ head: Block; genesisHash: Buffer; pendingShares: number }> {
    const reply = await this.#calls.call<GetHeadReply__Output>((cb) =>
      this.#grpc.getHead({}, this.#calls.options(), cb),
    );
    return { head: blockFromWire(reply.head), genesisHash: reply.genesisHash, pendingShares: reply.pendingShares };
  }

  /** The canonical block at a height, or any stored block by hash. */
  async block(at: number | Uint8Array, headersOnly = false): Promise<Block> {
    const request = typeof at === 'number' ? { height: at, headersOnly } : { hash: at, headersOnly };
    return blockFromWire(
      await this.#calls.call<Block__Output>((cb) => this.#grpc.getBlock(request, this.#calls.options(), cb)),
    );
  }

  /** Canonical blocks fromHeight..toHeight; fewer when the reply would be too large (continue after the last). */
  async blocks(
    fromHeight: number,
    toHeight: number,
    headersOnly = false,
  ): Promise<{ blocks: Block[]; headHeight: number }> {
    const reply = await this.#calls.call<GetBlocksReply__Output>((cb) =>
      this.#grpc.getBlocks({ fromHeight, toHeight, headersOnly }, this.#calls.options(), cb),
    );
    return { blocks: reply.blocks.map(blockFromWire), headHeight: reply.headHeight };
  }

  async feeEstimate(): Promise<FeeEstimate> {
    return this.#calls.call<FeeEstimate__Output>((cb) => this.#grpc.getFeeEstimate({}, this.#calls.options(), cb));
  }

  /** A complete window's summary, its hash checked against its fields. */
  async settlementSummary(window: number): Promise<SettlementSummary> {
    const s = await this.#calls.call<SettlementSummary__Output>((cb) =>
      this.#grpc.getSettlementSummary({ window }, this.#calls.options(), cb),
    );
    const fields = {
      window: s.window,
      fromHeight: s.fromHeight,
      toHeight: s.toHeight,
      lastBlockHash: hex(s.lastBlockHash),
      flows: s.flows.map(({ client, nodeId, shares, tokens, fees }) => ({
        client,
        nodeId,
        shares,
        tokens,
        fees: decimal(fees, 'flow fees'),
      })),
      totalShares: s.totalShares,
      totalTokens: s.totalTokens,
      totalFees: decimal(s.totalFees, 'total fees'),
    };
    const hash = summaryHashOf(fields);
    if (hash !== hex(s.hash))
      throw new Error(
        `daemon ${this.endpoint} sent a summary of window ${window} whose hash ${hex(s.hash)} does not match its fields (${hash})`,
      );
    return { ...fields, hash };
  }

  async pushBlock(
    block: Block,
    fromEndpoint: string,
  ): Promise<{ accepted: boolean; message: string; headHeight: number; reason: string }> {
    return this.#calls.call<PushBlockReply__Output>((cb) =>
      this.#grpc.pushBlock({ block: blockToWire(block), fromEndpoint }, this.#calls.options(), cb),
    );
  }

  async exchangeBlocks(
    request: ExchangeRequest,
  ): Promise<{ blocks: Block[]; headHeight: number; headHash: Buffer; more: boolean }> {
    const reply = await this.#calls.call<ExchangeBlocksReply__Output>((cb) =>
      this.#grpc.exchangeBlocks({ ...request, locator: [...request.locator] }, this.#calls.options(), cb),
    );
    return {
      blocks: reply.blocks.map(blockFromWire),
      headHeight: reply.headHeight,
      headHash: reply.headHash,
      more: reply.more,
    };
  }

  /** Closes the channel; calls in flight reject with CANCELLED. */
  close(): void {
    this.#calls.cancelAll();
    this.#grpc.close();
  }
}

const signed = (r: SignedRecord) => ({ payload: r.payload, signature: r.signature });

/** A decimal amount from a peer: anything else is a malformed answer, not a number to guess at. */
function decimal(value: string, what: string): bigint {
  if (!/^(0|[1-9][0-9]{0,77})$/.test(value))
    throw new Error(`the daemon's summary holds ${what} ${JSON.stringify(value)}, not a decimal integer`);
  return BigInt(value);
}
