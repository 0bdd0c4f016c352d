import { afterEach, describe, expect, it, vi } from 'vitest';
import { BatchAccumulator, QueueClosedError, type FlushInfo } from '../src/index.js';
import { TestClock } from '../src/testing/index.js';
import { track } from './helpers.js';

async function take<T>(it: AsyncIterator<T>, n: number): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push((await it.next()).value as T);
  return out;
}

describe('BatchAccumulator', () => {
  it('seals at maxItems, eagerly', async () => {
    const clock = new TestClock();
    const acc = new BatchAccumulator<number>({ maxItems: 3, lingerMs: 1_000, clock });
    const flushes: FlushInfo[] = [];
    acc.on('flush', (f) => flushes.push(f));
    for (let i = 1; i <= 7; i++) await acc.add(i);
    expect(acc.pending).toBe(2);
    expect(acc.buffered).toBe(1);
    expect(await take(acc[Symbol.asyncIterator](), 2)).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(flushes.map((f) => f.reason)).toEqual(['size', 'size']);
    expect(flushes[0]).toEqual({ size: 3, bytes: 0, key: undefined, reason: 'size' });
  });

  it('seals lingerMs after the batch’s first item, not its last', async () => {
    const clock = new TestClock();
    const acc = new BatchAccumulator<string>({ maxItems: 100, lingerMs: 100, clock });
    const reasons: string[] = [];
    acc.on('flush', (f) => reasons.push(`${f.reason}@${clock.now()}`));
    await acc.add('a');
    await clock.advance(60);
    await acc.add('b');
    await clock.advance(39);
    expect(acc.pending).toBe(0);
    await clock.advance(1);
    expect(reasons).toEqual(['linger@100']);
    expect((await acc[Symbol.asyncIterator]().next()).value).toEqual(['a', 'b']);
    expect(clock.pendingTimers).toBe(0);
  });

  it('holds no linger timer once every open batch has sealed by size', async () => {
    const clock = new TestClock();
    const acc = new BatchAccumulator<number>({ maxItems: 2, lingerMs: 60_000, clock });
    acc.tryAdd(1);
    expect(clock.pendingTimers).toBe(1);
    acc.tryAdd(2); // sealed by size: nothing open
    expect(clock.pendingTimers).toBe(0);
    acc.tryAdd(3); // a new batch lingers from its own first item
    expect(clock.pendingTimers).toBe(1);
    await clock.advance(60_000);
    expect(acc.pending).toBe(2);
    expect(clock.pendingTimers).toBe(0);
    await acc.addAll([4, 5, 6, 7]); // fed: sealed by size twice, nothing open once it ends
    expect(clock.pendingTimers).toBe(0);
  });

  it('a wall clock set back neither holds back nor hurries lingering', async () => {
    const clock = new TestClock(100_000);
    const acc = new BatchAccumulator<number>({ lingerMs: 100, clock });
    await acc.add(1);
    await clock.advance(40);
    clock.jumpTo(40_000); // set back a minute
    await acc.add(2);
    await clock.advance(59);
    expect(acc.pending).toBe(0);
    await clock.advance(1); // 100 ms after the first item, on the time that passed
    expect(acc.pending).toBe(1);
    expect((await acc[Symbol.asyncIterator]().next()).value).toEqual([1, 2]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('with lingerMs 0, items added in the same tick share a batch', async () => {
    const clock = new TestClock();
    const acc = new BatchAccumulator<number>({ clock });
    void acc.add(1);
    void acc.add(2);
    void acc.add(3);
    await clock.advance(0);
    void acc.add(4);
    await clock.advance(0);
    const it = acc[Symbol.asyncIterator]();
    expect(await take(it, 2)).toEqual([[1, 2, 3], [4]]);
  });

  it('seals at exactly maxBytes; an item that would pass it goes to the next batch; an oversize item stands alone', async () => {
    const clock = new TestClock();
    const acc = new BatchAccumulator<string>({ maxBytes: 10, sizeOf: (s) => s.length, lingerMs: 1_000, clock });
    const flushes: FlushInfo[] = [];
    acc.on('flush', (f) => flushes.push(f));
    await acc.add('aaaa'); // 4
    await acc.add('bbbbbb'); // 10: sealed eagerly
    await acc.add('ccccccc'); // 7
    await acc.add('dddd'); // would be 11: seals [ccccccc] first
    await acc.add('x'.repeat(25)); // oversize: seals [dddd], stands alone
    acc.flush();
    const it = acc[Symbol.asyncIterator]();
    expect(await take(it, 4)).toEqual([['aaaa', 'bbbbbb'], ['ccccccc'], ['dddd'], ['x'.repeat(25)]]);
    expect(flushes.map((f) => [f.reason, f.bytes])).toEqual([
      ['bytes', 10],
      ['bytes', 7],
      ['bytes', 4],
      ['bytes', 25],
    ]);
  });

  it('keeps one open batch per key and yields in sealing order across keys', async () => {
    const clock = new TestClock();
    const acc = new BatchAccumulator<{ k: string; n: number }>({ maxItems: 2, lingerMs: 50, key: (x) => x.k, clock });
    const keys: unknown[] = [];
    acc.on('flush', (f) => keys.push(f.key));
    await acc.add({ k: 'a', n: 1 });
    await acc.add({ k: 'b', n: 1 });
    await acc.add({ k: 'b', n: 2 }); // seals b first
    await acc.add({ k: 'a', n: 2 }); // then a
    await acc.add({ k: '__proto__', n: 1 });
    await clock.advance(50);
    const it = acc[Symbol.asyncIterator]();
    const batches = await take(it, 3);
    expect(batches.map((b) => b.map((x) => `${x.k}${x.n}`))).toEqual([['b1', 'b2'], ['a1', 'a2'], ['__proto__1']]);
    expect(keys).toEqual(['b', 'a', '__proto__']);
  });

  it('add waits while maxPending sealed batches are unconsumed (backpressure)', async () => {
    const clock = new TestClock();
    const acc = new BatchAccumulator<number>({ maxItems: 1, maxPending: 2, clock });
    await acc.add(1);
    await acc.add(2);
    const third = track(acc.add(3));
    const fourth = track(acc.add(4));
    await clock.advance(0);
    expect(third.settled).toBe(false);
    const it = acc[Symbol.asyncIterator]();
    expect((await it.next()).value).toEqual([1]);
    await clock.advance(0);
    expect(third.settled).toBe(true);
    expect(fourth.settled).toBe(false);
    expect(await take(it, 3)).toEqual([[2], [3], [4]]);
  });

  it('tryAdd accepts without waiting, or says it would have to wait', async () => {
    const acc = new BatchAccumulator<number>({ maxItems: 1, maxPending: 1, clock: new TestClock() });
    expect(acc.tryAdd(1)).toBe(true);
    expect(acc.tryAdd(2)).toBe(false);
    expect(acc.pending).toBe(1);
    expect(acc.buffered).toBe(0);
    await acc[Symbol.asyncIterator]().next();
    expect(acc.tryAdd(2)).toBe(true);
    void acc.close();
    expect(() => acc.tryAdd(3)).toThrow(QueueClosedError);
  });

  it('refuses an item at add when key or sizeOf throws, or sizeOf returns nonsense', async () => {
    const boom = new Error('bad item');
    const acc = new BatchAccumulator<number>({
      maxBytes: 10,
      sizeOf: (n) => {
        if (n === 13) throw boom;
        return n === 7 ? Number.NaN : n;
      },
      clock: new TestClock(),
    });
    await expect(acc.add(13)).rejects.toBe(boom);
    await expect(acc.add(7)).rejects.toThrow(RangeError);
    await acc.add(1);
    expect(acc.buffered).toBe(1);
  });

  it('close flushes, ends iteration once consumed, and refuses later adds', async () => {
    const clock = new TestClock();
    const acc = new BatchAccumulator<number>({ maxItems: 10, lingerMs: 1_000, clock });
    const seen: number[][] = [];
    const consumer = (async () => {
      for await (const b of acc) seen.push(b);
    })();
    await acc.add(0);
    await acc.add(1);
    const reasons: string[] = [];
    acc.on('flush', (f) => reasons.push(f.reason));
    await expect(acc.close()).resolves.toEqual({ unconsumed: [] });
    await consumer;
    expect(seen).toEqual([[0, 1]]);
    expect(reasons).toEqual(['close']);
    await expect(acc.add(2)).rejects.toBeInstanceOf(QueueClosedError);
    expect(clock.pendingTimers).toBe(0);
    expect(acc.close()).toBe(acc.close());
  });

  it('close hands back the sealed batches when no consumer ever called next()', async () => {
    const acc = new BatchAccumulator<number>({ maxItems: 2, clock: new TestClock() });
    for (const n of [1, 2, 3]) await acc.add(n);
    await expect(acc.close()).resolves.toEqual({ unconsumed: [[1, 2], [3]] });
  });

  it('close hands back what is left once the consumer has gone', async () => {
    const acc = new BatchAccumulator<number>({ maxItems: 1, clock: new TestClock() });
    for (const n of [1, 2, 3]) await acc.add(n);
    for await (const b of acc) {
      expect(b).toEqual([1]);
      break;
    }
    await expect(acc.close()).resolves.toEqual({ unconsumed: [[2], [3]] });
  });

  it('close rejects adds still waiting for room', async () => {
    const acc = new BatchAccumulator<number>({ maxItems: 1, maxPending: 1, clock: new TestClock() });
    await acc.add(1);
    const waiting = acc.add(2);
    void acc.close();
    await expect(waiting).rejects.toBeInstanceOf(QueueClosedError);
  });

  it('serves several pending next() calls in order', async () => {
    const clock = new TestClock();
    const acc = new BatchAccumulator<number>({ maxItems: 1, clock });
    const it = acc[Symbol.asyncIterator]();
    const a = it.next();
    const b = it.next();
    await acc.add(1);
    await acc.add(2);
    expect((await a).value).toEqual([1]);
    expect((await b).value).toEqual([2]);
  });

  it('addAll adds a sync or async iterable with backpressure, as Queue.pushAll, and counts what it added', async () => {
    const acc = new BatchAccumulator<number>({ maxItems: 2, maxPending: 1, clock: new TestClock() });
    const batches = acc[Symbol.asyncIterator]();
    async function* source() {
      for (let i = 0; i < 5; i++) yield i;
    }
    const adding = track(acc.addAll(source()));
    await Promise.resolve();
    await Promise.resolve();
    expect(adding.settled).toBe(false); // one sealed batch unconsumed: the third item waits for room
    expect((await batches.next()).value).toEqual([0, 1]);
    expect((await batches.next()).value).toEqual([2, 3]);
    await vi.waitFor(() => expect(adding.settled).toBe(true));
    expect(adding.value).toBe(5);
    expect(await acc.addAll([5])).toBe(1);
    const closing = acc.close();
    expect((await batches.next()).value).toEqual([4, 5]);
    expect(await closing).toEqual({ unconsumed: [] });
  });

  it('addAll refuses what is not iterable, and rejects with the first error of the source or of add', async () => {
    const acc = new BatchAccumulator<number>({ clock: new TestClock(), key: (n) => (n < 0 ? (undefined as never) : 'k') });
    await expect(acc.addAll(5 as never)).rejects.toThrow(
      new TypeError('BatchAccumulator: items must be an iterable or async iterable, got 5'),
    );
    await expect(acc.addAll([1, -1, 2])).rejects.toThrow(TypeError);
    expect(acc.buffered).toBe(1); // the item before the bad one stays added
    async function* failing() {
      yield 3;
      throw new Error('source broke');
    }
    await expect(acc.addAll(failing())).rejects.toThrow('source broke');
    expect(acc.buffered).toBe(2);
    void acc.close();
    await expect(acc.addAll([4])).rejects.toBeInstanceOf(QueueClosedError);
  });

  it('addAll stops taking from the source when its signal aborts, rejects with the reason and closes the source', async () => {
    const acc = new BatchAccumulator<number>({ maxItems: 10, clock: new TestClock() });
    let closed = false;
    let release!: () => void;
    async function* slow() {
      try {
        yield 1;
        await new Promise<void>((r) => (release = r));
        yield 2;
      } finally {
        closed = true;
      }
    }
    const stop = new AbortController();
    const adding = track(acc.addAll(slow(), { signal: stop.signal }));
    await vi.waitFor(() => expect(acc.buffered).toBe(1));
    stop.abort(new Error('enough'));
    await vi.waitFor(() => expect(adding.settled).toBe(true));
    expect((adding.error as Error).message).toBe('enough');
    release();
    await vi.waitFor(() => expect(closed).toBe(true));
    expect(acc.buffered).toBe(1); // 2 was never taken
    await expect(acc.addAll([1], { signal: stop.signal })).rejects.toThrow('enough');
  });

  it('refuses bad options', () => {
    expect(() => new BatchAccumulator({ maxBytes: 100 })).toThrow(
      new TypeError('BatchAccumulator: sizeOf must be a function when maxBytes is set, got undefined'),
    );
    expect(() => new BatchAccumulator({ maxItems: 0 })).toThrow(
      new RangeError('BatchAccumulator: maxItems must be a positive integer, got 0'),
    );
    expect(() => new BatchAccumulator({ lingerMs: -1 })).toThrow(RangeError);
    expect(() => new BatchAccumulator({ maxPending: 1.5 })).toThrow(RangeError);
    expect(() => new BatchAccumulator({ key: 'k' as never })).toThrow(TypeError);
  });

  describe('with vi.useFakeTimers() and no clock injected', () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    it('lingers on the faked timers', async () => {
      vi.useFakeTimers();
      const acc = new BatchAccumulator<number>({ lingerMs: 200 });
      await acc.add(1);
      await vi.advanceTimersByTimeAsync(199);
      expect(acc.pending).toBe(0);
      await vi.advanceTimersByTimeAsync(1);
      expect(acc.pending).toBe(1);
      expect(vi.getTimerCount()).toBe(0);
    });
  });
});
