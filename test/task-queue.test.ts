import { describe, expect, expectTypeOf, it } from 'vitest';
import { AimdLimit, QueueClosedError, QueueFullError, RejectError, TaskQueue, TimeoutError, wrap } from '../src/index.js';
import { TestClock } from '../src/testing/index.js';
import { balanced, deferred, track } from './helpers.js';

describe('TaskQueue', () => {
  it('runs functions, resolving each add with its own result, typed per call, at most concurrency at once', async () => {
    const clock = new TestClock();
    const tasks = new TaskQueue({ concurrency: 2, clock });
    let running = 0;
    let most = 0;
    const job =
      <R>(value: R, ms: number) =>
      async () => {
        most = Math.max(most, ++running);
        await new Promise<void>((r) => clock.setTimeout(r, ms));
        running--;
        return value;
      };
    const a = tasks.add(job(1, 30));
    const b = tasks.add(job('two', 10));
    const c = tasks.add(job({ three: 3 }, 10));
    expectTypeOf(a).toEqualTypeOf<Promise<number>>();
    expectTypeOf(b).toEqualTypeOf<Promise<string>>();
    expectTypeOf(c).toEqualTypeOf<Promise<{ three: number }>>();
    expect([tasks.size, tasks.pending]).toEqual([1, 2]);
    await clock.advance(100);
    expect(await Promise.all([a, b, c])).toEqual([1, 'two', { three: 3 }]);
    expect(most).toBe(2);
    expect(tasks.stats).toMatchObject({ accepted: 3, completed: 3 });
    expect(balanced(tasks.stats)).toBe(true);
  });

  it('priority, delay, per-task timeoutMs, retries and the dead letter come from the Queue underneath', async () => {
    const clock = new TestClock();
    const tasks = new TaskQueue({ clock, autoStart: false, retry: { maxAttempts: 2, backoff: { initialDelayMs: 0, maxDelayMs: 0 } } });
    const order: string[] = [];
    const low = tasks.add(() => order.push('low'));
    const high = tasks.add(() => order.push('high'), { priority: 5 });
    let attempts = 0;
    const flaky = tasks.add(({ attempt }) => {
      attempts = attempt;
      if (attempt === 1) throw new Error('once');
      return 'ok';
    });
    const slow = track(
      tasks.add(({ signal }) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))), {
        timeoutMs: 50,
      }),
    );
    const broken = track(tasks.add(() => Promise.reject(new Error('always'))));
    tasks.resume();
    await clock.advance(500);
    await Promise.all([low, high]);
    expect(order).toEqual(['high', 'low']);
    expect(await flaky).toBe('ok');
    expect(attempts).toBe(2);
    expect(slow.error).toBeInstanceOf(TimeoutError);
    expect(broken.error).toEqual(new Error('always'));
    expect(tasks.deadLetter.size).toBe(2);
    expect(tasks.stats).toMatchObject({ completed: 3, deadLettered: 2 });
  });

  it('a task group runs in order, one at a time; tasks without a group run beside it', async () => {
    const clock = new TestClock();
    const tasks = new TaskQueue({ concurrency: 4, clock });
    const log: string[] = [];
    const step = (name: string) => async () => {
      log.push(`start ${name}`);
      await new Promise<void>((r) => clock.setTimeout(r, 10));
      log.push(`end ${name}`);
    };
    const all = [tasks.add(step('a1'), { group: 'a' }), tasks.add(step('a2'), { group: 'a' }), tasks.add(step('free'))];
    await clock.advance(0);
    expect(log).toEqual(['start a1', 'start free']);
    await clock.advance(100);
    await Promise.all(all);
    expect(log.indexOf('start a2')).toBeGreaterThan(log.indexOf('end a1'));
  });

  it('cancel by id or signal, clear, close: every add settles', async () => {
    const clock = new TestClock();
    const tasks = new TaskQueue({ clock, autoStart: false });
    const controller = new AbortController();
    const byId = track(tasks.add(() => 1, { id: 'x' }));
    const bySignal = track(tasks.add(() => 2, { signal: controller.signal }));
    const cleared = track(tasks.add(() => 3));
    expect(tasks.cancel('x', 'not needed')).toBe(true);
    controller.abort('gone');
    tasks.clear();
    await clock.advance(0);
    expect(byId.error).toBe('not needed');
    expect(bySignal.error).toBe('gone');
    expect(cleared.error).toBeInstanceOf(QueueClosedError);
    const waiting = tasks.add(() => 4);
    const { unprocessed } = await tasks.close({ drain: false });
    expect(unprocessed).toHaveLength(1);
    await expect(waiting).rejects.toBeInstanceOf(QueueClosedError);
    await expect(tasks.add(() => 5)).rejects.toBeInstanceOf(QueueClosedError);
    expect(tasks.stats).toMatchObject({ accepted: 4, cancelled: 2, returned: 2 });
  });

  it('concurrency is live: raising it starts more at once, lowering it starts no more until fewer run', async () => {
    const clock = new TestClock();
    const tasks = new TaskQueue({ concurrency: 1, clock });
    const gates = Array.from({ length: 6 }, () => deferred());
    const all = gates.map((g) => tasks.add(() => g.promise));
    await clock.advance(0);
    expect(tasks.pending).toBe(1);
    tasks.concurrency = 3;
    await clock.advance(0);
    expect(tasks.pending).toBe(3);
    tasks.concurrency = 1;
    gates[0]!.resolve();
    gates[1]!.resolve();
    await clock.advance(0);
    expect(tasks.pending).toBe(1); // two ended; none started while over the new limit
    for (const g of gates) g.resolve();
    await Promise.all(all);
    expect(() => {
      tasks.concurrency = 0;
    }).toThrow(new RangeError('TaskQueue: concurrency must be a positive integer or Infinity, got 0'));
  });

  it('onIdle, onEmpty and onSizeBelow, pause and resume, as p-queue', async () => {
    const clock = new TestClock();
    const tasks = new TaskQueue({ clock, autoStart: false });
    const gate = deferred();
    tasks.add(() => gate.promise);
    tasks.add(() => 1);
    expect(tasks.isPaused).toBe(true);
    const empty = track(tasks.onEmpty());
    const below = track(tasks.onSizeBelow(2));
    const idle = track(tasks.onIdle());
    await clock.advance(0);
    expect([below.settled, empty.settled]).toEqual([false, false]);
    tasks.resume(); // the first starts, the second waits behind it
    await clock.advance(0);
    expect([below.settled, empty.settled, idle.settled]).toEqual([true, false, false]);
    expect([tasks.size, tasks.pending]).toEqual([1, 1]);
    gate.resolve();
    await clock.advance(0);
    expect([empty.settled, idle.settled]).toEqual([true, true]);
    tasks.pause();
    expect(tasks.isPaused).toBe(true);
  });

  it('a task added with nothing runs without a record, and its add settles on every path: capacity, overflow, failure, close', async () => {
    const clock = new TestClock();
    const blocking = new TaskQueue({ concurrency: 1, capacity: 1, clock });
    const results = [1, 2, 3].map((n) => blocking.add(() => n)); // the third waits for room
    await clock.advance(0);
    expect(await Promise.all(results)).toEqual([1, 2, 3]);

    const refusing = new TaskQueue({ capacity: 1, overflow: 'reject', autoStart: false, clock });
    void refusing.add(() => 1);
    await expect(refusing.add(() => 2)).rejects.toBeInstanceOf(QueueFullError);

    const failing = new TaskQueue({ clock });
    const poison = new Error('poison');
    await expect(
      failing.add(() => {
        throw new RejectError(poison);
      }),
    ).rejects.toBe(poison); // a RejectError's cause, as submit
    expect(failing.deadLetter.size).toBe(1);

    const closing = new TaskQueue({ clock, autoStart: false });
    const handedBack = track(closing.add(() => 1));
    const controller = new AbortController();
    const closed = closing.close({ drain: false, signal: controller.signal });
    controller.abort('stop waiting');
    await expect(closed).rejects.toBe('stop waiting');
    await clock.advance(0);
    expect(handedBack.error).toBeInstanceOf(QueueClosedError); // the close went on to its end
    await expect(closing.add(() => 2)).rejects.toBeInstanceOf(QueueClosedError);
    expect(balanced(closing.stats)).toBe(true);
  });

  it('bad input names TaskQueue, the option and the value', async () => {
    expect(() => new TaskQueue({ concurency: 2 } as never)).toThrow(
      new TypeError("TaskQueue: unknown option 'concurency' (did you mean 'concurrency'?)"),
    );
    expect(() => new TaskQueue({ handler: () => {} } as never)).toThrow(/TaskQueue: unknown option 'handler'/);
    expect(() => new TaskQueue({ capacity: 0 })).toThrow(
      new RangeError('TaskQueue: capacity must be a positive integer or Infinity, got 0'),
    );
    expect(() => new TaskQueue({ rateLimit: { ratePerSecond: -1 } })).toThrow(
      new RangeError('TaskQueue: rateLimit.ratePerSecond must be a positive finite number, got -1'),
    );
    const tasks = new TaskQueue({ clock: new TestClock() });
    await expect(tasks.add('nope' as never)).rejects.toThrow(new TypeError('TaskQueue: task must be a function, got "nope"'));
    await expect(tasks.add(() => 1, { priority: Number.NaN })).rejects.toThrow(
      new RangeError('TaskQueue: priority must be a finite number, got NaN'),
    );
    await expect(tasks.add(() => 1, { grup: 'a' } as never)).rejects.toThrow(
      new TypeError("TaskQueue: unknown option 'grup' (did you mean 'group'?)"),
    );
    await expect(tasks.add(() => 1, { group: {} as never })).rejects.toThrow(
      new TypeError('TaskQueue: group must be a string or a number, got an object'),
    );
    expect(() => tasks.cancel(1 as never)).toThrow(new TypeError('TaskQueue: id must be a string, got 1'));
    await expect(tasks.onSizeBelow(-1)).rejects.toThrow(new RangeError('TaskQueue: limit must be a non-negative finite number, got -1'));
    // A task's own errors pass through untouched, whatever their message.
    const own = new TypeError('Queue: not ours');
    await expect(tasks.add(() => Promise.reject(own))).rejects.toBe(own);
  });
});

