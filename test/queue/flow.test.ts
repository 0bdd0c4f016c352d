import { describe, expect, it } from 'vitest';
import { AimdLimit, type ConcurrencyLimit, type LimitChange, type LimitSample, Queue, TokenBucket } from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';
import { balanced } from '../helpers.js';

const sleep = (clock: TestClock, ms: number) => new Promise<void>((resolve) => clock.setTimeout(resolve, ms));
const busy = (retryAfterMs?: number) => Object.assign(new Error('429 Too Many Requests'), { status: 429, retryAfterMs });

describe('Queue: concurrency that follows a limit', () => {
  it('feeds the limit a sample per settled attempt and follows it live: a window of drops lowers it, and no more than it start', async () => {
    const clock = new TestClock();
    const limit = new AimdLimit({ initialLimit: 8, clock });
    const changes: LimitChange[] = [];
    limit.on('limit', (c) => changes.push(c));
    const queue = new Queue<number>({
      concurrency: limit,
      clock,
      handler: async (n) => {
        await sleep(clock, 10);
        if (n < 8) throw busy(); // the first wave is shed
      },
    });
    expect(queue.concurrency).toBe(8);
    expect(queue.concurrencyLimit).toBe(limit);
    const over: number[] = [];
    queue.on('active', () => {
      if (queue.inFlight > queue.concurrency) over.push(queue.inFlight);
    });
    for (let i = 0; i < 200; i++) queue.tryPush(i);
    await clock.advance(150); // the first window (100 ms from the first sample) closes on the first attempt past it
    expect(changes).toEqual([{ from: 8, to: 7, reason: 'drop' }]); // eight drops, one window: one backoff
    expect(queue.concurrency).toBe(7);
    await clock.runAll();
    expect(changes.slice(1).every((c) => c.reason === 'increase' && c.to === c.from + 1)).toBe(true);
    expect(queue.concurrency).toBe(limit.limit);
    expect(over).toEqual([]);
    expect(queue.stats.completed).toBe(192);
    expect(queue.stats.deadLettered).toBe(8);
    expect(balanced(queue.stats)).toBe(true);
  });

  it('samples start time, latency, in flight at start and whether the attempt dropped', async () => {
    const clock = new TestClock(1000);
    const samples: LimitSample[] = [];
    const limit: ConcurrencyLimit = { limit: 2, onSample: (s) => void samples.push(s) };
    const queue = new Queue<number>({
      concurrency: limit,
      clock,
      handler: async (ms) => {
        await sleep(clock, ms);
        if (ms === 30) throw busy();
        if (ms === 40) throw new Error('a bug: ignored');
      },
    });
    for (const ms of [20, 30, 40]) queue.tryPush(ms);
    await clock.runAll();
    expect(samples).toEqual([
      { startedAt: 1000, rttMs: 20, inFlight: 1, dropped: false },
      { startedAt: 1000, rttMs: 30, inFlight: 2, dropped: true },
    ]);
  });

  it('follows a limit of its own making that has no events: read after every sample', async () => {
    const clock = new TestClock();
    const limit = {
      limit: 1,
      onSample(this: { limit: number }) {
        this.limit = 3;
      },
    };
    let most = 0;
    let running = 0;
    const queue = new Queue<number>({
      concurrency: limit,
      clock,
      handler: async () => {
        most = Math.max(most, ++running);
        await sleep(clock, 10);
        running--;
      },
    });
    for (let i = 0; i < 7; i++) queue.tryPush(i);
    await clock.advance(10);
    expect(queue.concurrency).toBe(3);
    await clock.runAll();
    expect(most).toBe(3);
  });

  it('takes a classify that decides what is dropped; a classify that throws is reported and gives no sample', async () => {
    const clock = new TestClock();
    const samples: LimitSample[] = [];
    const errors: unknown[] = [];
    const queue = new Queue<number, number>({
      concurrency: { limit: 1, onSample: (s) => void samples.push(s) },
      classify: (o) => {
        if (o.ok && o.value === 3) throw new Error('classify broke');
        return o.ok && o.value === 502 ? 'dropped' : 'success';
      },
      handler: (n) => n,
      clock,
    });
    queue.on('error', (e) => errors.push(e));
    for (const n of [1, 502, 3]) queue.tryPush(n);
    await clock.runAll();
    expect(samples.map((s) => s.dropped)).toEqual([false, true]);
    expect(errors).toEqual([new Error('classify broke')]);
  });

  it('stops following a limit once set to a number, follows a new one set live, and lets go of it on close', async () => {
    const clock = new TestClock();
    const limit = new AimdLimit({ initialLimit: 5, clock });
    const queue = new Queue<number>({ concurrency: limit, handler: () => {}, clock });
    expect(limit.listenerCount('limit')).toBe(1);
    queue.concurrency = 2;
    expect(limit.listenerCount('limit')).toBe(0);
    expect(queue.concurrencyLimit).toBeUndefined();
    const other = new AimdLimit({ initialLimit: 9, clock });
    queue.concurrency = other;
    expect(queue.concurrency).toBe(9);
    await queue.close();
    expect(other.listenerCount('limit')).toBe(0);
  });

  it('rejects a concurrency that is neither a number nor a limit, and a limit whose limit is not a positive integer', () => {
    expect(() => new Queue({ concurrency: {} as never })).toThrow(
      'Queue: concurrency must be a positive integer, Infinity or a ConcurrencyLimit ({ limit, onSample }), got an object',
    );
    expect(() => new Queue({ concurrency: { limit: 0, onSample() {} } })).toThrow(
      'Queue: concurrency.limit must be a positive integer, got 0',
    );
    expect(() => new Queue({ classify: 'dropped' as never })).toThrow(TypeError);
    expect(() => new Queue({ retryAfter: 'all' as never })).toThrow("Queue: retryAfter must be one of 'item', 'queue'");
  });
});

