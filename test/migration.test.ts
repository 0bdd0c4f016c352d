/**
 * README's "Coming from p-queue, p-limit, bottleneck or p-retry": each line
 * of the table, run side by side with the original, on fake timers.
 */
import Bottleneck from 'bottleneck';
import pLimit from 'p-limit';
import PQueue from 'p-queue';
import pRetry, { AbortError } from 'p-retry';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { QueueClosedError, RejectError, TaskQueue, TimeoutError, retry, wrap } from '../src/index.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/** Runs `n` tasks of `ms` each through `add`, returning the most that ran at once and the results. */
async function load(add: (task: () => Promise<number>) => Promise<number>, n: number, ms: number) {
  let running = 0;
  let most = 0;
  const results = Array.from({ length: n }, (_, i) =>
    add(async () => {
      most = Math.max(most, ++running);
      await new Promise((r) => setTimeout(r, ms));
      running--;
      return i;
    }),
  );
  await vi.advanceTimersByTimeAsync(n * ms + 10);
  return { most, results: await Promise.all(results) };
}

describe('coming from p-queue', () => {
  it('new PQueue({ concurrency: 4 }) → new TaskQueue({ concurrency: 4 })', async () => {
    const theirs = await load((t) => new PQueue({ concurrency: 4 }).add(t) as Promise<number>, 1, 10);
    expect(theirs.results).toEqual([0]);
    const pq = new PQueue({ concurrency: 4 });
    const tq = new TaskQueue({ concurrency: 4 });
    const a = await load((t) => pq.add(t) as Promise<number>, 10, 10);
    const b = await load((t) => tq.add(t), 10, 10);
    expect(b).toEqual(a);
    expect(b.most).toBe(4);
  });

  it('queue.add(fn, { priority, signal }) → tasks.add(fn, { priority, signal })', async () => {
    const pq = new PQueue({ concurrency: 1, autoStart: false });
    const tq = new TaskQueue({ concurrency: 1, autoStart: false });
    const run = (add: (fn: () => void, o: { priority: number; signal?: AbortSignal }) => Promise<unknown>, log: string[]) => {
      const controller = new AbortController();
      const aborted = add(() => log.push('aborted'), { priority: 0, signal: controller.signal }).catch(() => 'rejected');
      for (const [name, priority] of [
        ['low', 0],
        ['high', 5],
        ['mid', 2],
      ] as const)
        void add(() => log.push(name), { priority });
      controller.abort();
      return aborted;
    };
    const theirs: string[] = [];
    const ours: string[] = [];
    const theirAbort = run((fn, o) => pq.add(fn, o), theirs);
    const ourAbort = run((fn, o) => tq.add(fn, o), ours);
    pq.start();
    tq.resume();
    await vi.advanceTimersByTimeAsync(10);
    expect(ours).toEqual(theirs);
    expect(ours).toEqual(['high', 'mid', 'low']);
    expect([await theirAbort, await ourAbort]).toEqual(['rejected', 'rejected']);
  });

  it('queue.add(fn, { timeout }) → tasks.add(fn, { timeoutMs })', async () => {
    const pq = new PQueue({ concurrency: 1 });
    const tq = new TaskQueue({ concurrency: 1 });
    let aborted = false;
    const theirs = pq.add(() => new Promise((r) => setTimeout(r, 1_000)), { timeout: 50 }).catch((e: Error) => e.name);
    const ours = tq
      .add(
        ({ signal }) =>
          new Promise((_, reject) =>
            signal.addEventListener('abort', () => {
              aborted = true;
              reject(signal.reason);
            }),
          ),
        {
          timeoutMs: 50,
        },
      )
      .catch((e: unknown) => (e instanceof TimeoutError ? 'TimeoutError' : e));
    await vi.advanceTimersByTimeAsync(60);
    expect(await theirs).toBe('TimeoutError');
    expect(await ours).toBe('TimeoutError');
    expect(aborted).toBe(true); // and sluice tells the task through its signal
  });

  it('queue.addAll(fns) → tasks.addAll(fns)', async () => {
    const fns = [1, 2, 3].map((n) => async () => n * 10);
    const theirs = new PQueue({ concurrency: 2 }).addAll(fns);
    const ours = new TaskQueue({ concurrency: 2 }).addAll(fns);
    await vi.advanceTimersByTimeAsync(1);
    expect(await ours).toEqual(await theirs);
  });

  it('onIdle(), onEmpty(), onSizeLessThan(n) → onIdle(), onEmpty(), onSizeBelow(n); size, pending, concurrency', async () => {
    const pq = new PQueue({ concurrency: 1 });
    const tq = new TaskQueue({ concurrency: 1 });
    const seen: string[][] = [[], []];
    for (const [i, q] of [pq, tq].entries()) {
      for (let n = 0; n < 3; n++) void q.add(() => new Promise((r) => setTimeout(r, 10)));
      const log = seen[i]!;
      void (q instanceof PQueue ? q.onSizeLessThan(2) : q.onSizeBelow(2)).then(() => log.push('below 2'));
      void q.onEmpty().then(() => log.push('empty'));
      void q.onIdle().then(() => log.push('idle'));
      log.push(`size ${q.size}, pending ${q.pending}`);
    }
    await vi.advanceTimersByTimeAsync(100);
    expect(seen[1]).toEqual(seen[0]);
    expect(seen[1]).toEqual(['size 2, pending 1', 'below 2', 'empty', 'idle']);
    pq.concurrency = 8;
    tq.concurrency = 8;
    expect(tq.concurrency).toBe(pq.concurrency);
  });

  it('queue.pause(), queue.start() → tasks.pause(), tasks.resume()', async () => {
    const pq = new PQueue();
    const tq = new TaskQueue();
    pq.pause();
    tq.pause();
    const ran: string[] = [];
    void pq.add(() => ran.push('p-queue'));
    void tq.add(() => ran.push('sluice'));
    await vi.advanceTimersByTimeAsync(10);
    expect(ran).toEqual([]);
    pq.start();
    tq.resume();
    await vi.advanceTimersByTimeAsync(10);
    expect(ran.sort()).toEqual(['p-queue', 'sluice']);
  });

  it('queue.clear() → tasks.clear(): the waiting tasks never run; sluice settles their adds', async () => {
    const pq = new PQueue({ autoStart: false });
    const tq = new TaskQueue({ autoStart: false });
    const ran: string[] = [];
    const theirs = pq.add(() => ran.push('p-queue'));
    const ours = tq.add(() => ran.push('sluice')).catch((e: unknown) => e);
    pq.clear();
    tq.clear();
    pq.start();
    tq.resume();
    await vi.advanceTimersByTimeAsync(10);
    expect(ran).toEqual([]);
    expect([pq.size, tq.size]).toEqual([0, 0]);
    expect(await ours).toBeInstanceOf(QueueClosedError);
    let settled = false;
    void theirs.then(() => (settled = true));
    await vi.advanceTimersByTimeAsync(10);
    expect(settled).toBe(false); // p-queue leaves a cleared add pending
  });

  it('new PQueue({ interval, intervalCap }) → new TaskQueue({ rateLimit: { ratePerSecond, burst } })', async () => {
    const pq = new PQueue({ interval: 1_000, intervalCap: 10 });
    const tq = new TaskQueue({ rateLimit: { ratePerSecond: 10, burst: 10 }, concurrency: Infinity });
    const starts: [number[], number[]] = [[], []];
    for (let i = 0; i < 30; i++) {
      void pq.add(() => starts[0].push(Date.now()));
      void tq.add(() => starts[1].push(Date.now()));
    }
    const t0 = Date.now();
    await vi.advanceTimersByTimeAsync(5_000);
    const at = (xs: number[], ms: number) => xs.filter((t) => t - t0 <= ms).length;
    // The same 10 at once and 10 a second over time: all 30 by 2 s in both. Within the first second the
    // bucket refills as it goes (up to burst + rate: 19 here), as p-queue's windows allow across a boundary.
    expect([at(starts[0], 0), at(starts[1], 0)]).toEqual([10, 10]);
    expect([at(starts[0], 2_000), at(starts[1], 2_000)]).toEqual([30, 30]);
    expect(at(starts[1], 999)).toBeLessThanOrEqual(20);
    expect(at(starts[0], 1_000)).toBe(20);
  });
});