describe('wrap', () => {
  it('makes a limited function: each call is a task, at most concurrency at once, with the arguments and result', async () => {
    const clock = new TestClock();
    let running = 0;
    let most = 0;
    const slowAdd = async (a: number, b: number) => {
      most = Math.max(most, ++running);
      await new Promise<void>((r) => clock.setTimeout(r, 10));
      running--;
      return a + b;
    };
    const limited = wrap(slowAdd, { concurrency: 2, clock });
    expectTypeOf(limited).parameters.toEqualTypeOf<[number, number]>();
    expectTypeOf(limited(1, 2)).toEqualTypeOf<Promise<number>>();
    const sums = Promise.all([1, 2, 3, 4, 5].map((n) => limited(n, n)));
    await clock.advance(100);
    expect(await sums).toEqual([2, 4, 6, 8, 10]);
    expect(most).toBe(2);
    expect(limited.queue.stats.completed).toBe(6); // the typed call above ran too
  });

  it('shares a TaskQueue given to it, and refuses what is not a function', async () => {
    const tasks = new TaskQueue({ concurrency: 1, clock: new TestClock() });
    const double = wrap((n: number) => n * 2, tasks);
    const square = wrap((n: number) => n * n, tasks);
    expect(await Promise.all([double(3), square(3)])).toEqual([6, 9]);
    expect(double.queue).toBe(tasks);
    expect(tasks.stats.completed).toBe(2);
    expect(() => wrap(5 as never)).toThrow(new TypeError('wrap: fn must be a function, got 5'));
  });
});