describe('Queue: Retry-After pauses the flow', () => {
  it.each([
    [
      "'queue': a 429's retryAfterMs holds every start, not only the item's retry",
      'queue',
      [
        [0, 0],
        [1, 1000],
        [2, 1000],
        [0, 1000],
      ],
    ],
    [
      "'item' (the default): only the item waits",
      undefined,
      [
        [0, 0],
        [1, 0],
        [2, 0],
        [0, 1000],
      ],
    ],
  ] as const)('with retryAfter %s', async (_what, retryAfter, expected) => {
    const clock = new TestClock();
    const starts: [number, number][] = [];
    let first = true;
    const queue = new Queue<number>({
      retry: { maxAttempts: 2, backoff: () => 0 },
      ...(retryAfter ? { retryAfter } : {}),
      clock,
      handler: (n) => {
        starts.push([n, clock.now()]);
        if (first) {
          first = false;
          throw busy(1_000);
        }
      },
    });
    for (let i = 0; i < 3; i++) queue.tryPush(i);
    await clock.runAll();
    expect(starts).toEqual(expected);
    expect(balanced(queue.stats)).toBe(true);
  });

  it('pauseFor holds starts while running attempts go on; the longer hold wins; it does not pause the queue', async () => {
    const clock = new TestClock();
    const starts: number[] = [];
    const queue = new Queue<number>({ concurrency: 2, clock, handler: () => void starts.push(clock.now()) });
    queue.pauseFor(500);
    queue.pauseFor(200); // shorter: no effect
    queue.tryPush(1);
    expect(queue.isPaused).toBe(false);
    await clock.advance(499);
    expect(starts).toEqual([]);
    queue.pauseFor(600); // longer: until 1099
    await clock.advance(599);
    expect(starts).toEqual([]);
    await clock.advance(1);
    expect(starts).toEqual([1099]);
    expect(clock.pendingTimers).toBe(0);
    expect(() => queue.pauseFor(-1)).toThrow('Queue: ms must be a non-negative finite number, got -1');
    expect(() => queue.pauseFor(undefined as never)).toThrow(TypeError);
  });

  it('a close while held leaves no timer behind', async () => {
    const clock = new TestClock();
    const queue = new Queue<number>({ handler: () => {}, clock });
    queue.pauseFor(10_000);
    await queue.close();
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('Queue: several rate limits at once', () => {
  it('starts when every limit grants, and takes no token from one while another refuses', async () => {
    const clock = new TestClock();
    const perSecond = new TokenBucket({ ratePerSecond: 10, burst: 2, clock });
    const perMinute = new TokenBucket({ ratePerSecond: 3 / 60, burst: 3, clock });
    const starts: number[] = [];
    const queue = new Queue<number>({
      concurrency: 10,
      rateLimit: [perSecond, perMinute],
      handler: () => void starts.push(clock.now()),
      clock,
    });
    for (let i = 0; i < 5; i++) queue.tryPush(i);
    await clock.advance(1_000);
    expect(starts).toEqual([0, 0, 100]); // the per-minute bucket had 3
    expect(perSecond.tokens).toBe(2); // refilled, untouched while the per-minute one refuses
    await clock.advance(19_001);
    expect(starts).toHaveLength(4);
    expect(starts[3]).toBeCloseTo(20_000, 3); // 100 ms + 0.995 token / (3 / 60 s)
    await queue.close({ drain: false });
  });

  it('rejects an empty array, a bad entry (naming its index) and a limiter that cannot say when it would grant', () => {
    expect(() => new Queue({ rateLimit: [] })).toThrow('Queue: rateLimit must hold at least one limiter, got []');
    expect(() => new Queue({ rateLimit: [{ ratePerSecond: 1 }, { ratePerSecond: -1 }] })).toThrow(
      'Queue: rateLimit[1].ratePerSecond must be a positive finite number, got -1',
    );
    const opaque = { acquire: async () => {}, tryAcquire: () => true };
    expect(() => new Queue({ rateLimit: [{ ratePerSecond: 1 }, opaque] })).toThrow(
      'Queue: rateLimit[1] cannot be combined with other limits: it has no waitTime(cost)',
    );
  });
});
