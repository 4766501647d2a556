/**
 * Who may call each gRPC method, how large its request may be, and how often: one table for every
 * service of proto/tessera/v1. The server toolkit (server.ts) enforces the size and the per-peer
 * rate before a request is parsed; a handler enforces the per-key rate and the caller check once it
 * has recovered the signer. docs/rpc.md shows this table (renderPolicyTable), and a test keeps the
 * two and the .proto files in agreement.
 */

/** Who may call a method. */
export type Caller =
  /** No identity: a read of public state, or a request whose contents prove themselves (a ticket, a fraud proof). */
  | 'anyone'
  /** A payload signed by the caller's own key: the signer is the subject, the call is fresh and used once. */
  | 'signed'
  /** Signed, and the signer is a live member of the cluster in the role the method names (verifier, node, daemon). */
  | 'member'
  /** A registry of this cluster: a seed of the cluster config, or one whose identity a listed registry key signed. */
  | 'registry';

export interface RateRule {
  /** Methods naming the same bucket share one token bucket per peer (or per key). */
  readonly bucket: string;
  readonly perSecond: number;
  readonly burst: number;
}

export interface MethodPolicy {
  /** The largest request accepted, in bytes; a larger one is refused before it is read (MESSAGE_TOO_LARGE). */
  readonly maxRequestBytes: number;
  /** Token bucket per caller host; none: the call is cheap and writes nothing. */
  readonly perPeer?: RateRule;
  /** Token bucket per signing key, taken once the signature is checked. */
  readonly perKey?: RateRule;
  readonly caller: Caller;
  /** What the caller check is, for readers of docs/rpc.md. */
  readonly note: string;
}

export type ServicePolicy = Readonly<Record<string, MethodPolicy>>;

const KiB = 1024;
const MiB = 1024 * KiB;

/** Signed control-plane calls: a canonical-JSON payload and a 65-byte signature. */
const SIGNED_BYTES = 16 * KiB;
const QUERY_BYTES = 4 * KiB;

/**
 * Rate buckets. The registry's cluster config (rateLimit) sets the numbers of its per-peer
 * announce and operator buckets for its own cluster; these are the defaults.
 */
export const RATE = {
  /** Register, Heartbeat, Unregister: a node heartbeats every few seconds. */
  announce: { bucket: 'announce', perSecond: 20, burst: 100 },
  /** Stake, RequestUnstake, WithdrawStake, Claim: rare. */
  operator: { bucket: 'operator', perSecond: 20, burst: 100 },
  /** RequestAudit, PullTickets, CompleteTickets: a client files at the sampling rate of its steps. */
  audit: { bucket: 'audit', perSecond: 100, burst: 500 },
  /**
   * Per signing key: one key is one node, operator or client, so far below its host's bucket (a
   * host may carry many keys). A node announces every few seconds; a client files an audit request
   * for a sampled step.
   */
  announceKey: { bucket: 'announce-key', perSecond: 2, burst: 10 },
  operatorKey: { bucket: 'operator-key', perSecond: 1, burst: 10 },
  auditKey: { bucket: 'audit-key', perSecond: 10, burst: 50 },
  /**
   * SubmitTicket, per node whose signed commitment the ticket carries: a node files one ticket per
   * audited step, so at a sampling rate of 1 a busy node files hundreds; a replay of a ticket already
   * held is not charged (it would spend the honest node's bucket).
   */
  ticketKey: { bucket: 'ticket-key', perSecond: 50, burst: 500 },
  /**
   * SubmitFraudProof, per verifier that signed it: an honest verifier files on every canary it is
   * leased, a share c / (1 − c) of its passes (about 5 %), so a fast one files several a second;
   * recomputation stays bounded by the per-verifier pool share, and a refuted proof costs stake.
   */
  fraudProofKey: { bucket: 'fraud-proof-key', perSecond: 10, burst: 100 },
  /**
   * SubmitShares, one token per call per node with a share in it whose batch signature verified and
   * that the daemon does not hold yet (a call, not a share: a node flushes a batch of any size about
   * once a second, and the call's size and share count are bounded apart).
   */
  sharesKey: { bucket: 'shares-key', perSecond: 10, burst: 100 },
  /**
   * PushBlock, per producer whose header signature verified, for a block not held yet: a daemon
   * pushes one block per block interval (the daemon raises the rate for a short interval).
   */
  blockKey: { bucket: 'block-key', perSecond: 10, burst: 100 },
  /** SubmitTicket, SubmitFraudProof: each is opened and checked against a manifest. */
  ticket: { bucket: 'ticket', perSecond: 200, burst: 1000 },
  /** Discover, GetManifest, ListModels, GetAccount, LookupMembers, GetAuditStatus: database reads. */
  read: { bucket: 'read', perSecond: 200, burst: 400 },
  /** ExchangePeers: a registry asks every gossip round. */
  peers: { bucket: 'peers', perSecond: 50, burst: 200 },
  /** SubmitShares: nodes flush batches every second or so. */
  shares: { bucket: 'shares', perSecond: 100, burst: 400 },
  /** PushBlock, ExchangeBlocks: one per block per daemon, and a sync round per interval. */
  blocks: { bucket: 'blocks', perSecond: 50, burst: 200 },
  /** GetBlock, GetBlocks, GetSettlementSummary: chain reads that load blocks. */
  chainRead: { bucket: 'chain-read', perSecond: 100, burst: 400 },
} as const satisfies Record<string, RateRule>;

