import { sha256 } from '../crypto/hash.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair } from '../crypto/keys.ts';
import {
  COMMITMENT_CLOCK_TOLERANCE_MS,
  resultHashOf,
  signCommitment,
  stepIdOf,
  tokenBytes,
} from '../protocol/commitment.ts';
import type { Commitment__Output } from '../proto/tessera/v1/Commitment.ts';
import { checkCommitmentChain, checkResultCovered, ResultRefusal } from './commitment-chain.ts';
import { HopFailure } from './pipeline-session.ts';
import type { RouteHop } from './routing.ts';
import { SignatureChecker } from './signature-checker.ts';

const keys = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
/** Hop i runs shards [bounds[i], bounds[i + 1]) of a 6-shard model. */
const bounds = [0, 2, 3, 6];
const route: RouteHop[] = keys.map((k, i) => ({
  nodeId: k.address,
  endpoint: `127.0.0.1:${7000 + i}`,
  shardIndex: bounds[i]!,
  shardEnd: bounds[i + 1]!,
  tls: false,
}));
const auditCommitment = sha256(Buffer.from("the session's audit secret"));
const step = { sessionId: 'session-1', step: 4, tokens: [1, 403, 407], auditCommitment };
const hashes = [
  sha256(tokenBytes(step.tokens)),
  sha256(Buffer.from('hidden 0')),
  sha256(Buffer.from('hidden 1')),
  sha256(Buffer.from('logits')),
];

/** Each hop's commitment, signed now, or at `datedMs[i]` where given, binding the session's audit commitment. */
function chain(
  datedMs: readonly (number | undefined)[] = [],
  bound: Uint8Array = auditCommitment,
): Commitment__Output[] {
  return keys.map((key, i) => {
    const c = signCommitment(key, {
      shardIndex: route[i]!.shardIndex,
      shardEnd: route[i]!.shardEnd,
      stepId: stepIdOf(step.sessionId, step.step),
      inputHash: hashes[i]!,
      outputHash: hashes[i + 1]!,
      auditCommitment: bound,
      ...(datedMs[i] === undefined ? {} : { timestampMs: datedMs[i] }),
    });
    return {
      ...c,
      stepId: Buffer.from(c.stepId),
      inputHash: Buffer.from(c.inputHash),
      outputHash: Buffer.from(c.outputHash),
      auditCommitment: Buffer.from(c.auditCommitment),
      resultHash: Buffer.from(c.resultHash ?? []),
      relayedHash: Buffer.from(c.relayedHash ?? []),
      signature: Buffer.from(c.signature),
    };
  });
}

function breaks(commitments: Commitment__Output[], nodeId: string, message: RegExp): void {
  assert.throws(
    () => checkCommitmentChain(commitments, route, step),
    (error: unknown) => {
      assert.ok(error instanceof HopFailure);
      assert.equal(error.kind, 'commitment');
      assert.equal(error.failedNodeId, nodeId);
      assert.match(error.message, message);
      return true;
    },
  );
}

test("a linked chain from the route's nodes for this step passes", () => {
  checkCommitmentChain(chain(), route, step);
});

/** Hop `i`'s commitment with `fields` changed, signed again by its own node. */
function resigned(i: number, fields: Partial<Commitment__Output>): Commitment__Output {
  const c = { ...chain()[i]!, ...fields };
  return { ...c, signature: Buffer.from(signCommitment(keys[i]!, c).signature) };
}

test('a broken link names the node that claims an input its predecessor never produced', () => {
  const commitments = chain();
  commitments[2] = resigned(2, { inputHash: sha256(Buffer.from('something else')) });
  breaks(
    commitments,
    route[2]!.nodeId,
    /\(hop 2, shards 3–5\) at step 4: the chain is broken: its input hash [0-9a-f]{64} is not hop 1's output hash/,
  );
});

test('a commitment that does not fit and is not signed by the node it names is pinned on the first hop, which relayed it', () => {
  const commitments = chain();
  commitments[2] = { ...commitments[2]!, inputHash: sha256(Buffer.from('something else')) };
  breaks(commitments, route[0]!.nodeId, /chain is broken/);
});

test('the first hop must have hashed the tokens sent', () => {
  assert.throws(
    () => checkCommitmentChain(chain(), route, { ...step, tokens: [1, 403, 408] }),
    (error: unknown) => {
      assert.ok(error instanceof HopFailure && error.failedNodeId === route[0]!.nodeId);
      assert.match(error.message, /is not the hash of the tokens sent/);
      return true;
    },
  );
});