describe('TaskQueue following load', () => {
  it('takes a concurrency limit and retryAfter, and pauseFor holds every start', async () => {
    const clock = new TestClock();
    const limit = new AimdLimit({ initialLimit: 3, clock });
    const tasks = new TaskQueue({ concurrency: limit, retryAfter: 'queue', clock });
    expect(tasks.concurrency).toBe(3);
    const starts: number[] = [];
    const busy = tasks.add(() => {
      starts.push(clock.now());
      throw Object.assign(new Error('429'), { status: 429, retryAfterMs: 300 });
    });
    const later = tasks.add(() => void starts.push(clock.now()));
    await expect(busy).rejects.toThrow('429');
    await clock.advance(0);
    expect(starts).toEqual([0]); // the 429 held every start for its Retry-After
    const held = tasks.add(() => void starts.push(clock.now()));
    await clock.runAll();
    await Promise.all([later, held]);
    expect(starts).toEqual([0, 300, 300]);
    tasks.pauseFor(100);
    const afterPause = tasks.add(() => void starts.push(clock.now()));
    await clock.runAll();
    await afterPause;
    expect(starts.at(-1)).toBe(400);
    expect(() => tasks.pauseFor(-1)).toThrow('TaskQueue: ms must be a non-negative finite number, got -1');
  });
});

describe('TaskQueue.metrics()', () => {
  it("gives the tasks' wait and run times, and names TaskQueue when metrics are off", async () => {
    const clock = new TestClock();
    const tasks = new TaskQueue({ metrics: { sampleEvery: 1 }, clock });
    await Promise.all([1, 2].map(() => tasks.add(() => new Promise<void>((r) => clock.setTimeout(r, 10)))).concat(clock.runAll()));
    const m = tasks.metrics();
    expect(m.runMs.count).toBe(2);
    expect(m.runMs.max).toBe(10);
    expect(m.waitMs.max).toBe(10); // the second waited for the first
    expect(() => new TaskQueue().metrics()).toThrow('TaskQueue: metrics() needs the metrics option');
  });
});

describe('TaskQueue and the clock', () => {
  it('reads no clock per task to settle its adds (its own listeners time nothing)', async () => {
    const clock = new TestClock();
    let reads = 0;
    const counting = {
      now: () => {
        reads++;
        return clock.now();
      },
      setTimeout: clock.setTimeout.bind(clock),
      clearTimeout: clock.clearTimeout.bind(clock),
    };
    const tasks = new TaskQueue({ concurrency: 4, clock: counting });
    const adds = Array.from({ length: 200 }, (_, i) => tasks.add(() => i)); // a push stamps its time (a read per add)
    const before = reads;
    const results = await Promise.all(adds);
    expect(results[199]).toBe(199);
    expect(reads - before).toBeLessThan(10); // running and settling them: none per task
  });
});
