import { describe, expect, it, vi } from 'vitest';
import { DeadLetter, Queue, RejectError } from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';
import { balanced } from '../helpers.js';

describe('Queue: events', () => {
  it.each(['on', 'addListener', 'once'] as const)('delivers events to a first listener added with %s', async (method) => {
    const queue = new Queue<number, number>({ handler: (n) => n * 2, clock: new TestClock() });
    await queue.push(1); // nothing listens yet
    const seen: [string, unknown][] = [];
    queue[method]('active', (item) => seen.push(['active', item]));
    queue[method]('completed', (_item, result) => seen.push(['completed', result]));
    await queue.push(2);
    await queue.onIdle();
    expect(seen).toEqual([
      ['active', 2],
      ['completed', 4],
    ]);
  });

  it('a listener that throws never breaks the queue; the error reaches error listeners', async () => {
    const queue = new Queue<number, number>({ handler: (n) => n, clock: new TestClock() });
    const boom = new Error('listener bug');
    const errors: unknown[] = [];
    queue.on('completed', () => {
      throw boom;
    });
    queue.on('error', (e) => errors.push(e));
    await expect(queue.submit(1)).resolves.toBe(1);
    await expect(queue.submit(2)).resolves.toBe(2);
    expect(errors).toEqual([boom, boom]);
  });

  it('emits active and completed with typed payloads', async () => {
    const queue = new Queue<string, number>({ handler: (s) => s.length, clock: new TestClock() });
    const active = vi.fn();
    const completed = vi.fn();
    queue.on('active', active);
    queue.on('completed', completed);
    await queue.submit('abc', { id: 'i1' });
    const timing = { enqueuedAt: 0, startedAt: 0, waitMs: 0 };
    expect(active).toHaveBeenCalledWith('abc', { id: 'i1', attempt: 1, ...timing });
    expect(completed).toHaveBeenCalledWith('abc', 3, { id: 'i1', attempt: 1, ...timing, runMs: 0 });
  });

  it('names an item pushed without options by its receipt id in events and in the handler context', async () => {
    const contextIds: string[] = [];
    const queue = new Queue<string, number>({
      handler: (s, { id }) => {
        contextIds.push(id);
        return s.length;
      },
      clock: new TestClock(),
    });
    const seen: unknown[] = [];
    queue.on('active', (item, info) => seen.push(['active', item, info]));
    queue.on('completed', (item, result, info) => seen.push(['completed', item, result, info]));
    const ids = ['a', 'bb'].map((s) => queue.tryPush(s)!.id);
    await queue.onIdle();
    expect(contextIds).toEqual(ids);
    expect(seen).toEqual([
      ['active', 'a', { id: ids[0], attempt: 1, enqueuedAt: 0, startedAt: 0, waitMs: 0 }],
      ['completed', 'a', 1, { id: ids[0], attempt: 1, enqueuedAt: 0, startedAt: 0, waitMs: 0, runMs: 0 }],
      ['active', 'bb', { id: ids[1], attempt: 1, enqueuedAt: 0, startedAt: 0, waitMs: 0 }],
      ['completed', 'bb', 2, { id: ids[1], attempt: 1, enqueuedAt: 0, startedAt: 0, waitMs: 0, runMs: 0 }],
    ]);
  });
  it('listeners see the books balanced: failed without retry, dead-lettered and the dead letter’s added, drop-oldest included', async () => {
    const clock = new TestClock();
    const deadLetter = new DeadLetter<number>({ clock });
    const queue = new Queue<number, number>({
      handler: (n) => {
        if (n % 3 === 0) throw new RejectError('poison');
        if (n % 3 === 1) throw new Error('flaky');
        return n;
      },
      retry: { maxAttempts: 2, backoff: { initialDelayMs: 0, maxDelayMs: 0 } },
      capacity: 2,
      overflow: 'drop-oldest',
      autoStart: false,
      deadLetter,
      clock,
    });
    const seen: string[] = [];
    const check =
      (event: string) =>
      (..._args: unknown[]): void => {
        seen.push(event);
        if (!balanced(queue.stats)) seen.push(`UNBALANCED in ${event}: ${JSON.stringify(queue.stats)}`);
      };
    queue.on('failed', check('failed'));
    queue.on('dead-lettered', check('dead-lettered'));
    queue.on('completed', check('completed'));
    deadLetter.on('added', check('added'));
    for (let n = 0; n < 5; n++) await queue.push(n); // 0, 1, 2 dropped as the oldest
    queue.resume();
    await queue.push(8);
    await queue.onIdle();
    expect(seen.filter((e) => e.startsWith('UNBALANCED'))).toEqual([]);
    const count = (event: string) => seen.filter((e) => e === event).length;
    expect([count('dead-lettered'), count('added'), count('failed'), count('completed')]).toEqual([5, 5, 3, 1]);
  });

  it('a failed listener sees the books balanced when close({ drain: false }) hands a would-be retry back', async () => {
    const clock = new TestClock();
    let fail!: (error: Error) => void;
    const queue = new Queue<number, number>({
      handler: () => new Promise<number>((_, reject) => (fail = reject)),
      retry: { maxAttempts: 3 },
      clock,
    });
    const checks: boolean[] = [];
    queue.on('failed', () => checks.push(balanced(queue.stats)));
    await queue.push(1);
    const closing = queue.close({ drain: false });
    fail(new Error('flaky'));
    expect(await closing).toEqual({ unprocessed: [1] });
    expect(checks).toEqual([true]);
    expect(queue.stats).toMatchObject({ accepted: 1, returned: 1, failed: 1, retried: 0 });
  });
});
