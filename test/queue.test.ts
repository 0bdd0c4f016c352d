import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  DeadLetter,
  Deduper,
  DuplicateError,
  Queue,
  QueueClosedError,
  QueueFullError,
  RejectError,
  TimeoutError,
  TokenBucket,
  type HandlerContext,
} from '../src/index.js';
import { TestClock } from '../src/testing/index.js';
import { balanced, deferred, track } from './helpers.js';




const tick = () => new Promise<void>((r) => setTimeout(r, 0));

describe('Queue', () => {
  describe('basics', () => {
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
      expect(a).toEqual({ id: expect.any(String), duplicate: false, dropped: false });
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
          return new Promise<void>((r) => gates.push(() => (running--, r())));
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

  describe('retries and dead letters', () => {
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
        { id: expect.any(String), attempt: 1, willRetry: true },
        { id: expect.any(String), attempt: 2, willRetry: true },
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
      expect(exactDead.entries().map((e) => [e.item, e.firstSeenAt])).toEqual([['a', 0], ['b', 100]]);

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
        expect(deadLetter.entries().map((e) => [e.item, e.firstSeenAt])).toEqual([['a', 1_000], ['b', 1_000], ['c', 2_000]]);
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
  });

  describe('visibility timeout and TTL', () => {
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
  });

  describe('overflow', () => {
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

    it('a push signal cancels only the wait for room', async () => {
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
      // Aborting after acceptance changes nothing.
      const late = new AbortController();
      await queue.push(4, { signal: late.signal });
      late.abort();
      await queue.onIdle();
      expect(queue.stats.completed).toBe(3);
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
  });

  describe('message groups', () => {
    it('keeps FIFO per group with one in flight per group, while other groups proceed', async () => {
      const clock = new TestClock();
      const log: string[] = [];
      const gates = new Map<string, () => void>();
      const queue = new Queue<{ g: string; n: number }>({
        concurrency: 10,
        groupBy: (x) => x.g,
        clock,
        handler: (x) => {
          log.push(`start ${x.g}${x.n}`);
          return new Promise<void>((r) =>
            gates.set(`${x.g}${x.n}`, () => {
              log.push(`end ${x.g}${x.n}`);
              r();
            }),
          );
        },
      });
      for (const [g, n] of [['a', 1], ['a', 2], ['b', 1], ['a', 3], ['b', 2]] as const) queue.tryPush({ g, n });
      expect(log).toEqual(['start a1', 'start b1']);
      expect(queue.inFlight).toBe(2);
      gates.get('b1')!();
      await tick();
      expect(log.at(-1)).toBe('start b2');
      gates.get('a1')!();
      await tick();
      gates.get('a2')!();
      await tick();
      gates.get('a3')!();
      gates.get('b2')!();
      await queue.onIdle();
      const a = log.filter((l) => / a\d$/.test(l));
      expect(a).toEqual(['start a1', 'end a1', 'start a2', 'end a2', 'start a3', 'end a3']);
    });

    it('a failing item holds its group until it completes or dies (order kept across retries)', async () => {
      const clock = new TestClock();
      const log: string[] = [];
      const queue = new Queue<string>({
        concurrency: 4,
        groupBy: (s) => s[0]!,
        retry: { maxAttempts: 3, backoff: { initialDelayMs: 100, jitter: 'none' } },
        clock,
        handler: (s, { attempt }) => {
          log.push(`${s}#${attempt}`);
          if (s === 'a1' && attempt < 3) throw new Error('flaky');
        },
      });
      for (const s of ['a1', 'a2', 'b1']) queue.tryPush(s);
      await clock.runAll();
      expect(log).toEqual(['a1#1', 'b1#1', 'a1#2', 'a1#3', 'a2#1']);
    });

    it('groupConcurrency allows several in flight per group', async () => {
      let running = 0;
      let most = 0;
      const queue = new Queue<number>({
        concurrency: 10,
        groupBy: () => 'one',
        groupConcurrency: 2,
        clock: new TestClock(),
        handler: async () => {
          running++;
          most = Math.max(most, running);
          await tick();
          running--;
        },
      });
      for (let i = 0; i < 6; i++) queue.tryPush(i);
      await queue.onIdle();
      expect(most).toBe(2);
    });

    it('treats __proto__ and constructor as ordinary group keys', async () => {
      const seen: string[] = [];
      const queue = new Queue<string>({ groupBy: (s) => s, handler: (s) => void seen.push(s), clock: new TestClock() });
      for (const s of ['__proto__', 'constructor', '__proto__']) await queue.push(s);
      await queue.onIdle();
      expect(seen).toEqual(['__proto__', 'constructor', '__proto__']);
    });
  });

  describe('dedupe', () => {
    it('a key is a duplicate while its item waits or runs, and within its window', async () => {
      const clock = new TestClock();
      const handler = vi.fn();
      const queue = new Queue<{ id: string }>({
        dedupe: { key: (x) => x.id, windowMs: 1_000 },
        autoStart: false,
        handler,
        clock,
      });
      expect((await queue.push({ id: 'a' })).duplicate).toBe(false);
      expect((await queue.push({ id: 'a' })).duplicate).toBe(true);
      queue.resume();
      await queue.onIdle();
      expect((await queue.push({ id: 'a' })).duplicate).toBe(true); // window still open
      await clock.advance(1_000);
      expect((await queue.push({ id: 'a' })).duplicate).toBe(false);
      await queue.onIdle();
      expect(handler).toHaveBeenCalledTimes(2);
      expect(queue.stats).toMatchObject({ accepted: 2, duplicates: 2 });
    });

    it('stays a duplicate while the item runs even after the window closed', async () => {
      const clock = new TestClock();
      const gate = deferred();
      const queue = new Queue<string>({ dedupe: { key: (s) => s, windowMs: 10 }, handler: () => gate.promise, clock });
      await queue.push('k');
      await clock.advance(50);
      expect((await queue.push('k')).duplicate).toBe(true);
      gate.resolve();
      await queue.onIdle();
      expect((await queue.push('k')).duplicate).toBe(false);
    });

    it('uses the push id as the key when given, and a shared Deduper', async () => {
      const deduper = new Deduper({ clock: new TestClock() });
      const queue = new Queue<string>({ dedupe: deduper, autoStart: false, clock: new TestClock() });
      expect((await queue.push('x', { id: 'k1' })).duplicate).toBe(false);
      expect((await queue.push('y', { id: 'k1' })).duplicate).toBe(true);
      expect((await queue.push('z')).duplicate).toBe(false); // no id: not checked
      expect((await queue.push('z')).duplicate).toBe(false);
      expect(deduper.has('k1')).toBe(true);
    });

    it('submit of a duplicate shares the original’s outcome while it is live, else rejects DuplicateError', async () => {
      const clock = new TestClock();
      const queue = new Queue<string, string>({ dedupe: { key: (s) => s }, autoStart: false, handler: (s) => s + '!', clock });
      const first = queue.submit('a');
      const second = queue.submit('a');
      queue.resume();
      await expect(first).resolves.toBe('a!');
      await expect(second).resolves.toBe('a!');
      await expect(queue.submit('a')).rejects.toBeInstanceOf(DuplicateError);
    });

    it('refuses an item whose key function throws, at push', async () => {
      const boom = new Error('no key');
      const queue = new Queue<number>({
        dedupe: {
          key: () => {
            throw boom;
          },
        },
        clock: new TestClock(),
      });
      await expect(queue.push(1)).rejects.toBe(boom);
      expect(() => queue.tryPush(1)).toThrow(boom);
      expect(queue.stats.accepted).toBe(0);
    });
  });

  describe('rate limit', () => {
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

    it('accepts bucket options', async () => {
      const clock = new TestClock();
      const starts: number[] = [];
      const queue = new Queue<number>({ rateLimit: { ratePerSecond: 4 }, handler: () => void starts.push(clock.now()), clock });
      for (let i = 0; i < 3; i++) queue.tryPush(i);
      await clock.advance(1_000);
      expect(starts).toEqual([0, 250, 500]);
    });
  });

  describe('pause, resume and watchers', () => {
    it('autoStart false waits for resume; pause stops new starts', async () => {
      const seen: number[] = [];
      const queue = new Queue<number>({ autoStart: false, handler: (n) => void seen.push(n), clock: new TestClock() });
      expect(queue.isPaused).toBe(true);
      queue.tryPush(1);
      await tick();
      expect(seen).toEqual([]);
      queue.resume();
      await tick();
      expect(seen).toEqual([1]);
      queue.pause();
      queue.tryPush(2);
      await tick();
      expect(seen).toEqual([1]);
      queue.resume();
      await tick();
      expect(seen).toEqual([1, 2]);
    });

    it('onIdle, onEmpty and onSizeBelow resolve at once when already true, later when it becomes so', async () => {
      const gate = deferred();
      const queue = new Queue<number>({ concurrency: 1, handler: () => gate.promise, clock: new TestClock() });
      await queue.onIdle();
      await queue.onEmpty();
      queue.tryPush(1);
      queue.tryPush(2);
      queue.tryPush(3);
      const below2 = track(queue.onSizeBelow(2));
      const empty = track(queue.onEmpty());
      const idle = track(queue.onIdle());
      await tick();
      expect([below2.settled, empty.settled, idle.settled]).toEqual([false, false, false]);
      gate.resolve();
      await queue.onIdle();
      expect([below2.settled, empty.settled, idle.settled]).toEqual([true, true, true]);
      await expect(queue.onSizeBelow(-1)).rejects.toThrow(RangeError);
    });

    it('each watcher resolves once a start or completion meets it, whatever the others wait for', async () => {
      const gates = Array.from({ length: 6 }, () => deferred());
      const queue = new Queue<number>({ concurrency: 1, handler: (n) => gates[n]!.promise, clock: new TestClock() });
      for (let n = 0; n < 6; n++) queue.tryPush(n); // 0 runs, 5 wait
      const below = [1, 2, 3, 4, 5].map((limit) => track(queue.onSizeBelow(limit)));
      const empty = track(queue.onEmpty());
      const idle = track(queue.onIdle());
      // A watcher that leaves early (close's, aborted) must not hide the others.
      const abort = new AbortController();
      const closing = track(queue.close({ signal: abort.signal }));
      abort.abort(new Error('stop waiting'));
      await tick();
      expect(closing.error).toEqual(new Error('stop waiting'));
      const settled = () => [...below.map((w) => w.settled), empty.settled, idle.settled];
      expect(settled()).toEqual([false, false, false, false, false, false, false]);
      for (let n = 0; n < 5; n++) {
        gates[n]!.resolve();
        await tick();
        // n + 1 done, one running, 4 - n waiting: onSizeBelow(limit) is met once 4 - n < limit.
        expect(queue.size).toBe(4 - n);
        expect(settled()).toEqual([...[1, 2, 3, 4, 5].map((limit) => 4 - n < limit), n === 4, false]);
      }
      gates[5]!.resolve();
      await tick();
      expect(idle.settled).toBe(true);
    });

    it('emits idle when the last item finishes', async () => {
      const queue = new Queue<number>({ handler: async () => {}, clock: new TestClock() });
      const idle = vi.fn();
      queue.on('idle', idle);
      queue.tryPush(1);
      queue.tryPush(2);
      await queue.onIdle();
      await tick();
      expect(idle).toHaveBeenCalledOnce();
    });
  });

  describe('close', () => {
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
  });

  describe('pull mode', () => {
    it('yields deliveries to ack; iteration ends when closed and empty', async () => {
      const queue = new Queue<string>({ clock: new TestClock() });
      for (const s of ['a', 'b', 'c']) await queue.push(s);
      void queue.close();
      const got: string[] = [];
      for await (const d of queue) {
        got.push(`${d.item}@${d.attempt}`);
        expect(d.ack()).toBe(true);
        expect(d.ack()).toBe(false);
      }
      expect(got).toEqual(['a@1', 'b@1', 'c@1']);
      expect(queue.stats).toMatchObject({ completed: 3 });
    });

    it('caps unacked deliveries at concurrency', async () => {
      const queue = new Queue<number>({ concurrency: 2, clock: new TestClock() });
      for (let i = 0; i < 3; i++) await queue.push(i);
      const it = queue[Symbol.asyncIterator]();
      const d1 = (await it.next()).value!;
      const d2 = (await it.next()).value!;
      const third = track(it.next());
      await tick();
      expect(third.settled).toBe(false);
      expect(queue.inFlight).toBe(2);
      d1.ack();
      await tick();
      expect(third.value?.value?.item).toBe(2);
      d2.ack();
      third.value!.value!.ack();
      await it.return!();
    });

    it('nack retries with delayMs (using an attempt) and dead-letters past maxAttempts', async () => {
      const clock = new TestClock();
      const queue = new Queue<string>({ clock, retry: { maxAttempts: 2 } });
      await queue.push('x');
      const it = queue[Symbol.asyncIterator]();
      const first = (await it.next()).value!;
      expect(first.nack(new Error('later'), { delayMs: 300 })).toBe(true);
      const next = track(it.next());
      await clock.advance(299);
      expect(next.settled).toBe(false);
      await clock.advance(1);
      const second = next.value!.value!;
      expect(second.attempt).toBe(2);
      second.nack(new RejectError(new Error('never')));
      expect((queue.deadLetter as DeadLetter<string>).entries()[0]).toMatchObject({ reason: 'rejected', attempts: 2 });
      await it.return!();
    });

    it('redelivers a lapsed delivery at once with attempt + 1; its signal aborts and its late ack returns false', async () => {
      const clock = new TestClock();
      const queue = new Queue<string>({ clock, visibilityTimeoutMs: 1_000, retry: { maxAttempts: 3 } });
      await queue.push('job');
      const it = queue[Symbol.asyncIterator]();
      const first = (await it.next()).value!;
      const again = track(it.next());
      await clock.advance(1_000);
      expect(first.signal.aborted).toBe(true);
      expect(first.signal.reason).toBeInstanceOf(TimeoutError);
      expect(again.value?.value).toMatchObject({ item: 'job', attempt: 2 });
      expect(first.ack()).toBe(false);
      expect(again.value!.value!.ack()).toBe(true);
      expect(queue.stats).toMatchObject({ completed: 1, failed: 1 });
      await it.return!();
    });

    it('on break, unacked deliveries return to waiting without using an attempt', async () => {
      const queue = new Queue<string>({ concurrency: 5, clock: new TestClock() });
      for (const s of ['a', 'b', 'c']) await queue.push(s);
      for await (const d of queue) {
        if (d.item === 'b') break;
      }
      expect(queue.stats).toMatchObject({ waiting: 3, inFlight: 0 });
      const again: string[] = [];
      void queue.close();
      for await (const d of queue) {
        again.push(`${d.item}@${d.attempt}`);
        d.ack();
      }
      expect(again).toEqual(['a@1', 'b@1', 'c@1']);
    });

    it('a queue has a handler or is iterated, not both', () => {
      const withHandler = new Queue<number>({ handler: () => {}, clock: new TestClock() });
      expect(() => withHandler[Symbol.asyncIterator]()).toThrow(TypeError);
      const pulled = new Queue<number>({ clock: new TestClock() });
      pulled[Symbol.asyncIterator]();
      expect(() => pulled.process(() => {})).toThrow(TypeError);
    });
  });

  describe('feeding', () => {
    it('pushAll feeds an async iterable with backpressure and resolves the number accepted', async () => {
      const clock = new TestClock();
      const seen: number[] = [];
      const queue = new Queue<number>({ capacity: 2, dedupe: { key: (n) => n }, handler: async (n) => void seen.push(n), clock });
      let produced = 0;
      async function* source() {
        for (const n of [1, 2, 3, 3, 4, 5]) {
          produced++;
          yield n;
        }
      }
      await expect(queue.pushAll(source())).resolves.toBe(5);
      await queue.onIdle();
      expect(seen).toEqual([1, 2, 3, 4, 5]);
      expect(produced).toBe(6);
    });

    it('pushAll stops at the first refusal and closes the source', async () => {
      const queue = new Queue<number>({ capacity: 1, overflow: 'reject', autoStart: false, clock: new TestClock() });
      let closed = false;
      function* source() {
        try {
          yield 1;
          yield 2;
          yield 3;
        } finally {
          closed = true;
        }
      }
      await expect(queue.pushAll(source())).rejects.toBeInstanceOf(QueueFullError);
      expect(closed).toBe(true);
      expect(queue.size).toBe(1);
    });

    it('process() sets the handler and concurrency once', async () => {
      const queue = new Queue<number, number>({ clock: new TestClock() });
      queue.tryPush(1);
      queue.process((n) => n + 1, { concurrency: 4 });
      await queue.onIdle();
      expect(queue.stats.completed).toBe(1);
      expect(() => queue.process(() => 0)).toThrow(TypeError);
    });
  });

  describe('events', () => {
    it.each(['on', 'addListener', 'once'] as const)('delivers events to a first listener added with %s', async (method) => {
      const queue = new Queue<number, number>({ handler: (n) => n * 2, clock: new TestClock() });
      await queue.push(1); // nothing listens yet
      const seen: [string, unknown][] = [];
      queue[method]('active', (item) => seen.push(['active', item]));
      queue[method]('completed', (_item, result) => seen.push(['completed', result]));
      await queue.push(2);
      await queue.onIdle();
      expect(seen).toEqual([['active', 2], ['completed', 4]]);
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
      expect(active).toHaveBeenCalledWith('abc', { id: 'i1', attempt: 1 });
      expect(completed).toHaveBeenCalledWith('abc', 3, { id: 'i1', attempt: 1 });
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
        ['active', 'a', { id: ids[0], attempt: 1 }],
        ['completed', 'a', 1, { id: ids[0], attempt: 1 }],
        ['active', 'bb', { id: ids[1], attempt: 1 }],
        ['completed', 'bb', 2, { id: ids[1], attempt: 1 }],
      ]);
    });
  });

  describe('with vi.useFakeTimers() and no clock injected', () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    it('delays and retries on the faked timers, leaving none behind', async () => {
      vi.useFakeTimers();
      const at: number[] = [];
      const start = Date.now();
      const queue = new Queue<number>({
        retry: { maxAttempts: 2, backoff: { initialDelayMs: 1_000, jitter: 'none' } },
        handler: (_, { attempt }) => {
          at.push(Date.now() - start);
          if (attempt === 1) throw new Error('x');
        },
      });
      await queue.push(1, { delayMs: 500 });
      await vi.advanceTimersByTimeAsync(1_500);
      expect(at).toEqual([500, 1_500]);
      await queue.close();
      expect(vi.getTimerCount()).toBe(0);
    });
  });

  it('refuses bad options with clear errors', async () => {
    expect(() => new Queue({ concurrency: 0 })).toThrow(new RangeError('Queue: concurrency must be a positive integer or Infinity, got 0'));
    expect(() => new Queue({ capacity: -1 })).toThrow(RangeError);
    expect(() => new Queue({ overflow: 'spill' as never })).toThrow(
      new TypeError("Queue: overflow must be one of 'block', 'reject', 'drop-oldest', 'drop-newest', got \"spill\""),
    );
    expect(() => new Queue({ visibilityTimeoutMs: Number.NaN })).toThrow(RangeError);
    expect(() => new Queue({ handler: 'x' as never })).toThrow(TypeError);
    expect(() => new Queue({ dedupe: {} as never })).toThrow(new TypeError('Queue: dedupe.key must be a function, got undefined'));
    expect(() => new Queue({ retry: { maxAttempts: 1.5 } })).toThrow(RangeError);
    expect(() => new Queue({ autoStart: 'yes' as never })).toThrow(TypeError);
    expect(() => new Queue({ rateLimit: { ratePerSecond: 1, burst: 0.5 } })).toThrow(RangeError);
    const queue = new Queue<number>({ autoStart: false, clock: new TestClock() });
    await expect(queue.push(1, { priority: Number.NaN })).rejects.toThrow(RangeError);
    await expect(queue.push(1, { delayMs: -1 })).rejects.toThrow(RangeError);
    expect(() => queue.tryPush(1, { id: 5 as never })).toThrow(TypeError);
    expect(queue.stats.accepted).toBe(0);
  });
});
