import { describe, expect, it } from 'vitest';
import { type LimitSample, TokenBucket } from '../../src/index.js';

import { RedisTokenBucket } from '../../src/redis/index.js';
import { TestClock } from '../../src/testing/index.js';
import { CLIENTS, redisAvailable, useClient, useQueues, useRedisServer, warnIfMissing } from './server.js';

warnIfMissing('test/redis/queue-flow.test.ts');

const redis = useRedisServer();

let n = 0;
const fresh = () => `queue-flow-${process.pid}-${n++}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves once `met()` holds, looking every 5 ms; rejects after `ms`. */
async function until(met: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!met()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(5);
  }
}

/** A limit of the user's own: it drops to 1 on a dropped sample and records every sample. */
function recordingLimit(initial: number): { limit: number; samples: LimitSample[]; onSample(sample: LimitSample): void } {
  const samples: LimitSample[] = [];
  return {
    limit: initial,
    samples,
    onSample(sample) {
      samples.push(sample);
      if (sample.dropped) this.limit = 1;
    },
  };
}

describe.runIf(redisAvailable).each(CLIENTS)("RedisQueue's flow control on a real redis-server, through %s", (kind) => {
  const conn = useClient(kind, redis);
  const queue = useQueues(conn);

  it('follows a ConcurrencyLimit: a sample per attempt settled here (classified), the limit in force live', async () => {
    const limit = recordingLimit(4);
    let running = 0;
    const peaks: number[] = [];
    const q = queue<number, void>({
      name: fresh(),
      concurrency: limit,
      // 'shed' counts as dropped (the default would ignore a plain Error); anything else as the default says.
      classify: (o) => (!o.ok && (o.error as Error).message === 'shed' ? 'dropped' : o.ok ? 'success' : 'ignore'),
      handler: async (x) => {
        peaks.push(++running);
        await sleep(10);
        running--;
        if (x === 0) throw new Error('shed');
      },
    });
    expect(q.concurrency).toBe(4);
    expect(q.concurrencyLimit).toBe(limit);
    for (let i = 1; i <= 8; i++) await q.push(i);
    await q.onIdle();
    expect(Math.max(...peaks)).toBe(4);
    expect(limit.samples).toHaveLength(8);
    expect(limit.samples.every((s) => !s.dropped && s.rttMs >= 9 && s.inFlight >= 1 && s.inFlight <= 4)).toBe(true);
    // A dropped attempt: the limit falls to 1, and the queue follows it.
    await q.push(0);
    await until(() => limit.samples.length === 9);
    expect(limit.samples[8]!.dropped).toBe(true);
    expect(q.concurrency).toBe(1);
    peaks.length = 0;
    for (let i = 1; i <= 6; i++) await q.push(i);
    await q.onIdle();
    expect(Math.max(...peaks)).toBe(1);
    expect(limit.samples).toHaveLength(15);
    // Set live to a number: the limit is no longer followed.
    q.concurrency = 3;
    expect(q.concurrencyLimit).toBeUndefined();
    peaks.length = 0;
    for (let i = 1; i <= 6; i++) await q.push(i);
    await q.onIdle();
    expect(Math.max(...peaks)).toBe(3);
    expect(limit.samples).toHaveLength(15);
    expect(() => {
      q.concurrency = 0;
    }).toThrow('RedisQueue: concurrency must be a positive integer or Infinity, got 0');
  });

  it("pauseFor holds this process's starts on the queue's clock; retryAfter 'queue' holds them for an error's retryAfterMs", async () => {
    const clock = new TestClock();
    const started: number[] = [];
    const q = queue<number, void>({
      name: fresh(),
      clock,
      retryAfter: 'queue',
      handler: (x) => {
        started.push(x);
        if (x === 1) throw Object.assign(new Error('429'), { retryAfterMs: 5_000 });
      },
    });
    q.pauseFor(1_000);
    await q.push(1);
    await q.push(2);
    await sleep(150); // real time: Redis has the items, the hold is on the test clock
    expect(started).toEqual([]);
    expect(q.isPaused).toBe(false);
    await clock.advance(1_000);
    await until(() => started.length === 1);
    // Item 1 failed with a Retry-After of 5 s: every start waits for it, not only item 1's retry.
    await sleep(150);
    expect(started).toEqual([1]);
    await clock.advance(4_999);
    await sleep(50);
    expect(started).toEqual([1]);
    await clock.advance(1);
    await until(() => started.length === 2);
    expect(started).toEqual([1, 2]);
    await q.onIdle();
    expect(await q.stats).toMatchObject({ accepted: 2, completed: 1, deadLettered: 1 });
    expect(() => q.pauseFor(-1)).toThrow('RedisQueue: ms must be a non-negative finite number, got -1');
  });

  it('rateLimit takes bucket options, a TokenBucket, a RedisTokenBucket, or an array of them, and refuses bad ones by name', async () => {
    const clock = new TestClock();
    const started: number[] = [];
    const q = queue<number, void>({
      name: fresh(),
      clock,
      concurrency: 10,
      rateLimit: { ratePerSecond: 10, burst: 2 },
      handler: (x) => void started.push(x),
    });
    for (let i = 1; i <= 4; i++) await q.push(i);
    await until(() => started.length === 2);
    await sleep(100);
    expect(started).toHaveLength(2); // the burst, then one token per 100 ms of the test clock
    await clock.advance(100);
    await until(() => started.length === 3);
    await clock.advance(100);
    await until(() => started.length === 4);
    expect(started.sort()).toEqual([1, 2, 3, 4]);

    // An array: a local bucket on the test clock and a shared one in Redis; a start needs both.
    const shared = new RedisTokenBucket({ client: conn.client, key: fresh(), ratePerSecond: 1_000, burst: 50 });
    const local = new TokenBucket({ ratePerSecond: 10, burst: 1, clock });
    const got: number[] = [];
    const both = queue<number, void>({
      name: fresh(),
      clock,
      concurrency: 10,
      rateLimit: [local, shared],
      handler: (x) => void got.push(x),
    });
    for (let i = 1; i <= 3; i++) await both.push(i);
    await until(() => got.length === 1);
    await sleep(100);
    expect(got).toHaveLength(1);
    await clock.advance(100);
    await until(() => got.length === 2);
    await clock.advance(100);
    await until(() => got.length === 3);

    expect(() => queue({ name: 'x', rateLimit: [] })).toThrow('RedisQueue: rateLimit must hold at least one limiter, got []');
    expect(() => queue({ name: 'x', rateLimit: [{ ratePerSecond: 1 }, 7 as never] })).toThrow(
      'RedisQueue: rateLimit[1] must be { ratePerSecond, burst }, a TokenBucket, a RedisTokenBucket or have acquire(), got 7',
    );
    expect(() => queue({ name: 'x', rateLimit: { ratePerSecond: -1 } })).toThrow(/RedisQueue: rateLimit.*ratePerSecond/);
    expect(() => queue({ name: 'x', classify: 1 as never })).toThrow('RedisQueue: classify must be a function, got 1');
    expect(() => queue({ name: 'x', retryAfter: 'all' as never })).toThrow(/RedisQueue: retryAfter must be/);
    expect(() => queue({ name: 'x', clock: {} as never })).toThrow(/RedisQueue: clock/);
  });

  it('onEmpty, onSizeBelow, inFlight and isClosed read every process’s count', async () => {
    const name = fresh();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const producer = queue<number, void>({ name });
    for (let i = 1; i <= 5; i++) await producer.push(i);
    expect(await producer.size).toBe(5);
    let belowFour = false;
    const below = producer.onSizeBelow(4).then(() => (belowFour = true));
    let empty = false;
    const emptied = producer.onEmpty().then(() => (empty = true));
    await sleep(60);
    expect([belowFour, empty]).toEqual([false, false]);
    const worker = queue<number, void>({ name, concurrency: 2, handler: () => gate });
    await below;
    // Two run (held by the gate), three wait: below 4 but not empty until they start.
    expect(await worker.inFlight).toBe(2);
    expect(empty).toBe(false);
    release();
    await emptied;
    await worker.onIdle();
    expect(await producer.inFlight).toBe(0);
    expect(producer.isClosed).toBe(false);
    await producer.close();
    expect(producer.isClosed).toBe(true);
    await expect(producer.onSizeBelow(-1)).rejects.toThrow('RedisQueue: limit must be a non-negative finite number, got -1');
  });

  it("metrics(): the whole queue's rates and waiting from Redis, this process's wait and run quantiles, over a window on the queue's clock", async () => {
    const clock = new TestClock();
    const name = fresh();
    const q = queue<string, void>({
      name,
      clock,
      concurrency: 4,
      metrics: { windowMs: 10_000 },
      handler: async (x) => {
        await sleep(20);
        if (x === 'bad') throw new Error('bad');
      },
    });
    // Pushed by another process: counted in the queue's arrivals all the same.
    const producer = queue<string, void>({ name });
    for (let i = 0; i < 20; i++) await producer.push(`ok-${i}`);
    await producer.push('bad');
    await q.onIdle();
    await clock.advance(2_000);
    const m = await q.metrics();
    const seconds = m.windowMs / 1000;
    // The window is on the queue's clock; the arrivals are every process's (the shape of the rest: the conformance suite).
    expect(m.windowMs).toBe(2_000);
    expect([m.arrivalRate * seconds, m.throughput * seconds, m.failureRate * seconds, m.runMs.count]).toEqual([21, 20, 1, 21]);
    expect(m.littlesLaw.lambda).toBe(m.arrivalRate);
    // Counters from before the queue was made are not in its window.
    const later = queue<string, void>({ name, clock, metrics: true });
    await later.push('x');
    await clock.advance(1_000);
    const m2 = await later.metrics();
    expect(m2.arrivalRate * (m2.windowMs / 1000)).toBeCloseTo(1, 6);
    await expect(producer.metrics()).rejects.toThrow('RedisQueue: metrics() needs the metrics option');
    expect(() => queue({ name: 'x', metrics: 5 as never })).toThrow('RedisQueue: metrics must be a boolean or { windowMs }, got 5');
    expect(() => queue({ name: 'x', metrics: { windowMs: 0 } })).toThrow(/RedisQueue: metrics.windowMs must be/);
  });

  it('groupConcurrency: at most n of a group out at once across processes, started in the group’s order; a function of the key', async () => {
    const name = fresh();
    const running = new Map<string, number>();
    const peak = new Map<string, number>();
    const started: string[] = [];
    const handler = async ({ g, i }: { g: string; i: number }) => {
      started.push(`${g}${i}`);
      running.set(g, (running.get(g) ?? 0) + 1);
      peak.set(g, Math.max(peak.get(g) ?? 0, running.get(g)!));
      await sleep(15);
      running.set(g, running.get(g)! - 1);
      if (i === 2) throw new Error('retry me'); // a retry waits out its backoff, still out
    };
    const options = {
      name,
      groupBy: (x: { g: string }) => x.g,
      groupConcurrency: (key: string | number) => (key === 'a' ? 2 : key === 'b' ? 1 : Number.POSITIVE_INFINITY),
      retry: { maxAttempts: 2, backoff: { initialDelayMs: 30, jitter: 'none' as const } },
    };
    // Everything is in Redis before either worker starts: each group's limit alone holds them back.
    const workers = [1, 2].map(() => queue({ ...options, concurrency: 8, handler, autoStart: false }));
    const producer = queue<{ g: string; i: number }, void>(options);
    expect(producer.groupConcurrency).toBe(options.groupConcurrency);
    for (let i = 0; i < 8; i++) for (const g of ['a', 'b', 'c']) await producer.push({ g, i });
    for (const w of workers) w.resume();
    await producer.onIdle();
    expect(Object.fromEntries(peak)).toEqual({ a: 2, b: 1, c: expect.any(Number) });
    expect(peak.get('c')).toBeGreaterThan(2);
    // Started in each group's order (retries aside).
    for (const g of ['a', 'b']) {
      const firsts = started.filter((s) => s.startsWith(g)).filter((s, k, all) => all.indexOf(s) === k);
      expect(firsts).toEqual(Array.from({ length: 8 }, (_, i) => `${g}${i}`));
    }
    expect(await producer.stats).toMatchObject({ accepted: 24, completed: 21, deadLettered: 3, waiting: 0, inFlight: 0 });
    expect(() => queue({ name: 'x', groupConcurrency: 0 })).toThrow(
      'RedisQueue: groupConcurrency must be a positive integer or Infinity, got 0',
    );
    const bad = queue<{ g: string }, void>({ name: fresh(), groupBy: (x) => x.g, groupConcurrency: () => 1.5 });
    await expect(bad.push({ g: 'k' })).rejects.toThrow('RedisQueue: groupConcurrency("k") must be a positive integer or Infinity, got 1.5');
  });

  it('groupRateLimit: each group’s starts at its own rate across processes (a shared bucket per group); a group out of tokens waits in Redis, counting nothing', async () => {
    const name = fresh();
    const starts = new Map<string, number[]>();
    const handler = ({ g }: { g: string }) => void starts.set(g, [...(starts.get(g) ?? []), Date.now()]);
    const options = {
      name,
      groupBy: (x: { g: string }) => x.g,
      groupConcurrency: Number.POSITIVE_INFINITY,
      groupRateLimit: { ratePerSecond: 20, burst: 1 },
    };
    const workers = [1, 2].map(() => queue({ ...options, concurrency: 4, handler, autoStart: false }));
    const producer = queue<{ g: string }, void>(options);
    for (let i = 0; i < 6; i++) for (const g of ['a', 'b']) await producer.push({ g });
    const began = Date.now();
    for (const w of workers) w.resume();
    await producer.onIdle();
    for (const g of ['a', 'b']) {
      const t = starts.get(g)!.sort((x, y) => x - y);
      expect(t).toHaveLength(6);
      // 20/s with a burst of 1, whichever worker started them: 5 intervals of 50 ms (less timer slack at the first).
      expect(t[5]! - t[0]!).toBeGreaterThanOrEqual(200);
    }
    // The groups went on side by side, not one after the other (that would put 250 ms between their firsts).
    expect(Math.max(starts.get('a')![0]!, starts.get('b')![0]!) - began).toBeLessThan(200);
    expect(await producer.stats).toMatchObject({ accepted: 12, completed: 12, failed: 0, retried: 0, waiting: 0, inFlight: 0 });

    const errors: unknown[] = [];
    const broken = queue<{ g: string }, void>({ name: fresh(), groupBy: (x) => x.g, groupRateLimit: () => ({}) as never, handler });
    broken.on('error', (e) => errors.push(e));
    await broken.push({ g: 'z' });
    await broken.onIdle();
    expect(String(errors[0])).toContain('RedisQueue: groupRateLimit("z") must give a limiter with tryAcquire and waitTime, got an object');
    expect(await broken.stats).toMatchObject({ accepted: 1, failed: 1, deadLettered: 1 });
    // close() waits for a limiter still answering, then for the deferral it asks for (a "never" waits an hour at most).
    let answer: ((ok: boolean) => void) | undefined;
    const slow = { tryAcquire: () => new Promise<boolean>((resolve) => (answer = resolve)), waitTime: () => Number.POSITIVE_INFINITY };
    const gated = queue<{ g: string }, void>({ name: fresh(), groupBy: (x) => x.g, groupRateLimit: () => slow, handler });
    await gated.push({ g: 'y' });
    await until(() => answer !== undefined);
    const closing = gated.close({ drain: false });
    answer!(false);
    await closing;
    expect(await gated.stats).toMatchObject({ accepted: 1, waiting: 1, inFlight: 0, completed: 0 });
    expect(() => queue({ name: 'x', groupRateLimit: 3 as never })).toThrow(
      "RedisQueue: groupRateLimit must be { ratePerSecond, burst } or a function of the group's key, got 3",
    );
  });
});
