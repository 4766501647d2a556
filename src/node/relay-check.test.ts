import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sha256 } from '../crypto/hash.ts';
import { generateKeyPair } from '../crypto/keys.ts';
import { relayedHashOf, resultHashOf, signCommitment, signCommitmentFields, stepIdOf } from '../protocol/commitment.ts';
import { ForwardReason, NodeStatusError } from '../protocol/forward-status.ts';
import type { Commitment__Output } from '../proto/tessera/v1/Commitment.ts';
import type { StepResult__Output } from '../proto/tessera/v1/StepResult.ts';
import { checkRelayedResult, checkRelayedSignatures } from './relay-check.ts';

const keys = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
// Hops of a 6-shard model: shard 0, shards 1–3, shards 4–5.
const spans = [
  [0, 1],
  [1, 4],
  [4, 6],
] as const;
const route = keys.map((k, i) => ({
  nodeId: k.address,
  endpoint: `127.0.0.1:${7100 + i}`,
  shardIndex: spans[i]![0],
  shardEnd: spans[i]![1],
  tls: false,
}));
const hashes = [0, 1, 2, 3].map((i) => sha256(Buffer.from(`output ${i}`)));
const sampled = { token: 7, logprob: -0.5, top: [{ token: 7, logprob: -0.5 }] };
const context = {
  position: 5,
  sampling: { temperature: 0, topK: 0, topP: 1, minP: 0, repetitionPenalty: 1.2, seed: 0, logprobs: 1 },
  history: [1, 2, 3],
};

function commitmentOf(
  i: number,
  fields: {
    resultHash?: Uint8Array;
    relayedHash?: Uint8Array;
    inputHash?: Uint8Array;
    span?: readonly [number, number];
  } = {},
): Commitment__Output {
  const [shardIndex, shardEnd] = fields.span ?? spans[i]!;
  const c = signCommitment(keys[i]!, {
    shardIndex,
    shardEnd,
    stepId: stepIdOf('s', 0),
    inputHash: fields.inputHash ?? hashes[i]!,
    outputHash: hashes[i + 1]!,
    ...(fields.resultHash ? { resultHash: fields.resultHash } : {}),
    ...(fields.relayedHash ? { relayedHash: fields.relayedHash } : {}),
  });
  const b = (bytes: Uint8Array | undefined) => Buffer.from(bytes ?? []);
  return {
    ...c,
    stepId: b(c.stepId),
    inputHash: b(c.inputHash),
    outputHash: b(c.outputHash),
    auditCommitment: b(c.auditCommitment),
    resultHash: b(c.resultHash),
    relayedHash: b(c.relayedHash),
    signature: b(c.signature),
  };
}

/** Hop 2's commitment, which covers the result. */
const lastCommitment = () => commitmentOf(2, { resultHash: resultHashOf(sampled, context) });

/** Hop 1's commitment, signed over the hash of `below` (hop 2's signature) as a relay signs it. */
const relayCommitment = (below: Uint8Array, fields: Parameters<typeof commitmentOf>[1] = {}) =>
  commitmentOf(1, { ...fields, relayedHash: relayedHashOf([below])! });

/** What hop 1 relays to hop 0: its own commitment and hop 2's (signed: the signatures follow apart, see split). */
const relayed = (): StepResult__Output => {
  const last = lastCommitment();
  return { step: 0, sampled, commitments: [relayCommitment(last.signature), last] };
};

function refused(result: StepResult__Output, problem: RegExp, passedOn = context): void {
  refusedBy(() => checkRelayedResult(result, route, 0, hashes[1]!, passedOn), problem);
}

function refusedBy(check: () => unknown, problem: RegExp): void {
  assert.throws(check, (error: unknown) => {
    assert.ok(error instanceof NodeStatusError);
    assert.equal(error.code, ForwardReason.NEXT_HOP_BAD_RESULT);
    assert.equal(error.failedNode?.nodeId, route[1]!.nodeId);
    assert.equal(error.failedNode?.shardIndex, 1, 'the failed hop is named by its position in the route');
    assert.match(error.message, /by node 0x[0-9a-f]{40} \(hop 1, shards 1–3\)/);
    assert.match(error.message, problem);
    return true;
  });
}

/** A result as the next hop sends it (signatures empty), and the StepSignatures that follow it. */
function split(result: StepResult__Output) {
  const signatures = { step: result.step, signatures: result.commitments.map((c) => c.signature) };
  const unsigned = { ...result, commitments: result.commitments.map((c) => ({ ...c, signature: Buffer.alloc(0) })) };
  return { unsigned, signatures };
}

