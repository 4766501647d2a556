import { hex } from '../crypto/hash.ts';
import { silentLogger, type Logger } from '../core/log.ts';
import { availableParallelism } from 'node:os';
import { status, type sendUnaryData, type ServiceError } from '@grpc/grpc-js';
import { TesseraError } from '../core/errors.ts';
import { CallLimits, type RateOverrides } from '../rpc/call-limits.ts';
import { METHOD_POLICIES, RATE } from '../rpc/method-policy.ts';
import { startGrpcServer, type GrpcServer } from '../rpc/server.ts';
import { kindOfStatus, toStatusObject } from '../rpc/status.ts';
import type { KeyPair } from '../crypto/keys.ts';
import { tessera } from '../proto/services.ts';
import type { DaemonHandlers } from '../proto/tessera/v1/Daemon.ts';
import { MembershipUnavailableError, ShareAdmission } from './admission.ts';

import { checkHeaderSignature } from './block.ts';
import { Chain } from './chain.ts';
import { DAEMON_MAX_MESSAGE_BYTES } from './daemon-client.ts';
import { BlockGossip, ExchangeError } from './gossip.ts';
import type { Membership } from './membership.ts';
import { checkChainParams, DEFAULT_CHAIN_PARAMS, epochOf, slotOf, type ChainParams } from './params.ts';
import { leaderOf, openRoster, rosterSigner, type OpenedRoster } from './roster.ts';
import { reasonOf } from '../rpc/status.ts';
import { RecordFormatError } from '../protocol/record.ts';
import { SignaturePool } from './signature-pool.ts';
import { MAX_SHARES_PER_STATEMENT, type ShareBatch } from '../protocol/share-batch.ts';
import { ChainStore } from './store.ts';
import { blockFromWire, blockToWire } from './wire.ts';
import { DaemonMetrics } from './daemon-metrics.ts';
import { Metrics } from '../metrics/metrics.ts';
import { healthy, unhealthy, type Health } from '../metrics/metrics-server.ts';

export interface DaemonOptions {
  /** 0 picks a free port. */
  readonly port: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Where nodes and other daemons reach this one. Default HOST:PORT. */
  readonly advertise?: string;
  readonly dbPath: string;
  /** Who is registered: the daemon asks before it trusts a statement's node or a block's producer. */
  readonly membership: Membership;
  /** How the daemon gets on (and off) the registry's list of daemons. */
  readonly enrollment: DaemonEnrollment;
  /** The daemon's identity: it signs its blocks with this key (and registers with it). */
  readonly key: KeyPair;
  /** The chain's rules; every daemon of one chain must use the same. */
  readonly params?: Partial<ChainParams>;
  /** Other daemons to gossip with, besides the live daemons the registry lists. */
  readonly peers?: readonly string[];
  /** How often to ask peers for blocks this daemon lacks. Default: the block interval, at most 5 s. */
  readonly syncIntervalMs?: number;
  /** Worker threads that check signatures. Default: the cores but one, at most 8, at least 1. */
  readonly verifyThreads?: number;
  /** One structured event per line; default silent. */
  readonly log?: Logger;
  /** Where the daemon's figures go (src/metrics); none: they are kept but never read. */
  readonly metrics?: Metrics;
  /** Bucket numbers by bucket name, over the defaults (a test narrows one). */
  readonly rateLimits?: RateOverrides;
}

/**
 * The daemon's admission at the registry (role "daemon"), which src/cli implements with the registry
 * client: the share chain sits below the registry and does not import it.
 */
export interface DaemonEnrollment {
  /** Registers the daemon reachable at `endpoint` and keeps it registered; rejects, saying why, when the registry refuses or does not answer. */
  join(endpoint: string): Promise<void>;
  /** Stops keeping the daemon registered, unregisters it when it joined, and lets go of the registry; never rejects. */
  leave(): Promise<void>;
}

export interface DaemonHandle {
  readonly port: number;
  readonly endpoint: string;
  /** The daemon's address: the producer of its blocks. */
  readonly daemonId: string;
  readonly chain: Chain;
  /** Its database open, and the registry (membership) answering. */
  health(): Health;
  /** Stops producing and gossiping, answers the calls in flight (so every accepted share is acknowledged), unregisters, closes the database. */
  close(): Promise<void>;
}

const DAEMON_POLICY = METHOD_POLICIES['tessera.v1.Daemon'];

