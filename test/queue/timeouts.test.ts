import { describe, expect, it } from 'vitest';
import { type DeadLetter, Queue, TimeoutError } from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';
import { deferred, track } from '../helpers.js';

describe('Queue: visibility timeout and TTL', () => {
  it('aborts the handler’s signal with TimeoutError past visibilityTimeoutMs, fails the attempt and frees the slot', async () => {
    const clock = new TestClock();
    const signals: AbortSignal[] = [];
    const starts: number[] = [];
    const queue = new Queue<number>({
      clock,
      visibilityTimeoutMs: 1_000,
      retry: { maxAttempts: 2, backoff: { initialDelayMs: 0, maxDelayMs: 0 } },
      handler: (n, { signal, attempt }) => {
        signals.push(signal);
        starts.push(clock.now());
        return attempt === 1 ? new Promise(() => {}) : n;
      },
    });
    const result = track(queue.submit(5));
    await clock.advance(999);
    expect(signals[0]!.aborted).toBe(false);
    await clock.advance(1);
    expect(signals[0]!.aborted).toBe(true);
    expect(signals[0]!.reason).toBeInstanceOf(TimeoutError);
    expect(result.value).toBe(5);
    expect(starts).toEqual([0, 1_000]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('a late outcome of a lapsed attempt is ignored', async () => {
    const clock = new TestClock();
    const gate = deferred<string>();
    const queue = new Queue<number, string>({
      clock,
      visibilityTimeoutMs: 100,
      handler: () => gate.promise,
    });
    const result = track(queue.submit(1));
    await clock.advance(100);
    expect(result.error).toBeInstanceOf(TimeoutError);
    gate.resolve('late');
    await clock.advance(0);
    expect(queue.stats).toMatchObject({ completed: 0, deadLettered: 1 });
  });

  it('dead-letters an item still waiting after ttlMs as expired', async () => {
    const clock = new TestClock();
    const queue = new Queue<string>({ clock, ttlMs: 1_000, autoStart: false, handler: () => {} });
    const result = track(queue.submit('stale'));
    await queue.push('fresh', { ttlMs: 5_000 });
    await clock.advance(1_000);
    expect(result.error).toBeInstanceOf(TimeoutError);
    const [entry] = (queue.deadLetter as DeadLetter<string>).entries();
    expect(entry).toMatchObject({ item: 'stale', reason: 'expired', attempts: 0 });
    expect(queue.size).toBe(1);
    queue.resume();
    await queue.onIdle();
    expect(queue.stats).toMatchObject({ completed: 1, deadLettered: 1 });
  });

  it('a submit of an expired item rejects with a TimeoutError carrying its own ttlMs', async () => {
    const clock = new TestClock();
    const queue = new Queue<string>({ clock, autoStart: false, handler: () => {} });
    const ownTtl = track(queue.submit('a', { ttlMs: 250 }));
    const queueWide = new Queue<string>({ clock, ttlMs: 400, autoStart: false, handler: () => {} });
    const inherited = track(queueWide.submit('b'));
    await clock.advance(400);
    expect(ownTtl.error).toBeInstanceOf(TimeoutError);
    expect((ownTtl.error as TimeoutError).timeoutMs).toBe(250);
    expect((inherited.error as TimeoutError).timeoutMs).toBe(400);
  });

  it('ttlMs stops applying once the first attempt starts', async () => {
    const clock = new TestClock();
    const queue = new Queue<number>({
      clock,
      ttlMs: 100,
      retry: { maxAttempts: 2, backoff: { initialDelayMs: 500, jitter: 'none' } },
      handler: (_, { attempt }) => (attempt === 1 ? Promise.reject(new Error('x')) : undefined),
    });
    await queue.push(1);
    await clock.runAll();
    expect(queue.stats).toMatchObject({ completed: 1, deadLettered: 0 });
  });

  it('skips removed items at a priority level (expired high-priority items)', async () => {
    const clock = new TestClock();
    const seen: string[] = [];
    const queue = new Queue<string>({ clock, autoStart: false, handler: (s) => void seen.push(s) });
    await queue.push('urgent-but-stale', { priority: 5, ttlMs: 10 });
    await queue.push('also-stale', { priority: 3, ttlMs: 10 });
    await queue.push('normal');
    await clock.advance(10);
    await queue.push('late-urgent', { priority: 5 });
    queue.resume();
    await queue.onIdle();
    expect(seen).toEqual(['late-urgent', 'normal']);
    expect(queue.stats).toMatchObject({ completed: 2, deadLettered: 2 });
  });

  it('a delayed item expires by its ttl', async () => {
    const clock = new TestClock();
    const queue = new Queue<number>({ clock, handler: () => {} });
    await queue.push(1, { delayMs: 1_000, ttlMs: 500 });
    await clock.advance(1_000);
    expect(queue.stats).toMatchObject({ deadLettered: 1, completed: 0, waiting: 0 });
    expect(clock.pendingTimers).toBe(0);
  });

  it('a push timeoutMs limits that item’s attempts, overriding visibilityTimeoutMs either way', async () => {
    const clock = new TestClock();
    const reasons = new Map<string, unknown>();
    const ended = new Map<string, number>();
    const queue = new Queue<string>({
      clock,
      concurrency: 3,
      visibilityTimeoutMs: 1_000,
      handler: (s, { signal }) =>
        new Promise<void>((_, reject) =>
          signal.addEventListener('abort', () => {
            reasons.set(s, signal.reason);
            ended.set(s, clock.now());
            reject(signal.reason);
          }),
        ),
    });
    const short = track(queue.submit('short', { timeoutMs: 50 }));
    const long = track(queue.submit('long', { timeoutMs: 5_000 }));
    const plain = track(queue.submit('queue default'));
    await clock.advance(10_000);
    expect(ended).toEqual(
      new Map([
        ['short', 50],
        ['queue default', 1_000],
        ['long', 5_000],
      ]),
    );
    expect(reasons.get('short')).toBeInstanceOf(TimeoutError);
    expect((reasons.get('short') as TimeoutError).timeoutMs).toBe(50);
    expect((reasons.get('short') as Error).message).toMatch(/passed timeoutMs \(50 ms\)/);
    expect((reasons.get('queue default') as Error).message).toMatch(/passed visibilityTimeoutMs \(1000 ms\)/);
    for (const t of [short, long, plain]) expect(t.error).toBeInstanceOf(TimeoutError);
    expect(queue.stats).toMatchObject({ failed: 3, deadLettered: 3 });
  });

  it('a push timeoutMs works in a queue without visibilityTimeoutMs, fast lane or not, and a timed-out attempt is retried', async () => {
    const clock = new TestClock();
    const attempts: number[] = [];
    const queue = new Queue<number, string>({
      clock,
      concurrency: 2,
      retry: { maxAttempts: 2, backoff: { initialDelayMs: 0, maxDelayMs: 0 } },
      handler: (_n, { attempt }) => {
        attempts.push(attempt);
        return attempt === 1 ? new Promise<string>(() => {}) : 'second try';
      },
    });
    const result = track(queue.submit(1, { timeoutMs: 200 }));
    queue.tryPush(2); // a plain item behind it, on the fast lane, with no limit of its own
    await clock.advance(199);
    expect(result.settled).toBe(false);
    await clock.advance(1);
    await clock.advance(0);
    expect(result.value).toBe('second try');
    expect(attempts).toEqual([1, 1, 2]);
    expect(queue.stats).toMatchObject({ failed: 1, retried: 1, completed: 1, inFlight: 1 }); // 2 hangs with no limit
  });

  it('refuses a bad push timeoutMs', () => {
    const queue = new Queue<number>({ autoStart: false, clock: new TestClock() });
    expect(() => queue.tryPush(1, { timeoutMs: 0 })).toThrow(new RangeError('Queue: timeoutMs must be a positive finite number, got 0'));
    expect(() => queue.tryPush(1, { timeoutMs: Number.NaN })).toThrow(RangeError);
    expect(() => queue.tryPush(1, { timeoutMs: '5' as never })).toThrow(
      new TypeError('Queue: timeoutMs must be a positive finite number, got "5"'),
    );
  });
});
