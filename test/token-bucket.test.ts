import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TimeoutError, TokenBucket } from '../src/index.js';
import { TestClock } from '../src/testing/index.js';
import { track } from './helpers.js';

describe('TokenBucket', () => {
  it('starts full at burst and grants immediately while tokens last', async () => {
    const clock = new TestClock();
    const bucket = new TokenBucket({ ratePerSecond: 10, burst: 3, clock });
    expect(bucket.tokens).toBe(3);
    expect(bucket.tryAcquire()).toBe(true);
    await bucket.acquire(2);
    expect(bucket.tokens).toBe(0);
    expect(bucket.tryAcquire()).toBe(false);
    expect(clock.pendingTimers).toBe(0);
  });

  it('refills at ratePerSecond up to burst, lazily', async () => {
    const clock = new TestClock();
    const bucket = new TokenBucket({ ratePerSecond: 4, burst: 2, initialTokens: 0, clock });
    await clock.advance(250);
    expect(bucket.tokens).toBeCloseTo(1, 10);
    await clock.advance(10_000);
    expect(bucket.tokens).toBe(2);
  });

  it('grants a waiter exactly when its tokens have accrued (fractional rates too)', async () => {
    const clock = new TestClock();
    const bucket = new TokenBucket({ ratePerSecond: 3, burst: 1, initialTokens: 0, clock });
    const t = track(bucket.acquire());
    await clock.advance(333);
    expect(t.settled).toBe(false);
    await clock.advance(1); // 1/3 s = 333.33 ms
    expect(t.settled).toBe(true);
    expect(t.error).toBeUndefined();
  });

  it('serves waiters FIFO: a large request is not starved by later small ones', async () => {
    const clock = new TestClock();
    const bucket = new TokenBucket({ ratePerSecond: 10, burst: 5, initialTokens: 0, clock });
    const order: string[] = [];
    const big = bucket.acquire(5).then(() => order.push(`big@${clock.now()}`));
    const small = bucket.acquire(1).then(() => order.push(`small@${clock.now()}`));
    expect(bucket.tryAcquire(1)).toBe(false); // never jumps the queue
    await clock.advance(1_000);
    await Promise.all([big, small]);
    expect(order).toEqual(['big@500', 'small@600']);
  });

  it('tryAcquire does not jump waiters even when tokens are there', async () => {
    const clock = new TestClock();
    const bucket = new TokenBucket({ ratePerSecond: 10, burst: 3, initialTokens: 1, clock });
    const waiting = track(bucket.acquire(3));
    expect(bucket.tokens).toBe(1);
    expect(bucket.tryAcquire(1)).toBe(false);
    expect(bucket.pending).toBe(1);
    await clock.advance(200);
    expect(waiting.settled).toBe(true);
  });

  it('holds one timer however many waiters, and none when idle', async () => {
    const clock = new TestClock();
    const bucket = new TokenBucket({ ratePerSecond: 1_000, burst: 1, initialTokens: 0, clock });
    const all = Array.from({ length: 10_000 }, () => bucket.acquire());
    expect(bucket.pending).toBe(10_000);
    expect(clock.pendingTimers).toBe(1);
    await clock.advance(5_000);
    expect(bucket.pending).toBe(5_000);
    expect(clock.pendingTimers).toBe(1);
    await clock.advance(5_000);
    await Promise.all(all);
    expect(bucket.pending).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it('books grants on a virtual timeline: a late timer does not lower the rate', async () => {
    // A clock whose timers fire 0.7 ms late, as real timers do.
    const clock = new TestClock();
    const late = {
      now: () => clock.now(),
      setTimeout: (cb: () => void, ms: number) => clock.setTimeout(cb, ms + 0.7),
      clearTimeout: (h: unknown) => clock.clearTimeout(h),
    };
    const bucket = new TokenBucket({ ratePerSecond: 1_000, burst: 1, initialTokens: 0, clock: late });
    let granted = 0;
    let stop = false;
    const consumer = (async () => {
      while (!stop) {
        await bucket.acquire();
        granted++;
      }
    })();
    await clock.advance(1_000);
    stop = true;
    // A naive "one grant per timer" bucket would grant ~1000/1.7 ≈ 588.
    expect(granted).toBeGreaterThanOrEqual(999);
    expect(granted).toBeLessThanOrEqual(1_001);
    await clock.advance(10);
    await consumer;
  });

  it('grants on time at Date.now()-sized times, where float sums round', async () => {
    const clock = new TestClock(1_763_769_600_123);
    const bucket = new TokenBucket({ ratePerSecond: 3, burst: 1, initialTokens: 0, clock });
    const grants = Array.from({ length: 6 }, () => bucket.acquire());
    await clock.runAll(); // rejects if a timer kept re-arming itself
    await Promise.all(grants);
    expect(clock.now() - 1_763_769_600_123).toBeCloseTo(2_000, 3);
  });

  it('abort rejects with signal.reason and frees the waiter’s place', async () => {
    const clock = new TestClock();
    const bucket = new TokenBucket({ ratePerSecond: 10, burst: 5, initialTokens: 0, clock });
    const controller = new AbortController();
    const first = track(bucket.acquire(5, { signal: controller.signal }));
    const second = track(bucket.acquire(1));
    await clock.advance(50);
    const reason = new Error('stop');
    controller.abort(reason);
    await clock.advance(0);
    expect(first.error).toBe(reason);
    expect(bucket.pending).toBe(1);
    await clock.advance(50); // 100 ms since start: one token accrued
    expect(second.settled).toBe(true);
    expect(second.error).toBeUndefined();
    expect(clock.pendingTimers).toBe(0);
  });

  it('rejects at once with an already-aborted signal', async () => {
    const bucket = new TokenBucket({ ratePerSecond: 1, clock: new TestClock() });
    const controller = new AbortController();
    controller.abort();
    await expect(bucket.acquire(1, { signal: controller.signal })).rejects.toBe(controller.signal.reason);
    expect(bucket.tokens).toBe(1);
  });

  it('leaves no abort listener behind on a long-lived signal', async () => {
    const clock = new TestClock();
    const bucket = new TokenBucket({ ratePerSecond: 1_000, burst: 1, initialTokens: 0, clock });
    const controller = new AbortController();
    const all = Array.from({ length: 100 }, () => bucket.acquire(1, { signal: controller.signal }));
    // 100 waits share one listener (no MaxListenersExceededWarning, no search per wait: see internal/abort.ts).
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    await clock.advance(100);
    await Promise.all(all);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('maxWaitMs fails fast with TimeoutError when the predicted wait is longer', async () => {
    const clock = new TestClock();
    const bucket = new TokenBucket({ ratePerSecond: 10, burst: 1, initialTokens: 0, clock });
    const first = bucket.acquire(1, { maxWaitMs: 100 }); // waits 100 ms: allowed
    const refused = bucket.acquire(1, { maxWaitMs: 150 }); // would wait 200 ms
    await expect(refused).rejects.toBeInstanceOf(TimeoutError);
    await expect(refused).rejects.toMatchObject({ timeoutMs: 150 });
    expect(bucket.pending).toBe(1);
    await clock.advance(100);
    await first;
  });

  it('waitTime counts the waiters ahead', () => {
    const clock = new TestClock();
    const bucket = new TokenBucket({ ratePerSecond: 10, burst: 2, initialTokens: 0, clock });
    expect(bucket.waitTime()).toBe(100);
    void bucket.acquire(2);
    expect(bucket.waitTime(1)).toBeCloseTo(300, 9);
    const full = new TokenBucket({ ratePerSecond: 10, burst: 2, clock });
    expect(full.waitTime(2)).toBe(0);
  });

  it('refuses cost > burst: acquire rejects, tryAcquire and waitTime throw', async () => {
    const bucket = new TokenBucket({ ratePerSecond: 10, burst: 2, clock: new TestClock() });
    await expect(bucket.acquire(3)).rejects.toThrow(new RangeError('TokenBucket: cost must be at most burst (2), got 3'));
    expect(() => bucket.tryAcquire(3)).toThrow(RangeError);
    expect(() => bucket.waitTime(3)).toThrow(RangeError);
    await expect(bucket.acquire(0)).rejects.toThrow(RangeError);
    await expect(bucket.acquire(Number.NaN)).rejects.toThrow(RangeError);
    await expect(bucket.acquire('1' as never)).rejects.toThrow(TypeError);
  });

  it('setRate keeps accrued tokens (clamped), re-times waiters and rejects those over the new burst', async () => {
    const clock = new TestClock();
    const bucket = new TokenBucket({ ratePerSecond: 10, burst: 4, initialTokens: 3, clock });
    bucket.setRate(1, 2);
    expect(bucket.tokens).toBe(2);
    expect(bucket.burst).toBe(2);
    expect(bucket.ratePerSecond).toBe(1);
    bucket.tryAcquire(2);
    const waiting = track(bucket.acquire(2));
    const tooBig = new TokenBucket({ ratePerSecond: 1, burst: 5, initialTokens: 0, clock });
    const big = track(tooBig.acquire(5));
    const after = track(tooBig.acquire(1));
    tooBig.setRate(1, 2);
    await clock.advance(0);
    expect(big.error).toBeInstanceOf(RangeError);
    expect(after.settled).toBe(false);
    await clock.advance(1_000);
    expect(after.settled).toBe(true);
    // 1 s at 1/s accrued one token; the second comes 10 ms later at 100/s.
    bucket.setRate(100);
    await clock.advance(9);
    expect(waiting.settled).toBe(false);
    await clock.advance(1);
    expect(waiting.settled).toBe(true);
    expect(clock.pendingTimers).toBe(0);
  });

  it('treats time going backwards as no time passing, and caps a jump forward at burst', async () => {
    const clock = new TestClock(10_000);
    const bucket = new TokenBucket({ ratePerSecond: 10, burst: 5, initialTokens: 0, clock });
    clock.jumpTo(0);
    expect(bucket.tokens).toBe(0);
    await clock.advance(100);
    expect(bucket.tokens).toBeCloseTo(1, 9);
    clock.jumpTo(3_600_000 * 5);
    expect(bucket.tokens).toBe(5);
    expect(bucket.tryAcquire(5)).toBe(true);
    expect(bucket.tryAcquire(1)).toBe(false);
  });

  it('a waiter survives a backwards jump and is granted when its tokens accrued on the time that passed', async () => {
    const clock = new TestClock(1_000);
    const bucket = new TokenBucket({ ratePerSecond: 10, burst: 1, initialTokens: 0, clock });
    const t = track(bucket.acquire());
    await clock.advance(50);
    clock.jumpTo(0); // set back: the 50 ms already waited still count
    await clock.advance(49);
    expect(t.settled).toBe(false);
    await clock.advance(1);
    expect(t.settled).toBe(true); // 100 ms after it arrived, as without the jump
    expect(clock.pendingTimers).toBe(0);
  });

  describe('with vi.useFakeTimers() and no clock injected', () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    it('waits on the faked global timers', async () => {
      vi.useFakeTimers();
      const bucket = new TokenBucket({ ratePerSecond: 2, burst: 1, initialTokens: 0 });
      const t = track(bucket.acquire());
      await vi.advanceTimersByTimeAsync(499);
      expect(t.settled).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      expect(t.settled).toBe(true);
      expect(vi.getTimerCount()).toBe(0);
    });
  });
});

describe('TokenBucket.pauseFor', () => {
  it('grants nothing for ms, keeps the waiters in order, and accrues nothing meanwhile', async () => {
    const clock = new TestClock();
    const bucket = new TokenBucket({ ratePerSecond: 10, burst: 2, clock });
    expect(bucket.tryAcquire()).toBe(true); // 1 left
    bucket.pauseFor(1_000);
    expect(bucket.tryAcquire()).toBe(false);
    expect(bucket.waitTime()).toBe(1_000);
    const order: [number, number][] = [];
    const waits = [1, 2, 3].map((n) => bucket.acquire().then(() => order.push([n, clock.now()])));
    await clock.advance(999);
    expect(order).toEqual([]);
    await clock.runAll();
    await Promise.all(waits);
    // The token kept from before the pause at 1 000, then one per 100 ms: nothing accrued during it.
    expect(order).toEqual([
      [1, 1000],
      [2, 1100],
      [3, 1200],
    ]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('lets the longer pause win and grants what was due before it', async () => {
    const clock = new TestClock();
    const bucket = new TokenBucket({ ratePerSecond: 1, burst: 1, initialTokens: 0, clock });
    const granted = vi.fn();
    void bucket.acquire().then(granted);
    await clock.advance(1_000);
    bucket.pauseFor(500);
    bucket.pauseFor(100);
    expect(granted).toHaveBeenCalled();
    expect(bucket.tryAcquire()).toBe(false);
    await clock.advance(499);
    expect(bucket.waitTime()).toBe(1 + 1_000);
    expect(() => bucket.pauseFor(Number.NaN)).toThrow('TokenBucket: ms must be a non-negative finite number, got NaN');
  });
});
