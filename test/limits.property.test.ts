import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AimdLimit, type AdaptiveLimit, Gradient2Limit, VegasLimit } from '../src/index.js';
import { TestClock } from '../src/testing/index.js';

const sample = fc.record({
  stepMs: fc.integer({ min: 0, max: 500 }),
  rttMs: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 10_000, noNaN: true })),
  inFlight: fc.integer({ min: 0, max: 2000 }),
  dropped: fc.boolean(),
});

const makers: [string, (clock: TestClock, min: number, max: number, initial: number) => AdaptiveLimit][] = [
  ['AimdLimit', (clock, minLimit, maxLimit, initialLimit) => new AimdLimit({ clock, minLimit, maxLimit, initialLimit })],
  ['Gradient2Limit', (clock, minLimit, maxLimit, initialLimit) => new Gradient2Limit({ clock, minLimit, maxLimit, initialLimit })],
  [
    'VegasLimit',
    (clock, minLimit, maxLimit, initialLimit) => new VegasLimit({ clock, minLimit, maxLimit, initialLimit, random: () => 0.5 }),
  ],
];

describe.each(makers)('%s (property)', (_name, make) => {
  it('never leaves minLimit..maxLimit, is always an integer, and every change event says from and to truly', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 0, max: 300 }),
        fc.integer({ min: 1, max: 400 }),
        fc.array(sample, { maxLength: 300 }),
        async (min, span, initial, samples) => {
          const clock = new TestClock();
          const limit = make(clock, min, min + span, initial);
          let last = limit.limit;
          limit.on('limit', ({ from, to }) => {
            expect(from).toBe(last);
            expect(to).not.toBe(from);
            last = to;
          });
          for (const s of samples) {
            await clock.advance(s.stepMs);
            limit.onSample({ startedAt: clock.now() - s.rttMs, rttMs: s.rttMs, inFlight: s.inFlight, dropped: s.dropped });
            expect(Number.isInteger(limit.limit)).toBe(true);
            expect(limit.limit).toBeGreaterThanOrEqual(min);
            expect(limit.limit).toBeLessThanOrEqual(min + span);
            expect(limit.limit).toBe(last);
          }
        },
      ),
    );
  });
});
