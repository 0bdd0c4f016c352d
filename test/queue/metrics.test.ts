import { describe, expect, it } from 'vitest';
import { type AttemptInfo, type CancelledInfo, type Clock, type FailedInfo, Queue, type SettledInfo } from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';

const sleep = (clock: TestClock, ms: number) => new Promise<void>((resolve) => clock.setTimeout(resolve, ms));

/** A clock that counts its reads (`reads()`), on a TestClock's time. */
function countingClock(clock: TestClock): { counting: Clock; reads: () => number } {
  let n = 0;
  const counting: Clock = {
    now: () => {
      n++;
      return clock.now();
    },
    setTimeout: (f, ms) => clock.setTimeout(f, ms),
    clearTimeout: (h) => clock.clearTimeout(h),
  };
  return { counting, reads: () => n };
}

describe('Queue: timings in events', () => {
  it('tells when an item was enqueued and started, how long it waited (its delay included) and ran', async () => {
    const clock = new TestClock(1_000);
    const queue = new Queue<number>({ handler: (ms) => sleep(clock, ms), clock });
    const active: AttemptInfo[] = [];
    const completed: SettledInfo[] = [];
    queue.on('active', (_i, info) => active.push(info));
    queue.on('completed', (_i, _r, info) => completed.push(info));
    queue.tryPush(30); // plain: no record
    queue.tryPush(20, { delayMs: 50, id: 'late' });
    await clock.runAll();
    expect(active).toEqual([
      { id: expect.any(String), attempt: 1, enqueuedAt: 1_000, startedAt: 1_000, waitMs: 0 },
      { id: 'late', attempt: 1, enqueuedAt: 1_000, startedAt: 1_050, waitMs: 50 },
    ]);
    expect(completed.map((i) => [i.waitMs, i.runMs])).toEqual([
      [0, 30],
      [50, 20],
    ]);
  });

  it("counts a retry's wait from the end of the attempt before (its backoff), and a failure's run time", async () => {
    const clock = new TestClock();
    const failed: FailedInfo[] = [];
    const done: SettledInfo[] = [];
    const queue = new Queue<string>({
      retry: { maxAttempts: 2, backoff: () => 200 },
      clock,
      handler: async (_s, { attempt }) => {
        await sleep(clock, 10);
        if (attempt === 1) throw new Error('once');
      },
    });
    queue.on('failed', (_i, _e, info) => failed.push(info));
    queue.on('completed', (_i, _r, info) => done.push(info));
    queue.tryPush('x');
    await clock.runAll();
    expect(failed).toEqual([{ id: expect.any(String), attempt: 1, enqueuedAt: 0, startedAt: 0, waitMs: 0, runMs: 10, willRetry: true }]);
    expect(done).toEqual([{ id: expect.any(String), attempt: 2, enqueuedAt: 0, startedAt: 210, waitMs: 200, runMs: 10 }]);
  });

  it('tells a cancelled item when it was enqueued', async () => {
    const clock = new TestClock(5);
    const cancelled: CancelledInfo[] = [];
    const queue = new Queue<number>({ handler: () => {}, autoStart: false, clock });
    queue.on('cancelled', (_i, _r, info) => cancelled.push(info));
    queue.tryPush(1, { id: 'c' });
    queue.cancel('c');
    expect(cancelled).toEqual([{ id: 'c', attempt: 0, enqueuedAt: 5 }]);
  });

  it('reads no clock for timings while nobody listens and metrics are off; NaN for an attempt that started unheard', async () => {
    const clock = new TestClock();
    const { counting, reads } = countingClock(clock);
    const queue = new Queue<number>({ handler: (ms) => sleep(clock, ms), concurrency: 100, clock: counting });
    for (let i = 0; i < 100; i++) queue.tryPush(10);
    const before = reads();
    await clock.advance(5);
    const completed: SettledInfo[] = [];
    queue.on('completed', (_i, _r, info) => completed.push(info));
    await clock.runAll();
    expect(reads() - before).toBeLessThan(5); // a few for timers, none per attempt
    expect(completed).toHaveLength(100);
    expect(completed.every((i) => Number.isNaN(i.startedAt) && Number.isNaN(i.runMs))).toBe(true);
  });
});

