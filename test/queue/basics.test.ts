import { describe, expect, it } from 'vitest';
import { DeadLetter, Queue, type HandlerContext } from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';

const tick = () => new Promise<void>((r) => setTimeout(r, 0));

describe('Queue: basics', () => {
  it('runs the handler for each item and counts it, falsy items included', async () => {
    const seen: unknown[] = [];
    const queue = new Queue<unknown, unknown>({ handler: async (item) => void seen.push(item), clock: new TestClock() });
    for (const item of [0, '', null, false, undefined, 'x']) await queue.push(item);
    await queue.onIdle();
    expect(seen).toEqual([0, '', null, false, undefined, 'x']);
    expect(queue.stats).toMatchObject({ accepted: 6, completed: 6, waiting: 0, inFlight: 0 });
  });

  it('push resolves a receipt with a generated id, or the given one', async () => {
    const queue = new Queue<number>({ autoStart: false, clock: new TestClock() });
    const a = await queue.push(1);
    const b = await queue.push(2, { id: 'order-2' });
    expect(a).toEqual({ id: expect.any(String), duplicate: false, dropped: false, replaced: false });
    expect(b.id).toBe('order-2');
    expect(queue.size).toBe(2);
  });

  it('submit resolves with the handler’s result; sync handlers too', async () => {
    const queue = new Queue<number, number>({ handler: (n) => n * 2, clock: new TestClock() });
    await expect(queue.submit(21)).resolves.toBe(42);
    const asyncQueue = new Queue<number, string>({ handler: async (n, ctx) => `${n}@${ctx.attempt}`, clock: new TestClock() });
    await expect(asyncQueue.submit(1)).resolves.toBe('1@1');
  });

  it('never runs more than concurrency handlers at once', async () => {
    let running = 0;
    let most = 0;
    const gates: (() => void)[] = [];
    const queue = new Queue<number>({
      concurrency: 3,
      clock: new TestClock(),
      handler: () => {
        running++;
        most = Math.max(most, running);
        return new Promise<void>((r) =>
          gates.push(() => {
            running--;
            r();
          }),
        );
      },
    });
    for (let i = 0; i < 10; i++) queue.tryPush(i);
    expect(queue.inFlight).toBe(3);
    expect(queue.size).toBe(7);
    while (gates.length) {
      gates.shift()!();
      await tick();
    }
    await queue.onIdle();
    expect(most).toBe(3);
    expect(queue.stats.completed).toBe(10);
  });

  it('runs higher priority first, FIFO among equals', async () => {
    const order: string[] = [];
    const queue = new Queue<string>({ autoStart: false, handler: async (s) => void order.push(s), clock: new TestClock() });
    queue.tryPush('low-1', { priority: -1 });
    queue.tryPush('mid-1');
    queue.tryPush('high-1', { priority: 5 });
    queue.tryPush('mid-2');
    queue.tryPush('high-2', { priority: 5 });
    queue.tryPush('low-2', { priority: -1 });
    queue.tryPush('top', { priority: 10 });
    queue.resume();
    await queue.onIdle();
    expect(order).toEqual(['top', 'high-1', 'high-2', 'mid-1', 'mid-2', 'low-1', 'low-2']);
  });

  it('keeps the priority of an item pushed with nothing else (stored without a record) across a retry, a drop and close', async () => {
    const order: string[] = [];
    let failA = true;
    const queue = new Queue<string>({
      autoStart: false,
      retry: { maxAttempts: 2, backoff: { initialDelayMs: 0, jitter: 'none' } },
      handler: async (s) => {
        order.push(s);
        if (s === 'a' && failA) {
          failA = false;
          throw new Error('once');
        }
      },
      clock: new TestClock(),
    });
    queue.tryPush('b', { priority: 1 });
    queue.tryPush('a', { priority: 5 });
    queue.tryPush('c', { priority: 5, id: 'c' }); // a record, at the same level
    queue.tryPush('d');
    queue.resume();
    await queue.onIdle();
    // a's retry keeps priority 5: it runs before b (1) and d (0).
    expect(order.indexOf('a', 1)).toBeLessThan(order.indexOf('b'));
    expect(order).toEqual(['a', 'c', 'a', 'b', 'd']);
    expect(queue.stats).toMatchObject({ accepted: 4, completed: 4, retried: 1 });

    // Handed back by close({ drain: false }) in priority order, and dropped oldest-first when full.
    const dead = new DeadLetter<string>({ clock: new TestClock() });
    const full = new Queue<string>({ autoStart: false, capacity: 3, overflow: 'drop-oldest', deadLetter: dead, clock: new TestClock() });
    full.tryPush('p1', { priority: 1 });
    full.tryPush('p9', { priority: 9 });
    full.tryPush('p0');
    full.tryPush('p5', { priority: 5 }); // full: the oldest ('p1') goes
    expect(dead.entries().map((e) => [e.item, e.reason])).toEqual([['p1', 'maxlen']]);
    expect(await full.close({ drain: false })).toEqual({ unprocessed: ['p9', 'p5', 'p0'] });
    expect(full.stats).toMatchObject({ accepted: 4, deadLettered: 1, returned: 3 });
  });

  it('delayMs holds an item back, counted in size', async () => {
    const clock = new TestClock();
    const at: number[] = [];
    const queue = new Queue<number>({ handler: () => void at.push(clock.now()), clock });
    await queue.push(1, { delayMs: 500 });
    expect(queue.size).toBe(1);
    await clock.advance(499);
    expect(at).toEqual([]);
    await clock.advance(1);
    expect(at).toEqual([500]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('passes id, attempt, signal and group key to the handler', async () => {
    let ctx: HandlerContext | undefined;
    const queue = new Queue<{ user: string }>({
      groupBy: (x) => x.user,
      handler: (_, c) => {
        ctx = c;
      },
      clock: new TestClock(),
    });
    await queue.push({ user: 'ann' }, { id: 'm1' });
    await queue.onIdle();
    expect(ctx).toMatchObject({ id: 'm1', attempt: 1, key: 'ann' });
    expect(ctx!.signal).toBeInstanceOf(AbortSignal);
  });
});
