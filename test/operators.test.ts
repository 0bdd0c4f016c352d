import { describe, expect, it, vi } from 'vitest';
import {
  DeadLetter,
  Deduper,
  type Delivery,
  Queue,
  RejectError,
  TimeoutError,
  TokenBucket,
  batch,
  dedupe,
  mapConcurrent,
  pipe,
  throttle,
} from '../src/index.js';
import { TestClock } from '../src/testing/index.js';
import { deferred, track } from './helpers.js';

async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of source) out.push(x);
  return out;
}

/** An async source that yields `items` one per `gapMs` of the test clock, and records its finally. */
function timedSource<T>(clock: TestClock, items: T[], gapMs: number, state = { closed: false }) {
  return {
    state,
    source: (async function* () {
      try {
        for (const item of items) {
          await new Promise<void>((r) => clock.setTimeout(r, gapMs));
          yield item;
        }
      } finally {
        state.closed = true;
      }
    })(),
  };
}

describe('pipe', () => {
  it('composes left to right and accepts a sync source', async () => {
    const double = (s: AsyncIterable<number> | Iterable<number>) =>
      (async function* () {
        for await (const x of s) yield x * 2;
      })();
    const show = (s: AsyncIterable<number> | Iterable<number>) =>
      (async function* () {
        for await (const x of s) yield `#${x}`;
      })();
    expect(await collect(pipe([1, 2, 3], double, show))).toEqual(['#2', '#4', '#6']);
    expect(await collect(pipe(new Set([1, 2])))).toEqual([1, 2]);
  });

  it('refuses a non-iterable source and non-function operators at the call', () => {
    expect(() => pipe(5 as never)).toThrow(new TypeError('pipe: source must be an iterable or async iterable, got 5'));
    expect(() => pipe([1], 'x' as never)).toThrow(TypeError);
  });
});

describe('dedupe()', () => {
  it('drops items whose key was seen within the window, reporting each duplicate', async () => {
    const clock = new TestClock();
    const dupes: unknown[] = [];
    const out = await collect(
      pipe(
        [{ id: 1 }, { id: 2 }, { id: 1 }, { id: 3 }, { id: 2 }],
        dedupe({ key: (x: { id: number }) => x.id, clock, onDuplicate: (x) => dupes.push(x) }),
      ),
    );
    expect(out.map((x) => x.id)).toEqual([1, 2, 3]);
    expect(dupes).toEqual([{ id: 1 }, { id: 2 }]);
  });

  it('uses items as keys with a shared Deduper', async () => {
    const deduper = new Deduper({ clock: new TestClock() });
    deduper.check('seen-before');
    expect(await collect(pipe(['a', 'seen-before', 'a', 'b'], dedupe<string>(deduper)))).toEqual(['a', 'b']);
  });

  it('validates when called, not when iterated', () => {
    expect(() => dedupe({} as never)).toThrow(new TypeError('dedupe: key must be a function, got undefined'));
    expect(() => dedupe({ key: String, windowMs: -1 })).toThrow(RangeError);
  });
});

