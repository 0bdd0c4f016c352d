import { describe, expect, it } from 'vitest';
import { Gradient2Limit, type LimitChange } from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';
import { windows } from './helpers.js';

describe('Gradient2Limit', () => {
  it("defaults to Netflix's: 20 within 1..200", () => {
    const limit = new Gradient2Limit();
    expect([limit.limit, limit.minLimit, limit.maxLimit]).toEqual([20, 1, 200]);
  });

  it('grows by smoothing × queueSize per window while latency holds (gradient 1)', async () => {
    const clock = new TestClock();
    const limit = new Gradient2Limit({ initialLimit: 20, clock });
    for (let i = 0; i < 10; i++) await windows(limit, clock, { rttMs: 10 });
    // 20 + 10 × 0.2 × 4 = 28
    expect(limit.limit).toBe(28);
    expect(limit.longRttMs).toBeCloseTo(10);
  });

  it('shrinks when latency grows past rttTolerance × the long-term average, by at most half per window before smoothing', async () => {
    const clock = new TestClock();
    const limit = new Gradient2Limit({ initialLimit: 40, clock });
    const changes: LimitChange[] = [];
    for (let i = 0; i < 10; i++) await windows(limit, clock, { rttMs: 10 });
    const before = limit.limit;
    limit.on('limit', (c) => changes.push(c));
    await windows(limit, clock, { rttMs: 60 }); // gradient = max(0.5, 1.5 × long / 60) = 0.5
    expect(limit.limit).toBeLessThan(before);
    // estimate × 0.8 + (estimate × 0.5 + 4) × 0.2 = estimate × 0.9 + 0.8
    expect(limit.limit).toBe(Math.floor(before * 0.9 + 0.8));
    expect(changes[0]?.reason).toBe('decrease');
  });

  it('does not grow while in flight stays under half the limit (app-limited)', async () => {
    const clock = new TestClock();
    const limit = new Gradient2Limit({ initialLimit: 20, clock });
    for (let i = 0; i < 10; i++) await windows(limit, clock, { rttMs: 10, inFlight: 9 });
    expect(limit.limit).toBe(20);
  });

  it('backs off by backoffRatio on a window with a drop; backoffRatio 1 ignores drops as Netflix does', async () => {
    const clock = new TestClock();
    const limit = new Gradient2Limit({ initialLimit: 50, clock });
    await windows(limit, clock, { rttMs: 1, inFlight: 50, dropped: true });
    expect(limit.limit).toBe(45);
    const netflix = new Gradient2Limit({ initialLimit: 50, backoffRatio: 1, clock });
    await windows(netflix, clock, { rttMs: 10, inFlight: 50, dropped: true }); // every sample dropped: nothing timed, nothing decided
    expect(netflix.limit).toBe(50);
  });

  it('takes queueSize as a function of the limit', async () => {
    const clock = new TestClock();
    const limit = new Gradient2Limit({ initialLimit: 100, queueSize: (l) => Math.sqrt(l), smoothing: 1, clock });
    await windows(limit, clock, { rttMs: 10 });
    expect(limit.limit).toBe(110);
  });

  it('rejects bad options', () => {
    expect(() => new Gradient2Limit({ smoothing: 2 })).toThrow('Gradient2Limit: smoothing must be in (0, 1], got 2');
    expect(() => new Gradient2Limit({ rttTolerance: 0.5 })).toThrow('Gradient2Limit: rttTolerance must be at least 1, got 0.5');
    expect(() => new Gradient2Limit({ backoffRatio: 0.2 })).toThrow('Gradient2Limit: backoffRatio must be in [0.5, 1], got 0.2');
    expect(() => new Gradient2Limit({ longWindow: 0 })).toThrow(RangeError);
    expect(() => new Gradient2Limit({ queueSize: -1 })).toThrow(RangeError);
    expect(() => new Gradient2Limit({ queuesize: 4 } as never)).toThrow("did you mean 'queueSize'?");
  });
});
