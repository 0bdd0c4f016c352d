import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Histogram } from '../../src/internal/histogram.js';

const runs = Number(process.env.SLUICE_PROPERTY_RUNS ?? 300);

/** The exact quantile: the smallest recorded value with at least ⌈q·n⌉ values at or below it. */
function exact(sorted: number[], q: number): number {
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1]!;
}

describe('Histogram (log-linear, fixed memory)', () => {
  it('gives every quantile within 1/32 of the exact one (0.5 µs below 16 µs), whatever the data', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.double({ min: 0, max: 0.05, noNaN: true }), fc.double({ min: 0, max: 4_000_000, noNaN: true })), {
          minLength: 1,
          maxLength: 400,
        }),
        fc.constantFrom(0, 0.5, 0.9, 0.99, 0.999, 1),
        (values, q) => {
          const h = new Histogram();
          for (const v of values) h.record(v);
          const sorted = [...values].sort((a, b) => a - b);
          const truth = exact(sorted, q);
          const got = h.quantile(q);
          const bound = Math.max(truth * Histogram.RELATIVE_ERROR, 0.0005) + 1e-12;
          expect(Math.abs(got - truth)).toBeLessThanOrEqual(bound);
          expect(h.count).toBe(values.length);
          expect(h.max).toBe(sorted.at(-1));
        },
      ),
      { numRuns: runs },
    );
  });

  it('holds 464 buckets (1.8 KB) however much it records; adds and clears', () => {
    const a = new Histogram();
    const b = new Histogram();
    for (let i = 1; i <= 100_000; i++) a.record(i / 100);
    b.record(5_000);
    a.add(b);
    expect(a.counts.byteLength).toBe(464 * 4);
    expect(a.count).toBe(100_001);
    expect(a.max).toBe(5_000);
    expect(a.quantile(0.5)).toBeCloseTo(500, -1);
    a.clear();
    expect([a.count, a.max, a.quantile(0.5)]).toEqual([0, 0, 0]);
  });

  it('puts values past 2³² µs in the top bucket and keeps max exact', () => {
    const h = new Histogram();
    h.record(1e10);
    h.record(-5);
    h.record(Number.NaN);
    expect(h.max).toBe(1e10);
    expect(h.quantile(1)).toBe(1e10);
    expect(h.quantile(0.5)).toBe(0.0005);
  });
});