describe('batch()', () => {
  it('pulls from the source no further ahead than maxPending sealed batches allow', async () => {
    let pulled = 0;
    async function* source(): AsyncGenerator<number> {
      for (let i = 0; i < 1_000; i++) {
        pulled++;
        yield i;
      }
    }
    const batches = pipe(source(), batch<number>({ maxItems: 10, maxPending: 2 }))[Symbol.asyncIterator]();
    expect((await batches.next()).value).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 0));
    // Two sealed batches wait for the consumer; the next item waits in add(); nothing more is pulled.
    expect(pulled).toBe(31);
    expect((await batches.next()).value).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    await batches.return?.();
  });

  it('batches by maxItems and flushes the rest at the end', async () => {
    expect(await collect(pipe([1, 2, 3, 4, 5], batch<number>({ maxItems: 2 })))).toEqual([[1, 2], [3, 4], [5]]);
  });

  it('pulls the source concurrently so lingerMs fires while the source is slow', async () => {
    const clock = new TestClock();
    const { source } = timedSource(clock, [1, 2, 3, 4], 40);
    const batches = pipe(source, batch<number>({ maxItems: 100, lingerMs: 100, clock }));
    const got: { at: number; batch: number[] }[] = [];
    const consumer = (async () => {
      for await (const b of batches) got.push({ at: clock.now(), batch: b });
    })();
    // Items arrive at 40, 80, 120, 160 ms: the batch opened at 40 lingers until 140.
    await clock.advance(139);
    expect(got).toEqual([]);
    await clock.advance(1);
    expect(got).toEqual([{ at: 140, batch: [1, 2, 3] }]);
    await clock.advance(200);
    await consumer;
    expect(got.map((g) => g.batch)).toEqual([[1, 2, 3], [4]]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('yields the batches already formed, then the source’s error', async () => {
    const boom = new Error('source broke');
    async function* source() {
      yield 1;
      yield 2;
      throw boom;
    }
    const got: number[][] = [];
    await expect(
      (async () => {
        for await (const b of pipe(source(), batch<number>({ maxItems: 10 }))) got.push(b);
      })(),
    ).rejects.toBe(boom);
    expect(got).toEqual([[1, 2]]);
  });

  it('takes a hand-written source whose next() returns plain results, and one whose next() throws', async () => {
    const boom = new Error('next threw');
    const iterable = (throwAt: number): AsyncIterable<number> => ({
      [Symbol.asyncIterator]: () => {
        let i = 0;
        // Not a promise: as `for await` allows.
        const next = (() => {
          if (i === throwAt) throw boom;
          return i < 5 ? { value: i++, done: false } : { value: undefined, done: true };
        }) as unknown as () => Promise<IteratorResult<number>>;
        return { next };
      },
    });
    expect(await collect(pipe(iterable(-1), batch<number>({ maxItems: 2 })))).toEqual([[0, 1], [2, 3], [4]]);
    const got: number[][] = [];
    await expect(
      (async () => {
        for await (const b of pipe(iterable(3), batch<number>({ maxItems: 2 }))) got.push(b);
      })(),
    ).rejects.toBe(boom);
    expect(got).toEqual([[0, 1], [2]]);
  });

  it('a consumer’s break closes the source and clears every timer', async () => {
    const clock = new TestClock();
    const { source, state } = timedSource(
      clock,
      Array.from({ length: 100 }, (_, i) => i),
      10,
    );
    const consumer = (async () => {
      for await (const b of pipe(source, batch<number>({ maxItems: 3, lingerMs: 1_000, clock }))) {
        expect(b).toEqual([0, 1, 2]);
        break;
      }
    })();
    await clock.advance(30);
    await consumer;
    await clock.advance(10);
    expect(state.closed).toBe(true);
    expect(clock.pendingTimers).toBe(0);
  });

  it('validates when called', () => {
    expect(() => batch({ maxBytes: 5 })).toThrow(TypeError);
  });
});

describe('throttle()', () => {
  it('paces items through a bucket', async () => {
    const clock = new TestClock();
    const at: number[] = [];
    const done = (async () => {
      for await (const _ of pipe([1, 2, 3, 4], throttle<number>({ ratePerSecond: 10, burst: 2, clock }))) at.push(clock.now());
    })();
    await clock.advance(1_000);
    await done;
    expect(at).toEqual([0, 0, 100, 200]);
  });

  it('charges cost per item, as a number or a function, on a shared bucket', async () => {
    const clock = new TestClock();
    const bucket = new TokenBucket({ ratePerSecond: 10, burst: 5, clock });
    const at: number[] = [];
    const done = (async () => {
      for await (const _ of pipe([5, 1, 2], throttle<number>(bucket, { cost: (n) => n }))) at.push(clock.now());
    })();
    await clock.advance(1_000);
    await done;
    expect(at).toEqual([0, 100, 300]);
  });

  it.each([
    ['a cost above the burst', { cost: 5 }],
    [
      'a cost function that throws',
      {
        cost: (n: number) => {
          if (n === 2) throw new RangeError('no price for 2');
          return 1;
        },
      },
    ],
  ] as const)('closes its source when %s ends it', async (_case, options) => {
    const clock = new TestClock();
    let closed = false;
    async function* source() {
      try {
        yield 1;
        yield 2;
        yield 3;
      } finally {
        closed = true;
      }
    }
    const seen: number[] = [];
    const run = (async () => {
      for await (const n of pipe(source(), throttle<number>({ ratePerSecond: 100, burst: 2, clock }, options))) seen.push(n);
    })();
    await expect(run).rejects.toThrow(RangeError);
    expect(closed).toBe(true);
    expect(seen.length).toBeLessThan(3);
  });

  it('hands a pull-mode queue its delivery back when it throws, so the queue can close', async () => {
    const clock = new TestClock();
    const queue = new Queue<number>({ clock });
    await queue.pushAll([1, 9]);
    const run = (async () => {
      for await (const d of pipe(queue, throttle({ ratePerSecond: 100, burst: 2, clock }, { cost: (d: Delivery<number>) => d.item }))) {
        d.ack();
      }
    })();
    await expect(run).rejects.toThrow(RangeError); // item 9 costs more than the burst
    expect(queue.inFlight).toBe(0); // given back, not stuck in flight
    expect(await queue.close({ drain: false })).toEqual({ unprocessed: [9] });
  });

  it('validates when called', () => {
    expect(() => throttle({ ratePerSecond: -1 })).toThrow(RangeError);
    expect(() => throttle({ ratePerSecond: 1 }, { cost: 0 })).toThrow(RangeError);
    expect(() => throttle(5 as never)).toThrow(TypeError);
  });
});

describe('mapConcurrent()', () => {
  it.each([true, false])('yields a result as soon as it is there, while the source has nothing new (ordered: %s)', async (ordered) => {
    const clock = new TestClock();
    async function* quiet() {
      yield 0;
      await new Promise<void>((r) => clock.setTimeout(r, 1_000));
      yield 1;
    }
    const at: [number, number][] = [];
    const run = (async () => {
      for await (const n of pipe(
        quiet(),
        mapConcurrent((n: number) => new Promise<number>((r) => clock.setTimeout(() => r(n), 10)), { concurrency: 2, ordered }),
      )) {
        at.push([n, clock.now()]);
      }
    })();
    await clock.advance(10);
    expect(at).toEqual([[0, 10]]); // not held until the source yields again
    await clock.advance(1_010);
    await run;
    expect(at).toEqual([
      [0, 10],
      [1, 1_010],
    ]);
  });

  it('keeps up to backpressure calls going ahead of a consumer that holds a result', async () => {
    const started: number[] = [];
    const out = pipe(
      [0, 1, 2, 3, 4, 5, 6, 7],
      mapConcurrent(
        async (n: number) => {
          started.push(n);
          return n;
        },
        { concurrency: 2, backpressure: 4 },
      ),
    )[Symbol.asyncIterator]();
    expect((await out.next()).value).toBe(0);
    for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0));
    // The consumer holds 0; calls went on without a next(): four results in hand (1–4), none beyond.
    expect(started).toEqual([0, 1, 2, 3, 4]);
    expect((await out.next()).value).toBe(1);
    for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0));
    expect(started).toEqual([0, 1, 2, 3, 4, 5]);
    await out.return?.();
  });

  it('a source that fails while the consumer is busy still reaches the consumer, after the results before it', async () => {
    async function* failing() {
      yield 1;
      yield 2;
      throw new Error('source broke');
    }
    const out = pipe(
      failing(),
      mapConcurrent(async (n: number) => n * 10, { concurrency: 2 }),
    )[Symbol.asyncIterator]();
    expect((await out.next()).value).toBe(10);
    for (let i = 0; i < 10; i++) await new Promise((r) => setTimeout(r, 0)); // the source fails meanwhile
    expect((await out.next()).value).toBe(20);
    await expect(out.next()).rejects.toThrow('source broke');
    expect(await out.next()).toEqual({ value: undefined, done: true });
  });

  it('accepts concurrency: Infinity, as p-map and Queue do', async () => {
    let running = 0;
    let most = 0;
    const gate = deferred<void>();
    const out = collect(
      pipe(
        Array.from({ length: 50 }, (_, i) => i),
        mapConcurrent(
          async (n: number) => {
            running++;
            most = Math.max(most, running);
            await gate.promise;
            running--;
            return n;
          },
          { concurrency: Infinity },
        ),
      ),
    );
    for (let i = 0; i < 60; i++) await Promise.resolve();
    await new Promise((r) => setTimeout(r, 0));
    gate.resolve();
    expect(await out).toHaveLength(50);
    expect(most).toBe(50);
  });

  it('maps with bounded concurrency and keeps source order by default', async () => {
    const gates = new Map<number, ReturnType<typeof deferred<void>>>();
    let running = 0;
    let most = 0;
    const out = pipe(
      [1, 2, 3, 4, 5],
      mapConcurrent(
        async (n: number, { index }) => {
          running++;
          most = Math.max(most, running);
          const gate = deferred<void>();
          gates.set(n, gate);
          await gate.promise;
          running--;
          return `${n}@${index}`;
        },
        { concurrency: 2 },
      ),
    );
    const result = track(collect(out));
    await new Promise((r) => setTimeout(r, 0));
    expect([...gates.keys()]).toEqual([1, 2]);
    gates.get(2)!.resolve();
    await new Promise((r) => setTimeout(r, 0));
    expect([...gates.keys()]).toEqual([1, 2]); // 2 done but not yielded: 1 holds the order
    for (let n = 1; n <= 5; n++) {
      await new Promise((r) => setTimeout(r, 0));
      gates.get(n)?.resolve();
    }
    while (!result.settled) {
      for (const g of gates.values()) g.resolve();
      await new Promise((r) => setTimeout(r, 0));
    }
    expect(result.value).toEqual(['1@0', '2@1', '3@2', '4@3', '5@4']);
    expect(most).toBe(2);
  });

  it('yields as results finish with ordered: false', async () => {
    const clock = new TestClock();
    const delays: Record<number, number> = { 1: 300, 2: 100, 3: 200 };
    const out = track(
      collect(
        pipe(
          [1, 2, 3],
          mapConcurrent((n: number) => new Promise<number>((r) => clock.setTimeout(() => r(n), delays[n]!)), {
            concurrency: 3,
            ordered: false,
          }),
        ),
      ),
    );
    await clock.advance(300);
    expect(out.value).toEqual([2, 3, 1]);
  });

  it('retries with backoff and dead-letters items that exhaust retries (not yielded)', async () => {
    const clock = new TestClock();
    const deadLetter = new DeadLetter<number>({ clock });
    const calls: string[] = [];
    const onRetry = vi.fn();
    const out = track(
      collect(
        pipe(
          [1, 2, 3],
          mapConcurrent(
            (n: number, { attempt }) => {
              calls.push(`${n}#${attempt}`);
              if (n === 2) throw new Error(`two fails ${attempt}`);
              if (n === 3 && attempt === 1) throw new Error('three once');
              return n * 10;
            },
            { retry: { maxAttempts: 2, backoff: { initialDelayMs: 100, jitter: 'none' } }, deadLetter, onRetry, clock },
          ),
        ),
      ),
    );
    await clock.runAll();
    expect(out.value).toEqual([10, 30]);
    const [entry] = deadLetter.entries();
    expect(entry).toMatchObject({ item: 2, reason: 'delivery_limit', attempts: 2, source: 'mapConcurrent' });
    expect((entry!.error as Error).message).toBe('two fails 2');
    expect(entry!.errors).toHaveLength(2);
    expect(onRetry.mock.calls.map((c) => c[0].item)).toEqual([2, 3]);
  });

  it('dead-letters a RejectError at once as rejected with its cause', async () => {
    const deadLetter = new DeadLetter<number>({ clock: new TestClock() });
    const cause = new Error('poison');
    const fn = vi.fn((n: number) => {
      if (n === 2) throw new RejectError(cause);
      return n;
    });
    expect(await collect(pipe([1, 2, 3], mapConcurrent(fn, { retry: { maxAttempts: 5 }, deadLetter })))).toEqual([1, 3]);
    expect(fn).toHaveBeenCalledTimes(3);
    expect(deadLetter.entries()[0]).toMatchObject({ item: 2, reason: 'rejected', error: cause, attempts: 1 });
  });

  it('without a dead letter, propagates the handler’s own last error', async () => {
    const own = new Error('mine');
    await expect(
      collect(
        pipe(
          [1],
          mapConcurrent(() => Promise.reject(own)),
        ),
      ),
    ).rejects.toBe(own);
  });

  it('timeoutMs aborts the attempt’s signal with TimeoutError', async () => {
    const clock = new TestClock();
    const deadLetter = new DeadLetter<number>({ clock });
    let signal: AbortSignal | undefined;
    const out = track(
      collect(
        pipe(
          [1],
          mapConcurrent(
            (_n: number, ctx) => {
              signal = ctx.signal;
              return new Promise<number>(() => {});
            },
            { timeoutMs: 50, deadLetter, clock },
          ),
        ),
      ),
    );
    await clock.advance(50);
    expect(signal!.reason).toBeInstanceOf(TimeoutError);
    expect(out.value).toEqual([]);
    expect(deadLetter.entries()[0]!.error).toBeInstanceOf(TimeoutError);
  });

  it('a consumer’s break aborts in-flight calls and closes the source', async () => {
    let closed = false;
    function* source() {
      try {
        for (let i = 0; ; i++) yield i;
      } finally {
        closed = true;
      }
    }
    const hanging: AbortSignal[] = [];
    for await (const x of pipe(
      source(),
      mapConcurrent(
        (n: number, { signal }) => {
          if (n < 2) return n;
          hanging.push(signal);
          return new Promise<number>(() => {});
        },
        { concurrency: 3 },
      ),
    )) {
      if (x === 1) break;
    }
    await new Promise((r) => setTimeout(r, 0));
    expect(closed).toBe(true);
    expect(hanging.length).toBeGreaterThan(0);
    expect(hanging.every((s) => s.aborted)).toBe(true);
  });

  it('validates when called', () => {
    expect(() => mapConcurrent('x' as never)).toThrow(TypeError);
    expect(() => mapConcurrent(() => 1, { concurrency: 0 })).toThrow(RangeError);
    expect(() => mapConcurrent(() => 1, { concurrency: 4, backpressure: 2 })).toThrow(
      new RangeError('mapConcurrent: backpressure must be at least concurrency (4), got 2'),
    );
    expect(() => mapConcurrent(() => 1, { ordered: 'yes' as never })).toThrow(TypeError);
    expect(() => mapConcurrent(() => 1, { deadLetter: {} as never })).toThrow(TypeError);
  });
});

