import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { TesseraError } from '../core/errors.ts';
import { hex, sha256 } from '../crypto/hash.ts';
import { generateKeyPair, type KeyPair } from '../crypto/keys.ts';
import { setRootOf, sharesRootOf, signHeader, ZERO_HASH, type BlockHeader } from '../chain/block.ts';
import { EquivocationJudgeService, equivocationEvidence } from './equivocation.ts';
import { EscrowError } from './settlement-backend.ts';

const header = (producer: KeyPair, slot: number, timestampMs: number): BlockHeader => ({
  version: 2,
  height: 5,
  parentHash: ZERO_HASH.replace(/^00/, '11'),
  producer: producer.address,
  slot,
  timestampMs,
  shareCount: 0,
  sharesRoot: sharesRootOf([]),
  receiptsRoot: setRootOf([]),
  statementsRoot: setRootOf([]),
  tokens: 0,
  baseFeePerToken: 1000,
  rosterHash: '22'.repeat(32),
});

const refused = (code: string) => (error: unknown) => error instanceof TesseraError && error.code === code;

test('two headers of one producer for one slot: evicted, banned, slashed once by the fraction; anything else is refused', async () => {
  const producer = generateKeyPair();
  const evicted: string[] = [];
  const slashes: { node: string; bps: number; evidence: string }[] = [];
  const judge = new EquivocationJudgeService({
    db: new Database(':memory:'),
    evict: (address) => evicted.push(address),
    slasher: {
      slash: async (node, bps, evidence) => {
        slashes.push({ node, bps, evidence });
        return 500n;
      },
    },
    fractionBps: 5_000,
  });
  const one = signHeader(producer, header(producer, 7, 7_001));
  const two = signHeader(producer, header(producer, 7, 7_002));
  const verdict = await judge.report(one, two);
  const evidence = equivocationEvidence(sha256(one.payload), sha256(two.payload));
  assert.deepEqual(verdict, { producer: producer.address, slot: 7, evidenceHash: evidence, slashed: '500' });
  assert.deepEqual(slashes, [{ node: producer.address, bps: 5_000, evidence: `0x${hex(evidence)}` }]);
  assert.deepEqual(evicted, [producer.address]);
  assert.match(judge.banReason(producer.address)!, /signed two blocks for slot 7/);
  await assert.rejects(judge.report(two, one), refused('EVIDENCE_ALREADY_USED'));
  await assert.rejects(judge.report(one, one), refused('NOT_EQUIVOCATION'));
  const other = generateKeyPair();
  // A header claiming the producer, signed by another key.
  await assert.rejects(judge.report(one, signHeader(other, header(producer, 7, 7_003))), refused('BAD_SIGNATURE'));
  await assert.rejects(
    judge.report(one, { payload: new Uint8Array([1]), signature: one.signature }),
    refused('MALFORMED_EVIDENCE'),
  );
  assert.equal(slashes.length, 1, 'nothing else was slashed');
});

test('a producer without stake is still evicted and banned; a back end that fails leaves the evidence reportable again', async () => {
  const producer = generateKeyPair();
  let failing = true;
  const judge = new EquivocationJudgeService({
    db: new Database(':memory:'),
    evict: () => {},
    slasher: {
      slash: async () => {
        if (failing) throw new Error('connection refused');
        throw new EscrowError('NoStake', 'no stake');
      },
    },
    fractionBps: 5_000,
  });
  const one = signHeader(producer, header(producer, 9, 9_001));
  const two = signHeader(producer, header(producer, 9, 9_002));
  await assert.rejects(judge.report(one, two), refused('SLASH_FAILED'));
  assert.equal(judge.banReason(producer.address), undefined);
  failing = false;
  assert.equal((await judge.report(one, two)).slashed, '0');
  assert.ok(judge.banReason(producer.address));
});
