import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bytesToHex } from '@noble/hashes/utils.js';
import { generateKeyPair } from '../crypto/keys.ts';
import { ForwardReason, NodeStatusError } from '../protocol/forward-status.ts';
import { signReceipt } from '../protocol/receipt.ts';
import { openShare, sessionHashOf } from '../protocol/share.ts';
import { SessionShares } from './session-shares.ts';

const node = generateKeyPair();
const client = generateKeyPair();

test("a node makes shares only from a receipt that names it at its hop's position, up to the receipt's count", () => {
  const shares = new SessionShares(node, 1, 'tiny', 'session-x', bytesToHex(client.publicKey));
  shares.record(3);
  shares.record(2);
  const receipt = (route: string[], tokens: number) =>
    signReceipt(client, {
      sessionHash: sessionHashOf('session-x'),
      modelId: 'tiny',
      tokensPerShard: [tokens, tokens],
      route,
      timestampMs: 1,
    });
  const other = generateKeyPair().address;
  assert.throws(
    () => shares.attest(receipt([node.address, other], 5)),
    (e: Error) =>
      e instanceof NodeStatusError &&
      e.code === ForwardReason.INVALID_USAGE_RECEIPT &&
      e.message.includes(`pays ${other} for hop 1 of the route, not this node ${node.address}`),
  );
  const made = shares.attest(receipt([other, node.address], 4)).map(openShare);
  assert.deepEqual(
    made.map((s) => [s.nodeId, s.shardIndex, s.tokensProcessed]),
    [[node.address, 1, 3]],
    'a share names the hop by its position; the second step waits for a receipt that covers it',
  );
  assert.deepEqual(
    shares.attest(receipt([other, node.address], 5)).map((p) => openShare(p).tokensProcessed),
    [2],
  );
});

test("a receipt that counts no tokens for the hop at this node's position is refused", () => {
  const shares = new SessionShares(node, 2, 'tiny', 'session-y', '');
  shares.record(1);
  const receipt = signReceipt(client, {
    sessionHash: sessionHashOf('session-y'),
    modelId: 'tiny',
    tokensPerShard: [1, 1],
    route: [generateKeyPair().address, node.address],
    timestampMs: 1,
  });
  assert.throws(
    () => shares.attest(receipt),
    (e: Error) =>
      e instanceof NodeStatusError && e.message.includes('usage receipt counts 2 hops, none for hop 2 of the route'),
  );
});
