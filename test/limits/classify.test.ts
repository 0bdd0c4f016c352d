import { describe, expect, it } from 'vitest';
import { defaultClassify, RejectError, TimeoutError } from '../../src/index.js';

const fail = (error: unknown) => defaultClassify({ ok: false, error });

describe('defaultClassify', () => {
  it('counts fulfilment as success, whatever the value', () => {
    expect(defaultClassify({ ok: true, value: undefined })).toBe('success');
    expect(defaultClassify({ ok: true, value: { status: 429 } })).toBe('success');
  });

  it('counts 429, 503, Retry-After and timeouts as dropped', () => {
    expect(fail(Object.assign(new Error('busy'), { status: 429 }))).toBe('dropped');
    expect(fail(Object.assign(new Error('down'), { statusCode: 503 }))).toBe('dropped');
    expect(fail(Object.assign(new Error('later'), { retryAfterMs: 0 }))).toBe('dropped');
    expect(fail(new TimeoutError(10))).toBe('dropped');
    expect(fail(new DOMException('timed out', 'TimeoutError'))).toBe('dropped');
  });

  it('ignores RejectError (even with a Retry-After), other errors and thrown non-objects', () => {
    expect(fail(Object.assign(new RejectError('bad item'), { retryAfterMs: 100 }))).toBe('ignore');
    expect(fail(Object.assign(new Error('server error'), { status: 500 }))).toBe('ignore');
    expect(fail(new TypeError('bug'))).toBe('ignore');
    expect(fail('429')).toBe('ignore');
    expect(fail(null)).toBe('ignore');
    expect(fail(Object.assign(new Error('x'), { retryAfterMs: -1 }))).toBe('ignore');
  });
});
