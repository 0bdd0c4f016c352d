import { describe, expect, it } from 'vitest';
import {
  QueueClosedError,
  QueueFullError,
  RejectError,
  RetryExhaustedError,
  SluiceError,
  TimeoutError,
  isQueueClosedError,
  isQueueFullError,
  isRejectError,
  isRetryExhaustedError,
  isSluiceError,
  isTimeoutError,
} from '../src/index.js';

describe('errors', () => {
  it.each([
    [new QueueFullError(5), 'QueueFullError', 'ERR_QUEUE_FULL', isQueueFullError],
    [new QueueClosedError(), 'QueueClosedError', 'ERR_QUEUE_CLOSED', isQueueClosedError],
    [new TimeoutError(100), 'TimeoutError', 'ERR_TIMEOUT', isTimeoutError],
    [new RetryExhaustedError(2, [new Error('a'), new Error('b')]), 'RetryExhaustedError', 'ERR_RETRY_EXHAUSTED', isRetryExhaustedError],
    [new RejectError(new Error('bad')), 'RejectError', 'ERR_REJECTED', isRejectError],
  ] as const)('%s has its name, literal code and guard', (error, name, code, guard) => {
    expect(error).toBeInstanceOf(SluiceError);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe(name);
    expect(error.code).toBe(code);
    expect(isSluiceError(error)).toBe(true);
    expect(isSluiceError(error, code)).toBe(true);
    expect(guard(error)).toBe(true);
    expect(String(error)).toMatch(new RegExp(`^${name}: `));
  });

  it('guards refuse lookalikes and other codes', () => {
    expect(isSluiceError(new Error('x'))).toBe(false);
    expect(isSluiceError({ code: 'ERR_TIMEOUT' })).toBe(false);
    expect(isSluiceError(null)).toBe(false);
    expect(isSluiceError('ERR_TIMEOUT')).toBe(false);
    expect(isSluiceError(new TimeoutError(1), 'ERR_QUEUE_FULL')).toBe(false);
    expect(isTimeoutError(new QueueFullError(1))).toBe(false);
  });

  it('guards recognise an error from another copy of the package (brand, not instanceof)', () => {
    // What a CJS copy's error looks like to the ESM copy: another class, same global brand.
    class ForeignError extends Error {
      readonly code = 'ERR_QUEUE_FULL';
    }
    const foreign = Object.assign(new ForeignError('full'), { [Symbol.for('sluice.error')]: true });
    expect(foreign instanceof QueueFullError).toBe(false);
    expect(isQueueFullError(foreign)).toBe(true);
    expect(isSluiceError(foreign, 'ERR_QUEUE_FULL')).toBe(true);
  });

  it('RetryExhaustedError carries attempts, every error and the last as cause', () => {
    const errors = [new Error('one'), 'two', new Error('three')];
    const e = new RetryExhaustedError(3, errors);
    expect(e.attempts).toBe(3);
    expect(e.errors).toEqual(errors);
    expect(e.cause).toBe(errors[2]);
    expect(e.message).toBe('gave up after 3 attempts: three');
  });

  it('RejectError keeps its cause', () => {
    const cause = new Error('poison');
    expect(new RejectError(cause).cause).toBe(cause);
    expect(new RejectError(cause).message).toBe('rejected: poison');
    expect('cause' in new RejectError()).toBe(false);
  });
});
