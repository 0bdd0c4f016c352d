import { describe, expect, it } from 'vitest';
import { AimdLimit, type LimitChange } from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';
import { windows } from './helpers.js';

const times = <T>(n: number, x: T): T[] => Array.from({ length: n }, () => x);

describe('AimdLimit', () => {
  it("starts at Netflix's defaults: 20, within 1..200", () => {
    const limit = new AimdLimit();
    expect([limit.limit, limit.minLimit, limit.maxLimit, limit.backoffRatio, limit.timeoutMs]).toEqual([20, 1, 200, 0.9, 5000]);
  });

  it('grows by one per window while in flight reaches half the limit, and not when the work leaves it unused', async () => {
    const clock = new TestClock();
    const limit = new AimdLimit({ initialLimit: 10, clock });
    const changes: LimitChange[] = [];
    limit.on('limit', (c) => changes.push(c));
    // 5 × 2 ≥ 10: grow; 6 × 2 ≥ 11: grow; then 5 × 2 < 12: app-limited, no growth.
    await windows(
      limit,
      clock,
      { rttMs: 10, inFlight: 5 },
      { rttMs: 10, inFlight: 6 },
      { rttMs: 10, inFlight: 5 },
      { rttMs: 10, inFlight: 5 },
    );
    expect(limit.limit).toBe(12);
    expect(changes).toEqual([
      { from: 10, to: 11, reason: 'increase' },
      { from: 11, to: 12, reason: 'increase' },
    ]);
  });

  it('decides once per window, however many samples it holds, and not before the window is over', async () => {
    const clock = new TestClock();
    const limit = new AimdLimit({ initialLimit: 10, clock });
    for (let i = 0; i < 500; i++) limit.onSample({ startedAt: 0, rttMs: 1, inFlight: 10, dropped: false });
    await clock.advance(99);
    limit.onSample({ startedAt: 99, rttMs: 0, inFlight: 10, dropped: false });
    expect(limit.limit).toBe(10); // the first window lasts minWindowMs (100 ms)
    await clock.advance(3);
    limit.onSample({ startedAt: 102, rttMs: 0, inFlight: 10, dropped: false }); // ends past 0 + 1 ms + 100 ms
    expect(limit.limit).toBe(11);
  });

  it('multiplies by backoffRatio once per window with a drop, however many drops it holds, and never below minLimit', async () => {
    const clock = new TestClock();
    const limit = new AimdLimit({ initialLimit: 100, minLimit: 60, clock });
    const changes: LimitChange[] = [];
    limit.on('limit', (c) => changes.push(c));
    await windows(limit, clock, { rttMs: 1, dropped: true, n: 30 });
    expect(limit.limit).toBe(90);
    await windows(limit, clock, ...times(10, { rttMs: 1, dropped: true, n: 1 })); // a drop decides whatever the window's count
    expect(limit.limit).toBe(60);
    expect(changes.map((c) => c.to)).toEqual([90, 81, 72, 64, 60]);
    expect(changes.every((c) => c.reason === 'drop')).toBe(true);
  });

  it('counts a window slower than timeoutMs as a drop', async () => {
    const clock = new TestClock(10_000);
    const limit = new AimdLimit({ initialLimit: 50, timeoutMs: 500, clock });
    const changes: LimitChange[] = [];
    limit.on('limit', (c) => changes.push(c));
    await windows(limit, clock, { rttMs: 600 });
    expect(changes).toEqual([{ from: 50, to: 45, reason: 'timeout' }]);
  });

  it('never goes above maxLimit', async () => {
    const clock = new TestClock();
    const limit = new AimdLimit({ initialLimit: 3, maxLimit: 5, clock });
    await windows(limit, clock, ...times(10, { rttMs: 10 }));
    expect(limit.limit).toBe(5);
  });

  it('rejects bad options, naming the part, the option and the value', () => {
    expect(() => new AimdLimit({ backoffRatio: 1 })).toThrow('AimdLimit: backoffRatio must be in [0.5, 1), got 1');
    expect(() => new AimdLimit({ backoffRatio: 0.4 })).toThrow(RangeError);
    expect(() => new AimdLimit({ minLimit: 10, maxLimit: 5 })).toThrow('AimdLimit: maxLimit must be at least minLimit (10), got 5');
    expect(() => new AimdLimit({ initialLimit: 0 })).toThrow('AimdLimit: initialLimit must be a positive integer, got 0');
    expect(() => new AimdLimit({ timeoutMs: Number.NaN })).toThrow(RangeError);
    expect(() => new AimdLimit({ minWindowMs: 200, maxWindowMs: 100 })).toThrow('maxWindowMs must be at least minWindowMs (200), got 100');
    expect(() => new AimdLimit({ backofRatio: 0.8 } as never)).toThrow(
      "AimdLimit: unknown option 'backofRatio' (did you mean 'backoffRatio'?)",
    );
    expect(() => new AimdLimit().onSample({ rttMs: 1 } as never)).toThrow(
      'AimdLimit: onSample takes { startedAt, rttMs, inFlight, dropped }',
    );
  });

  it('clamps initialLimit into minLimit..maxLimit', () => {
    expect(new AimdLimit({ initialLimit: 500 }).limit).toBe(200);
    expect(new AimdLimit({ initialLimit: 2, minLimit: 5 }).limit).toBe(5);
  });
});
