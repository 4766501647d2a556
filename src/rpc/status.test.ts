import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { test } from 'node:test';
import { errorCode, TesseraError } from '../core/errors.ts';
import { fromServiceError, reasonOf, toStatusObject } from './status.ts';

test('a TesseraError keeps its code and kind through a gRPC status and back', () => {
  const error = new TesseraError(
    'SESSION_EXPIRED',
    'not_found',
    'session s1 is not open on this node; reopen and replay',
  );
  const sent = toStatusObject(error);
  assert.equal(sent.code, status.NOT_FOUND);
  assert.equal(sent.details, error.message);
  assert.equal(reasonOf({ metadata: sent.metadata! }), 'SESSION_EXPIRED');
  const received = fromServiceError({ ...sent, message: '', name: 'Error' } as never);
  assert.equal(received.code, 'SESSION_EXPIRED');
  assert.equal(received.kind, 'not_found');
  assert.equal(errorCode(received), 'SESSION_EXPIRED');
});

test('anything that is not a TesseraError leaves as INTERNAL without its message', () => {
  const sent = toStatusObject(new Error('/home/op/secret path leaked'));
  assert.equal(sent.code, status.INTERNAL);
  assert.equal(sent.details, 'internal error');
  assert.equal(reasonOf({ metadata: sent.metadata! }), 'INTERNAL');
  assert.equal(errorCode(new RangeError('x')), 'INTERNAL');
});
