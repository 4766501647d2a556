import { hex, sha256 } from '../crypto/hash.ts';
import type { Logger } from '../core/log.ts';
import { status, type ServiceError } from '@grpc/grpc-js';
import { TesseraError } from '../core/errors.ts';
import { kindOfStatus } from '../rpc/status.ts';
import { type Block } from './block.ts';
import { checkBlock } from './block-check.ts';
import { InvalidBlockError, type Chain } from './chain.ts';
import { DaemonClient, type ExchangeRequest } from './daemon-client.ts';
import type { Membership } from './membership.ts';
import type { SignaturePool } from './signature-pool.ts';
import type { EquivocationRow } from './store.ts';

export interface GossipOptions {
  readonly chain: Chain;
  readonly membership: Membership;
  readonly pool: SignaturePool;
  /** This daemon's endpoint, as peers reach it. */
  readonly self: string;
  /**
   * Whether `endpoint` is a daemon this one may dial: a live daemon of the registry's membership or
   * a peer its operator configured. A caller's `fromEndpoint` is dialed only when it is one.
   */
  readonly isPeer: (endpoint: string) => boolean;
  readonly log: Logger;
  /** Each block received, pushed or pulled: accepted (stored, or already held) or refused. */
  readonly onReceived?: (accepted: boolean) => void;
  /** Whose roster signatures count, once learned from the registry. */
  readonly authorities: () => ReadonlySet<string> | undefined;
  /** A valid block arrived for a slot whose leader already signed another one here: the pair is stored as evidence. */
  readonly onEquivocation?: (evidence: EquivocationRow) => void;
}

/** What became of a block taken in; `refused`: valid, but its chain forks below the final blocks. */
export interface Received {
  readonly accepted: boolean;
  readonly message: string;
  readonly refused?: boolean;
  /** When not accepted: INVALID_BLOCK, REORG_PAST_FINALITY, UNKNOWN_PARENT or UNCHECKED. */
  readonly reason?: string;
}

/** Blocks per ExchangeBlocks answer, and shares: together they keep an answer well under the message limit. */
const MAX_BLOCKS_PER_EXCHANGE = 64;
const MAX_SHARES_PER_EXCHANGE = 60_000;
/** A locator thins out exponentially: a few dozen hashes reach genesis of any chain. */
const MAX_LOCATOR = 256;

/** A refused PushBlock or ExchangeBlocks: `reason` is the code callers match, `status` the gRPC status it travels as. */
export class ExchangeError extends TesseraError {
  constructor(
    readonly status: status,
    message: string,
    reason: string,
  ) {
    super(reason, kindOfStatus(status), message);
  }
}

/**
 * Block gossip between daemons: takes blocks in (checked, stored, and chosen when their chain is
 * better), pushes new blocks out, and pulls what it lacks from peers by block locator, so a daemon
 * that was cut off catches up and reorganizes onto the better chain.
 */
export class BlockGossip {
  readonly #clients = new Map<string, DaemonClient>();
  readonly #pulling = new Map<string, Promise<void>>();
  /** Per peer, the head of a chain refused as a reorg past finality: not pulled again while the peer's head is that one. */
  readonly #refusedHeads = new Map<string, string>();
  #intake: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(private readonly options: GossipOptions) {}

  /**
   * Refuses a caller that names an endpoint this daemon may not dial (see GossipOptions.isPeer): a
   * daemon connects out only to the members it knows, never to where a stranger points it.
   */
  checkCaller(fromEndpoint: string, call: string): void {
    if (fromEndpoint === '' || fromEndpoint === this.options.self || this.options.isPeer(fromEndpoint)) return;
    this.options.log('peer_refused', { call, fromEndpoint });
    throw new ExchangeError(
      status.PERMISSION_DENIED,
      `${fromEndpoint} is not a live daemon of the registry's membership: ${call} names only a registered daemon's own endpoint (or none)`,
      'UNKNOWN_PEER',
    );
  }

  /** Takes a block from a peer, one block at a time; a block whose parent is unknown makes it pull from `from` (a known peer). */
  receive(block: Block, from?: string, durable = true): Promise<Received> {
    const turn = this.#intake.then(() => this.#receive(block, from, durable));
    this.#intake = turn.catch(() => undefined);
    void turn.then(
      (result) => this.options.onReceived?.(result.accepted),
      () => undefined,
    );
    return turn;
  }

