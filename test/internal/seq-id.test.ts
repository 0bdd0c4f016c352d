import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { seqId } from '../../src/internal/seq-id.js';

describe('seqId', () => {
  it('is String(n) for consecutive numbers across every thousand boundary', () => {
    for (let n = 1; n <= 200_000; n++) {
      const id = seqId(n);
      if (id !== String(n)) expect(id).toBe(String(n));
    }
  });

  it('is String(n) for any safe positive integer, in any order', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), { minLength: 1, maxLength: 50 }), (ns) => {
        for (const n of ns) expect(seqId(n)).toBe(String(n));
      }),
    );
  });
});