describe('an end-to-end pipeline', () => {
  it('dedupe → batch → throttle → mapConcurrent with retries and a DeadLetter loses nothing', async () => {
    const clock = new TestClock();
    const deadLetter = new DeadLetter<{ id: number }[]>({ clock });
    const delivered = new Set<number>();
    let duplicates = 0;
    const events = Array.from({ length: 60 }, (_, i) => ({ id: i % 50 })); // 10 redeliveries
    let calls = 0;
    const results = track(
      collect(
        pipe(
          events,
          dedupe({ key: (e: { id: number }) => e.id, clock, onDuplicate: () => duplicates++ }),
          batch<{ id: number }>({ maxItems: 8, lingerMs: 20, clock }),
          throttle<{ id: number }[]>({ ratePerSecond: 20, burst: 2, clock }),
          mapConcurrent(
            async (b: { id: number }[], { attempt }) => {
              calls++;
              if (b.some((e) => e.id === 13)) throw new Error('poison batch'); // fails every time
              if (calls % 3 === 0 && attempt === 1) throw new Error('503');
              for (const e of b) delivered.add(e.id);
              return b.length;
            },
            { concurrency: 2, retry: { maxAttempts: 3, backoff: { initialDelayMs: 50, jitter: 'none' } }, deadLetter, clock },
          ),
        ),
      ),
    );
    await clock.runAll();
    expect(results.settled).toBe(true);
    const deadIds = deadLetter.entries().flatMap((e) => e.item.map((x) => x.id));
    expect(duplicates).toBe(10);
    expect(deadIds).toContain(13);
    expect(delivered.size + deadIds.length).toBe(50);
    expect(new Set([...delivered, ...deadIds]).size).toBe(50);
    expect((results.value as number[]).reduce((a, b) => a + b, 0)).toBe(delivered.size);
    expect(clock.pendingTimers).toBe(0);
  });
});