describe('coming from p-limit', () => {
  it('const limit = pLimit(2); limit(fn, a) → const limited = wrap(fn, { concurrency: 2 }); limited(a)', async () => {
    const limit = pLimit(2);
    let running = 0;
    let most = 0;
    const double = async (n: number) => {
      most = Math.max(most, ++running);
      await new Promise((r) => setTimeout(r, 10));
      running--;
      return n * 2;
    };
    const theirs = Promise.all([1, 2, 3].map((n) => limit(double, n)));
    await vi.advanceTimersByTimeAsync(100);
    const theirMost = most;
    most = 0;
    const limited = wrap(double, { concurrency: 2 });
    const ours = Promise.all([1, 2, 3].map((n) => limited(n)));
    await vi.advanceTimersByTimeAsync(100);
    expect(await ours).toEqual(await theirs);
    expect(most).toBe(theirMost);
  });

  it('limit.activeCount, limit.pendingCount, limit.clearQueue() → limited.queue.pending, .size, .clear()', async () => {
    const limit = pLimit(1);
    const limited = wrap(() => new Promise((r) => setTimeout(r, 10)), { concurrency: 1 });
    for (let i = 0; i < 3; i++) {
      void limit(() => new Promise((r) => setTimeout(r, 10)));
      void limited().catch(() => {});
    }
    await vi.advanceTimersByTimeAsync(1);
    expect([limited.queue.pending, limited.queue.size]).toEqual([limit.activeCount, limit.pendingCount]);
    limit.clearQueue();
    limited.queue.clear();
    expect(limited.queue.size).toBe(limit.pendingCount);
  });
});

