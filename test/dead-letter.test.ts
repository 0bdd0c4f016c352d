import { describe, expect, it, vi } from 'vitest';
import { DeadLetter, Queue, QueueFullError, RejectError, TokenBucket } from '../src/index.js';
import { TestClock } from '../src/testing/index.js';

describe('DeadLetter', () => {
  it('stores entries with generated id and deadAt, defaults for attempts, firstSeenAt and errors', async () => {
    const clock = new TestClock(1_000);
    const dl = new DeadLetter<string>({ clock });
    const error = new Error('boom');
    const entry = dl.add({ item: 'a', reason: 'delivery_limit', error, attempts: 3, source: 'orders', firstSeenAt: 900 });
    expect(entry).toEqual({
      id: entry.id,
      item: 'a',
      reason: 'delivery_limit',
      error,
      errors: [error],
      attempts: 3,
      firstSeenAt: 900,
      deadAt: 1_000,
      source: 'orders',
      deaths: [{ source: 'orders', reason: 'delivery_limit', count: 1, time: 1_000 }],
    });
    const bare = dl.add({ item: 'b', reason: 'expired' });
    expect(bare.attempts).toBe(0);
    expect(bare.firstSeenAt).toBe(1_000);
    expect(bare.errors).toEqual([]);
    expect('error' in bare).toBe(false);
    expect(bare.id).not.toBe(entry.id);
    expect(dl.size).toBe(2);
    expect(dl.get(entry.id)).toBe(entry);
  });

  it('keeps falsy items', () => {
    const dl = new DeadLetter<unknown>({ clock: new TestClock() });
    for (const item of [0, '', null, false, undefined]) dl.add({ item, reason: 'rejected' });
    expect(dl.entries().map((e) => e.item)).toEqual([0, '', null, false, undefined]);
  });

  it('entries() lists oldest first, filters by reason and keeps the oldest under limit', () => {
    const dl = new DeadLetter<number>({ clock: new TestClock() });
    dl.add({ item: 1, reason: 'expired' });
    dl.add({ item: 2, reason: 'rejected' });
    dl.add({ item: 3, reason: 'expired' });
    dl.add({ item: 4, reason: 'expired' });
    expect(dl.entries().map((e) => e.item)).toEqual([1, 2, 3, 4]);
    expect(dl.entries({ reason: 'expired' }).map((e) => e.item)).toEqual([1, 3, 4]);
    expect(dl.entries({ reason: 'expired', limit: 2 }).map((e) => e.item)).toEqual([1, 3]);
    expect(dl.entries({ limit: 0 })).toEqual([]);
  });

  it('drop-oldest evicts the oldest entry, emits evicted and counts it', () => {
    const dl = new DeadLetter<number>({ capacity: 2, clock: new TestClock() });
    const evicted = vi.fn();
    dl.on('evicted', evicted);
    const first = dl.add({ item: 1, reason: 'maxlen' });
    dl.add({ item: 2, reason: 'maxlen' });
    dl.add({ item: 3, reason: 'maxlen' });
    expect(evicted).toHaveBeenCalledWith(first);
    expect(dl.entries().map((e) => e.item)).toEqual([2, 3]);
    expect(dl.stats).toEqual({ added: 3, evicted: 1, redriven: 0, size: 2 });
  });

  it("overflow 'reject' throws QueueFullError and keeps what it has", () => {
    const dl = new DeadLetter<number>({ capacity: 1, overflow: 'reject', clock: new TestClock() });
    dl.add({ item: 1, reason: 'rejected' });
    expect(() => dl.add({ item: 2, reason: 'rejected' })).toThrow(QueueFullError);
    expect(dl.entries().map((e) => e.item)).toEqual([1]);
  });

  it('remove and clear', () => {
    const dl = new DeadLetter<number>({ clock: new TestClock() });
    const a = dl.add({ item: 1, reason: 'rejected' });
    dl.add({ item: 2, reason: 'rejected' });
    expect(dl.remove(a.id)).toBe(true);
    expect(dl.remove(a.id)).toBe(false);
    expect(dl.get(a.id)).toBeUndefined();
    dl.clear();
    expect(dl.size).toBe(0);
  });

  it('emits added; a listener that throws does not break add and reaches error listeners', () => {
    const dl = new DeadLetter<number>({ clock: new TestClock() });
    const boom = new Error('listener');
    const errors: unknown[] = [];
    dl.on('added', () => {
      throw boom;
    });
    dl.on('error', (e) => errors.push(e));
    const entry = dl.add({ item: 1, reason: 'rejected' });
    expect(dl.get(entry.id)).toBe(entry);
    expect(errors).toEqual([boom]);
  });

  describe('redrive', () => {
    it('a primitive item redriven into the queue it died in keeps its death history when it dies again', async () => {
      const clock = new TestClock(1_000);
      let round = 0;
      const queue = new Queue<string>({
        name: 'orders',
        handler: () => Promise.reject(round++ === 0 ? new RejectError('bad') : new Error('down')),
        clock,
      });
      await queue.push('order-7');
      await queue.onIdle();
      await clock.advance(500);
      const dl = queue.deadLetter as DeadLetter<string>;
      expect(await dl.redrive(queue)).toEqual({ redriven: 1, failed: 0 });
      await queue.onIdle();
      const [entry] = dl.entries();
      expect(entry).toMatchObject({ item: 'order-7', reason: 'delivery_limit', firstSeenAt: 1_000 });
      expect(entry!.deaths.map((d) => [d.reason, d.count, d.source])).toEqual([
        ['delivery_limit', 1, 'orders'],
        ['rejected', 1, 'orders'],
      ]);
    });

    it('a duplicate answer is not acceptance: redriving into a queue that still dedupes the key keeps the entry', async () => {
      const clock = new TestClock();
      const queue = new Queue<{ id: string }>({ dedupe: { key: (j) => j.id, windowMs: 60_000 }, autoStart: false, clock });
      await queue.push({ id: 'order-7' });
      const dl = new DeadLetter<{ id: string }>({ clock });
      dl.add({ item: { id: 'order-7' }, reason: 'delivery_limit' });
      expect(await dl.redrive(queue)).toEqual({ redriven: 0, failed: 1 });
      expect(dl.size).toBe(1);
      expect(queue.stats).toMatchObject({ accepted: 1, duplicates: 1 });
    });

    it('aborting a redrive while the target waits for room rejects at once, and the entry stays', async () => {
      const clock = new TestClock();
      const queue = new Queue<number>({ capacity: 1, autoStart: false, clock });
      await queue.push(0); // full: a redriven push waits for room
      const dl = new DeadLetter<number>({ clock });
      dl.add({ item: 1, reason: 'delivery_limit' });
      const stop = new AbortController();
      const redriving = dl.redrive(queue, { signal: stop.signal });
      await clock.advance(0);
      stop.abort(new Error('shutting down'));
      await expect(redriving).rejects.toThrow('shutting down');
      expect(dl.size).toBe(1);
      expect(queue.size).toBe(1); // nothing was pushed behind the wait
    });

    it('hands entries back oldest first to a push target and removes each once accepted', async () => {
      const dl = new DeadLetter<string>({ clock: new TestClock() });
      dl.add({ item: 'a', reason: 'delivery_limit' });
      dl.add({ item: 'b', reason: 'delivery_limit' });
      const pushed: string[] = [];
      const redrivenEvents = vi.fn();
      dl.on('redriven', redrivenEvents);
      const result = await dl.redrive({ push: async (item: string) => void pushed.push(item) });
      expect(result).toEqual({ redriven: 2, failed: 0 });
      expect(pushed).toEqual(['a', 'b']);
      expect(dl.size).toBe(0);
      expect(redrivenEvents).toHaveBeenCalledTimes(2);
      expect(dl.stats.redriven).toBe(2);
    });

    it('keeps entries the target refused and counts them as failed', async () => {
      const dl = new DeadLetter<number>({ clock: new TestClock() });
      for (const item of [1, 2, 3]) dl.add({ item, reason: 'rejected' });
      const fn = vi.fn(async (item: number, _entry?: unknown) => {
        if (item === 2) throw new Error('full');
      });
      expect(await dl.redrive(fn)).toEqual({ redriven: 2, failed: 1 });
      expect(fn.mock.calls.map((c) => c[0])).toEqual([1, 2, 3]);
      expect(fn.mock.calls[0]![1]).toMatchObject({ item: 1, reason: 'rejected' });
      expect(dl.entries().map((e) => e.item)).toEqual([2]);
    });

    it('does not remove an entry before the target accepted it', async () => {
      const dl = new DeadLetter<number>({ clock: new TestClock() });
      dl.add({ item: 1, reason: 'rejected' });
      let accept!: () => void;
      const running = dl.redrive(() => new Promise<void>((r) => (accept = r)));
      await Promise.resolve();
      expect(dl.size).toBe(1);
      accept();
      await running;
      expect(dl.size).toBe(0);
    });

    it('applies filter and limit', async () => {
      const dl = new DeadLetter<number>({ clock: new TestClock() });
      for (const item of [1, 2, 3, 4, 5]) dl.add({ item, reason: item % 2 ? 'expired' : 'rejected' });
      const got: number[] = [];
      const result = await dl.redrive((item) => void got.push(item), { filter: (e) => e.reason === 'expired', limit: 2 });
      expect(result).toEqual({ redriven: 2, failed: 0 });
      expect(got).toEqual([1, 3]);
      expect(dl.entries().map((e) => e.item)).toEqual([2, 4, 5]);
    });

    it('paces with rateLimit', async () => {
      const clock = new TestClock();
      const dl = new DeadLetter<number>({ clock });
      for (const item of [1, 2, 3]) dl.add({ item, reason: 'rejected' });
      const at: number[] = [];
      const running = dl.redrive(() => void at.push(clock.now()), { rateLimit: new TokenBucket({ ratePerSecond: 10, clock }) });
      await clock.advance(1_000);
      await running;
      expect(at).toEqual([0, 100, 200]);
      const again = new DeadLetter<number>({ clock });
      again.add({ item: 9, reason: 'rejected' });
      again.add({ item: 9, reason: 'rejected' });
      const at2: number[] = [];
      const p = again.redrive(() => void at2.push(clock.now()), { rateLimit: { ratePerSecond: 2 } });
      await clock.advance(1_000);
      await p;
      expect(at2).toEqual([1_000, 1_500]);
    });

    it('abort stops the redrive with signal.reason; entries already redriven stay removed', async () => {
      const clock = new TestClock();
      const dl = new DeadLetter<number>({ clock });
      for (const item of [1, 2, 3]) dl.add({ item, reason: 'rejected' });
      const controller = new AbortController();
      const running = dl.redrive(
        (item) => {
          if (item === 1) controller.abort(new Error('stop'));
        },
        { signal: controller.signal },
      );
      await expect(running).rejects.toThrow('stop');
      expect(dl.entries().map((e) => e.item)).toEqual([2, 3]);
    });

    it('continues an object item’s death history across redrives (x-death)', async () => {
      const clock = new TestClock(0);
      const dl = new DeadLetter<{ n: number }>({ clock });
      const item = { n: 1 };
      dl.add({ item, reason: 'delivery_limit', source: 'q', firstSeenAt: 0 });
      await clock.advance(100);
      await dl.redrive(() => {});
      await clock.advance(100);
      dl.add({ item, reason: 'delivery_limit', source: 'q' });
      await dl.redrive(() => {});
      await clock.advance(100);
      const third = dl.add({ item, reason: 'expired', source: 'q' });
      expect(third.firstSeenAt).toBe(0);
      expect(third.deaths).toEqual([
        { source: 'q', reason: 'expired', count: 1, time: 300 },
        { source: 'q', reason: 'delivery_limit', count: 2, time: 200 },
      ]);
    });

    it('rejects a bad target', async () => {
      const dl = new DeadLetter({ clock: new TestClock() });
      await expect(dl.redrive({} as never)).rejects.toThrow(TypeError);
    });
  });

  describe('live tail', () => {
    it('yields entries added after iteration began, to several pending next() calls', async () => {
      const dl = new DeadLetter<number>({ clock: new TestClock() });
      dl.add({ item: 0, reason: 'rejected' }); // before the tail: not yielded
      const it = dl[Symbol.asyncIterator]();
      const first = it.next();
      const second = it.next();
      dl.add({ item: 1, reason: 'rejected' });
      dl.add({ item: 2, reason: 'expired' });
      dl.add({ item: 3, reason: 'expired' });
      expect((await first).value?.item).toBe(1);
      expect((await second).value?.item).toBe(2);
      expect((await it.next()).value?.item).toBe(3);
      const pending = it.next();
      await it.return!();
      expect(await pending).toEqual({ value: undefined, done: true });
      expect(await it.next()).toEqual({ value: undefined, done: true });
    });

    it('works with for await and break', async () => {
      const dl = new DeadLetter<number>({ clock: new TestClock() });
      const seen: number[] = [];
      const consumer = (async () => {
        for await (const entry of dl) {
          seen.push(entry.item);
          if (seen.length === 2) break;
        }
      })();
      dl.add({ item: 7, reason: 'rejected' });
      dl.add({ item: 8, reason: 'rejected' });
      dl.add({ item: 9, reason: 'rejected' });
      await consumer;
      expect(seen).toEqual([7, 8]);
    });

    it('bounds a slow consumer’s backlog by capacity', async () => {
      const dl = new DeadLetter<number>({ capacity: 3, clock: new TestClock() });
      const it = dl[Symbol.asyncIterator]();
      for (let i = 0; i < 10; i++) dl.add({ item: i, reason: 'rejected' });
      const got: number[] = [];
      for (let i = 0; i < 3; i++) got.push((await it.next()).value!.item);
      expect(got).toEqual([7, 8, 9]);
    });
  });
});
