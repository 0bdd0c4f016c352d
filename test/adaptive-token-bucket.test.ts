import { describe, expect, it } from 'vitest';
import { AdaptiveTokenBucket, Queue } from '../src/index.js';
import { TestClock } from '../src/testing/index.js';

const sample = (dropped: boolean, startedAt = 0) => ({ startedAt, rttMs: 1, inFlight: 1, dropped });

/** `perSecond` successful samples a second for `seconds`, in steps of 1/perSecond. */
async function send(bucket: AdaptiveTokenBucket, clock: TestClock, perSecond: number, seconds: number): Promise<void> {
  for (let i = 0; i < perSecond * seconds; i++) {
    await clock.advance(1000 / perSecond);
    bucket.onSample(sample(false));
  }
}

describe('AdaptiveTokenBucket', () => {
  it('runs at ratePerSecond (default: the maximum) until the first drop', async () => {
    const clock = new TestClock();
    const bucket = new AdaptiveTokenBucket({ maxRatePerSecond: 100, ratePerSecond: 40, clock });
    await send(bucket, clock, 40, 3);
    expect(bucket.ratePerSecond).toBe(40);
    expect(bucket.measuredRatePerSecond).toBeCloseTo(40, 0);
    expect(new AdaptiveTokenBucket({ maxRatePerSecond: 7 }).ratePerSecond).toBe(7);
  });

  it('cuts the rate to β × the measured rate on a drop, then grows back along the CUBIC curve to the rate that drew the drop', async () => {
    const clock = new TestClock();
    const bucket = new AdaptiveTokenBucket({ maxRatePerSecond: 1000, ratePerSecond: 100, clock });
    await send(bucket, clock, 100, 2);
    const measured = bucket.measuredRatePerSecond;
    bucket.onSample(sample(true));
    expect(bucket.drops).toBe(1);
    expect(bucket.ratePerSecond).toBeCloseTo(Math.min(measured, 100) * 0.7, 6);
    // K = ∛(lastMax × (1 − β) / C): the curve is back at lastMax K seconds after the drop.
    const lastMax = Math.min(measured, 100);
    const k = Math.cbrt((lastMax * 0.3) / 0.4);
    await send(bucket, clock, 70, Math.floor(k * 10) / 10); // the cut rate's worth of samples, up to just short of K
    expect(bucket.ratePerSecond).toBeLessThan(lastMax);
    expect(bucket.ratePerSecond).toBeGreaterThan(lastMax * 0.99);
    await send(bucket, clock, 100, 2);
    // Past K it probes above, capped at twice the measured rate.
    expect(bucket.ratePerSecond).toBeGreaterThan(lastMax);
    expect(bucket.ratePerSecond).toBeLessThanOrEqual(2 * bucket.measuredRatePerSecond + 1e-9);
  });

  it('stays within minRatePerSecond..maxRatePerSecond', async () => {
    const clock = new TestClock();
    const bucket = new AdaptiveTokenBucket({ maxRatePerSecond: 50, minRatePerSecond: 10, clock });
    await send(bucket, clock, 50, 1);
    for (let i = 0; i < 20; i++) {
      await clock.advance(10);
      bucket.onSample(sample(true, clock.now())); // each sent after the last cut: each cuts
    }
    expect(bucket.ratePerSecond).toBe(10);
    for (let i = 0; i < 20; i++) await send(bucket, clock, 100, 1);
    expect(bucket.ratePerSecond).toBe(50);
  });

  it('cuts once per congestion event: a drop of an attempt started before the last cut does not cut again', async () => {
    const clock = new TestClock(5_000);
    const bucket = new AdaptiveTokenBucket({ maxRatePerSecond: 100, clock });
    const at = (startedAt: number, dropped: boolean) => ({ startedAt, rttMs: 1, inFlight: 1, dropped });
    bucket.onSample(at(4_990, true));
    expect(bucket.ratePerSecond).toBeCloseTo(70, 6);
    await clock.advance(10);
    bucket.onSample(at(4_995, true)); // sent before the cut
    expect(bucket.ratePerSecond).toBeCloseTo(70, 6);
    expect(bucket.drops).toBe(2);
    bucket.onSample(at(5_005, true)); // sent after it
    expect(bucket.ratePerSecond).toBeLessThan(70);
  });

  it('keeps its waiters FIFO and one timer while the rate moves', async () => {
    const clock = new TestClock();
    const bucket = new AdaptiveTokenBucket({ maxRatePerSecond: 10, clock });
    const order: number[] = [];
    const waits = [1, 2, 3, 4, 5].map((n) => bucket.acquire().then(() => order.push(n)));
    expect(clock.pendingTimers).toBe(1);
    bucket.onSample(sample(true)); // 10 → 7 a second
    expect(bucket.ratePerSecond).toBeCloseTo(7, 6);
    expect(clock.pendingTimers).toBe(1);
    await clock.runAll();
    await Promise.all(waits);
    expect(order).toEqual([1, 2, 3, 4, 5]);
  });

  it('learns from a queue that takes it as its rate limit', async () => {
    const clock = new TestClock();
    const bucket = new AdaptiveTokenBucket({ maxRatePerSecond: 20, burst: 1, clock });
    let calls = 0;
    const queue = new Queue<number>({
      rateLimit: bucket,
      concurrency: 4,
      clock,
      handler: () => {
        if (++calls === 5) throw Object.assign(new Error('slow down'), { status: 429 });
      },
    });
    for (let i = 0; i < 10; i++) queue.tryPush(i);
    await clock.runAll();
    expect(bucket.drops).toBe(1);
    expect(bucket.ratePerSecond).toBeLessThan(20);
    expect(queue.stats.completed + queue.stats.deadLettered).toBe(10);
  });

  it('rejects bad options', () => {
    expect(() => new AdaptiveTokenBucket({} as never)).toThrow(
      'AdaptiveTokenBucket: maxRatePerSecond must be a positive finite number, got undefined',
    );
    expect(() => new AdaptiveTokenBucket({ maxRatePerSecond: 1, minRatePerSecond: 2 })).toThrow(
      'AdaptiveTokenBucket: minRatePerSecond must be at most maxRatePerSecond (1), got 2',
    );
    expect(() => new AdaptiveTokenBucket({ maxRatePerSecond: 10, ratePerSecond: 20 })).toThrow(
      'AdaptiveTokenBucket: ratePerSecond must be within minRatePerSecond..maxRatePerSecond (0.5..10), got 20',
    );
    expect(() => new AdaptiveTokenBucket({ maxRatePerSecond: 10, beta: 1 })).toThrow('AdaptiveTokenBucket: beta must be in (0, 1), got 1');
    expect(() => new AdaptiveTokenBucket({ maxRatePerSecond: 10, smooth: 0 })).toThrow(RangeError);
    expect(() => new AdaptiveTokenBucket({ maxRatePerSecond: 10, maxRate: 1 } as never)).toThrow(TypeError);
    expect(() => new AdaptiveTokenBucket({ maxRatePerSecond: 10 }).onSample({} as never)).toThrow(TypeError);
  });
});
