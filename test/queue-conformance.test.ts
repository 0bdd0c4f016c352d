import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type ConcurrencyLimit,
  DuplicateError,
  type DeadLetter,
  type LimitSample,
  Queue,
  QueueClosedError,
  QueueFullError,
  RejectError,
  TokenBucket,
} from '../src/index.js';
import type { Classify } from '../src/limits/classify.js';
import type { Delivery, Handler, QueueEvents, QueueMetrics, QueueStats, Receipt } from '../src/queue-types.js';
import { RedisQueue } from '../src/redis/index.js';
import { connect, redisAvailable, useRedisServer, warnIfMissing } from './redis/server.js';

// One suite, two queues: the behaviour Queue and RedisQueue share, run against each. What differs by design is
// listed in RedisQueue's TSDoc: stats, size, clear and metrics are promises, no tryPush, close() leaves waiting items
// in Redis, flow control (concurrency limit, pauseFor, rateLimit) is each process's own.
warnIfMissing('test/queue-conformance.test.ts');
const redis = useRedisServer();

interface Options<T, R> {
  readonly handler?: Handler<T, R>;
  readonly concurrency?: number | ConcurrencyLimit;
  readonly classify?: Classify<R>;
  readonly retryAfter?: 'item' | 'queue';
  readonly groupConcurrency?: number | ((key: string | number) => number);
  readonly groupRateLimit?: { ratePerSecond: number; burst?: number };
  readonly metrics?: { windowMs: number };
  readonly capacity?: number;
  readonly overflow?: 'block' | 'reject' | 'drop-oldest' | 'drop-newest';
  readonly retry?: {
    maxAttempts: number;
    backoff: { initialDelayMs: number; jitter: 'none' };
    retryIf?: (error: unknown, attempt: number) => boolean;
  };
  readonly visibilityTimeoutMs?: number;
  readonly ttlMs?: number;
  readonly groupBy?: (item: T) => string | undefined;
  readonly dedupe?: { key: (item: T) => string; windowMs?: number; mode?: 'drop' | 'replace' };
  readonly autoStart?: boolean;
  readonly rateLimit?: TokenBucket;
}

/** What the suite drives, the same for both. */
interface Subject<T, R> {
  push(item: T, options?: { delayMs?: number; id?: string; priority?: number }): Promise<Receipt>;
  submit(item: T, options?: { id?: string; delayMs?: number }): Promise<R>;
  stats(): Promise<QueueStats>;
  onIdle(): Promise<void>;
  deadLetters(): Promise<{ item: T; reason: string; attempts: number }[]>;
  on<E extends keyof QueueEvents<T, R>>(event: E, fn: (...args: QueueEvents<T, R>[E]) => void): void;
  process(handler: Handler<T, R>): void;
  cancel(id: string, reason?: unknown): Promise<boolean>;
  pause(): void;
  iterate(): AsyncIterableIterator<Delivery<T>>;
  resume(): void;
  close(): Promise<unknown>;
  pushAll(items: Iterable<T>): Promise<number>;
  clear(): Promise<T[]>;
  onEmpty(): Promise<void>;
  onSizeBelow(limit: number): Promise<void>;
  pauseFor(ms: number): void;
  concurrency(): number;
  setConcurrency(n: number): void;
  metrics(): Promise<QueueMetrics>;
}

type Make = <T, R>(options: Options<T, R>) => Promise<Subject<T, R>>;

let n = 0;
const subjects: [string, Make][] = [
  [
    'Queue',
    async <T, R>(options: Options<T, R>) => {
      const q = new Queue<T, R>(options);
      return {
        push: (item, o) => q.push(item, o),
        submit: (item, o) => q.submit(item, o),
        stats: async () => q.stats,
        onIdle: () => q.onIdle(),
        deadLetters: async () => (q.deadLetter as DeadLetter<T>).entries(),
        on: (event, fn) => void q.on(event, fn as never),
        process: (handler) => q.process(handler),
        iterate: () => q[Symbol.asyncIterator](),
        pause: () => q.pause(),
        cancel: async (id, reason) => q.cancel(id, reason),
        resume: () => q.resume(),
        close: () => q.close({ drain: false }),
        pushAll: (items) => q.pushAll(items),
        clear: async () => q.clear(),
        onEmpty: () => q.onEmpty(),
        onSizeBelow: (limit) => q.onSizeBelow(limit),
        pauseFor: (ms) => q.pauseFor(ms),
        concurrency: () => q.concurrency,
        setConcurrency: (c) => void (q.concurrency = c),
        metrics: async () => q.metrics(),
      } satisfies Subject<T, R>;
    },
  ],
  [
    'RedisQueue',
    async <T, R>(options: Options<T, R>) => {
      const { client, close } = await connect('node-redis', redis.server.port);
      const q = new RedisQueue<T, R>({ client, name: `conformance-${process.pid}-${n++}`, pollMs: 20, ...options });
      return {
        push: (item, o) => q.push(item, o),
        submit: (item, o) => q.submit(item, o),
        stats: () => q.stats,
        onIdle: () => q.onIdle(),
        deadLetters: () => q.deadLetter.entries(),
        on: (event, fn) => void q.on(event, fn as never),
        process: (handler) => q.process(handler),
        iterate: () => q[Symbol.asyncIterator](),
        pause: () => q.pause(),
        cancel: (id, reason) => q.cancel(id, reason),
        resume: () => q.resume(),
        close: async () => {
          await q.close({ drain: false });
          await close();
        },
        pushAll: (items) => q.pushAll(items),
        clear: () => q.clear(),
        onEmpty: () => q.onEmpty(),
        onSizeBelow: (limit) => q.onSizeBelow(limit),
        pauseFor: (ms) => q.pauseFor(ms),
        concurrency: () => q.concurrency,
        setConcurrency: (c) => void (q.concurrency = c),
        metrics: () => q.metrics(),
      } satisfies Subject<T, R>;
    },
  ],
];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const balanced = (s: QueueStats) => s.accepted === s.completed + s.deadLettered + s.cancelled + s.returned + s.waiting + s.inFlight;

