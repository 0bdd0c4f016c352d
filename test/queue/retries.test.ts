import { describe, expect, it, vi } from 'vitest';
import { DeadLetter, Queue, QueueFullError, RejectError } from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';
import { balanced, track } from '../helpers.js';

describe('Queue: retries and dead letters', () => {
  it('retries with backoff and completes', async () => {
    const clock = new TestClock();
    const attempts: number[] = [];
    const queue = new Queue<string, string>({
      clock,
      retry: { maxAttempts: 3, backoff: { initialDelayMs: 100, jitter: 'none' } },
      handler: async (s, { attempt }) => {
        attempts.push(clock.now());
        if (attempt < 3) throw new Error(`try ${attempt}`);
        return s.toUpperCase();
      },
    });
    const failed = vi.fn();
    queue.on('failed', failed);
    const result = track(queue.submit('ok'));
    await clock.advance(300);
    expect(attempts).toEqual([0, 100, 300]);
    expect(result.value).toBe('OK');
    expect(queue.stats).toMatchObject({ failed: 2, retried: 2, completed: 1 });
    expect(failed.mock.calls.map((c) => c[2])).toEqual([
      // The retry's wait is its backoff: from the end of the attempt before to its start.
      { id: expect.any(String), attempt: 1, enqueuedAt: 0, startedAt: 0, waitMs: 0, runMs: 0, willRetry: true },
      { id: expect.any(String), attempt: 2, enqueuedAt: 0, startedAt: 100, waitMs: 100, runMs: 0, willRetry: true },
    ]);
    expect(queue.size).toBe(0);
  });

  it('a retry-pending item counts as waiting', async () => {
    const clock = new TestClock();
    const queue = new Queue<number>({
      clock,
      retry: { maxAttempts: 2, backoff: { initialDelayMs: 1_000, jitter: 'none' } },
      handler: () => Promise.reject(new Error('x')),
    });
    await queue.push(1);
    await clock.advance(0);
    expect(queue.stats).toMatchObject({ waiting: 1, inFlight: 0, retried: 1 });
    expect(balanced(queue.stats)).toBe(true);
    await clock.runAll();
  });

  it('dead-letters with delivery_limit, every error and the attempt count when retries run out', async () => {
    const clock = new TestClock();
    const errors = [new Error('a'), new Error('b')];
    const queue = new Queue<string>({
      name: 'mailer',
      clock,
      retry: { maxAttempts: 2, backoff: { initialDelayMs: 10, jitter: 'none' } },
      handler: (_, { attempt }) => Promise.reject(errors[attempt - 1]),
    });
    const dead = vi.fn();
    queue.on('dead-lettered', dead);
    const result = track(queue.submit('m'));
    await clock.runAll();
    expect(result.error).toBe(errors[1]);
    const [entry] = (queue.deadLetter as DeadLetter<string>).entries();
    expect(entry).toMatchObject({ item: 'm', reason: 'delivery_limit', error: errors[1], errors, attempts: 2, source: 'mailer' });
    expect(dead).toHaveBeenCalledWith(entry);
    expect(queue.stats).toMatchObject({ deadLettered: 1, failed: 2, retried: 1 });
  });

  it('without retry an item gets one attempt', async () => {
    const handler = vi.fn(() => Promise.reject(new Error('no')));
    const queue = new Queue<number>({ handler, clock: new TestClock() });
    await queue.push(1);
    await queue.onIdle();
    expect(handler).toHaveBeenCalledOnce();
    expect(queue.stats.deadLettered).toBe(1);
  });

  it('RejectError dead-letters at once as rejected, keeping its cause as error', async () => {
    const clock = new TestClock();
    const cause = new Error('schema mismatch');
    const handler = vi.fn(() => {
      throw new RejectError(cause);
    });
    const queue = new Queue<number>({ handler, retry: { maxAttempts: 5 }, clock });
    const result = track(queue.submit(1));
    await clock.advance(0);
    expect(handler).toHaveBeenCalledOnce();
    expect(result.error).toBe(cause);
    expect((queue.deadLetter as DeadLetter<number>).entries()[0]).toMatchObject({ reason: 'rejected', error: cause, attempts: 1 });
    const bare = new RejectError();
    const q2 = new Queue<number>({ handler: () => Promise.reject(bare), clock });
    await q2.push(1);
    await q2.onIdle();
    expect((q2.deadLetter as DeadLetter<number>).entries()[0]!.error).toBe(bare);
  });

  it('retryIf false dead-letters as rejected without another attempt', async () => {
    const fatal = new Error('fatal');
    const handler = vi.fn(() => Promise.reject(fatal));
    const queue = new Queue<number>({ handler, retry: { maxAttempts: 5, retryIf: () => false }, clock: new TestClock() });
    await queue.push(1);
    await queue.onIdle();
    expect(handler).toHaveBeenCalledOnce();
    expect((queue.deadLetter as DeadLetter<number>).entries()[0]).toMatchObject({ reason: 'rejected', error: fatal });
  });

  it('honours retryAfterMs on a handler error', async () => {
    const clock = new TestClock();
    const at: number[] = [];
    const queue = new Queue<number>({
      clock,
      retry: { maxAttempts: 2, backoff: { initialDelayMs: 10, jitter: 'none' } },
      handler: (_, { attempt }) => {
        at.push(clock.now());
        if (attempt === 1) throw Object.assign(new Error('429'), { retryAfterMs: 2_000 });
      },
    });
    await queue.push(1);
    await clock.runAll();
    expect(at).toEqual([0, 2_000]);
  });

  it('uses a given DeadLetter and its clock-stamped entries', async () => {
    const clock = new TestClock(5_000);
    const deadLetter = new DeadLetter<number>({ clock });
    const queue = new Queue<number>({ deadLetter, handler: () => Promise.reject(new Error('x')), clock });
    await queue.push(7);
    await queue.onIdle();
    expect(queue.deadLetter).toBe(deadLetter);
    expect(deadLetter.entries()[0]).toMatchObject({ item: 7, firstSeenAt: 5_000, deadAt: 5_000, source: 'queue' });
  });

  it('stamps firstSeenAt once per turn with the system clock, and exactly with any other clock', async () => {
    const fail = (): Promise<never> => Promise.reject(new Error('x'));
    const clock = new TestClock(0);
    const exactDead = new DeadLetter<string>({ clock });
    const exact = new Queue<string>({ handler: fail, clock, autoStart: false, deadLetter: exactDead });
    exact.tryPush('a');
    clock.jumpTo(100); // within the same turn: a TestClock is read at every push
    exact.tryPush('b');
    exact.resume();
    await exact.onIdle();
    expect(exactDead.entries().map((e) => [e.item, e.firstSeenAt])).toEqual([
      ['a', 0],
      ['b', 100],
    ]);

    vi.useFakeTimers({ now: 1_000 });
    try {
      const deadLetter = new DeadLetter<string>();
      const queue = new Queue<string>({ handler: fail, autoStart: false, deadLetter });
      queue.tryPush('a');
      vi.setSystemTime(2_000);
      queue.tryPush('b'); // the same synchronous run: the clock read for 'a' stands
      await Promise.resolve();
      queue.tryPush('c'); // a later turn reads the clock again
      queue.resume();
      await queue.onIdle();
      expect(deadLetter.entries().map((e) => [e.item, e.firstSeenAt])).toEqual([
        ['a', 1_000],
        ['b', 1_000],
        ['c', 2_000],
      ]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('emits error, and keeps going, when the dead letter refuses an entry', async () => {
    const deadLetter = new DeadLetter<number>({ capacity: 1, overflow: 'reject', clock: new TestClock() });
    const queue = new Queue<number>({ deadLetter, handler: () => Promise.reject(new Error('x')), clock: new TestClock() });
    const errors: unknown[] = [];
    queue.on('error', (e) => errors.push(e));
    await queue.push(1);
    await queue.push(2);
    await queue.onIdle();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(QueueFullError);
    expect(queue.stats.deadLettered).toBe(2);
  });
  it('counts the entries its own dead letter evicted (10 000 kept) and the items a dead letter refused', async () => {
    const clock = new TestClock();
    const queue = new Queue<number>({ handler: () => Promise.reject(new RejectError('no')), clock });
    for (let n = 0; n < 10_003; n++) queue.tryPush(n);
    await queue.onIdle();
    expect(queue.stats).toMatchObject({ deadLettered: 10_003, deadLetterEvicted: 3, deadLetterRefused: 0 });
    expect(queue.deadLetter.size).toBe(10_000);

    const full = new DeadLetter<number>({ capacity: 1, overflow: 'reject', clock });
    const refusing = new Queue<number>({ handler: () => Promise.reject(new RejectError('no')), deadLetter: full, clock });
    const errors: unknown[] = [];
    refusing.on('error', (e) => errors.push(e));
    refusing.tryPush(1);
    refusing.tryPush(2);
    await refusing.onIdle();
    expect(refusing.stats).toMatchObject({ deadLettered: 2, deadLetterRefused: 1, deadLetterEvicted: 0 });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(QueueFullError);
    expect(balanced(refusing.stats)).toBe(true);
  });
});