describe('coming from bottleneck', () => {
  it('new Bottleneck({ maxConcurrent, minTime }) → new TaskQueue({ concurrency, rateLimit: { ratePerSecond: 1000 / minTime, burst: 1 } })', async () => {
    const limiter = new Bottleneck({ maxConcurrent: 2, minTime: 100 });
    const tq = new TaskQueue({ concurrency: 2, rateLimit: { ratePerSecond: 10, burst: 1 } });
    const starts: [number[], number[]] = [[], []];
    const t0 = Date.now();
    for (let i = 0; i < 5; i++) {
      void limiter.schedule(async () => starts[0].push(Date.now() - t0));
      void tq.add(async () => starts[1].push(Date.now() - t0));
    }
    await vi.advanceTimersByTimeAsync(2_000);
    expect(starts[0]).toHaveLength(5);
    expect(starts[1]).toHaveLength(5);
    // Both start one every 100 ms (bottleneck's own timers may run a millisecond early).
    const gaps = (xs: number[]) => xs.slice(1).map((t, i) => t - xs[i]!);
    expect(gaps(starts[1])).toEqual([100, 100, 100, 100]);
    for (const gap of gaps(starts[0])) expect(gap).toBeGreaterThanOrEqual(99);
    await limiter.stop();
  });

  it('limiter.schedule(fn), limiter.wrap(fn) → tasks.add(fn), wrap(fn, tasks)', async () => {
    const limiter = new Bottleneck({ maxConcurrent: 1 });
    const tq = new TaskQueue({ concurrency: 1 });
    const add = (a: number, b: number) => Promise.resolve(a + b);
    const theirs = Promise.all([limiter.schedule(() => add(1, 2)), limiter.wrap(add)(3, 4)]);
    const ours = Promise.all([tq.add(() => add(1, 2)), wrap(add, tq)(3, 4)]);
    await vi.advanceTimersByTimeAsync(100);
    expect(await ours).toEqual(await theirs);
    await limiter.stop();
  });

  it('limiter.schedule({ priority: 2 }, fn) → tasks.add(fn, { priority: 7 })', async () => {
    const limiter = new Bottleneck({ maxConcurrent: 1 });
    const tq = new TaskQueue({ concurrency: 1, autoStart: false });
    const theirs: string[] = [];
    const ours: string[] = [];
    const gate = limiter.schedule(() => new Promise((r) => setTimeout(r, 50))); // holds the slot while the rest queue
    for (const [name, p] of [
      ['later', 5],
      ['sooner', 2],
      ['first', 0],
    ] as const) {
      void limiter.schedule({ priority: p }, async () => theirs.push(name));
      void tq.add(async () => ours.push(name), { priority: 9 - p });
    }
    tq.resume();
    await vi.advanceTimersByTimeAsync(200);
    await gate;
    expect(ours).toEqual(theirs);
    expect(ours).toEqual(['first', 'sooner', 'later']);
    await limiter.stop();
  });

  it('limiter.updateSettings({ maxConcurrent: 4 }) → tasks.concurrency = 4', async () => {
    const limiter = new Bottleneck({ maxConcurrent: 1 });
    const tq = new TaskQueue({ concurrency: 1 });
    limiter.updateSettings({ maxConcurrent: 4 });
    tq.concurrency = 4;
    const theirs = await load((t) => limiter.schedule(t), 8, 10);
    const ours = await load((t) => tq.add(t), 8, 10);
    expect(ours.most).toBe(theirs.most);
    await limiter.stop();
  });

  it('limiter.stop({ dropWaitingJobs: true }) → tasks.close({ drain: false })', async () => {
    const limiter = new Bottleneck({ maxConcurrent: 1 });
    const tq = new TaskQueue({ concurrency: 1 });
    const ran: string[] = [];
    const long = () => new Promise((r) => setTimeout(r, 50));
    void limiter.schedule(long);
    const dropped = limiter.schedule(async () => ran.push('bottleneck')).catch(() => 'dropped');
    void tq.add(long);
    const handedBack = tq.add(async () => ran.push('sluice')).catch(() => 'dropped');
    await vi.advanceTimersByTimeAsync(1);
    void limiter.stop({ dropWaitingJobs: true });
    const closing = tq.close({ drain: false });
    await vi.advanceTimersByTimeAsync(100);
    expect([await dropped, await handedBack]).toEqual(['dropped', 'dropped']);
    expect((await closing).unprocessed).toHaveLength(1);
    expect(ran).toEqual([]);
  });
});

