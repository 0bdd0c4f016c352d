import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PubSub, QueueClosedError, type Subscription } from '../src/index.js';

const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 0));
/** Lets settled promises' reactions run (no timer: fast enough for thousands of model runs). */
const flush = async () => {
  for (let i = 0; i < 4; i++) await Promise.resolve();
};

/** Takes n items from a subscription. */
async function take<T>(sub: Subscription<T>, n: number): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < n; i++) {
    const next = await sub.next();
    if (next.done) break;
    out.push(next.value);
  }
  return out;
}

describe('PubSub', () => {
  it('hands every item to every subscriber, in order', async () => {
    const ps = new PubSub<number>();
    const a = ps.subscribe();
    const b = ps.subscribe();
    for (let i = 0; i < 5; i++) await ps.publish(i);
    ps.close();
    const all = async (s: Subscription<number>) => {
      const out: number[] = [];
      for await (const x of s) out.push(x);
      return out;
    };
    expect(await Promise.all([all(a), all(b)])).toEqual([
      [0, 1, 2, 3, 4],
      [0, 1, 2, 3, 4],
    ]);
    expect(a.stats).toEqual({ received: 5, delivered: 5, dropped: 0, buffered: 0 });
    expect(ps.published).toBe(5);
  });

  it("'block': the slowest subscriber sets the pace; publishes wait, in order, and go on as it reads", async () => {
    const ps = new PubSub<number>();
    const slow = ps.subscribe({ capacity: 2 });
    const fast = ps.subscribe({ capacity: 100 });
    const done: number[] = [];
    const publishes = [0, 1, 2, 3].map((i) => ps.publish(i).then(() => done.push(i)));
    await tick();
    expect(done).toEqual([0, 1]); // 2 and 3 wait for room in slow
    expect([ps.waiting, slow.buffered, fast.buffered]).toEqual([2, 2, 2]); // fast gets them only once published
    expect(ps.tryPublish(9)).toBe(false);
    expect(await take(slow, 1)).toEqual([0]);
    await tick();
    expect(done).toEqual([0, 1, 2]);
    expect(await take(slow, 3)).toEqual([1, 2, 3]);
    await Promise.all(publishes);
    expect(await take(fast, 4)).toEqual([0, 1, 2, 3]);
    expect([slow.dropped, fast.dropped]).toEqual([0, 0]);
  });

  it("'drop-oldest' and 'drop-newest' never slow the publisher and count what they drop", async () => {
    const ps = new PubSub<number>();
    const oldest = ps.subscribe({ capacity: 2, overflow: 'drop-oldest' });
    const newest = ps.subscribe({ capacity: 2, overflow: 'drop-newest' });
    for (let i = 0; i < 5; i++) expect(ps.tryPublish(i)).toBe(true);
    expect(await take(oldest, 2)).toEqual([3, 4]);
    expect(await take(newest, 2)).toEqual([0, 1]);
    expect(oldest.stats).toEqual({ received: 5, delivered: 2, dropped: 3, buffered: 0 });
    expect(newest.stats).toEqual({ received: 5, delivered: 2, dropped: 3, buffered: 0 });
  });

  it('replays the newest items it kept to a subscriber that asks, then the live ones', async () => {
    const ps = new PubSub<string>({ replay: 3 });
    for (const s of ['a', 'b', 'c', 'd']) await ps.publish(s);
    const late = ps.subscribe({ replay: 2 });
    const none = ps.subscribe();
    await ps.publish('e');
    expect(await take(late, 3)).toEqual(['c', 'd', 'e']);
    expect(await take(none, 1)).toEqual(['e']);
    expect(late.stats.received).toBe(3);
    expect(() => ps.subscribe({ replay: 4 })).toThrow("PubSub: replay must be at most the PubSub's replay (3), got 4");
  });

  it('live subscribe and unsubscribe: break, return, unsubscribe() and a signal leave; the rest go on', async () => {
    const ps = new PubSub<number>();
    const kept = ps.subscribe();
    const breaker = ps.subscribe({ capacity: 1 });
    const controller = new AbortController();
    const signalled = ps.subscribe({ signal: controller.signal });
    await ps.publish(1);
    for await (const _ of breaker) break;
    expect(breaker.isSubscribed).toBe(false);
    controller.abort();
    expect(signalled.isSubscribed).toBe(false);
    expect(signalled.stats).toEqual({ received: 1, delivered: 0, dropped: 1, buffered: 0 }); // left unread: dropped
    expect(ps.subscribers).toBe(1);
    // A 'block' subscriber that leaves no longer holds the publisher.
    await ps.publish(2);
    await ps.publish(3);
    expect(await take(kept, 3)).toEqual([1, 2, 3]);
    expect((await signalled.next()).done).toBe(true);
  });

  it('a full blocking subscriber that unsubscribes lets waiting publishes go', async () => {
    const ps = new PubSub<number>();
    const stuck = ps.subscribe({ capacity: 1 });
    const other = ps.subscribe({ capacity: 10 });
    await ps.publish(1);
    const waiting = ps.publish(2);
    expect(ps.waiting).toBe(1);
    stuck.unsubscribe();
    await waiting;
    expect(await take(other, 2)).toEqual([1, 2]);
  });

  it('close ends every subscription after its buffer; waiting publishes reject; later calls are refused', async () => {
    const ps = new PubSub<number>();
    const sub = ps.subscribe({ capacity: 1 });
    const reader = ps.subscribe({ capacity: 5 });
    await ps.publish(1);
    const waiting = ps.publish(2);
    ps.close();
    await expect(waiting).rejects.toBeInstanceOf(QueueClosedError);
    expect(await take(sub, 5)).toEqual([1]);
    expect(await take(reader, 5)).toEqual([1]);
    await expect(ps.publish(3)).rejects.toThrow('PubSub: closed');
    expect(() => ps.tryPublish(3)).toThrow(QueueClosedError);
    expect(() => ps.subscribe()).toThrow(QueueClosedError);
  });

  it('a reader waiting on an empty buffer gets the next item directly, and ends on close', async () => {
    const ps = new PubSub<number>();
    const sub = ps.subscribe();
    const next = sub.next();
    await ps.publish(7);
    expect(await next).toEqual({ value: 7, done: false });
    const last = sub.next();
    ps.close();
    expect((await last).done).toBe(true);
  });

  it('refuses bad options, naming them', () => {
    expect(() => new PubSub({ replay: -1 })).toThrow('PubSub: replay must be');
    expect(() => new PubSub({ replays: 1 } as never)).toThrow("PubSub: unknown option 'replays' (did you mean 'replay'?)");
    const ps = new PubSub();
    expect(() => ps.subscribe({ capacity: 0 })).toThrow('PubSub: capacity must be');
    expect(() => ps.subscribe({ overflow: 'drop' as never })).toThrow(
      "PubSub: overflow must be one of 'block', 'drop-oldest', 'drop-newest'",
    );
  });

  it('keeps every subscriber’s books: received = delivered + dropped + buffered, and each sees its items in order (fast-check model)', async () => {
    type Cmd =
      | { kind: 'publish' }
      | { kind: 'subscribe'; capacity: number; overflow: 'block' | 'drop-oldest' | 'drop-newest'; replay: number }
      | { kind: 'read'; who: number; n: number }
      | { kind: 'leave'; who: number };
    const cmd = fc.oneof(
      { weight: 4, arbitrary: fc.constant<Cmd>({ kind: 'publish' }) },
      {
        weight: 1,
        arbitrary: fc.record({
          kind: fc.constant('subscribe' as const),
          capacity: fc.integer({ min: 1, max: 4 }),
          overflow: fc.constantFrom('block' as const, 'drop-oldest' as const, 'drop-newest' as const),
          replay: fc.integer({ min: 0, max: 3 }),
        }),
      },
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('read' as const), who: fc.nat(5), n: fc.integer({ min: 1, max: 3 }) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('leave' as const), who: fc.nat(5) }) },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(cmd, { maxLength: 60 }), async (cmds) => {
        const ps = new PubSub<number>({ replay: 3 });
        const subs: { sub: Subscription<number>; seen: number[]; from: number; blocks: boolean; left?: boolean }[] = [];
        let next = 0;
        const settled: number[] = [];
        const check = () => {
          for (const { sub, seen } of subs) {
            const s = sub.stats;
            expect(s.received).toBe(s.delivered + s.dropped + s.buffered);
            expect(s.delivered).toBe(seen.length);
            // In order, no duplicates: each subscriber sees a rising sequence.
            for (let i = 1; i < seen.length; i++) expect(seen[i]!).toBeGreaterThan(seen[i - 1]!);
          }
          // Published in call order.
          for (let i = 1; i < settled.length; i++) expect(settled[i]).toBe(settled[i - 1]! + 1);
        };
        for (const c of cmds) {
          if (c.kind === 'publish') {
            const n = next++;
            void ps.publish(n).then(
              () => settled.push(n),
              () => {},
            );
          } else if (c.kind === 'subscribe') {
            const sub = ps.subscribe({ capacity: c.capacity, overflow: c.overflow, replay: c.replay });
            subs.push({ sub, seen: [], from: ps.published, blocks: c.overflow === 'block' });
          } else if (c.kind === 'read') {
            const entry = subs[c.who % Math.max(subs.length, 1)];
            if (entry?.sub.isSubscribed) {
              for (let i = 0; i < c.n && entry.sub.buffered > 0; i++) {
                const r = await entry.sub.next();
                if (!r.done) entry.seen.push(r.value);
              }
            }
          } else {
            const entry = subs[c.who % Math.max(subs.length, 1)];
            entry?.sub.unsubscribe();
            if (entry) entry.left = true;
          }
          await flush();
          check();
        }
        // Drain: read what every subscriber still subscribed holds, until no publish waits.
        for (let round = 0; round < 1_000; round++) {
          let read = 0;
          for (const { sub, seen } of subs) {
            while (sub.isSubscribed && sub.buffered > 0) {
              const r = await sub.next();
              if (!r.done) seen.push(r.value);
              read++;
            }
          }
          await flush();
          if (read === 0 && ps.waiting === 0) break;
        }
        expect(ps.waiting).toBe(0);
        ps.close();
        await flush();
        check();
        expect(ps.published).toBe(next);
        // A subscriber that never left and dropped nothing saw every item published while it was subscribed.
        for (const { sub, seen, from, left, blocks } of subs) {
          if (blocks && !left) expect(sub.dropped).toBe(0); // 'block' never drops: it holds the publisher instead
          if (left || sub.dropped > 0) continue;
          expect(seen.filter((x) => x >= from)).toEqual(Array.from({ length: next - from }, (_, i) => from + i));
        }
      }),
      { numRuns: Number(process.env.SLUICE_PROPERTY_RUNS ?? 200) },
    );
  }, 120_000);
});
