import { describe, expect, it } from 'vitest';
import { Queue, QueueClosedError } from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';
import { balanced, deferred, track } from '../helpers.js';

describe('Queue: close', () => {
  it('with drain finishes everything, then refuses pushes', async () => {
    const clock = new TestClock();
    const seen: number[] = [];
    const queue = new Queue<number>({ handler: (n) => void seen.push(n), clock });
    await queue.push(1, { delayMs: 100 });
    await queue.push(2);
    const closed = track(queue.close());
    await expect(queue.push(3)).rejects.toBeInstanceOf(QueueClosedError);
    expect(() => queue.tryPush(3)).toThrow(QueueClosedError);
    await clock.advance(100);
    expect(closed.value).toEqual({ unprocessed: [] });
    expect(seen).toEqual([2, 1]);
    expect(queue.close()).toBe(queue.close());
  });

  it('without drain hands back waiting, delayed and retry-pending items; in-flight ones settle', async () => {
    const clock = new TestClock();
    const gates: Record<number, ReturnType<typeof deferred<void>>> = { 1: deferred<void>(), 2: deferred<void>() };
    const queue = new Queue<number>({
      concurrency: 2,
      clock,
      retry: { maxAttempts: 3, backoff: { initialDelayMs: 1_000, jitter: 'none' } },
      handler: (n) => gates[n]?.promise ?? Promise.reject(new Error('flaky')),
    });
    await queue.push(1);
    await queue.push(2);
    await queue.push(3);
    await queue.push(4, { delayMs: 50 });
    const submitted = track(queue.submit(5));
    const closed = track(queue.close({ drain: false }));
    await clock.advance(0);
    expect(submitted.error).toBeInstanceOf(QueueClosedError);
    expect(closed.settled).toBe(false);
    gates[1]!.resolve();
    gates[2]!.reject(new Error('would retry'));
    await clock.advance(0);
    expect(closed.value).toEqual({ unprocessed: [3, 5, 4, 2] });
    expect(queue.stats).toMatchObject({ accepted: 5, completed: 1, returned: 4, waiting: 0, inFlight: 0 });
    expect(balanced(queue.stats)).toBe(true);
    expect(clock.pendingTimers).toBe(0);
  });

  it('rejects pushes still waiting for room', async () => {
    const queue = new Queue<number>({ capacity: 1, autoStart: false, clock: new TestClock() });
    await queue.push(1);
    const waiting = queue.push(2);
    void queue.close({ drain: false });
    await expect(waiting).rejects.toBeInstanceOf(QueueClosedError);
  });

  it('a close signal stops the wait for the drain', async () => {
    const queue = new Queue<number>({ handler: () => new Promise(() => {}), clock: new TestClock() });
    await queue.push(1);
    const controller = new AbortController();
    const closing = queue.close({ signal: controller.signal });
    controller.abort(new Error('shutdown deadline'));
    await expect(closing).rejects.toThrow('shutdown deadline');
    expect(queue.isClosed).toBe(true);
  });
  it('close({ drain: false }) hands back a quarter of a million delayed items, with no spread of an unbounded array', async () => {
    const clock = new TestClock();
    const queue = new Queue<number>({ handler: (n) => n, clock });
    for (let n = 0; n < 250_000; n++) queue.tryPush(n, { delayMs: 1_000 + (n % 7) });
    const { unprocessed } = await queue.close({ drain: false });
    expect(unprocessed).toHaveLength(250_000);
    expect(unprocessed.slice(0, 3)).toEqual([0, 7, 14]); // by due time, then push order
    expect(queue.stats).toMatchObject({ accepted: 250_000, returned: 250_000, waiting: 0 });
    expect(balanced(queue.stats)).toBe(true);
    expect(clock.pendingTimers).toBe(0);
  });
});