describe('coming from p-retry', () => {
  it('pRetry(fn, { retries: 4 }) → retry(fn, { maxAttempts: 5 })', async () => {
    const count = async (run: (fn: () => Promise<never>) => Promise<unknown>) => {
      let calls = 0;
      const settled = run(async () => {
        calls++;
        throw new Error('down');
      }).catch(() => {});
      await vi.advanceTimersByTimeAsync(60_000);
      await settled;
      return calls;
    };
    const theirs = await count((fn) => pRetry(fn, { retries: 4, minTimeout: 1, randomize: false }));
    const ours = await count((fn) => retry(fn, { maxAttempts: 5, backoff: { initialDelayMs: 1, jitter: 'none' } }));
    expect(ours).toBe(theirs);
    expect(ours).toBe(5);
  });

  it('{ minTimeout, maxTimeout, factor } → { backoff: { initialDelayMs, maxDelayMs, multiplier } }', async () => {
    const waits = async (run: (fn: () => Promise<never>) => Promise<unknown>) => {
      const at: number[] = [];
      const settled = run(async () => {
        at.push(Date.now());
        throw new Error('down');
      }).catch(() => {});
      await vi.advanceTimersByTimeAsync(60_000);
      await settled;
      return at.slice(1).map((t, i) => t - at[i]!);
    };
    const theirs = await waits((fn) => pRetry(fn, { retries: 4, minTimeout: 100, maxTimeout: 500, factor: 3, randomize: false }));
    const ours = await waits((fn) =>
      retry(fn, { maxAttempts: 5, backoff: { initialDelayMs: 100, maxDelayMs: 500, multiplier: 3, jitter: 'none' } }),
    );
    expect(ours).toEqual(theirs);
    expect(ours).toEqual([100, 300, 500, 500]);
  });

  it('throw new AbortError(message) → throw new RejectError(new Error(message))', async () => {
    let theirCalls = 0;
    let ourCalls = 0;
    const theirs = await pRetry(
      () => {
        theirCalls++;
        throw new AbortError('bad input');
      },
      { retries: 3 },
    ).catch((e: Error) => e.message);
    const ours = await retry(() => {
      ourCalls++;
      throw new RejectError(new Error('bad input'));
    }).catch((e: Error) => e.message);
    expect([ourCalls, ours]).toEqual([theirCalls, theirs]);
    expect(ours).toBe('bad input');
  });

  it('shouldRetry, onFailedAttempt, signal → retryIf, onRetry, signal; a TypeError bug is not retried in either', async () => {
    const run = async (call: (fn: () => Promise<never>, log: string[]) => Promise<unknown>) => {
      const log: string[] = [];
      let n = 0;
      const settled = call(async () => {
        n++;
        throw n === 1 ? new Error('transient') : n === 2 ? new Error('fatal') : new Error('never');
      }, log).catch((e: Error) => e.message);
      await vi.advanceTimersByTimeAsync(10_000);
      return { result: await settled, calls: n, log };
    };
    const theirs = await run((fn, log) =>
      pRetry(fn, {
        retries: 5,
        minTimeout: 1,
        shouldRetry: ({ error }) => error.message !== 'fatal',
        onFailedAttempt: ({ error }) => void log.push(error.message),
      }),
    );
    const ours = await run((fn, log) =>
      retry(fn, {
        maxAttempts: 6,
        backoff: { initialDelayMs: 1 },
        retryIf: (error) => (error as Error).message !== 'fatal',
        onRetry: ({ error }) => void log.push((error as Error).message),
      }),
    );
    expect(ours.result).toBe(theirs.result);
    expect(ours.calls).toBe(theirs.calls);
    expect(ours.log).toEqual(['transient']); // onRetry: before each wait (p-retry's onFailedAttempt also saw 'fatal')
    const bug = new TypeError('Invalid URL');
    let theirTries = 0;
    let ourTries = 0;
    const fails = (count: () => void) => () => {
      count();
      return Promise.reject(bug);
    };
    await pRetry(
      fails(() => theirTries++),
      { retries: 3 },
    ).catch(() => {});
    await retry(
      fails(() => ourTries++),
      { maxAttempts: 4 },
    ).catch(() => {});
    expect([ourTries, theirTries]).toEqual([1, 1]);
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    await expect(retry(() => 1, { signal: controller.signal })).rejects.toThrow('stop');
    await expect(pRetry(() => 1, { signal: controller.signal })).rejects.toThrow('stop');
  });
});
