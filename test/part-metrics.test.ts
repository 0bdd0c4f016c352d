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

  it('TokenBucket: grants and waited grants per second over the last minute', async () => {
    const clock = new TestClock();
    const bucket = new TokenBucket({ ratePerSecond: 100, burst: 1, clock });
    // 90 s at the bucket's rate, each caller waiting its turn (the first at once).
    const calls = Array.from({ length: 9_000 }, () => bucket.acquire());
    await clock.advance(90_000);
    await Promise.all(calls);
    const m = bucket.metrics();
    expect(m.windowMs).toBeGreaterThanOrEqual(45_000);
    expect(m.windowMs).toBeLessThanOrEqual(60_000);
    expect(m.grantsPerSecond).toBeCloseTo(100, -0.5);
    expect(m.waitedPerSecond).toBeCloseTo(100, -0.5);
    // Idle for two minutes: the window holds nothing.
    await clock.advance(120_000);
    expect(bucket.metrics()).toMatchObject({ grantsPerSecond: 0, waitedPerSecond: 0, granted: 9_000 });
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
      windowMs: 600,
      samplesPerSecond: (31 * 1_000) / 600,
      dropsPerSecond: (10 * 1_000) / 600,
    });
  });

  it('Deduper: checks and hits', () => {
    const deduper = new Deduper({ windowMs: 1_000, clock: new TestClock() });
    for (const key of ['a', 'b', 'a', 'a', 'c']) deduper.check(key);
    expect(deduper.metrics()).toEqual({ checks: 5, hits: 2, size: 3, windowMs: 0, checksPerSecond: 0, hitsPerSecond: 0 });
  });

  it('Deduper: checks and hits per second over the last minute', async () => {
    const clock = new TestClock();
    const deduper = new Deduper({ windowMs: 1_000, clock });
    // 2 minutes: 10 checks a second, every other one a duplicate of the one before.
    for (let t = 0; t < 1_200; t++) {
      for (let i = 0; i < 5; i++) {
        deduper.check(`${t}-${i}`);
        deduper.check(`${t}-${i}`);
      }
      await clock.advance(100);
    }
    const m = deduper.metrics();
    expect(m.checksPerSecond).toBeCloseTo(100, -0.5);
    expect(m.hitsPerSecond).toBeCloseTo(50, -0.5);
    expect(m.windowMs).toBeGreaterThanOrEqual(30_000);
  });

  it('DeadLetter: the counters and the entries held by reason', () => {
    const dl = new DeadLetter<number>({ clock: new TestClock() });
    dl.add({ item: 1, reason: 'rejected' });
    dl.add({ item: 2, reason: 'rejected' });
    dl.add({ item: 3, reason: 'expired' });
    expect(dl.metrics()).toMatchObject({ added: 3, evicted: 0, redriven: 0, size: 3, byReason: { rejected: 2, expired: 1 } });
  });

  it('DeadLetter: entries added and redriven per second over the last minute', async () => {
    const clock = new TestClock();
    const dl = new DeadLetter<number>({ clock, capacity: Infinity });
    for (let t = 0; t < 300; t++) {
      dl.add({ item: t, reason: 'rejected' });
      await clock.advance(200); // 5 a second for a minute
    }
    await dl.redrive(() => {}, { filter: (e) => e.item % 2 === 0 }); // 150 at once
    const m = dl.metrics();
    expect(m.windowMs).toBeGreaterThanOrEqual(45_000);
    expect(m.addedPerSecond).toBeCloseTo(5, 0);
    expect(m.redrivenPerSecond * (m.windowMs / 1_000)).toBeCloseTo(150, 5);
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
    expect(m.itemsPerSecond * (m.windowMs / 1_000)).toBeCloseTo(7, 5);
    expect(m.batchesPerSecond * (m.windowMs / 1_000)).toBeCloseTo(3, 5);
  });
});
