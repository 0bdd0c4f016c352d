import { afterEach, describe, expect, it, vi } from 'vitest';
import { Queue, TokenBucket } from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';

describe('Queue: rate limit', () => {
  it('acquires a token before each handler start', async () => {
    const clock = new TestClock();
    const starts: number[] = [];
    const queue = new Queue<number>({
      concurrency: 10,
      rateLimit: new TokenBucket({ ratePerSecond: 10, burst: 2, clock }),
      handler: () => void starts.push(clock.now()),
      clock,
    });
    for (let i = 0; i < 5; i++) queue.tryPush(i);
    await clock.advance(1_000);
    expect(starts).toEqual([0, 0, 100, 200, 300]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('takes a shared limiter whose tryAcquire answers later (RedisTokenBucket): its answer decides, then acquire', async () => {
    const clock = new TestClock();
    const local = new TokenBucket({ ratePerSecond: 10, burst: 2, clock });
    // The shape of sluice/redis's RedisTokenBucket: every answer a promise.
    const shared = {
      tryAcquire: (cost = 1) => Promise.resolve(local.tryAcquire(cost)),
      acquire: (cost = 1, options?: { signal?: AbortSignal }) => local.acquire(cost, options),
      waitTime: (cost = 1) => Promise.resolve(local.waitTime(cost)),
    };
    const starts: number[] = [];
    const queue = new Queue<number>({ concurrency: 10, rateLimit: shared as never, handler: () => void starts.push(clock.now()), clock });
    for (let i = 0; i < 5; i++) queue.tryPush(i);
    await clock.runAll();
    await queue.onIdle();
    expect(starts).toEqual([0, 0, 100, 200, 300]);
    // Combined with another limiter it cannot be asked and then taken from: a clear error, not free starts.
    const errors: unknown[] = [];
    const combined = new Queue<number>({ rateLimit: [shared as never, { ratePerSecond: 100 }], handler: () => {}, clock });
    combined.on('error', (e) => errors.push(e));
    combined.tryPush(1);
    await clock.advance(10);
    expect(combined.stats.completed).toBe(0);
    expect(String(errors[0])).toContain('cannot be combined with others: give it alone');
    await combined.close({ drain: false });
  });

  it('accepts bucket options', async () => {
    const clock = new TestClock();
    const starts: number[] = [];
    const queue = new Queue<number>({ rateLimit: { ratePerSecond: 4 }, handler: () => void starts.push(clock.now()), clock });
    for (let i = 0; i < 3; i++) queue.tryPush(i);
    await clock.advance(1_000);
    expect(starts).toEqual([0, 250, 500]);
  });
  it.each([
    ['expired', { ttlMs: 100 }],
    ['dropped as the oldest', {}],
  ] as const)('spends no token on an item that %s while it waited', async (_how, options) => {
    const clock = new TestClock();
    const starts: [string, number][] = [];
    const queue = new Queue<string>({
      rateLimit: { ratePerSecond: 1, burst: 1 },
      capacity: 2,
      overflow: 'drop-oldest',
      autoStart: false,
      handler: (item) => void starts.push([item, clock.now()]),
      clock,
    });
    await queue.push('stale', { ...options, priority: 0 });
    await queue.push('fresh');
    if (!('ttlMs' in options)) await queue.push('fresher'); // drops 'stale'
    await clock.advance(200);
    queue.resume();
    await clock.advance(0);
    expect(starts[0]).toEqual(['fresh', 200]); // the one token goes to a live item, at once
    expect(queue.stats.deadLettered).toBe(1);
  });
  describe('a rate limiter whose acquire rejects', () => {
    afterEach(() => {
      vi.restoreAllMocks();
    });

    /** A limiter with no token at hand whose first `failures` acquisitions reject. */
    function flakyLimiter(clock: TestClock, failures: number) {
      const bucket = new TokenBucket({ ratePerSecond: 1, burst: 1, initialTokens: 0, clock });
      let calls = 0;
      return {
        tryAcquire: (cost?: number) => bucket.tryAcquire(cost),
        acquire: (cost?: number, options?: { signal?: AbortSignal }) =>
          ++calls <= failures ? Promise.reject(new Error(`limiter down ${calls}`)) : bucket.acquire(cost, options),
      };
    }

    it('does not stall the queue: it asks again after a backoff, and reports each failure', async () => {
      const clock = new TestClock();
      const starts: number[] = [];
      const queue = new Queue<number>({ rateLimit: flakyLimiter(clock, 2), handler: () => void starts.push(clock.now()), clock });
      const errors: string[] = [];
      queue.on('error', (e) => errors.push((e as Error).message));
      queue.tryPush(1);
      await clock.advance(0);
      expect(errors).toEqual(['limiter down 1']);
      await clock.advance(100); // first retry after 100 ms: fails again
      expect(errors).toEqual(['limiter down 1', 'limiter down 2']);
      await clock.advance(200); // second retry after 200 ms: acquires, and its token accrues at 1 000 ms
      expect(starts).toEqual([]);
      await clock.advance(700);
      expect(starts).toHaveLength(1);
      expect(starts[0]).toBeCloseTo(1_000, 6);
      expect(errors).toHaveLength(2);
      const closing = queue.close();
      await clock.advance(0);
      await closing;
      expect(clock.pendingTimers).toBe(0);
    });

    it('with no error listener, shows the first failure once on the console instead of dropping it', async () => {
      const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
      const clock = new TestClock();
      const queue = new Queue<number>({ rateLimit: flakyLimiter(clock, 3), handler: () => {}, clock, name: 'mail' });
      queue.tryPush(1);
      await clock.advance(1_000);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0]![0])).toMatch(/^Queue 'mail': Error: limiter down 1 \(no 'error' listener/);
      expect(queue.stats.completed).toBe(1);
    });
  });
});