test("a hop relays the signatures that follow a result only when its next hop's is by the node its commitment names, over the fields relayed and the signatures after it", () => {
  const { unsigned, signatures } = split(relayed());
  assert.deepEqual(checkRelayedSignatures(signatures, 0, unsigned.commitments, route, 0), signatures.signatures);
  const check =
    (s: typeof signatures, relayedFields = unsigned.commitments) =>
    () =>
      checkRelayedSignatures(s, 0, relayedFields, route, 0);
  const [hop1, hop2] = signatures.signatures as [Buffer, Buffer];
  // the fields relayed are not what hop 1 signed
  const moved = unsigned.commitments.map((c) => ({ ...c }));
  moved[0]!.outputHash = sha256(Buffer.from('other hidden states'));
  refusedBy(
    check(signatures, moved),
    /the commitment of hop 1 at step 0 is not signed by node .* over the signatures it relayed/,
  );
  // hop 2's signature changed after hop 1 signed for it, or hop 1's own in hop 2's place
  const other = Buffer.from(lastCommitment().signature);
  refusedBy(check({ ...signatures, signatures: [hop1, other] }), /the commitment of hop 1 at step 0 is not signed/);
  refusedBy(check({ ...signatures, signatures: [hop1, hop1] }), /the commitment of hop 1 at step 0 is not signed/);
  refusedBy(
    check({ ...signatures, signatures: [hop1, hop2.subarray(0, 64)] }),
    /a signature of step 0 is not 65 bytes/,
  );
  refusedBy(check({ ...signatures, signatures: [hop1] }), /1 signature\(s\) of step 0 for 2/);
  refusedBy(check({ ...signatures, step: 1 }), /the signatures of step 1, not of step 0/);
  // hop 1 signed for a signature of hop 2 over other fields: relayed, as hop 1 answers for it (the
  // client pins it on hop 1, src/client/pending-signatures.ts), and this hop checked one signature
  const forged = Buffer.from(commitmentOf(2, { resultHash: sha256(Buffer.from('another token')) }).signature);
  const vouching = Buffer.from(
    signCommitmentFields(keys[1]!, { ...unsigned.commitments[0]!, relayedHash: relayedHashOf([forged])! }).signature,
  );
  assert.deepEqual(
    checkRelayedSignatures({ step: 0, signatures: [vouching, forged] }, 0, unsigned.commitments, route, 0),
    [vouching, forged],
  );
});

test('the last hop signs its commitment alone: a hop before it checks that signature over the fields relayed', () => {
  const last = lastCommitment();
  const fields = [{ ...last, signature: Buffer.alloc(0) }];
  const lastRoute = route.slice(1);
  assert.deepEqual(checkRelayedSignatures({ step: 0, signatures: [last.signature] }, 0, fields, lastRoute, 0), [
    last.signature,
  ]);
  // a relayed hash in the result's fields changes nothing: the last hop has none to sign
  const claimed = [{ ...fields[0]!, relayedHash: sha256(Buffer.from('nothing below')) }];
  assert.deepEqual(checkRelayedSignatures({ step: 0, signatures: [last.signature] }, 0, claimed, lastRoute, 0), [
    last.signature,
  ]);
});

test('a hop relays a result only when every later commitment links to its output and covers the token', () => {
  const { unsigned } = split(relayed());
  checkRelayedResult(unsigned, route, 0, hashes[1]!, context);
  checkRelayedResult(relayed(), route, 0, hashes[1]!, context);
  refused({ ...relayed(), sampled: { ...sampled, token: 8 } }, /does not cover the token relayed/);
  // a hop below that changed the history it passed on: the last hop sampled with another one
  refused(relayed(), /does not cover the token relayed/, { ...context, history: [1, 2, 4] });
  refused(
    { ...relayed(), commitments: relayed().commitments.slice(0, 1) },
    /carries 1 commitment\(s\) for 2 later hop/,
  );
  const unlinked = relayed();
  unlinked.commitments[0] = relayCommitment(unlinked.commitments[1]!.signature, {
    inputHash: sha256(Buffer.from('not what shard 0 sent')),
  });
  refused(unlinked, /is not this node's output hash/);
  const early = relayed();
  early.commitments[0] = commitmentOf(1, { resultHash: resultHashOf(sampled, context) });
  refused(early, /the commitment of hop 1 claims a result/);
});

test("a hop relays a result only when each later commitment names its hop's node and span exactly", () => {
  const cases: [number, readonly [number, number]][] = [
    [0, [1, 3]], // a sub-span of the hop's: fewer layers than the route asked for
    [0, [1, 5]], // past the hop's span
    [0, [0, 4]], // starts before it
    [1, [4, 5]],
  ];
  for (const [i, span] of cases) {
    const result = relayed();
    result.commitments[i] =
      i === 1 ? commitmentOf(2, { span, resultHash: resultHashOf(sampled, context) }) : commitmentOf(1, { span });
    const hop = route[i + 1]!;
    refused(
      result,
      new RegExp(
        `commitment ${i} names node ${hop.nodeId} for shards \\[${span[0]}, ${span[1]}\\), the route node ${hop.nodeId} for \\[${hop.shardIndex}, ${hop.shardEnd}\\)`,
      ),
    );
  }
  const swapped = relayed();
  swapped.commitments[0] = { ...commitmentOf(2, { span: spans[1] }) };
  refused(swapped, /commitment 0 names node 0x[0-9a-f]{40} for shards \[1, 4\), the route node/);
});
