import { describe, expect, it } from 'vitest';
import { AimdLimit, BatchAccumulator, DeadLetter, Deduper, TokenBucket } from '../src/index.js';
import { TestClock } from '../src/testing/index.js';

describe('metrics() of the parts', () => {
  it('TokenBucket: grants at once and after a wait, and the wait of a grant on the virtual timeline', async () => {
    const clock = new TestClock();
    const bucket = new TokenBucket({ ratePerSecond: 10, burst: 2, clock });
    expect(bucket.tryAcquire()).toBe(true);
    await bucket.acquire();
    const waits = [1, 2, 3].map(() => bucket.acquire()); // granted at 100, 200, 300 ms
    await clock.runAll();
    await Promise.all(waits);
    const m = bucket.metrics();
    expect([m.granted, m.waited, m.pending, m.ratePerSecond, m.burst]).toEqual([5, 3, 0, 10, 2]);
    expect(m.waitMs.max).toBe(300);
    expect(m.waitMs.p50).toBeCloseTo(100, -0.5); // 0, 0, 100, 200, 300
    expect(m.waitMs.mean).toBeCloseTo(120);
  });

  it('limits: where the limit has been, samples, drops, windows and changes', async () => {
    const clock = new TestClock();
    const limit = new AimdLimit({ initialLimit: 10, clock });
    const sample = (dropped: boolean) => limit.onSample({ startedAt: clock.now() - 5, rttMs: 5, inFlight: 10, dropped });
    for (let w = 0; w < 3; w++) {
      for (let i = 0; i < 10; i++) sample(w === 1);
      await clock.advance(200);
    }
    sample(false); // closes the third window
    expect(limit.metrics()).toEqual({
      limit: 10,
      minLimit: 1,
      maxLimit: 200,
      lowest: 9,
      highest: 11,
      samples: 31,
      drops: 10,
      windows: 3,
      changes: 3,
    });
  });

  it('Deduper: checks and hits', () => {
    const deduper = new Deduper({ windowMs: 1_000, clock: new TestClock() });
    for (const key of ['a', 'b', 'a', 'a', 'c']) deduper.check(key);
    expect(deduper.metrics()).toEqual({ checks: 5, hits: 2, size: 3 });
  });

  it('DeadLetter: the counters and the entries held by reason', () => {
    const dl = new DeadLetter<number>({ clock: new TestClock() });
    dl.add({ item: 1, reason: 'rejected' });
    dl.add({ item: 2, reason: 'rejected' });
    dl.add({ item: 3, reason: 'expired' });
    expect(dl.metrics()).toEqual({ added: 3, evicted: 0, redriven: 0, size: 3, byReason: { rejected: 2, expired: 1 } });
  });

  it('BatchAccumulator: batch sizes and why they sealed', async () => {
    const clock = new TestClock();
    const acc = new BatchAccumulator<number>({ maxItems: 3, lingerMs: 50, clock });
    for (let i = 0; i < 7; i++) await acc.add(i);
    await clock.advance(50); // the last one lingers out
    const m = acc.metrics();
    expect(m.batches).toBe(3);
    expect(m.batchSize.max).toBe(3);
    expect(m.batchSize.mean).toBeCloseTo(7 / 3);
    expect(m.bySealReason).toEqual({ size: 2, bytes: 0, linger: 1, flush: 0, close: 0 });
  });
});
