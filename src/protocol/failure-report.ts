import type { KeyPair } from '../crypto/keys.ts';
import { recoverSigner, sign } from '../crypto/signature.ts';
import { sha256 } from '../crypto/hash.ts';

export const FAILURE_REPORT_DOMAIN = 'tessera/v1/failure-report';

/**
 * Trailing metadata (binary) carrying the signed report behind `tessera-failed-node`: the message
 * below, then the reporter's 65-byte signature over it under FAILURE_REPORT_DOMAIN.
 */
export const FAILURE_REPORT_KEY = 'tessera-failure-report-bin';

/** A node's signed word that a hop of one session failed: itself, or the next hop it forwards to. */
export interface FailureReport {
  readonly reporter: string;
  readonly failedNode: string;
  /** The failed hop's position in the route (0: the hop that takes the prompt). */
  readonly failedShard: number;
  /** The tessera-reason the stream ended with. */
  readonly reason: string;
  /** sha256(utf8(session id)): a report made for one session cannot be replayed into another. */
  readonly sessionHash: Uint8Array;
  readonly timestampMs: number;
}

const ADDRESS = /^0x[0-9a-f]{40}$/;
const MAX_REASON_BYTES = 64;
const FIXED_BYTES = 20 + 20 + 4 + 32 + 8;
const SIGNATURE_BYTES = 65;

export const sessionDigestOf = (sessionId: string): Buffer => sha256(Buffer.from(sessionId, 'utf8'));

/**
 * The signed bytes: reporter (20), failed node (20), failed shard (u32 BE), session hash (32),
 * time (u64 BE ms), then the reason (UTF-8, at most 64 bytes). Throws a RangeError for a report
 * that does not fit.
 */
export function failureReportMessage(r: FailureReport): Buffer {
  if (!ADDRESS.test(r.reporter) || !ADDRESS.test(r.failedNode))
    throw new RangeError('reporter and failed node must be lower-case 0x addresses');
  const reason = Buffer.from(r.reason, 'utf8');
  if (reason.length > MAX_REASON_BYTES) throw new RangeError(`reason is over ${MAX_REASON_BYTES} bytes`);
  if (r.sessionHash.length !== 32) throw new RangeError('session hash must be 32 bytes');
  const message = Buffer.alloc(FIXED_BYTES + reason.length);
  message.write(r.reporter.slice(2), 0, 'hex');
  message.write(r.failedNode.slice(2), 20, 'hex');
  message.writeUInt32BE(r.failedShard, 40);
  message.set(r.sessionHash, 44);
  message.writeBigUInt64BE(BigInt(r.timestampMs), 76);
  reason.copy(message, FIXED_BYTES);
  return message;
}

/** The report as it travels: message, then `key`'s signature (the key must be the reporter's). */
export function signFailureReport(key: KeyPair, report: Omit<FailureReport, 'reporter'>): Buffer {
  const message = failureReportMessage({ ...report, reporter: key.address });
  return Buffer.concat([message, sign(key, FAILURE_REPORT_DOMAIN, message)]);
}

/** The report in `bytes` when it is well formed and signed by the reporter it names; else undefined. */
export function openFailureReport(bytes: Uint8Array): FailureReport | undefined {
  if (bytes.length < FIXED_BYTES + SIGNATURE_BYTES || bytes.length > FIXED_BYTES + MAX_REASON_BYTES + SIGNATURE_BYTES)
    return undefined;
  const buffer = Buffer.from(bytes);
  const message = buffer.subarray(0, buffer.length - SIGNATURE_BYTES);
  const report: FailureReport = {
    reporter: `0x${message.subarray(0, 20).toString('hex')}`,
    failedNode: `0x${message.subarray(20, 40).toString('hex')}`,
    failedShard: message.readUInt32BE(40),
    sessionHash: message.subarray(44, 76),
    timestampMs: Number(message.readBigUInt64BE(76)),
    reason: message.subarray(FIXED_BYTES).toString('utf8'),
  };
  const signer = recoverSigner(FAILURE_REPORT_DOMAIN, message, buffer.subarray(buffer.length - SIGNATURE_BYTES));
  return signer === report.reporter ? report : undefined;
}

/**
 * Whether a report fits one session's route: for that session, by a hop of the route, about itself
 * or the hop right after it (the only hops a node sees fail first-hand), and naming that hop's
 * position. `from` (a route index) leaves out reporters before it: a node accepts only reports from
 * below it.
 */
export function reportFitsRoute(
  report: FailureReport,
  sessionId: string,
  route: readonly { readonly nodeId: string }[],
  from = 0,
): boolean {
  if (!sessionDigestOf(sessionId).equals(report.sessionHash)) return false;
  const at = route.findIndex((hop, i) => i >= from && hop.nodeId === report.reporter);
  if (at < 0) return false;
  const failedAt = route[at]!.nodeId === report.failedNode ? at : at + 1;
  return route[failedAt]?.nodeId === report.failedNode && failedAt === report.failedShard;
}