test("commitments must be this step's, from the route's nodes in order, one per hop", () => {
  assert.throws(
    () => checkCommitmentChain(chain(), route, { ...step, step: 5 }),
    /at step 5: its step id [0-9a-f]{64} is not this step's/,
  );
  breaks(chain().slice(0, 2), route[0]!.nodeId, /carries 2 commitment\(s\) for a route of 3 hops/);
  // each signed by the node it names, in the wrong places: the hops before them relayed that order
  const swapped = chain();
  [swapped[1], swapped[2]] = [swapped[2]!, swapped[1]!];
  breaks(swapped, route[0]!.nodeId, new RegExp(`it names node ${route[2]!.nodeId} running shards \\[3, 6\\)`));
});

test("each commitment must name its hop's exact span: a node that signs another span is pinned with it", () => {
  // hop 1 holds more, say shards 2–4, but the route gave it shard 2 alone: its commitment must say so
  for (const span of [
    { shardIndex: 2, shardEnd: 4 },
    { shardIndex: 1, shardEnd: 3 },
  ]) {
    const commitments = chain();
    commitments[1] = resigned(1, span);
    breaks(
      commitments,
      route[1]!.nodeId,
      new RegExp(
        `commitment of node ${route[1]!.nodeId} \\(hop 1, shard 2\\) at step 4: it names node ${route[1]!.nodeId} running shards \\[${span.shardIndex}, ${span.shardEnd}\\)`,
      ),
    );
  }
  // the same change without the node's signature is the relaying first hop's
  const unsigned = chain();
  unsigned[1] = { ...unsigned[1]!, shardEnd: 4 };
  breaks(unsigned, route[0]!.nodeId, /running shards \[2, 4\)/);
});

test("a commitment dated further from the client's clock than the tolerance fails its node: a backdated one would dodge the request window", () => {
  const limit = COMMITMENT_CLOCK_TOLERANCE_MS;
  checkCommitmentChain(chain([Date.now() - limit + 5_000, undefined, Date.now() + limit - 5_000]), route, step);
  breaks(
    chain([undefined, Date.now() - limit - 5_000]),
    route[1]!.nodeId,
    /it is dated 65 s before this client's clock \(limit 60 s\): its clock is off, or it backdates its commitments/,
  );
  breaks(
    chain([undefined, undefined, Date.now() + limit + 5_000]),
    route[2]!.nodeId,
    /it is dated 65 s after this client's clock/,
  );
});

test('every commitment must bind the audit commitment the session was opened with, or none when it had none', () => {
  const unbound = chain([], new Uint8Array(0));
  breaks(
    [...chain().slice(0, 1), unbound[1]!, ...chain().slice(2)],
    route[1]!.nodeId,
    new RegExp(
      `it binds audit commitment none, not the ${auditCommitment.toString('hex')} the session was opened with`,
    ),
  );
  const other = sha256(Buffer.from('another secret'));
  breaks(
    [...chain().slice(0, 2), chain([], other)[2]!],
    route[2]!.nodeId,
    new RegExp(`it binds audit commitment ${other.toString('hex')}, not the`),
  );
  checkCommitmentChain(unbound, route, { ...step, auditCommitment: new Uint8Array(0) });
  assert.throws(
    () => checkCommitmentChain(chain(), route, { ...step, auditCommitment: new Uint8Array(0) }),
    /binds audit commitment [0-9a-f]{64}, not the none the session was opened with/,
  );
});