/** Shares per SubmitShares call, in all its batches. */
export const MAX_SHARES_PER_SUBMIT = MAX_SHARES_PER_STATEMENT;

/** Starts a daemon; it takes over `membership` and `enrollment`, and lets go of them when it stops or fails to start. */
export async function startDaemon(options: DaemonOptions): Promise<DaemonHandle> {
  const log = options.log ?? silentLogger;
  const { key, membership, enrollment } = options;
  let params: ChainParams;
  let store: ChainStore;
  let chain: Chain;
  try {
    params = checkChainParams({ ...DEFAULT_CHAIN_PARAMS, ...options.params });
    ({ store, chain } = openChain(options.dbPath, params));
  } catch (error) {
    membership.close();
    await enrollment.leave();
    throw error;
  }
  const pool = new SignaturePool(options.verifyThreads ?? Math.min(8, Math.max(1, availableParallelism() - 1)));
  const limits = new CallLimits({
    // A daemon pushes a block per interval: room for four times that pace, and no less than the default.
    'block-key': {
      perSecond: Math.max(RATE.blockKey.perSecond, 4_000 / params.blockIntervalMs),
      burst: RATE.blockKey.burst,
    },
    ...options.rateLimits,
  });
  const takeKey = (method: keyof typeof DAEMON_POLICY, key: string) =>
    limits.key(method, DAEMON_POLICY[method], key, Date.now());
  const admission = new ShareAdmission(chain, membership, pool, (nodeId) => takeKey('SubmitShares', nodeId));
  const metrics = new DaemonMetrics(options.metrics ?? new Metrics(), chain);
  let gossip: BlockGossip | undefined;
  let closing = false;

  const fail = (callback: sendUnaryData<never>, code: status, details: string, reason: string = status[code]) =>
    callback(toStatusObject(new TesseraError(reason, kindOfStatus(code), details)) as ServiceError);

  const handlers: DaemonHandlers = {
    SubmitShares: (call, callback) => {
      const { batches, receipts } = call.request;
      if (closing)
        return fail(
          callback,
          status.UNAVAILABLE,
          'the daemon is shutting down; send the shares to another daemon or retry',
          'SHUTTING_DOWN',
        );
      const shares = batches.reduce((sum, b) => sum + b.shares.length, 0);
      if (shares > MAX_SHARES_PER_SUBMIT || receipts.length > MAX_SHARES_PER_SUBMIT) {
        return fail(
          callback,
          status.INVALID_ARGUMENT,
          `${shares} shares and ${receipts.length} receipts in one call; at most ${MAX_SHARES_PER_SUBMIT} of each`,
          'TOO_MANY_SHARES',
        );
      }
      const unsigned = batches.findIndex((b) => b.statement === null);
      if (unsigned >= 0)
        return fail(
          callback,
          status.INVALID_ARGUMENT,
          `batch ${unsigned} has no statement: a node signs each batch it sends`,
          'UNSIGNED_BATCH',
        );
      admission.submit(batches as ShareBatch[], receipts).then(
        (verdicts) => {
          metrics.shares(verdicts);
          callback(null, {
            verdicts: verdicts.map((v) => ({
              shareHash: v.shareHash,
              accepted: v.accepted,
              rejection: v.rejection ?? 'SHARE_REJECTION_UNSPECIFIED',
              message: v.message,
            })),
          });
        },
        (error: Error) => {
          if (error instanceof TesseraError) return callback(toStatusObject(error) as ServiceError);
          if (error instanceof MembershipUnavailableError)
            return fail(callback, status.UNAVAILABLE, error.message, 'MEMBERSHIP_UNAVAILABLE');
          log('internal_error', { call: 'SubmitShares', error: error.message });
          fail(
            callback,
            status.INTERNAL,
            `daemon error: ${error.message}; send the shares again (those already accepted come back as SHARE_DUPLICATE)`,
          );
        },
      );
    },
    GetHead: (_call, callback) => {
      callback(null, {
        head: blockToWire(chain.loadBlock(chain.head(), true)),
        genesisHash: chain.genesis.hash,
        pendingShares: store.pendingCount(),
      });
    },
    GetBlock: (call, callback) => {
      const { hash, height, headersOnly } = call.request;
      const row = hash.length > 0 ? store.block(hash) : chain.canonicalBlock(height);
      if (row === undefined) {
        return fail(
          callback,
          status.NOT_FOUND,
          hash.length > 0
            ? `no block ${hex(hash)} here`
            : `no block at height ${height}: the head is at ${store.headHeight()}`,
          'NO_SUCH_BLOCK',
        );
      }
      callback(null, blockToWire(chain.loadBlock(row, headersOnly)));
    },
    GetBlocks: (call, callback) => {
      const { fromHeight, toHeight, headersOnly } = call.request;
      if (toHeight < fromHeight)
        return fail(
          callback,
          status.INVALID_ARGUMENT,
          `to_height ${toHeight} is below from_height ${fromHeight}`,
          'BAD_RANGE',
        );
      const head = store.headHeight();
      const blocks = [];
      let shares = 0;
      // Stop before the reply outgrows what a client takes in: it continues from the last height.
      for (let h = fromHeight; h <= Math.min(toHeight, head) && blocks.length < 1_000 && shares < 60_000; h++) {
        const block = chain.loadBlock(chain.canonicalBlock(h)!, headersOnly);
        shares += block.shares.length;
        blocks.push(blockToWire(block));
      }
      callback(null, { blocks, headHeight: head });
    },
    GetFeeEstimate: (_call, callback) => {
      const fee = chain.feeEstimate();
      callback(null, {
        baseFeePerToken: fee.next,
        headHeight: fee.head.height,
        headBaseFeePerToken: fee.head.baseFee,
        headShares: fee.head.shareCount,
        targetShares: fee.target,
        maxShares: params.maxSharesPerBlock,
        pendingShares: fee.pending,
      });
    },
    GetSettlementSummary: (call, callback) => {
      const { window } = call.request;
      const summary = chain.summary(window);
      if (summary === undefined) {
        const end = (window + 1) * params.windowBlocks;
        return fail(
          callback,
          status.FAILED_PRECONDITION,
          `settlement window ${window} ends at height ${end} and is final once the head is at ${end + params.finalityDepth}; the head is at ${store.headHeight()}`,
          'WINDOW_OPEN',
        );
      }
      callback(null, {
        ...summary,
        flows: summary.flows.map((f) => ({ ...f, fees: String(f.fees) })),
        totalFees: String(summary.totalFees),
        lastBlockHash: Buffer.from(summary.lastBlockHash, 'hex'),
        hash: Buffer.from(summary.hash, 'hex'),
      });
    },
    PushBlock: (call, callback) => {
      if (gossip === undefined)
        return fail(callback, status.UNAVAILABLE, 'the daemon is shutting down', 'SHUTTING_DOWN');
      let block;
      try {
        gossip.checkCaller(call.request.fromEndpoint, 'PushBlock');
        block = blockFromWire(call.request.block);
        // Charged to the producer once its header signature is checked, and only for a block not held
        // yet: anyone can replay a daemon's public blocks, which must not spend its bucket.
        if (store.block(block.hash) === undefined && checkHeaderSignature(block) === undefined)
          takeKey('PushBlock', block.header.producer);
      } catch (error) {
        if (error instanceof TesseraError) return callback(toStatusObject(error) as ServiceError);
        if (error instanceof RecordFormatError)
          return fail(callback, status.INVALID_ARGUMENT, error.message, 'MALFORMED_BLOCK');
        log('internal_error', { call: 'PushBlock', error: (error as Error).message });
        return callback(toStatusObject(error) as ServiceError);
      }
      gossip.receive(block, call.request.fromEndpoint || undefined).then(
        (taken) =>
          callback(null, {
            accepted: taken.accepted,
            message: taken.message,
            reason: taken.reason ?? '',
            headHeight: store.headHeight(),
          }),
        (error: Error) => {
          log('internal_error', { call: 'PushBlock', error: error.message });
          callback(toStatusObject(error) as ServiceError);
        },
      );
    },
    ExchangeBlocks: (call, callback) => {
      if (gossip === undefined)
        return fail(callback, status.UNAVAILABLE, 'the daemon is shutting down', 'SHUTTING_DOWN');
      try {
        const reply = gossip.answer(call.request);
        callback(null, { ...reply, blocks: reply.blocks.map(blockToWire) });
      } catch (error) {
        if (!(error instanceof ExchangeError))
          log('internal_error', { call: 'ExchangeBlocks', error: (error as Error).message });
        callback(toStatusObject(error) as ServiceError);
      }
    },
  };

  let server: GrpcServer;
  try {
    server = await startGrpcServer({
      role: 'daemon',
      port: options.port,
      ...(options.host === undefined ? {} : { host: options.host }),
      ...(options.advertise === undefined ? {} : { advertise: options.advertise }),
      limits,
      maxSendBytes: DAEMON_MAX_MESSAGE_BYTES,
      onRefused: (refusal) => log('call_refused', { ...refusal }),
      services: [{ name: 'tessera.v1.Daemon', definition: tessera.v1.Daemon.service, handlers }],
    });
  } catch (error) {
    await Promise.all([pool.close(), enrollment.leave()]);
    membership.close();
    store.close();
    throw error;
  }
  const { port, endpoint } = server;
  // The daemons this one may dial: its operator's peers and the registry's live daemons (refreshed each slot).
  let peers: string[] = [...(options.peers ?? [])];
  gossip = new BlockGossip({
    chain,
    membership,
    pool,
    self: endpoint,
    isPeer: (candidate) => peers.includes(candidate),
    log,
    onReceived: (accepted) => metrics.blockReceived(accepted),
    authorities: () => authorities,
    onEquivocation: () => {
      if (!closing) void reportEquivocations();
    },
  });

  try {
    await enrollment.join(endpoint);
  } catch (error) {
    server.server.forceShutdown();
    await Promise.all([gossip.close(), pool.close(), enrollment.leave()]);
    membership.close();
    store.close();
    throw error;
  }

  /** Why the registry's membership did not answer the last time; undefined while it answers. */
  let membershipError: string | undefined;
  const refreshPeers = async () => {
    try {
      const live = await membership.liveDaemons();
      membershipError = undefined;
      peers = [
        ...new Set([...(options.peers ?? []), ...live.filter((m) => m.nodeId !== key.address).map((m) => m.endpoint)]),
      ].filter((p) => p !== endpoint);
    } catch (error) {
      // Keep the last known peers: a registry outage must not stop the chain.
      membershipError = (error as ServiceError).details || (error as Error).message;
      log('membership_unavailable', { error: membershipError });
    }
  };

  // Whose roster signatures count: learned from the registry's first roster, then kept.
  let authorities: ReadonlySet<string> | undefined;
  /** The registry's roster per epoch, fetched ahead and kept (in the database too): an outage does not stop the chain. */
  const rosters = new Map<number, OpenedRoster>();
  const rosterOf = async (epoch: number): Promise<OpenedRoster | undefined> => {
    const cached = rosters.get(epoch);
    if (cached !== undefined) return cached;
    try {
      const reply = await membership.roster(epoch, params);
      authorities ??= new Set(reply.authorities);
      const opened = openRoster(reply.roster);
      const signer = rosterSigner(reply.roster);
      if (signer === undefined || !authorities.has(signer) || opened.roster.epoch !== epoch)
        throw new Error(
          `the registry's roster for epoch ${epoch} is signed by ${signer}, of epoch ${opened.roster.epoch}`,
        );
      store.insertRoster({ hash: opened.hash, epoch, ...reply.roster });
      rosters.set(epoch, opened);
      return opened;
    } catch (error) {
      const reason = (error as ServiceError).details || (error as Error).message;
      if (reasonOf(error as ServiceError) !== 'EPOCH_NOT_OPEN')
        log('roster_unavailable', { epoch, error: reason, reason: reasonOf(error as ServiceError) ?? 'ERROR' });
      const held = store.rosterOfEpoch(epoch);
      if (held === undefined) return undefined;
      const opened = openRoster({ payload: held.payload, signature: held.signature });
      rosters.set(epoch, opened);
      return opened;
    }
  };
  /** This epoch's roster, and the next one's in the last quarter of this epoch. */
  const refreshRosters = async (slot: number) => {
    const epoch = epochOf(slot, params);
    for (const e of rosters.keys()) if (e < epoch - 1) rosters.delete(e);
    await rosterOf(epoch);
    if (slot % params.epochSlots >= params.epochSlots - Math.max(1, Math.floor(params.epochSlots / 4)))
      await rosterOf(epoch + 1);
  };

  let reporting: Promise<void> | undefined;
  /** Hands each piece of equivocation evidence not yet taken to the registry; what fails is tried again next slot. */
  const reportEquivocations = () =>
    (reporting ??= (async () => {
      if (closing) return;
      for (const evidence of store.unreportedEquivocations()) {
        try {
          const verdict = await membership.reportEquivocation(evidence.first, evidence.second);
          store.markEquivocationReported(evidence.evidence);
          log('equivocation_reported', { producer: verdict.producer, slot: verdict.slot, slashed: verdict.slashed });
        } catch (error) {
          if (reasonOf(error as ServiceError) === 'EVIDENCE_ALREADY_USED')
            store.markEquivocationReported(evidence.evidence);
          else
            log('equivocation_report_failed', {
              producer: evidence.producer,
              slot: evidence.slot,
              error: (error as ServiceError).details || (error as Error).message,
            });
        }
      }
    })().finally(() => (reporting = undefined)));

  await refreshPeers();
  await refreshRosters(slotOf(Date.now(), params));

  let slotTimer: NodeJS.Timeout | undefined;
  let refreshing: Promise<void> | undefined;
  /** Peers, rosters and evidence, one round at a time: a slow registry delays the round, not the slot. */
  const refresh = (slot: number) =>
    (refreshing ??= Promise.all([refreshPeers(), refreshRosters(slot), reportEquivocations()])
      .then(() => undefined)
      .finally(() => (refreshing = undefined)));
  const produceInSlot = async () => {
    const now = Date.now();
    const slot = slotOf(now, params);
    const round = refresh(slot);
    // Only a roster not fetched ahead is waited for; otherwise the block goes out on time.
    if (!rosters.has(epochOf(slot, params))) await round;
    if (closing) return;
    // Along one chain one roster per epoch: a block of the head's epoch keeps the head's roster.
    const head = chain.head();
    const roster =
      head.height > 0 && epochOf(head.slot, params) === epochOf(slot, params)
        ? chain.headRoster()
        : rosters.get(epochOf(slot, params));
    if (roster === undefined || leaderOf(slot, roster) !== key.address) return;
    const block = chain.produce(key, now, roster);
    if (block === undefined) return;
    // Counted with the chain it joined (the height gauge reads the chain), not after the sync below.
    metrics.blockProduced();
    // A block goes out only once it is on disk: after a crash this daemon still holds what its peers built on.
    await store.sync();
    log('block_produced', {
      height: block.header.height,
      hash: hex(block.hash),
      shares: block.header.shareCount,
      baseFeePerToken: block.header.baseFeePerToken,
    });
    gossip?.push(block, peers);
  };
  const scheduleSlot = () => {
    if (closing) return;
    slotTimer = setTimeout(
      () => {
        produceInSlot()
          .catch((error: Error) => log('produce_failed', { error: error.message }))
          .finally(scheduleSlot);
      },
      params.blockIntervalMs - (Date.now() % params.blockIntervalMs) + 1,
    );
  };
  scheduleSlot();

  const syncIntervalMs = options.syncIntervalMs ?? Math.min(params.blockIntervalMs, 5_000);
  let syncing: Promise<void> | undefined;
  const syncTimer = setInterval(() => {
    syncing ??= gossip!.syncWith(peers).finally(() => (syncing = undefined));
  }, syncIntervalMs);

  const head = chain.head();
  log('daemon_started', {
    endpoint,
    daemonId: key.address,
    db: options.dbPath,
    genesis: hex(chain.genesis.hash),
    height: head.height,
    pendingShares: store.pendingCount(),
    blockIntervalMs: params.blockIntervalMs,
  });

  let closed: Promise<void> | undefined;
  return {
    port,
    endpoint,
    daemonId: key.address,
    chain,
    health: () => {
      const details = { endpoint, daemonId: key.address, db: options.dbPath };
      if (closing) return unhealthy('shutting down', details);
      let height: number;
      try {
        height = store.headHeight();
      } catch (error) {
        return unhealthy(`its database ${options.dbPath} cannot be read: ${(error as Error).message}`, details);
      }
      if (membershipError !== undefined)
        return unhealthy(`the registry's membership did not answer: ${membershipError}`, details);
      return healthy({ ...details, height });
    },
    close: () =>
      (closed ??= (async () => {
        closing = true;
        clearTimeout(slotTimer);
        clearInterval(syncTimer);
        await enrollment.leave();
        await server.shutdown();
        const g = gossip!;
        gossip = undefined;
        await g.close();
        await syncing;
        await refreshing;
        await reporting;
        await pool.close();
        membership.close();
        store.close();
        log('daemon_stopped', { endpoint });
      })()),
  };
}

function openChain(dbPath: string, params: ChainParams): { store: ChainStore; chain: Chain } {
  const store = new ChainStore(dbPath);
  try {
    return { store, chain: new Chain(store, params) };
  } catch (error) {
    store.close();
    throw error;
  }
}