describe.each(subjects)('%s: the behaviour both queues share', (kind, make) => {
  const run = kind === 'RedisQueue' ? it.runIf(redisAvailable) : it;
  const open: Subject<unknown, unknown>[] = [];
  const queue = async <T, R>(options: Options<T, R>): Promise<Subject<T, R>> => {
    const q = await make<T, R>(options);
    open.push(q as Subject<unknown, unknown>);
    return q;
  };
  afterEach(async () => {
    await Promise.all(open.splice(0).map((q) => q.close()));
  });

  run('runs each item once with attempt 1 and its id; submit resolves with the result; the books balance', async () => {
    const seen: string[] = [];
    const q = await queue<number, number>({
      concurrency: 3,
      handler: (x, { attempt, id }) => {
        seen.push(`${x}@${attempt}#${id}`);
        return x + 1;
      },
    });
    const receipts = await Promise.all([1, 2, 3].map((x) => q.push(x)));
    expect(await q.submit(9)).toBe(10);
    await q.onIdle();
    expect(new Set(receipts.map((r) => r.id)).size).toBe(3);
    expect(seen.filter((x) => !x.startsWith('9@')).sort()).toEqual(receipts.map((r, i) => `${i + 1}@1#${r.id}`).sort());
    expect(seen.filter((x) => x.startsWith('9@1#'))).toHaveLength(1);
    const s = await q.stats();
    expect(s).toMatchObject({ accepted: 4, completed: 4, failed: 0, deadLettered: 0, waiting: 0, inFlight: 0 });
    expect(balanced(s)).toBe(true);
  });

  run('retries with backoff up to maxAttempts, then dead-letters delivery_limit; RejectError dead-letters rejected at once', async () => {
    const events: string[] = [];
    const q = await queue<string, void>({
      retry: { maxAttempts: 3, backoff: { initialDelayMs: 10, jitter: 'none' } },
      handler: (s, { attempt }) => {
        if (s === 'poison') throw new RejectError(new Error('bad'));
        if (s === 'flaky' && attempt < 3) throw new Error(`flaky ${attempt}`);
        if (s === 'broken') throw new Error(`broken ${attempt}`);
      },
    });
    q.on('failed', (item, _e, { attempt, willRetry }) => events.push(`${item}:${attempt}:${willRetry}`));
    await Promise.all(['flaky', 'broken', 'poison'].map((s) => q.push(s)));
    await q.onIdle();
    expect(events.sort()).toEqual(['broken:1:true', 'broken:2:true', 'broken:3:false', 'flaky:1:true', 'flaky:2:true', 'poison:1:false']);
    const dead = (await q.deadLetters()).map((e) => [e.item, e.reason, e.attempts]).sort();
    expect(dead).toEqual([
      ['broken', 'delivery_limit', 3],
      ['poison', 'rejected', 1],
    ]);
    expect(await q.stats()).toMatchObject({ accepted: 3, completed: 1, failed: 6, retried: 4, deadLettered: 2 });
    await expect(q.submit('broken')).rejects.toThrow('broken 3');
  });

  run('groups: FIFO per group, one in flight per group, other groups go on', async () => {
    const log: string[] = [];
    let inGroupA = 0;
    let most = 0;
    const q = await queue<{ g: string; i: number }, void>({
      concurrency: 4,
      groupBy: (x) => x.g,
      retry: { maxAttempts: 2, backoff: { initialDelayMs: 5, jitter: 'none' } },
      handler: async ({ g, i }, { attempt }) => {
        if (g === 'a') most = Math.max(most, ++inGroupA);
        await sleep(3);
        if (g === 'a') inGroupA--;
        if (i === 1 && attempt === 1) throw new Error('once'); // a retry keeps its place in its group
        log.push(`${g}${i}`);
      },
    });
    for (let i = 0; i < 5; i++) for (const g of ['a', 'b']) await q.push({ g, i });
    await q.onIdle();
    expect(most).toBe(1);
    expect(log.filter((x) => x.startsWith('a'))).toEqual(['a0', 'a1', 'a2', 'a3', 'a4']);
    expect(log.filter((x) => x.startsWith('b'))).toEqual(['b0', 'b1', 'b2', 'b3', 'b4']);
  });

  run('dedupe: a duplicate push is not run and its receipt names the live item', async () => {
    const ran: string[] = [];
    const q = await queue<{ k: string }, void>({ autoStart: false, dedupe: { key: (x) => x.k, windowMs: 60_000 } });
    const first = await q.push({ k: 'a' });
    const again = await q.push({ k: 'a' });
    expect(again).toMatchObject({ id: first.id, duplicate: true });
    q.process((x) => void ran.push(x.k));
    q.resume();
    await q.onIdle();
    expect(ran).toEqual(['a']);
    expect(await q.stats()).toMatchObject({ accepted: 1, duplicates: 1, completed: 1 });
  });

  run('a duplicate submit shares the live item’s outcome, wherever it waits or runs; once settled, DuplicateError', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const q = await queue<string, string>({
      dedupe: { key: (x) => x },
      handler: async (x) => {
        await gate;
        return `done ${x}`;
      },
    });
    const first = q.submit('a');
    while ((await q.stats()).inFlight < 1) await sleep(5);
    const second = q.submit('a'); // while it runs
    await q.push('b');
    const third = q.submit('b'); // while it waits
    while ((await q.stats()).duplicates < 2) await sleep(5);
    release();
    expect(await Promise.all([first, second, third])).toEqual(['done a', 'done a', 'done b']);
    await expect(q.submit('a')).rejects.toBeInstanceOf(DuplicateError);
    expect(await q.stats()).toMatchObject({ accepted: 2, completed: 2, duplicates: 3 });
  });

  run(
    "dedupe mode 'replace': a waiting item's payload is replaced in its place, every submit gets the outcome; once read, a duplicate",
    async () => {
      const ran: string[] = [];
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const q = await queue<{ doc: string; rev: number }, string>({
        autoStart: false,
        dedupe: { key: (d) => d.doc, mode: 'replace' },
        handler: async (d) => {
          ran.push(`${d.doc}@${d.rev}`);
          if (d.doc === 'c') await gate;
          return `saved ${d.doc}@${d.rev}`;
        },
      });
      const first = q.submit({ doc: 'a', rev: 1 });
      while ((await q.stats()).accepted < 1) await sleep(5);
      await q.push({ doc: 'b', rev: 1 });
      const second = q.submit({ doc: 'a', rev: 2 });
      while ((await q.stats()).replaced < 1) await sleep(5);
      const receipt = await q.push({ doc: 'a', rev: 3 });
      expect(receipt).toMatchObject({ duplicate: true, replaced: true, dropped: false });
      expect(await q.stats()).toMatchObject({ accepted: 2, duplicates: 2, replaced: 2, waiting: 2 });
      q.resume();
      await q.onIdle();
      expect(ran).toEqual(['a@3', 'b@1']); // rev 3 ran in rev 1's place, ahead of b
      expect([await first, await second]).toEqual(['saved a@3', 'saved a@3']);
      // Once read and running, a push of its key is a duplicate as with 'drop'.
      await q.push({ doc: 'c', rev: 1 });
      while (!ran.includes('c@1')) await sleep(5);
      expect(await q.push({ doc: 'c', rev: 2 })).toMatchObject({ duplicate: true, replaced: false });
      release();
      await q.onIdle();
      expect(ran).toEqual(['a@3', 'b@1', 'c@1']);
      expect(balanced(await q.stats())).toBe(true);
    },
  );

  run("dedupe mode 'replace' replaces an item waiting for its retry or behind a delay, keeping its place", async () => {
    const ran: string[] = [];
    const q = await queue<string, void>({
      retry: { maxAttempts: 2, backoff: { initialDelayMs: 200, jitter: 'none' } },
      dedupe: { key: (s) => s[0]!, mode: 'replace' },
      handler: (s, { attempt }) => {
        ran.push(s);
        if (s === 'a1' && attempt === 1) throw new Error('once'); // a2 replaces it while it waits for its retry
      },
    });
    await q.push('a1');
    while ((await q.stats()).retried < 1) await sleep(5);
    expect((await q.push('a2')).replaced).toBe(true);
    await q.push('b1', { delayMs: 50 });
    expect((await q.push('b2')).replaced).toBe(true);
    await q.onIdle();
    expect(ran).toEqual(['a1', 'b2', 'a2']);
    expect(await q.stats()).toMatchObject({ accepted: 2, completed: 2, replaced: 2, retried: 1 });
  });

  run('capacity: reject throws QueueFullError; drop-newest and drop-oldest dead-letter maxlen', async () => {
    const rejecting = await queue<number, void>({ capacity: 1, overflow: 'reject' });
    await rejecting.push(1);
    await expect(rejecting.push(2)).rejects.toMatchObject({ code: 'ERR_QUEUE_FULL' });
    const newest = await queue<number, void>({ capacity: 1, overflow: 'drop-newest' });
    await newest.push(1);
    expect(await newest.push(2)).toMatchObject({ dropped: true });
    const oldest = await queue<number, void>({ capacity: 1, overflow: 'drop-oldest' });
    await oldest.push(1);
    expect(await oldest.push(2)).toMatchObject({ dropped: false });
    expect((await newest.deadLetters()).map((e) => [e.item, e.reason])).toEqual([[2, 'maxlen']]);
    expect((await oldest.deadLetters()).map((e) => [e.item, e.reason])).toEqual([[1, 'maxlen']]);
    for (const q of [rejecting, newest, oldest]) expect(balanced(await q.stats())).toBe(true);
    // A submit whose item was dropped — the newest on arrival, or the oldest for a newer one — rejects with QueueFullError.
    await expect(newest.submit(3)).rejects.toBeInstanceOf(QueueFullError);
    const evicted = oldest.submit(3).then(
      () => 'resolved',
      (error: unknown) => error,
    );
    while ((await oldest.stats()).accepted < 3) await sleep(5);
    await oldest.push(4);
    expect(await evicted).toBeInstanceOf(QueueFullError);
    expect(await evicted).toMatchObject({ capacity: 1 });
  });

  run('a delayed push starts after its delay; a TTL past before the first attempt dead-letters expired', async () => {
    const started: string[] = [];
    const q = await queue<string, void>({ handler: (s) => void started.push(s) });
    const t0 = Date.now();
    await q.push('later', { delayMs: 80 });
    await q.push('now');
    await q.onIdle();
    expect(started).toEqual(['now', 'later']);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(75);
    const stale = await queue<string, void>({ ttlMs: 30, autoStart: false });
    await stale.push('x');
    await sleep(60);
    stale.process(() => {
      throw new Error('an expired item must not run');
    });
    stale.resume();
    await stale.onIdle();
    expect((await stale.deadLetters()).map((e) => [e.item, e.reason])).toEqual([['x', 'expired']]);
  });

  run('visibilityTimeoutMs: the signal aborts with TimeoutError and the attempt fails (then retries)', async () => {
    const reasons: string[] = [];
    const q = await queue<string, void>({
      visibilityTimeoutMs: 40,
      retry: { maxAttempts: 2, backoff: { initialDelayMs: 1, jitter: 'none' } },
      handler: async (_s, { attempt, signal }) => {
        if (attempt === 1) {
          await new Promise((resolve) => signal.addEventListener('abort', resolve));
          reasons.push((signal.reason as Error).name);
        }
      },
    });
    await q.push('slow');
    await q.onIdle();
    expect(reasons).toEqual(['TimeoutError']);
    expect(await q.stats()).toMatchObject({ completed: 1, failed: 1, retried: 1 });
  });

  run(
    'pull mode: deliveries acked complete, a nack retries after its delayMs with attempt + 1; leaving the loop leaves the rest',
    async () => {
      const q = await queue<string, void>({
        concurrency: 2,
        retry: { maxAttempts: 3, backoff: { initialDelayMs: 1_000, jitter: 'none' } },
      });
      for (const s of ['a', 'b', 'c', 'd']) await q.push(s);
      const seen: string[] = [];
      let nackedAt = 0;
      for await (const d of q.iterate()) {
        seen.push(`${d.item}@${d.attempt}`);
        if (d.item === 'b' && d.attempt === 1) {
          expect(d.nack(new Error('not yet'), { delayMs: 30 })).toBe(true);
          expect(d.ack()).toBe(false); // settled already
          nackedAt = Date.now();
          continue;
        }
        expect(d.ack()).toBe(true);
        if (d.item === 'b') {
          const waited = Date.now() - nackedAt;
          expect(waited).toBeGreaterThanOrEqual(25); // its delayMs, not the 1 s backoff
          expect(waited).toBeLessThan(900);
          break;
        }
      }
      expect(seen.slice(0, 2)).toEqual(['a@1', 'b@1']);
      expect(seen.at(-1)).toBe('b@2');
      await sleep(50);
      const s = await q.stats();
      expect(s).toMatchObject({ completed: seen.length - 1, failed: 1, retried: 1, inFlight: 0 });
      expect(s.waiting).toBe(4 - s.completed);
      expect(balanced(s)).toBe(true);
    },
  );

  run('priority: higher runs first, FIFO among equals, lower after the default', async () => {
    const ran: string[] = [];
    const q = await queue<string, void>({ autoStart: false, handler: (s) => void ran.push(s) });
    await q.push('low-1', { priority: -1 });
    await q.push('plain-1');
    await q.push('high-1', { priority: 5 });
    await q.push('mid-1', { priority: 2 });
    await q.push('high-2', { priority: 5 });
    await q.push('plain-2');
    await q.push('low-2', { priority: -1 });
    q.resume();
    await q.onIdle();
    expect(ran).toEqual(['high-1', 'high-2', 'mid-1', 'plain-1', 'plain-2', 'low-1', 'low-2']);
    const s = await q.stats();
    expect(s).toMatchObject({ accepted: 7, completed: 7, waiting: 0, inFlight: 0 });
  });

  run(
    'priority with retries: a failed high-priority item comes back at its priority, ahead of the default ones still waiting',
    async () => {
      const ran: string[] = [];
      const q = await queue<string, void>({
        autoStart: false,
        retry: { maxAttempts: 2, backoff: { initialDelayMs: 1, jitter: 'none' } },
        handler: async (s, { attempt }) => {
          ran.push(`${s}@${attempt}`);
          if (s === 'urgent' && attempt === 1) throw new Error('once');
          await sleep(30);
        },
      });
      await q.push('urgent', { priority: 1 });
      for (let i = 0; i < 5; i++) await q.push(`plain-${i}`);
      q.resume();
      await q.onIdle();
      expect(ran[0]).toBe('urgent@1');
      // Its backoff (1 ms) is over while the first default item runs (30 ms each): it goes before the rest.
      expect(ran.indexOf('urgent@2')).toBeGreaterThan(0);
      expect(ran.indexOf('urgent@2')).toBeLessThan(ran.indexOf('plain-3@1'));
      expect(await q.stats()).toMatchObject({ accepted: 6, completed: 6, failed: 1, retried: 1 });
    },
  );

  run('pause: nothing more starts while paused (what runs finishes); resume goes on', async () => {
    const ran: number[] = [];
    const q = await queue<number, void>({
      concurrency: 2,
      handler: async (x) => {
        ran.push(x);
        await sleep(20);
      },
    });
    for (let i = 0; i < 6; i++) await q.push(i);
    await sleep(5);
    q.pause();
    const startedBeforePause = ran.length;
    await sleep(80);
    expect(ran.length).toBe(startedBeforePause);
    expect((await q.stats()).waiting).toBe(6 - startedBeforePause);
    q.resume();
    await q.onIdle();
    expect([...ran].sort()).toEqual([0, 1, 2, 3, 4, 5]);
  });

  run(
    'cancel: a waiting item (delayed, grouped or plain) never runs and its submit rejects with the reason; a running one is aborted and counted cancelled',
    async () => {
      const ran: string[] = [];
      const aborted: unknown[] = [];
      const q = await queue<{ s: string; g?: string }, void>({
        autoStart: false,
        groupBy: (x) => x.g,
        handler: async ({ s }, { signal }) => {
          ran.push(s);
          if (s === 'long') {
            await new Promise((resolve) => signal.addEventListener('abort', resolve));
            aborted.push(signal.reason);
          }
        },
      });
      const waiting = q.submit({ s: 'waiting' }, { id: 'w' }).then(
        () => 'resolved',
        (error: Error) => error.message,
      );
      await q.push({ s: 'delayed' }, { id: 'd', delayMs: 40 });
      await q.push({ s: 'g1', g: 'g' }, { id: 'g1' });
      await q.push({ s: 'g2', g: 'g' }, { id: 'g2' });
      await q.push({ s: 'g3', g: 'g' }, { id: 'g3' });
      await q.push({ s: 'long' }, { id: 'long' });
      await sleep(10);
      expect(await q.cancel('w', new Error('not wanted'))).toBe(true);
      await q.cancel('d');
      await q.cancel('g2');
      q.resume();
      for (let i = 0; i < 100 && !ran.includes('long'); i++) await sleep(5);
      expect(await q.cancel('long', new Error('stop it'))).toBe(true);
      await q.onIdle();
      await sleep(60); // the delayed item's time passed: it must not run either
      expect(await waiting).toBe('not wanted');
      expect(ran.sort()).toEqual(['g1', 'g3', 'long']);
      expect(aborted.map((e) => (e as Error).message)).toEqual(['stop it']);
      const s = await q.stats();
      expect(s).toMatchObject({ accepted: 6, completed: 2, cancelled: 4, waiting: 0, inFlight: 0 });
      expect(balanced(s)).toBe(true);
      // A later item with a cancelled id is another item: it runs.
      await q.push({ s: 'again' }, { id: 'w' });
      await q.onIdle();
      expect(ran).toContain('again');
    },
  );

  run('rateLimit: starts keep to the bucket (50/s, burst 1) at any concurrency', async () => {
    const starts: number[] = [];
    const q = await queue<number, void>({
      concurrency: 8,
      rateLimit: new TokenBucket({ ratePerSecond: 50, burst: 1 }),
      handler: () => void starts.push(Date.now()),
    });
    for (let i = 0; i < 10; i++) await q.push(i);
    await q.onIdle();
    expect(starts).toHaveLength(10);
    // 10 grants at 50/s from a bucket of 1: at least 9 intervals of 20 ms.
    expect(starts.at(-1)! - starts[0]!).toBeGreaterThanOrEqual(9 * 20 - 10);
  });

  run(
    'clear hands back what waits (delayed and retry-pending too), counted returned; submit rejects QueueClosedError; in flight goes on',
    async () => {
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const ran: string[] = [];
      const q = await queue<string, void>({
        retry: { maxAttempts: 2, backoff: { initialDelayMs: 60_000, jitter: 'none' } },
        handler: async (x) => {
          ran.push(x);
          if (x === 'flaky') throw new Error('later');
          if (x === 'held') await gate;
        },
      });
      await q.push('flaky');
      while ((await q.stats()).retried < 1) await sleep(5);
      await q.push('held');
      while (!ran.includes('held')) await sleep(5);
      await q.push('a');
      const submitted = q.submit('b').then(
        () => 'resolved',
        (error: unknown) => error,
      );
      while ((await q.stats()).accepted < 4) await sleep(5);
      await q.push('later', { delayMs: 60_000 });
      expect(await q.clear()).toEqual(['a', 'b', 'flaky', 'later']);
      expect(await submitted).toBeInstanceOf(QueueClosedError);
      const s = await q.stats();
      expect(s).toMatchObject({ accepted: 5, returned: 4, waiting: 0, inFlight: 1 });
      expect(balanced(s)).toBe(true);
      release();
      await q.onIdle();
      expect(await q.stats()).toMatchObject({ completed: 1, returned: 4 });
    },
  );

  run('onEmpty and onSizeBelow resolve as the waiting items start; pushAll counts what was accepted', async () => {
    const q = await queue<number, void>({
      autoStart: false,
      concurrency: 1,
      handler: async () => void (await sleep(5)),
      dedupe: { key: String },
    });
    expect(await q.pushAll([1, 2, 3, 4, 5, 5, 6])).toBe(6);
    const order: string[] = [];
    const below = q.onSizeBelow(3).then(() => order.push('below 3'));
    const empty = q.onEmpty().then(() => order.push('empty'));
    await sleep(40);
    expect(order).toEqual([]);
    q.resume();
    await Promise.all([below, empty]);
    expect(order).toEqual(['below 3', 'empty']);
    await q.onIdle();
  });

  run('pauseFor holds every start for its time without pausing; retryAfter queue holds them for an error’s retryAfterMs', async () => {
    const starts: [string, number][] = [];
    const q = await queue<string, void>({
      concurrency: 4,
      retryAfter: 'queue',
      handler: (x) => {
        starts.push([x, Date.now()]);
        if (x === '429') throw Object.assign(new Error('slow down'), { retryAfterMs: 200 });
      },
    });
    const failedAt = () => starts.find(([x]) => x === '429')![1];
    const held = Date.now();
    q.pauseFor(150);
    await q.push('a');
    await q.onIdle();
    expect(starts[0]![1] - held).toBeGreaterThanOrEqual(140);
    await q.push('429');
    await q.onIdle();
    await q.push('b');
    await q.onIdle();
    // The Retry-After held b back too: it started 200 ms after 429's attempt began, at the earliest.
    expect(starts.at(-1)![1] - failedAt()).toBeGreaterThanOrEqual(190);
    expect(starts.map(([x]) => x)).toEqual(['a', '429', 'b']);
  });

  run('concurrency follows a ConcurrencyLimit (a sample per attempt, classified) and can be set live', async () => {
    const samples: LimitSample[] = [];
    const limit = {
      limit: 3,
      onSample(sample: LimitSample) {
        samples.push(sample);
        if (sample.dropped) this.limit = 1;
      },
    };
    let running = 0;
    let most = 0;
    const q = await queue<number, void>({
      concurrency: limit,
      autoStart: false,
      classify: (o) => (o.ok ? 'success' : 'dropped'),
      handler: async (x) => {
        most = Math.max(most, ++running);
        await sleep(20);
        running--;
        if (x < 0) throw new Error('shed');
      },
    });
    expect(q.concurrency()).toBe(3);
    for (let i = 0; i < 6; i++) await q.push(i);
    q.resume(); // all waiting: as many start as the limit lets
    await q.onIdle();
    expect(most).toBe(3);
    await q.push(-1);
    await q.onIdle();
    expect(q.concurrency()).toBe(1);
    expect(samples.map((s) => s.dropped)).toEqual([false, false, false, false, false, false, true]);
    q.setConcurrency(2);
    most = 0;
    q.pause();
    for (let i = 0; i < 6; i++) await q.push(i);
    q.resume();
    await q.onIdle();
    expect(most).toBe(2);
    expect(samples).toHaveLength(7);
  });

  run('groupConcurrency: at most n of a group at once, started in the group’s order; groupRateLimit spaces a group’s starts', async () => {
    const starts = new Map<string, number[]>();
    const running = new Map<string, number>();
    const most = new Map<string, number>();
    const q = await queue<{ g: string; i: number }, void>({
      concurrency: 8,
      autoStart: false,
      groupBy: (x) => x.g,
      groupConcurrency: (g) => (g === 'r' ? 8 : 2),
      groupRateLimit: { ratePerSecond: 50, burst: 1 },
      handler: async ({ g, i }) => {
        starts.set(g, [...(starts.get(g) ?? []), i]);
        running.set(g, (running.get(g) ?? 0) + 1);
        most.set(g, Math.max(most.get(g) ?? 0, running.get(g)!));
        await sleep(g === 'r' ? 1 : 30);
        running.set(g, running.get(g)! - 1);
      },
    });
    for (let i = 0; i < 6; i++) for (const g of ['a', 'r']) await q.push({ g, i });
    const began = Date.now();
    q.resume();
    await q.onIdle();
    expect(most.get('a')).toBe(2);
    expect(starts.get('a')).toEqual([0, 1, 2, 3, 4, 5]);
    // Group r: 6 starts at 50/s with a burst of 1 take at least 5 × 20 ms.
    expect(Date.now() - began).toBeGreaterThanOrEqual(5 * 20 - 10);
    expect(starts.get('r')).toHaveLength(6);
  });

  run('waitMs: from the push for a first attempt, from the last attempt’s end for a retry (its backoff included)', async () => {
    const waits: [number, number][] = [];
    const q = await queue<string, void>({
      retry: { maxAttempts: 2, backoff: { initialDelayMs: 30, jitter: 'none' } },
      handler: async (_x, { attempt }) => {
        if (attempt === 1) {
          await sleep(300);
          throw new Error('once more');
        }
      },
    });
    q.on('active', (_item, info) => waits.push([info.attempt, info.waitMs]));
    await q.push('x', { delayMs: 50 });
    await q.onIdle();
    expect(waits.map(([a]) => a)).toEqual([1, 2]);
    expect(waits[0]![1]).toBeGreaterThanOrEqual(45); // its delay
    // The backoff (30 ms), not the first attempt's 300 ms run nor its wait.
    expect(waits[1]![1]).toBeGreaterThanOrEqual(25);
    expect(waits[1]![1]).toBeLessThan(250);
  });

  run('metrics(): arrivals, completions and failures over the window; wait and run quantiles of the attempts', async () => {
    const q = await queue<number, void>({
      concurrency: 2,
      metrics: { windowMs: 60_000 },
      handler: async (x) => {
        await sleep(10);
        if (x === 0) throw new Error('zero');
      },
    });
    for (let i = 0; i < 8; i++) await q.push(i);
    await q.onIdle();
    await sleep(20);
    const m = await q.metrics();
    const seconds = m.windowMs / 1000;
    expect(m.arrivalRate * seconds).toBeCloseTo(8, 6);
    expect(m.throughput * seconds).toBeCloseTo(7, 6);
    expect(m.failureRate * seconds).toBeCloseTo(1, 6);
    expect(m.runMs.count).toBe(8);
    expect(m.runMs.p50).toBeGreaterThanOrEqual(8);
    expect(m.waitMs.count).toBe(8);
    expect(m).toMatchObject({ waiting: 0, inFlight: 0, concurrencyLimit: 2 });
  });

  run('runs every item, falsy ones too, never more than concurrency at once', async () => {
    const seen: unknown[] = [];
    let running = 0;
    let most = 0;
    const q = await queue<unknown, void>({
      concurrency: 3,
      autoStart: false,
      handler: async (x) => {
        most = Math.max(most, ++running);
        seen.push(x);
        await sleep(5);
        running--;
      },
    });
    const items: unknown[] = [0, '', false, null, 1, 'a', true, 2, 3, 4];
    for (const x of items) await q.push(x);
    q.resume(); // all waiting: as many start as may
    await q.onIdle();
    expect(most).toBe(3);
    expect([...seen].map(String).sort()).toEqual(items.map(String).sort());
    expect(await q.stats()).toMatchObject({ accepted: 10, completed: 10 });
  });

  run('a listener that throws never breaks the queue; its error reaches the error listeners', async () => {
    const errors: unknown[] = [];
    const q = await queue<number, number>({ handler: (x) => x * 2 });
    q.on('error', (e) => errors.push(e));
    q.on('completed', () => {
      throw new Error('listener bug');
    });
    expect(await q.submit(21)).toBe(42);
    await q.push(1);
    await q.onIdle();
    expect(errors.map((e) => (e as Error).message)).toEqual(['listener bug', 'listener bug']);
    expect(await q.stats()).toMatchObject({ accepted: 2, completed: 2 });
  });

  run('retryIf false dead-letters as rejected at once; a retryAfterMs holds that item’s retry at least that long, waiting', async () => {
    const attempts: [string, number, number][] = [];
    const q = await queue<string, void>({
      retry: { maxAttempts: 3, backoff: { initialDelayMs: 1, jitter: 'none' }, retryIf: (e) => (e as Error).message !== 'fatal' },
      handler: (x, { attempt }) => {
        attempts.push([x, attempt, Date.now()]);
        if (x === 'fatal') throw new Error('fatal');
        if (attempt === 1) throw Object.assign(new Error('busy'), { retryAfterMs: 150 });
      },
    });
    await q.push('fatal');
    await q.push('busy');
    while ((await q.stats()).retried < 1) await sleep(5);
    expect(await q.stats()).toMatchObject({ retried: 1, waiting: 1, inFlight: 0 }); // a retry-pending item waits
    await q.onIdle();
    const busy = attempts.filter(([x]) => x === 'busy');
    expect(busy.map(([, a]) => a)).toEqual([1, 2]);
    expect(busy[1]![2] - busy[0]![2]).toBeGreaterThanOrEqual(140);
    expect(attempts.filter(([x]) => x === 'fatal')).toHaveLength(1);
    expect((await q.deadLetters()).map((e) => [e.item, e.reason, e.attempts])).toEqual([['fatal', 'rejected', 1]]);
  });

  run('a late outcome of a timed-out attempt is ignored: the item is counted once', async () => {
    let release!: () => void;
    const late = new Promise<void>((resolve) => (release = resolve));
    const q = await queue<string, void>({ visibilityTimeoutMs: 50, handler: () => late });
    await q.push('slow');
    await q.onIdle();
    release(); // the handler ends after its attempt timed out
    await sleep(30);
    const s = await q.stats();
    expect(s).toMatchObject({ accepted: 1, completed: 0, failed: 1, deadLettered: 1, waiting: 0, inFlight: 0 });
    expect((await q.deadLetters()).map((e) => e.reason)).toEqual(['delivery_limit']);
  });

  run(
    'conservation (fast-check): every accepted item completes or is dead-lettered as its failures say; groups keep order',
    async () => {
      const item = fc.record({
        fails: fc.integer({ min: 0, max: 3 }), // attempts that fail before one succeeds
        reject: fc.boolean(),
        group: fc.constantFrom(undefined, 'g1', 'g2'),
        key: fc.integer({ min: 0, max: 12 }),
      });
      await fc.assert(
        fc.asyncProperty(fc.array(item, { minLength: 1, maxLength: 12 }), async (items) => {
          const done: number[] = [];
          const q = await make<{ i: number; fails: number; reject: boolean; group?: string; key: number }, void>({
            concurrency: 3,
            retry: { maxAttempts: 3, backoff: { initialDelayMs: 1, jitter: 'none' } },
            groupBy: (x) => x.group,
            dedupe: { key: (x) => String(x.key), windowMs: 60_000 },
            handler: (x, { attempt }) => {
              if (x.reject && attempt === 1) throw new RejectError(new Error('no'));
              if (attempt <= x.fails) throw new Error(`fail ${attempt}`);
              done.push(x.i);
            },
          });
          try {
            const receipts = [];
            for (const [i, x] of items.entries()) receipts.push(await q.push({ i, ...x }));
            await q.onIdle();
            const s = await q.stats();
            const firstOfKey = items.map((x, i) => items.findIndex((y) => y.key === x.key) === i);
            const accepted = items.map((x, i) => ({ i, ...x })).filter((_, i) => firstOfKey[i]);
            expect(receipts.map((r) => r.duplicate)).toEqual(firstOfKey.map((f) => !f));
            // The model: rejected at once; more failures than attempts: delivery_limit; otherwise done.
            const fate = (x: (typeof accepted)[number]) => (x.reject ? 'rejected' : x.fails >= 3 ? 'delivery_limit' : 'done');
            expect([...done].sort((a, b) => a - b)).toEqual(accepted.filter((x) => fate(x) === 'done').map((x) => x.i));
            const dead = (await q.deadLetters()).map((e) => [e.item.i, e.reason]).sort((a, b) => Number(a[0]) - Number(b[0]));
            expect(dead).toEqual(accepted.filter((x) => fate(x) !== 'done').map((x) => [x.i, fate(x)]));
            expect(s).toMatchObject({ accepted: accepted.length, duplicates: items.length - accepted.length, waiting: 0, inFlight: 0 });
            expect(s.completed + s.deadLettered).toBe(accepted.length);
            for (const g of ['g1', 'g2']) {
              const inGroup = done.filter((i) => items[i]!.group === g);
              expect(inGroup).toEqual([...inGroup].sort((a, b) => a - b));
            }
          } finally {
            await q.close();
          }
        }),
        { numRuns: kind === 'RedisQueue' ? 15 : 40 },
      );
    },
    60_000,
  );
});