test('the signature checker finds the first commitment its node did not sign', async () => {
  const checker = new SignatureChecker();
  assert.equal(await checker.check(chain()), -1);
  const forged = chain();
  // hop 1's fields signed by hop 2's key: the signature recovers to the wrong node
  const wrongKey = signCommitment(keys[2]!, {
    shardIndex: forged[1]!.shardIndex,
    shardEnd: forged[1]!.shardEnd,
    stepId: forged[1]!.stepId,
    inputHash: forged[1]!.inputHash,
    outputHash: forged[1]!.outputHash,
  });
  forged[1] = { ...forged[1]!, signature: Buffer.from(wrongKey.signature) };
  const tampered = chain();
  tampered[2] = { ...tampered[2]!, outputHash: sha256(Buffer.from('other logits')) };
  // The time and the audit binding are signed: moving the time (to backdate the step) or dropping
  // the binding (to make the step unauditable) breaks the signature.
  const redated = chain();
  redated[0] = { ...redated[0]!, timestampMs: redated[0]!.timestampMs - 1 };
  const unbound = chain();
  unbound[1] = { ...unbound[1]!, auditCommitment: Buffer.alloc(0) };
  const [bad1, bad2, bad3, bad4] = await Promise.all([
    checker.check(forged),
    checker.check(tampered),
    checker.check(redated),
    checker.check(unbound),
  ]);
  assert.equal(bad1, 1);
  assert.equal(bad2, 2);
  assert.equal(bad3, 0);
  assert.equal(bad4, 1);
});

const sampled = {
  token: 407,
  logprob: -0.25,
  top: [
    { token: 407, logprob: -0.25 },
    { token: 261, logprob: -1.5 },
  ],
};

const context = {
  position: 9,
  sampling: { temperature: 0.7, topK: 40, topP: 0.9, minP: 0.05, repetitionPenalty: 1.1, seed: 42, logprobs: 2 },
  history: [1, 403, 407],
};

/** The chain with the last hop's commitment covering `result` sampled in `context`. */
function covering(result: typeof sampled, sampledIn = context): Commitment__Output[] {
  const commitments = chain();
  commitments[2] = resigned(2, { resultHash: resultHashOf(result, sampledIn) });
  return commitments;
}

test("the last hop's commitment covers the token and logprobs received; any rewrite of them is refused and pinned on the first hop", () => {
  checkResultCovered(covering(sampled), route, step.step, sampled, context);
  const rewrites = [
    { ...sampled, token: 408 },
    { ...sampled, logprob: -0.125 },
    { ...sampled, top: [sampled.top[1]!, sampled.top[0]!] },
    { ...sampled, top: sampled.top.slice(0, 1) },
  ];
  for (const received of rewrites) {
    assert.throws(
      () => checkResultCovered(covering(sampled), route, step.step, received, context),
      (error: unknown) => {
        assert.ok(error instanceof HopFailure);
        assert.equal(error.kind, 'commitment');
        assert.equal(error.reason, ResultRefusal.RESULT_NOT_COVERED);
        assert.equal(error.failedNodeId, route[0]!.nodeId);
        return true;
      },
    );
  }
  // a last commitment that covers no result at all
  assert.throws(() => checkResultCovered(chain(), route, step.step, sampled, context), /covers no result/);
});

test('the result hash covers what the token was sampled with: a hop that changed the settings, position or history on the way down is caught', () => {
  const changed = [
    { ...context, position: 10 },
    { ...context, sampling: { ...context.sampling, temperature: 1.5 } },
    { ...context, sampling: { ...context.sampling, seed: 43 } },
    { ...context, sampling: { ...context.sampling, repetitionPenalty: 1 } },
    { ...context, history: [1, 403] },
  ];
  for (const sampledIn of changed) {
    assert.throws(
      () => checkResultCovered(covering(sampled, sampledIn), route, step.step, sampled, context),
      (error: unknown) => error instanceof HopFailure && error.reason === ResultRefusal.RESULT_NOT_COVERED,
    );
  }
});

test('only the last hop may claim a result', () => {
  const commitments = covering(sampled);
  commitments[1] = resigned(1, { resultHash: resultHashOf(sampled, context) });
  assert.throws(
    () => checkResultCovered(commitments, route, step.step, sampled, context),
    new RegExp(`the commitment of node ${route[1]!.nodeId} \\(hop 1, shard 2\\), not the last, claims a result`),
  );
});

test('a result commitment is signed under its own domain: its result hash cannot pass for an audit commitment', async () => {
  const checker = new SignatureChecker();
  const commitments = covering(sampled);
  assert.equal(await checker.check(commitments), -1);
  // same message bytes without the audit commitment: the layouts overlap, the domains do not
  const unbound = resigned(2, { auditCommitment: Buffer.alloc(0), resultHash: resultHashOf(sampled, context) });
  const moved = { ...unbound, auditCommitment: unbound.resultHash, resultHash: Buffer.alloc(0) };
  assert.equal(await checker.check([...commitments.slice(0, 2), moved]), 2);
});
