import { ForwardReason, NodeStatusError } from '../protocol/forward-status.ts';

export interface SessionQuotaLimits {
  /** Most sessions (open or opening) one client key may hold on this node. */
  readonly perClient: number;
  /** Most sessions (open or opening) one peer address may hold, unless it is exempt. */
  readonly perPeer: number;
}

/** Who asks for a session: the client key its Open names (hex, '' when none) and the peer's host. */
export interface SessionOwner {
  readonly clientKey: string;
  readonly peerHost: string;
  /** A peer that is the previous hop of a registered route forwards many clients: no per-peer count. */
  readonly peerExempt: boolean;
}

/**
 * Shares of a node's session slots per client key and per peer address, so that one client (or one
 * machine with many keys) cannot take them all with Opens alone. A slot is held from the Open to the
 * end of the stream, waiting on the next hop included.
 */
export class SessionQuota {
  private readonly byClient = new Map<string, number>();
  private readonly byPeer = new Map<string, number>();

  constructor(private readonly limits: SessionQuotaLimits) {}

  /** Takes a slot for `owner`, or throws RESOURCE_EXHAUSTED; the returned function gives it back (once). */
  acquire(owner: SessionOwner): () => void {
    const clients = this.byClient.get(owner.clientKey) ?? 0;
    if (clients >= this.limits.perClient)
      throw new NodeStatusError(
        ForwardReason.CLIENT_SESSION_LIMIT,
        'resource_exhausted',
        `client key ${owner.clientKey === '' ? '(none)' : owner.clientKey.slice(0, 16)} already holds ${clients} sessions on this node, its limit; close one first`,
      );
    const peers = owner.peerExempt ? 0 : (this.byPeer.get(owner.peerHost) ?? 0);
    if (peers >= this.limits.perPeer)
      throw new NodeStatusError(
        ForwardReason.PEER_SESSION_LIMIT,
        'resource_exhausted',
        `address ${owner.peerHost} already holds ${peers} sessions on this node, its limit; close one first`,
      );
    this.byClient.set(owner.clientKey, clients + 1);
    if (!owner.peerExempt) this.byPeer.set(owner.peerHost, peers + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      decrement(this.byClient, owner.clientKey);
      if (!owner.peerExempt) decrement(this.byPeer, owner.peerHost);
    };
  }

  /** Sessions held by this client key now. */
  heldByClient(clientKey: string): number {
    return this.byClient.get(clientKey) ?? 0;
  }

  /** Sessions held by this peer address now (exempt sessions not counted). */
  heldByPeer(peerHost: string): number {
    return this.byPeer.get(peerHost) ?? 0;
  }
}

function decrement(counts: Map<string, number>, key: string): void {
  const left = (counts.get(key) ?? 0) - 1;
  if (left > 0) counts.set(key, left);
  else counts.delete(key);
}

/** The host of a gRPC peer string ("ipv4:1.2.3.4:5", "[::1]:5", "1.2.3.4:5"). */
export function peerHostOf(peer: string): string {
  const bare = peer.replace(/^(ipv4|ipv6|unix):/, '');
  const bracketed = /^\[([^\]]+)\](:\d+)?$/.exec(bare);
  if (bracketed) return bracketed[1]!;
  const lastColon = bare.lastIndexOf(':');
  // Several colons and no brackets: an IPv6 address without a port.
  if (lastColon === -1 || bare.indexOf(':') !== lastColon) return bare;
  return bare.slice(0, lastColon);
}