describe('Queue.metrics()', () => {
  it('gives rates, wait and run quantiles, and a Little-law check that agrees in a steady state', async () => {
    const clock = new TestClock();
    const queue = new Queue<number>({ handler: () => sleep(clock, 40), metrics: { windowMs: 10_000, sampleEvery: 1 }, clock });
    // Two items every 100 ms for 10 s: the first waits 0 ms, the second 40 ms.
    for (let t = 0; t < 10_000; t += 100) {
      queue.tryPush(1);
      queue.tryPush(2);
      await clock.advance(100);
    }
    const m = queue.metrics();
    expect(m.windowMs).toBeGreaterThanOrEqual(7_500);
    expect(m.windowMs).toBeLessThanOrEqual(10_000);
    expect(m.arrivalRate).toBeCloseTo(20, 0);
    expect(m.throughput).toBeCloseTo(20, 0);
    expect(m.failureRate).toBe(0);
    expect(m.waitMs.p50).toBeLessThanOrEqual(1);
    expect(m.waitMs.p99).toBeCloseTo(40, -0.5);
    expect(m.waitMs.mean).toBeCloseTo(20, 0);
    expect(m.runMs.p50).toBeCloseTo(40, -0.5);
    expect(m.runMs.max).toBe(40);
    const { L, lambda, W, lambdaW, relativeError } = m.littlesLaw;
    expect(lambda).toBeCloseTo(20, 0);
    expect(W).toBeCloseTo(0.02, 3);
    expect(L).toBeCloseTo(0.4, 1);
    expect(lambdaW).toBeCloseTo(0.4, 1);
    expect(relativeError).toBeLessThan(0.05);
    expect([m.waiting, m.inFlight, m.concurrencyLimit]).toEqual([0, 0, 1]);
  });

  it('times every attempt of a burst (pushes in the same ms) while pushes average under one per ms, so waits are not biased low', async () => {
    const clock = new TestClock();
    const queue = new Queue<number>({ handler: () => sleep(clock, 10), metrics: { windowMs: 60_000 }, clock });
    // 20 pushes at once every second for 20 s: they wait 0, 10, …, 190 ms (a batch sealing many keys at once).
    for (let t = 0; t < 20_000; t += 1_000) {
      for (let i = 0; i < 20; i++) queue.tryPush(i);
      await clock.advance(1_000);
    }
    const m = queue.metrics();
    expect(m.waitMs.count).toBe(400);
    expect(m.waitMs.mean).toBeCloseTo(95, 0);
    expect(m.waitMs.p50).toBeGreaterThanOrEqual(90 * (1 - 1 / 32));
    expect(m.waitMs.p50).toBeLessThanOrEqual(100 * (1 + 1 / 32));
    expect(m.waitMs.max).toBe(190);
    // L = 1 900 item·ms waited per 1 000 ms; λ = 20/s, W = 0.095 s.
    expect(m.littlesLaw.L).toBeCloseTo(1.9, 1);
    expect(m.littlesLaw.lambdaW).toBeCloseTo(1.9, 1);
    expect(m.littlesLaw.relativeError).toBeLessThan(0.02);
  });

  it('above one push per ms, times one attempt in sampleEvery, weighs it as sampleEvery, and still agrees with Little', async () => {
    const clock = new TestClock();
    const { counting, reads } = countingClock(clock);
    const queue = new Queue<number>({ handler: () => sleep(clock, 1), concurrency: 3, metrics: { windowMs: 60_000 }, clock: counting });
    // 4 pushes per ms, 3 served per ms, for 1 s, then quiet: item k waits about k/3 − k/4 = k/12 ms (mean ≈ 167 ms).
    for (let t = 0; t < 1_000; t++) {
      for (let i = 0; i < 4; i++) queue.tryPush(i);
      await clock.advance(1);
    }
    await clock.advance(1_000);
    const m = queue.metrics();
    expect(queue.stats.completed).toBe(4_000);
    expect(m.arrivalRate * (m.windowMs / 1_000)).toBeCloseTo(4_000, 0);
    // One read per push; about 128 attempts timed whole before the rate showed, then one in 64 (two reads each).
    expect(reads()).toBeLessThan(4_000 + 2 * 400);
    // A sampled attempt stands for 64: the count and mean estimate the whole, not the early (short) waits.
    expect(m.waitMs.count).toBeGreaterThan(4_000 * 0.75);
    expect(m.waitMs.count).toBeLessThan(4_000 * 1.25);
    expect(m.waitMs.mean).toBeGreaterThan(167 * 0.8);
    expect(m.waitMs.mean).toBeLessThan(167 * 1.2);
    expect(m.littlesLaw.relativeError).toBeLessThan(0.2);
  });

  it('slides: what happened before the window no longer counts', async () => {
    const clock = new TestClock();
    const queue = new Queue<number>({ handler: () => {}, metrics: { windowMs: 1_000, sampleEvery: 1 }, clock });
    for (let i = 0; i < 50; i++) queue.tryPush(i);
    await clock.advance(100);
    expect(queue.metrics().waitMs.count).toBe(50);
    await clock.advance(2_000);
    const m = queue.metrics();
    expect([m.waitMs.count, m.runMs.count, m.arrivalRate, m.throughput]).toEqual([0, 0, 0, 0]);
  });

  it('throws without the metrics option, and rejects a bad one', () => {
    expect(() => new Queue().metrics()).toThrow('Queue: metrics() needs the metrics option (new Queue({ metrics: true }))');
    expect(() => new Queue({ metrics: 'yes' as never })).toThrow(
      'Queue: metrics must be a boolean or { windowMs, sampleEvery }, got "yes"',
    );
    expect(() => new Queue({ metrics: { windowMs: 0 } })).toThrow('Queue: metrics.windowMs must be a positive finite number, got 0');
    expect(() => new Queue({ metrics: { window: 5 } as never })).toThrow("unknown option 'metrics.window'");
  });
});
