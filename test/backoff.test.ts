import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoff } from '../src/index.js';

const fixed = (r: number) => () => r;

describe('backoff', () => {
  it('has AWS defaults: 100 ms initial, ×2, 30 s cap, full jitter', () => {
    const top = backoff({ random: fixed(0.999999999) });
    expect(top(1)).toBeCloseTo(100, 3);
    expect(top(2)).toBeCloseTo(200, 3);
    expect(top(3)).toBeCloseTo(400, 3);
    expect(top(30)).toBeCloseTo(30_000, 2);
    expect(backoff({ random: fixed(0) })(5)).toBe(0);
  });

  it("'none' is the capped exponential base", () => {
    const d = backoff({ initialDelayMs: 50, multiplier: 3, maxDelayMs: 1_000, jitter: 'none' });
    expect([1, 2, 3, 4, 5].map((n) => d(n))).toEqual([50, 150, 450, 1_000, 1_000]);
  });

  it("'full' is rand(0, base)", () => {
    const d = backoff({ initialDelayMs: 100, jitter: 'full', random: fixed(0.25) });
    expect(d(3)).toBe(100); // base 400
  });

  it("'equal' is base/2 + rand(0, base/2)", () => {
    const d = backoff({ initialDelayMs: 100, jitter: 'equal', random: fixed(0.5) });
    expect(d(3)).toBe(300); // base 400: 200 + 100
    expect(backoff({ jitter: 'equal', random: fixed(0) })(1)).toBe(50);
  });

  it("'decorrelated' is min(max, rand(initial, prev × 3)), prev starting at initial", () => {
    const d = backoff({ initialDelayMs: 100, maxDelayMs: 1_000, jitter: 'decorrelated', random: fixed(0.5) });
    const first = d(1);
    expect(first).toBe(200); // rand(100, 300)
    const second = d(2, first);
    expect(second).toBe(350); // rand(100, 600)
    expect(d(3, 900)).toBe(1_000); // rand(100, 2700) = 1400, capped
  });

  it('refuses bad options and attempts', () => {
    expect(() => backoff({ jitter: 'fuzzy' as never })).toThrow(
      new TypeError("backoff: jitter must be one of 'none', 'full', 'equal', 'decorrelated', got \"fuzzy\""),
    );
    expect(() => backoff({ initialDelayMs: -1 })).toThrow(RangeError);
    expect(() => backoff({ maxDelayMs: 10, initialDelayMs: 20 })).toThrow(/maxDelayMs must be at least initialDelayMs/);
    expect(() => backoff({ multiplier: 0.5 })).toThrow(RangeError);
    expect(() => backoff({ random: 3 as never })).toThrow(TypeError);
    expect(() => backoff()(0)).toThrow(RangeError);
    expect(() => backoff()('2' as never)).toThrow(new TypeError('backoff: attempt must be a positive integer, got "2"'));
    expect(() => backoff()(1.5)).toThrow(RangeError);
  });

  it('a zero initial delay stays zero at any attempt, even where the growth overflows (0 × Infinity)', () => {
    for (const jitter of ['none', 'full', 'equal'] as const) {
      const d = backoff({ initialDelayMs: 0, maxDelayMs: 1_000, jitter, random: () => 0.5 });
      expect([d(1), d(2), d(2_000)]).toEqual([0, 0, 0]);
    }
  });

  it('every delay lies within its jitter bounds and never above maxDelayMs (property)', () => {
    fc.assert(
      fc.property(
        fc.record({
          initialDelayMs: fc.integer({ min: 0, max: 5_000 }),
          extra: fc.integer({ min: 0, max: 60_000 }),
          multiplier: fc.double({ min: 1, max: 5, noNaN: true }),
          jitter: fc.constantFrom('none', 'full', 'equal', 'decorrelated' as const),
        }),
        fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { minLength: 1, maxLength: 20 }),
        ({ initialDelayMs, extra, multiplier, jitter }, randoms) => {
          const maxDelayMs = initialDelayMs + extra;
          let i = 0;
          const d = backoff({ initialDelayMs, maxDelayMs, multiplier, jitter, random: () => randoms[i++ % randoms.length]! });
          let previous: number | undefined;
          for (let attempt = 1; attempt <= randoms.length; attempt++) {
            const delay = d(attempt, previous);
            const base = Math.min(maxDelayMs, initialDelayMs * multiplier ** (attempt - 1));
            expect(delay).toBeGreaterThanOrEqual(0);
            expect(delay).toBeLessThanOrEqual(maxDelayMs);
            if (jitter === 'none') expect(delay).toBe(base);
            if (jitter === 'full') expect(delay).toBeLessThanOrEqual(base);
            if (jitter === 'equal') {
              expect(delay).toBeGreaterThanOrEqual(base / 2);
              expect(delay).toBeLessThanOrEqual(base);
            }
            if (jitter === 'decorrelated') {
              expect(delay).toBeGreaterThanOrEqual(Math.min(initialDelayMs, maxDelayMs));
              expect(delay).toBeLessThanOrEqual(Math.max(initialDelayMs, (previous ?? initialDelayMs) * 3));
            }
            previous = delay;
          }
        },
      ),
      { numRuns: Number(process.env.SLUICE_PROPERTY_RUNS ?? 300) },
    );
  });
});
