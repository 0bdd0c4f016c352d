import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type DeadLetter, Queue, QueueFullError } from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';
import { balanced, deferred, track } from '../helpers.js';

const tick = () => new Promise<void>((r) => setTimeout(r, 0));

describe('Queue: overflow', () => {
  it("'block' makes push wait for room; tryPush returns undefined; pushes are admitted FIFO", async () => {
    const clock = new TestClock();
    const queue = new Queue<number>({ capacity: 2, autoStart: false, handler: () => {}, clock });
    await queue.push(1);
    await queue.push(2);
    expect(queue.tryPush(3)).toBeUndefined();
    const third = track(queue.push(3));
    const fourth = track(queue.push(4));
    await clock.advance(0);
    expect(third.settled).toBe(false);
    queue.resume();
    await queue.onIdle();
    expect(third.value).toMatchObject({ duplicate: false });
    expect(fourth.settled).toBe(true);
    expect(queue.stats.completed).toBe(4);
  });

  it("'block' admits a waiting push as soon as an item starts, for plain items and records alike", async () => {
    for (const options of [undefined, { priority: 0, id: 'x' }]) {
      const gates = new Map<number, ReturnType<typeof deferred<void>>>();
      const handler = (n: number) => {
        const gate = deferred();
        gates.set(n, gate);
        return gate.promise;
      };
      const queue = new Queue<number>({ capacity: 1, concurrency: 1, handler, clock: new TestClock() });
      await queue.push(1, options && { ...options, id: 'a' }); // runs
      await queue.push(2, options && { ...options, id: 'b' }); // waits: full
      const third = track(queue.push(3));
      await tick();
      expect(third.settled).toBe(false);
      gates.get(1)!.resolve(); // 2 starts, so 3 fits while 2 still runs
      await tick();
      expect(gates.has(2)).toBe(true);
      expect(gates.has(3)).toBe(false);
      expect(third.settled).toBe(true);
      expect(queue.size).toBe(1);
      gates.get(2)!.resolve();
      await tick();
      gates.get(3)!.resolve();
      await queue.onIdle();
      expect(queue.stats).toMatchObject({ accepted: 3, completed: 3 });
    }
  });

  it('a push signal aborted while the push waits for room rejects it; after acceptance it cancels the item', async () => {
    const queue = new Queue<number>({ capacity: 1, autoStart: false, handler: () => {}, clock: new TestClock() });
    await queue.push(1);
    const controller = new AbortController();
    const waiting = queue.push(2, { signal: controller.signal });
    const behind = track(queue.push(3));
    controller.abort(new Error('no room'));
    await expect(waiting).rejects.toThrow('no room');
    queue.resume();
    await queue.onIdle();
    expect(behind.settled).toBe(true);
    expect(queue.stats).toMatchObject({ accepted: 2, completed: 2 });
    // Aborting after acceptance cancels the item (see cancel.test.ts); after it ended, changes nothing.
    queue.pause();
    const late = new AbortController();
    await queue.push(4, { signal: late.signal });
    late.abort(new Error('changed my mind'));
    queue.resume();
    await queue.onIdle();
    expect(queue.stats).toMatchObject({ completed: 2, cancelled: 1 });
    const done = new AbortController();
    await queue.push(5, { signal: done.signal });
    await queue.onIdle();
    done.abort();
    expect(queue.stats).toMatchObject({ completed: 3, cancelled: 1 });
  });

  it("'reject' refuses with QueueFullError: push rejects, tryPush throws", async () => {
    const queue = new Queue<number>({ capacity: 1, overflow: 'reject', autoStart: false, clock: new TestClock() });
    await queue.push(1);
    await expect(queue.push(2)).rejects.toBeInstanceOf(QueueFullError);
    expect(() => queue.tryPush(2)).toThrow(QueueFullError);
    expect(queue.stats.accepted).toBe(1);
  });

  it("'drop-newest' dead-letters the incoming item as maxlen", async () => {
    const queue = new Queue<number>({ capacity: 1, overflow: 'drop-newest', autoStart: false, clock: new TestClock() });
    await queue.push(1);
    const receipt = await queue.push(2);
    expect(receipt.dropped).toBe(true);
    await expect(queue.submit(3)).rejects.toBeInstanceOf(QueueFullError);
    expect((queue.deadLetter as DeadLetter<number>).entries().map((e) => [e.item, e.reason])).toEqual([
      [2, 'maxlen'],
      [3, 'maxlen'],
    ]);
    expect(queue.size).toBe(1);
    expect(balanced(queue.stats)).toBe(true);
  });

  it("'drop-oldest' dead-letters the oldest waiting item as maxlen", async () => {
    const queue = new Queue<number>({ capacity: 2, overflow: 'drop-oldest', autoStart: false, clock: new TestClock() });
    await queue.push(1, { priority: 9 });
    await queue.push(2, { delayMs: 100 });
    await queue.push(3);
    await queue.push(4);
    expect((queue.deadLetter as DeadLetter<number>).entries().map((e) => [e.item, e.reason])).toEqual([
      [1, 'maxlen'],
      [2, 'maxlen'],
    ]);
    expect(queue.size).toBe(2);
    expect(balanced(queue.stats)).toBe(true);
  });

  it("'drop-oldest' drops plain pushes (no options) oldest first too", async () => {
    const queue = new Queue<number>({ capacity: 2, overflow: 'drop-oldest', autoStart: false, clock: new TestClock() });
    for (const n of [1, 2, 3, 4]) queue.tryPush(n);
    expect((queue.deadLetter as DeadLetter<number>).entries().map((e) => e.item)).toEqual([1, 2]);
    const seen: number[] = [];
    queue.process((n) => void seen.push(n));
    queue.resume();
    await queue.onIdle();
    expect(seen).toEqual([3, 4]);
  });

  it('capacity counts waiting items, not those in flight', async () => {
    const gate = deferred();
    const queue = new Queue<number>({ capacity: 1, overflow: 'reject', handler: () => gate.promise, clock: new TestClock() });
    await queue.push(1); // starts at once
    await queue.push(2); // waits
    await expect(queue.push(3)).rejects.toBeInstanceOf(QueueFullError);
    gate.resolve();
    await queue.onIdle();
  });

  it("'drop-oldest' drops the item pushed first wherever it waits: any priority, group or delay (model)", async () => {
    const push = fc.record({
      priority: fc.integer({ min: -3, max: 3 }),
      group: fc.option(fc.constantFrom('a', 'b', 'c'), { nil: undefined }),
      delayMs: fc.constantFrom(0, 0, 5, 50),
      advanceMs: fc.constantFrom(0, 0, 10),
    });
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 6 }), fc.array(push, { maxLength: 40 }), async (capacity, pushes) => {
        const clock = new TestClock();
        const queue = new Queue<number>({
          capacity,
          overflow: 'drop-oldest',
          autoStart: false,
          groupBy: (n) => pushes[n]!.group ?? `own-${n}`,
          groupConcurrency: 1,
          clock,
        });
        const waiting: number[] = []; // the model: waiting items in push order
        const dropped: number[] = [];
        for (const [n, p] of pushes.entries()) {
          await queue.push(n, { priority: p.priority, delayMs: p.delayMs });
          waiting.push(n);
          if (waiting.length > capacity) dropped.push(waiting.shift()!);
          await clock.advance(p.advanceMs); // delays fall due: still waiting, still in push order
        }
        expect((queue.deadLetter as DeadLetter<number>).entries().map((e) => e.item)).toEqual(dropped);
        expect(queue.size).toBe(waiting.length);
        expect(balanced(queue.stats)).toBe(true);
      }),
      { numRuns: 150 },
    );
  });

  it("'drop-oldest' counts a retried item by its first push: it is the oldest while it waits for its retry", async () => {
    const clock = new TestClock();
    let fail = true;
    const queue = new Queue<string>({
      capacity: 2,
      overflow: 'drop-oldest',
      retry: { maxAttempts: 3, backoff: { initialDelayMs: 100, jitter: 'none' } },
      handler: (s) => {
        if (s === 'first' && fail) {
          fail = false;
          throw new Error('once');
        }
      },
      clock,
    });
    queue.pause();
    queue.push('first');
    queue.resume();
    await clock.advance(0); // 'first' fails and waits 100 ms for its retry
    queue.pause();
    queue.push('second');
    queue.push('third'); // full: 'first' is the oldest, though it waits behind a backoff
    expect((queue.deadLetter as DeadLetter<string>).entries().map((e) => [e.item, e.reason])).toEqual([['first', 'maxlen']]);
    queue.resume();
    await clock.advance(200);
    await queue.onIdle();
    expect(queue.stats).toMatchObject({ accepted: 3, completed: 2, retried: 1, deadLettered: 1 });
    expect(balanced(queue.stats)).toBe(true);
  });
});