/** Every method of every service, by the service's full proto name. */
export const METHOD_POLICIES = {
  'tessera.v1.Registry': {
    Register: {
      maxRequestBytes: SIGNED_BYTES,
      perPeer: RATE.announce,
      perKey: RATE.announceKey,
      caller: 'signed',
      note: 'announcement signed by its nodeId; fresh timestamp, one-time nonce, not banned',
    },
    Heartbeat: {
      maxRequestBytes: SIGNED_BYTES,
      perPeer: RATE.announce,
      perKey: RATE.announceKey,
      caller: 'member',
      note: 'announcement signed by a registered, not evicted node whose registration it repeats',
    },
    Unregister: {
      maxRequestBytes: SIGNED_BYTES,
      perPeer: RATE.announce,
      perKey: RATE.announceKey,
      caller: 'member',
      note: 'announcement signed by a registered node',
    },
    ListModels: { maxRequestBytes: QUERY_BYTES, perPeer: RATE.read, caller: 'anyone', note: 'public' },
    GetManifest: { maxRequestBytes: QUERY_BYTES, perPeer: RATE.read, caller: 'anyone', note: 'public' },
    Discover: { maxRequestBytes: QUERY_BYTES, perPeer: RATE.read, caller: 'anyone', note: 'public' },
    ExchangePeers: {
      maxRequestBytes: 32 * KiB,
      perPeer: RATE.peers,
      caller: 'anyone',
      note: 'anyone may read the peer list; a caller is learned only as a seed or with an identity signed by a listed registry key',
    },
    Stake: {
      maxRequestBytes: SIGNED_BYTES,
      perPeer: RATE.operator,
      perKey: RATE.operatorKey,
      caller: 'signed',
      note: "operator request signed by the node's key; fresh, one-time nonce",
    },
    RequestUnstake: {
      maxRequestBytes: SIGNED_BYTES,
      perPeer: RATE.operator,
      perKey: RATE.operatorKey,
      caller: 'signed',
      note: "operator request signed by the node's key; fresh, one-time nonce",
    },
    WithdrawStake: {
      maxRequestBytes: SIGNED_BYTES,
      perPeer: RATE.operator,
      perKey: RATE.operatorKey,
      caller: 'signed',
      note: "operator request signed by the node's key; fresh, one-time nonce",
    },
    Claim: {
      maxRequestBytes: SIGNED_BYTES,
      perPeer: RATE.operator,
      perKey: RATE.operatorKey,
      caller: 'signed',
      note: "operator request signed by the node's key; fresh, one-time nonce",
    },
    GetAccount: { maxRequestBytes: QUERY_BYTES, perPeer: RATE.read, caller: 'anyone', note: 'public balances' },
    Grant: {
      maxRequestBytes: SIGNED_BYTES,
      perPeer: RATE.operator,
      perKey: RATE.operatorKey,
      caller: 'signed',
      note: "grant signed by a key in the cluster config's operatorKeys; fresh, one-time nonce",
    },
    AssignShard: {
      maxRequestBytes: SIGNED_BYTES,
      perPeer: RATE.announce,
      perKey: RATE.announceKey,
      caller: 'signed',
      note: 'assignment request signed by its nodeId; fresh, one-time nonce, not banned, at least the node stake minimum',
    },
  },
  'tessera.v1.ShardFiles': {
    GetShard: {
      maxRequestBytes: QUERY_BYTES,
      perPeer: RATE.read,
      caller: 'anyone',
      note: 'public: only the shard and tokenizer files a served manifest names, from an offset within them; a few streams per peer host and a bound in all (TOO_MANY_STREAMS)',
    },
  },
  'tessera.v1.Audit': {
    SubmitTicket: {
      maxRequestBytes: 32 * MiB + 64 * KiB,
      perPeer: RATE.ticket,
      perKey: RATE.ticketKey,
      caller: 'anyone',
      note: "carries a ticket (up to the cluster's audit.maxTicketBytes) of a step its audit secret selects, signed by the registered node that signed its commitment, whose key token it takes unless the ticket is held already; queued per node and per submitting host within bounds",
    },
    PullTickets: {
      maxRequestBytes: SIGNED_BYTES,
      perPeer: RATE.audit,
      perKey: RATE.auditKey,
      caller: 'member',
      note: 'signed by a live registered verifier staked at least max(stake.minimum.verifier, 1); fresh, one-time nonce',
    },
    CompleteTickets: {
      maxRequestBytes: 256 * KiB,
      perPeer: RATE.audit,
      perKey: RATE.auditKey,
      caller: 'member',
      note: 'signed by the live registered verifier holding the leases; fresh, one-time nonce',
    },
    SubmitFraudProof: {
      maxRequestBytes: 32 * MiB + 64 * KiB,
      perPeer: RATE.ticket,
      perKey: RATE.fraudProofKey,
      caller: 'anyone',
      note: 'carries a ticket; signed by a registered verifier staked at least max(stake.minimum.verifier, 1), whose key token it takes (not for a ticket with a proof on record); recomputed on a bounded worker pool (4 per verifier) before anything is slashed',
    },
    RequestAudit: {
      maxRequestBytes: 64 * KiB,
      perPeer: RATE.audit,
      perKey: RATE.auditKey,
      caller: 'signed',
      note: 'signed by the client the commitment names; fresh, one-time nonce',
    },
    GetAuditStatus: { maxRequestBytes: QUERY_BYTES, perPeer: RATE.read, caller: 'anyone', note: 'public counts' },
  },
  'tessera.v1.Membership': {
    LookupMembers: {
      maxRequestBytes: 256 * KiB,
      perPeer: RATE.read,
      caller: 'anyone',
      note: 'public: who is registered, with which share key',
    },
    GetRoster: {
      maxRequestBytes: QUERY_BYTES,
      perPeer: RATE.read,
      caller: 'anyone',
      note: "public: the epoch's signed roster; at most one signed per epoch, only near the registry's clock",
    },
    ReportEquivocation: {
      maxRequestBytes: SIGNED_BYTES,
      perPeer: RATE.operator,
      caller: 'anyone',
      note: 'the evidence proves itself: two headers its producer signed for one slot; each pair once',
    },
  },
  'tessera.v1.Daemon': {
    SubmitShares: {
      maxRequestBytes: 32 * MiB,
      perPeer: RATE.shares,
      perKey: RATE.sharesKey,
      caller: 'member',
      note: 'each batch signed by the share key of a registered node (checked per share); one key token per call per node with a share the daemon does not hold yet',
    },
    GetHead: { maxRequestBytes: QUERY_BYTES, caller: 'anyone', note: 'public; answered from memory' },
    GetBlock: { maxRequestBytes: QUERY_BYTES, perPeer: RATE.chainRead, caller: 'anyone', note: 'public' },
    GetBlocks: { maxRequestBytes: QUERY_BYTES, perPeer: RATE.chainRead, caller: 'anyone', note: 'public' },
    GetFeeEstimate: { maxRequestBytes: QUERY_BYTES, caller: 'anyone', note: 'public; answered from memory' },
    GetSettlementSummary: {
      maxRequestBytes: QUERY_BYTES,
      perPeer: RATE.chainRead,
      caller: 'anyone',
      note: 'public',
    },
    PushBlock: {
      maxRequestBytes: 64 * MiB,
      perPeer: RATE.blocks,
      perKey: RATE.blockKey,
      caller: 'member',
      note: "block signed by a live daemon the registry lists; its producer takes a key token for a block not held yet; the daemon pulls missing parents only from the registry's daemons",
    },
    ExchangeBlocks: {
      maxRequestBytes: 16 * KiB,
      perPeer: RATE.blocks,
      caller: 'anyone',
      note: "read-only for the caller; the daemon pulls a better chain only from the registry's daemons",
    },
  },
  'tessera.v1.Node': {
    Forward: {
      maxRequestBytes: 64 * MiB,
      caller: 'anyone',
      note: "paid by the client's signed receipts; bounded by the node's session count (maxSessions) and its message bound for the shard's tensors",
    },
    Info: { maxRequestBytes: QUERY_BYTES, caller: 'anyone', note: 'public; answered from memory' },
  },
} as const satisfies Record<string, ServicePolicy>;

export type ServiceName = keyof typeof METHOD_POLICIES;
