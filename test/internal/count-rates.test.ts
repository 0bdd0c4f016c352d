import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CountRates } from '../../src/internal/count-rates.js';

describe('CountRates', () => {
  it('counts the events of the window, short at most of those in its first slot, snapshots taken only as events read the clock', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1_000, max: 60_000 }),
        fc.array(fc.integer({ min: 0, max: 200_000 }), { maxLength: 300 }),
        fc.integer({ min: 0, max: 100_000 }),
        (windowMs, gaps, readGap) => {
          const slotMs = windowMs / 4;
          const rates = new CountRates(windowMs, 0, [0]);
          const times: number[] = [];
          let now = 0;
          for (const gap of gaps) {
            now += gap % 7 === 0 ? gap : gap % 3_000; // mostly close together, now and then a long idle gap
            // The part's hot path: a snapshot when due, then the event counted.
            if (now >= rates.next) rates.snap(now, [times.length]);
            times.push(now);
          }
          const at = now + readGap;
          const { windowMs: covered, perSecond } = rates.read(at, [times.length]);
          const counted = (perSecond[0]! * covered) / 1_000;
          // Exact: the events in the window. The rates may miss those of its first slot, never count one before it.
          const start = at - windowMs;
          const inWindow = times.filter((t) => t >= start).length;
          const inFirstSlot = times.filter((t) => t >= start && t < start + slotMs).length;
          expect(covered).toBeLessThanOrEqual(windowMs);
          // Events at the very instant of a reading that covers no time since its base snapshot give no rate.
          const atRead = times.filter((t) => t === at).length;
          expect(counted).toBeGreaterThanOrEqual(inWindow - inFirstSlot - atRead - 1e-6);
          expect(counted).toBeLessThanOrEqual(inWindow + 1e-6);
          // Busy to the end (an event at least every slot through the window): the window is covered to within two slots.
          if (covered > 0 && times.length > 0 && at - times[times.length - 1]! < slotMs && at >= windowMs && inWindow > 0) {
            const busy = times.every((t, i) => i === 0 || t - times[i - 1]! < slotMs);
            if (busy && times[0]! <= start) expect(covered).toBeGreaterThanOrEqual(windowMs - 2 * slotMs);
          }
        },
      ),
      { numRuns: Number(process.env.SLUICE_PROPERTY_RUNS ?? 200) },
    );
  });

  it('covers the time since construction while younger than the window, and no time (0 per second) when idle past it', () => {
    const rates = new CountRates(60_000, 1_000, [0, 0]);
    expect(rates.read(1_000, [0, 0])).toEqual({ windowMs: 0, perSecond: [0, 0] });
    expect(rates.read(11_000, [50, 5])).toEqual({ windowMs: 10_000, perSecond: [5, 0.5] });
    // Idle for ten minutes after those: nothing in the window.
    expect(rates.read(611_000, [50, 5])).toEqual({ windowMs: 0, perSecond: [0, 0] });
  });
});
