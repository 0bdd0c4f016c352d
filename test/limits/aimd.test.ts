import { describe, expect, it } from 'vitest';
import { AimdLimit, type LimitChange, type LimitSample } from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';

/** Feeds `n` samples that end at the clock's time: each started `rttMs` ago with `inFlight` in flight. */
function feed(limit: AimdLimit, clock: TestClock, n: number, s: Partial<LimitSample> = {}): void {
  const rttMs = s.rttMs ?? 10;
  for (let i = 0; i < n; i++) {
    limit.onSample({ startedAt: clock.now() - rttMs, rttMs, inFlight: s.inFlight ?? limit.limit, dropped: s.dropped ?? false });
  }
}

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
    feed(limit, clock, 10, { inFlight: 5 }); // the first window: 10 samples, in flight = limit / 2
    expect(limit.limit).toBe(11);
    feed(limit, clock, 50, { inFlight: 6 }); // the same instant: still inside the next window (≥ 100 ms)
    expect(limit.limit).toBe(11);
    await clock.advance(150);
    feed(limit, clock, 1, { inFlight: 6 }); // one sample past the window's end: it decides
    expect(limit.limit).toBe(12);
    await clock.advance(150);
    feed(limit, clock, 10, { inFlight: 5 }); // 5 * 2 < 12: app-limited, no growth
    expect(limit.limit).toBe(12);
    expect(changes).toEqual([
      { from: 10, to: 11, reason: 'increase' },
      { from: 11, to: 12, reason: 'increase' },
    ]);
  });

  it('multiplies by backoffRatio once per window with a drop, however many drops it holds, and never below minLimit', async () => {
    const clock = new TestClock();
    const limit = new AimdLimit({ initialLimit: 100, minLimit: 60, clock });
    const changes: LimitChange[] = [];
    limit.on('limit', (c) => changes.push(c));
    feed(limit, clock, 1, { dropped: true }); // a drop decides at once, even short of windowSize
    expect(limit.limit).toBe(90);
    feed(limit, clock, 30, { dropped: true }); // the same window
    expect(limit.limit).toBe(90);
    for (let i = 0; i < 10; i++) {
      await clock.advance(150);
      feed(limit, clock, 1, { dropped: true });
    }
    expect(limit.limit).toBe(60);
    expect(changes.map((c) => c.to)).toEqual([90, 81, 72, 64, 60]);
    expect(changes.every((c) => c.reason === 'drop')).toBe(true);
  });

  it('counts a window slower than timeoutMs as a drop', () => {
    const clock = new TestClock(10_000);
    const limit = new AimdLimit({ initialLimit: 50, timeoutMs: 500, clock });
    const changes: LimitChange[] = [];
    limit.on('limit', (c) => changes.push(c));
    feed(limit, clock, 10, { rttMs: 600 });
    expect(changes).toEqual([{ from: 50, to: 45, reason: 'timeout' }]);
  });

  it('never goes above maxLimit', async () => {
    const clock = new TestClock();
    const limit = new AimdLimit({ initialLimit: 3, maxLimit: 5, clock });
    for (let i = 0; i < 10; i++) {
      feed(limit, clock, 10);
      await clock.advance(150);
    }
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