  /** `durable`: synced before it answers (a pushed block); a pull syncs once per batch instead. */
  async #receive(block: Block, from: string | undefined, durable: boolean): Promise<Received> {
    const { chain, log } = this.options;
    if (chain.store.block(block.hash) !== undefined) return { accepted: true, message: 'already held' };
    if (chain.store.block(Buffer.from(block.header.parentHash, 'hex')) === undefined) {
      if (from !== undefined && this.options.isPeer(from)) this.pull(from);
      return {
        accepted: false,
        message: `parent ${block.header.parentHash} is not held here; fetching the chain`,
        reason: 'UNKNOWN_PARENT',
      };
    }
    let contents;
    try {
      contents = await checkBlock(block, {
        ...this.options,
        nowMs: Date.now(),
        authorities: this.options.authorities(),
      });
    } catch (error) {
      if (!(error instanceof InvalidBlockError))
        return { accepted: false, message: (error as Error).message, reason: 'UNCHECKED' };
      log('block_refused', {
        hash: hex(block.hash),
        height: block.header.height,
        producer: block.header.producer,
        reason: error.message,
      });
      return {
        accepted: false,
        message: `block ${hex(block.hash)} is invalid: ${error.message}`,
        reason: 'INVALID_BLOCK',
      };
    }
    chain.storeBlock(block, contents.shares, contents.receipts, contents.statements);
    this.#checkEquivocation(block);
    const adopted = chain.adopt(block.hash);
    // On disk before it is acknowledged, and before this daemon builds on it or passes it on (a
    // block this daemon produces on it is synced with it).
    if (durable) await chain.store.sync();
    if (adopted.invalid !== undefined) {
      log('block_refused', {
        hash: hex(block.hash),
        height: block.header.height,
        producer: block.header.producer,
        reason: adopted.invalid,
      });
      return { accepted: false, message: adopted.invalid, reason: 'INVALID_BLOCK' };
    }
    if (adopted.refused !== undefined) {
      log('reorg_refused', { hash: hex(block.hash), height: block.header.height, reason: adopted.refused });
      return { accepted: false, message: adopted.refused, refused: true, reason: 'REORG_PAST_FINALITY' };
    }
    if (adopted.switched) {
      const fields = {
        height: block.header.height,
        hash: hex(block.hash),
        producer: block.header.producer,
        shares: block.header.shareCount,
      };
      log(
        adopted.orphaned > 0 ? 'chain_reorganized' : 'block_accepted',
        adopted.orphaned > 0 ? { ...fields, orphaned: adopted.orphaned } : fields,
      );
    }
    return { accepted: true, message: adopted.switched ? 'now the head' : 'stored beside the canonical chain' };
  }

  /** Sends a block this daemon produced to each peer; a peer that misses it catches up by pulling. */
  push(block: Block, peers: readonly string[]): void {
    for (const peer of peers) {
      this.#client(peer)
        .pushBlock(block, this.options.self)
        .catch((error: ServiceError) => {
          this.options.log('push_failed', { peer, height: block.header.height, error: error.details || error.message });
        });
    }
  }

  /** Asks each peer for blocks this daemon lacks (one pull per peer at a time). */
  async syncWith(peers: readonly string[]): Promise<void> {
    await Promise.all(peers.map((peer) => this.pull(peer)));
  }

  /** Pulls the peer's chain after the point where it and ours part, when the peer's is better. */
  pull(peer: string): Promise<void> {
    let running = this.#pulling.get(peer);
    if (running === undefined) {
      running = this.#pull(peer)
        .catch((error: ServiceError) => {
          if (!this.#closed) this.options.log('sync_failed', { peer, error: error.details || error.message });
        })
        .finally(() => this.#pulling.delete(peer));
      this.#pulling.set(peer, running);
    }
    return running;
  }

  async #pull(peer: string): Promise<void> {
    const { chain } = this.options;
    const client = this.#client(peer);
    let locator = chain.locator();
    while (!this.#closed) {
      const head = chain.head();
      const reply = await client.exchangeBlocks({
        genesisHash: chain.genesis.hash,
        locator,
        headHeight: head.height,
        headHash: head.hash,
        maxBlocks: MAX_BLOCKS_PER_EXCHANGE,
        fromEndpoint: this.options.self,
      });
      if (this.#refusedHeads.get(peer) === hex(reply.headHash)) return;
      for (const block of reply.blocks) {
        const taken = await this.receive(block, undefined, false);
        if (taken.refused === true || taken.reason === 'INVALID_BLOCK') {
          // Its chain can never be taken (it forks below our final blocks, or breaks a rule): stop, and
          // do not take it in again while the peer's head is the same.
          this.#refusedHeads.set(peer, hex(reply.headHash));
          this.options.log('sync_refused', { peer, peerHead: hex(reply.headHash), reason: taken.message });
          return;
        }
        if (!taken.accepted) throw new Error(`block ${block.header.height} from ${peer}: ${taken.message}`);
      }
      await chain.store.sync();
      if (!reply.more || reply.blocks.length === 0) return;
      // Continue after the last block received, even if its chain is not (yet) the better one here.
      locator = [reply.blocks.at(-1)!.hash, ...chain.locator()];
    }
  }

  /**
   * ExchangeBlocks: when this daemon's chain beats the caller's, the canonical blocks after the
   * first locator hash it holds; when the caller's is better, this daemon pulls from it.
   */
  answer(request: ExchangeRequest): { blocks: Block[]; headHeight: number; headHash: Buffer; more: boolean } {
    const { chain } = this.options;
    this.checkCaller(request.fromEndpoint, 'ExchangeBlocks');
    if (!chain.genesis.hash.equals(request.genesisHash)) {
      throw new ExchangeError(
        status.FAILED_PRECONDITION,
        `different chain: genesis ${hex(request.genesisHash)}, this daemon's is ${hex(chain.genesis.hash)} (chain parameters differ)`,
        'DIFFERENT_CHAIN',
      );
    }
    if (request.locator.length > MAX_LOCATOR)
      throw new ExchangeError(
        status.INVALID_ARGUMENT,
        `${request.locator.length} locator hashes; a locator holds at most ${MAX_LOCATOR}`,
        'LOCATOR_TOO_LONG',
      );
    const head = chain.head();
    const reply = { blocks: [] as Block[], headHeight: head.height, headHash: head.hash, more: false };
    if (chain.beats(request.headHeight, request.headHash)) {
      if (request.fromEndpoint !== '' && this.options.isPeer(request.fromEndpoint))
        void this.pull(request.fromEndpoint);
      return reply;
    }
    if (head.height === request.headHeight && head.hash.equals(request.headHash)) return reply;
    const fork = chain.forkPoint(request.locator) ?? 0;
    const max = Math.min(Math.max(request.maxBlocks, 1), MAX_BLOCKS_PER_EXCHANGE);
    let shares = 0;
    let height = fork + 1;
    for (; height <= head.height && reply.blocks.length < max && shares < MAX_SHARES_PER_EXCHANGE; height++) {
      const block = chain.loadBlock(chain.canonicalBlock(height)!);
      reply.blocks.push(block);
      shares += block.shares.length;
    }
    reply.more = height <= head.height;
    return reply;
  }

  /** Keeps the headers of two blocks of one producer for one slot, each pair once, and says so. */
  #checkEquivocation(block: Block): void {
    const { store } = this.options.chain;
    const { header } = block;
    for (const other of store.blocksOfSlot(header.slot, header.producer)) {
      if (other.hash.equals(block.hash)) continue;
      const [first, second] = [
        { hash: other.hash, payload: other.header, signature: other.signature },
        { hash: block.hash, payload: block.signedHeader.payload, signature: block.signedHeader.signature },
      ].sort((a, b) => Buffer.compare(a.hash, b.hash));
      const evidence = {
        evidence: sha256(Buffer.concat([first!.hash, second!.hash])),
        producer: header.producer,
        slot: header.slot,
        first: { payload: first!.payload, signature: first!.signature },
        second: { payload: second!.payload, signature: second!.signature },
      };
      if (store.insertEquivocation(evidence)) {
        this.options.log('equivocation_seen', {
          producer: header.producer,
          slot: header.slot,
          evidence: hex(evidence.evidence),
        });
        this.options.onEquivocation?.(evidence);
      }
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const client of this.#clients.values()) client.close();
    this.#clients.clear();
    await Promise.allSettled([...this.#pulling.values(), this.#intake]);
  }

  #client(endpoint: string): DaemonClient {
    let client = this.#clients.get(endpoint);
    if (client === undefined) {
      client = new DaemonClient(endpoint, { deadlineMs: 30_000 });
      this.#clients.set(endpoint, client);
    }
    return client;
  }
}
