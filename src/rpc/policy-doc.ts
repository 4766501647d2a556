import { METHOD_POLICIES, type MethodPolicy, type RateRule } from './method-policy.ts';

const size = (bytes: number): string =>
  bytes % (1024 * 1024) === 0
    ? `${bytes / (1024 * 1024)} MiB`
    : bytes >= 1024 * 1024
      ? `${(bytes / (1024 * 1024)).toFixed(2)} MiB`
      : `${bytes / 1024} KiB`;

const rate = (rule: RateRule | undefined): string =>
  rule === undefined ? '—' : `${rule.bucket}: ${rule.perSecond}/s, burst ${rule.burst}`;

const row = (service: string, method: string, p: MethodPolicy): string =>
  `| ${service.replace('tessera.v1.', '')} | ${method} | ${size(p.maxRequestBytes)} | ${rate(p.perPeer)} | ${rate(p.perKey)} | ${p.caller} | ${p.note} |`;

/** The policy table of src/rpc/method-policy.ts as docs/rpc.md shows it (a test keeps the two equal). */
export function renderPolicyTable(): string {
  return [
    '| Service | Method | Max request | Per peer (host) | Per key | Caller | Check |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...Object.entries(METHOD_POLICIES).flatMap(([service, methods]) =>
      Object.entries(methods as Readonly<Record<string, MethodPolicy>>).map(([method, p]) => row(service, method, p)),
    ),
  ].join('\n');
}
