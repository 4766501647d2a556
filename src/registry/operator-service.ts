import type { Logger } from '../core/log.ts';
import { status, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import type { AccountReply } from '../proto/tessera/v1/AccountReply.ts';
import type { Escrow } from '../proto/tessera/v1/Escrow.ts';
import type { RegistryHandlers } from '../proto/tessera/v1/Registry.ts';
import type { Signed__Output } from '../proto/tessera/v1/Signed.ts';
import { AdmissionError, checkNonce, checkTimestamp, openOrRefuse, rememberNonce } from './admission.ts';
import type { ClusterConfig } from './cluster-config.ts';
import { openOperatorRequest, type OperatorAction, type OperatorRequest } from './operator-request.ts';
import { grantAmounts, grantEvidence, openGrant, type OperatorGrant } from './grant.ts';
import type { GrantReply } from '../proto/tessera/v1/GrantReply.ts';
import { TesseraError } from '../core/errors.ts';
import { toStatusObject } from '../rpc/status.ts';
import { EscrowError, type GrantLedger, type SettlementBackend } from './settlement-backend.ts';
import type { RegistryStore } from './store.ts';

export interface OperatorServiceOptions {
  readonly store: RegistryStore;
  readonly config: ClusterConfig;
  /** Where stakes and payouts are kept; none: the registry keeps no accounts and says so. */
  readonly backend?: SettlementBackend & Partial<GrantLedger>;
  readonly log: Logger;
  /** Takes the signer's per-key rate token (throws RATE_LIMITED), once the signature is checked. */
  readonly takeKey?: (method: string, key: string) => void;
}

export type OperatorHandlers = Pick<
  RegistryHandlers,
  'Stake' | 'RequestUnstake' | 'WithdrawStake' | 'Claim' | 'GetAccount' | 'Grant'
>;

const METHOD_OF_ACTION: Readonly<Record<OperatorAction, string>> = {
  stake: 'Stake',
  unstake: 'RequestUnstake',
  withdraw: 'WithdrawStake',
  claim: 'Claim',
};

/**
 * An operator's own bond and earnings at the registry (issue 4), and the cluster operator's grants
 * (issue 14): on the ledger, stake is bonded only from the node's own earnings (Stake) or granted
 * by a key in the cluster config's operatorKeys (Grant). Each mutating call is checked as
 * admission checks announcements (signer == node id, clock skew, one-time nonce in the same cache,
 * a per-key rate limit; the server's interceptor takes the per-peer one), then applied to the ledger. With the escrow contract the registry holds no
 * node's key, so it refuses them and GetAccount tells the operator where to send the transaction.
 */
export function operatorHandlers(options: OperatorServiceOptions): OperatorHandlers {
  const { store, config, backend, log } = options;
  if (backend?.kind === 'evm' && config.escrow === undefined)
    throw new Error("an EVM settlement back end needs the cluster config's escrow section (rpcUrl, contract)");
  const escrow: Escrow | undefined =
    backend === undefined
      ? undefined
      : backend.kind === 'ledger'
        ? { backend: 'ledger' }
        : { backend: 'evm', rpcUrl: config.escrow!.rpcUrl, contract: config.escrow!.contract };

  const refusalOf = (error: unknown): TesseraError | undefined => {
    if (error instanceof TesseraError) return error;
    if (error instanceof EscrowError)
      return new TesseraError(snakeCase(error.code), 'failed_precondition', error.message);
    log('internal_error', { error: (error as Error)?.stack ?? String(error) });
    return undefined;
  };

  /** The ledger the signed calls act on, or why there is none here. */
  const ledger = (action: OperatorAction | 'grant'): SettlementBackend & Partial<GrantLedger> => {
    if (backend === undefined)
      throw new AdmissionError(status.FAILED_PRECONDITION, 'this registry keeps no stakes or payouts', 'NO_ACCOUNTS');
    if (backend.kind === 'evm') {
      throw new AdmissionError(
        status.FAILED_PRECONDITION,
        action === 'grant'
          ? `this registry settles on the escrow contract ${config.escrow!.contract} at ${config.escrow!.rpcUrl}, where stake and deposits are transfers: send them from the grantee's own account (\`tessera stake\` does for stake)`
          : `this registry settles on the escrow contract ${config.escrow!.contract} at ${config.escrow!.rpcUrl}: send the ${action} transaction from the node's own account (\`tessera ${action}\` does)`,
        'ESCROW_ONLY',
      );
    }
    return backend;
  };

  const signedCall =
    <Reply>(action: OperatorAction, apply: (request: OperatorRequest, ledger: SettlementBackend) => Promise<Reply>) =>
    (call: ServerUnaryCall<Signed__Output, Reply>, callback: sendUnaryData<Reply>) => {
      const nowMs = Date.now();
      const peer = call.getPeer();
      const refuse = (error: unknown) => {
        const refusal = refusalOf(error);
        if (refusal !== undefined)
          log('operator_refused', { peer, action, code: refusal.code, reason: refusal.message });
        callback(toStatusObject(refusal) as never);
      };
      let request: OperatorRequest;
      let target: SettlementBackend;
      try {
        target = ledger(action);
        request = openOrRefuse(() =>
          openOperatorRequest(action, { payload: call.request.payload, signature: call.request.signature }),
        );
        options.takeKey?.(METHOD_OF_ACTION[action], request.nodeId);
        checkTimestamp(options, request, nowMs, `${action} request`);
        checkNonce(options, request, `${action} request`);
        // Reserved before the ledger acts, so a copy arriving meanwhile is a replay.
        store.transaction(() => rememberNonce(options, request, nowMs));
      } catch (error) {
        return refuse(error);
      }
      apply(request, target).then(
        (reply) => {
          log('operator_action', {
            action,
            nodeId: request.nodeId,
            ...(request.amount === undefined ? {} : { amount: request.amount }),
            reply,
          });
          callback(null, reply);
        },
        (error: unknown) => {
          // The escrow's rules refused it and changed nothing: the nonce goes too, leaving no trace.
          if (error instanceof EscrowError) store.forgetNonce(request.nonce);
          refuse(error);
        },
      );
    };

  const grant = (call: ServerUnaryCall<Signed__Output, GrantReply>, callback: sendUnaryData<GrantReply>) => {
    const nowMs = Date.now();
    const peer = call.getPeer();
    const signed = { payload: call.request.payload, signature: call.request.signature };
    const refuse = (error: unknown) => {
      const refusal = refusalOf(error);
      if (refusal !== undefined) log('grant_refused', { peer, code: refusal.code, reason: refusal.message });
      callback(toStatusObject(refusal) as never);
    };
    let g: OperatorGrant;
    let target: SettlementBackend & GrantLedger;
    let oneTime: { nodeId: string; timestampMs: number; nonce: string };
    try {
      const l = ledger('grant');
      if (l.grant === undefined) throw new Error(`the ${l.kind} back end takes no grants`);
      target = l as SettlementBackend & GrantLedger;
      g = openOrRefuse(() => openGrant(signed));
      if (!config.operatorKeys.includes(g.operator)) {
        throw new AdmissionError(
          status.PERMISSION_DENIED,
          config.operatorKeys.length === 0
            ? `grant signed by ${g.operator}, but this cluster names no operator keys (operatorKeys in its cluster config), so nothing may be granted`
            : `grant signed by ${g.operator}, which is not one of this cluster's operator keys (operatorKeys: ${config.operatorKeys.join(', ')})`,
          'OPERATOR_KEY_UNKNOWN',
        );
      }
      oneTime = { nodeId: g.operator, timestampMs: g.timestampMs, nonce: g.nonce };
      options.takeKey?.('Grant', g.operator);
      checkTimestamp(options, oneTime, nowMs, 'grant');
      checkNonce(options, oneTime, 'grant');
      store.transaction(() => rememberNonce(options, oneTime, nowMs));
    } catch (error) {
      return refuse(error);
    }
    target
      .grant(g.to, grantAmounts(g), grantEvidence(signed))
      .then(async () => {
        const [stake, balance] = await Promise.all([target.stakeOf(g.to), target.balanceOf(g.to)]);
        return { stake: String(stake.amount), balance: String(balance) };
      })
      .then(
        (reply) => {
          log('grant_applied', {
            operator: g.operator,
            to: g.to,
            ...(g.stake === undefined ? {} : { stake: g.stake }),
            ...(g.deposit === undefined ? {} : { deposit: g.deposit }),
          });
          callback(null, reply);
        },
        (error: unknown) => {
          if (error instanceof EscrowError) store.forgetNonce(oneTime.nonce);
          refuse(error);
        },
      );
  };

  return {
    Grant: grant,
    Stake: signedCall('stake', async (r, l) => {
      await l.stake(r.nodeId, BigInt(r.amount!));
      return { stake: String((await l.stakeOf(r.nodeId)).amount) };
    }),
    RequestUnstake: signedCall('unstake', async (r, l) => ({ unstakingUntilMs: await l.requestUnstake(r.nodeId) })),
    WithdrawStake: signedCall('withdraw', async (r, l) => ({ amount: String(await l.withdrawStake(r.nodeId)) })),
    Claim: signedCall('claim', async (r, l) => ({ amount: String(await l.claim(r.nodeId)) })),
    GetAccount: (call, callback) => {
      const { address } = call.request;
      if (backend === undefined)
        return callback(
          toStatusObject(
            new TesseraError('NO_ACCOUNTS', 'failed_precondition', 'this registry keeps no stakes or payouts'),
          ) as never,
        );
      if (!/^0x[0-9a-fA-F]{40}$/.test(address))
        return callback(
          toStatusObject(
            new TesseraError(
              'MALFORMED_REQUEST',
              'invalid',
              `address must be 0x and 40 hex digits (a node id), got ${JSON.stringify(address)}`,
            ),
          ) as never,
        );
      const id = address.toLowerCase();
      Promise.all([backend.stakeOf(id), backend.claimable(id), backend.deposited(id), backend.balanceOf(id)]).then(
        ([stake, claimable, deposited, balance]) => {
          const reply: AccountReply = {
            address: id,
            stake: String(stake.amount),
            unstakingUntilMs: stake.unstakingUntilMs ?? 0,
            claimable: String(claimable),
            deposited: String(deposited),
            balance: String(balance),
            escrow,
          };
          callback(null, reply);
        },
        (error: Error) =>
          callback(
            toStatusObject(
              new TesseraError(
                'ACCOUNTS_UNAVAILABLE',
                'unavailable',
                `the ${backend.kind === 'evm' ? 'escrow contract' : 'ledger'} cannot be read: ${error.message}`,
              ),
            ) as never,
          ),
      );
    },
  };
}

/** A contract error name ("NoStake") as a reason code ("NO_STAKE"). */
function snakeCase(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}
