import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { tessera } from '../proto/services.ts';
import { METHOD_POLICIES, type MethodPolicy } from './method-policy.ts';
import { renderPolicyTable } from './policy-doc.ts';

test('every method of every service in proto/tessera/v1 has exactly one policy', () => {
  const v1 = tessera.v1 as unknown as Record<string, { service?: Record<string, { path: string }> }>;
  const services = Object.entries(v1).filter(([, value]) => (value as { service?: unknown }).service !== undefined);
  assert.deepEqual(services.map(([name]) => `tessera.v1.${name}`).sort(), Object.keys(METHOD_POLICIES).sort());
  for (const [name, value] of services) {
    const table = METHOD_POLICIES[`tessera.v1.${name}` as keyof typeof METHOD_POLICIES];
    assert.deepEqual(Object.keys(value.service!).sort(), Object.keys(table).sort(), `methods of ${name}`);
  }
});

test('control-plane calls take kilobytes; only what carries tensors, tickets, shares or blocks takes more', () => {
  const bulk = new Set(['SubmitTicket', 'SubmitFraudProof', 'SubmitShares', 'PushBlock', 'Forward']);
  for (const [service, methods] of Object.entries(METHOD_POLICIES)) {
    for (const [method, policy] of Object.entries(methods as Readonly<Record<string, MethodPolicy>>)) {
      if (bulk.has(method)) continue;
      assert.ok(policy.maxRequestBytes <= 256 * 1024, `${service}/${method} takes ${policy.maxRequestBytes} bytes`);
    }
  }
});

test('every signed call is rate limited per key and per peer', () => {
  for (const [service, methods] of Object.entries(METHOD_POLICIES)) {
    for (const [method, policy] of Object.entries(methods as Readonly<Record<string, MethodPolicy>>)) {
      if (policy.caller === 'signed') {
        assert.ok(policy.perKey !== undefined && policy.perPeer !== undefined, `${service}/${method}`);
      }
    }
  }
});

/** A markdown table's rows as trimmed cells, so a reformatting (column padding) does not matter. */
const cells = (table: string) =>
  table
    .split('\n')
    .filter((line) => line.startsWith('|') && !/^\|[\s|:-]+\|$/.test(line))
    .map((line) => line.split('|').map((cell) => cell.trim()));

test('docs/rpc.md shows the policy table of src/rpc/method-policy.ts', () => {
  const doc = readFileSync(new URL('../../docs/rpc.md', import.meta.url), 'utf8');
  const block = /<!-- method-policy:start -->\n([\s\S]*?)\n<!-- method-policy:end -->/.exec(doc);
  assert.ok(block, 'docs/rpc.md has no method-policy block');
  assert.deepEqual(
    cells(block[1]!),
    cells(renderPolicyTable()),
    'docs/rpc.md is out of date: replace its method-policy block with renderPolicyTable() of src/rpc/policy-doc.ts',
  );
});
