/**
 * Faults users will meet, and what they see. Each case leaves the part usable
 * and its books balanced.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  BatchAccumulator,
  type DeadLetter,
  Queue,
  RetryExhaustedError,
  TokenBucket,
  batch,
  isRejectError,
  isSluiceError,
  pipe,
  retry,
} from '../src/index.js';
import { TestClock } from '../src/testing/index.js';
import { balanced, track } from './helpers.js';

describe('handlers that misbehave', () => {
  it('rejections with non-Error values are failures, kept as they are in the dead letter', async () => {
    const values: unknown[] = [undefined, null, 'text', 42, Object.freeze({ code: 'E_FROZEN' })];
    const queue = new Queue<number>({ handler: (n) => Promise.reject(values[n]), clock: new TestClock() });
    for (let n = 0; n < values.length; n++) await queue.push(n);
    await queue.onIdle();
    // The user sees each value untouched as the entry's error.
    const dead = (queue.deadLetter as DeadLetter<number>).entries();
    expect(dead.map((e) => e.error)).toEqual(values);
    expect(dead.every((e) => e.reason === 'delivery_limit')).toBe(true);
    expect(balanced(queue.stats)).toBe(true);
  });

  it('a handler that throws synchronously fails its attempt like a rejection', async () => {
    const queue = new Queue<number, number>({
      retry: { maxAttempts: 2, backoff: { initialDelayMs: 0, maxDelayMs: 0 } },
      handler: (n, { attempt }) => {
        if (attempt === 1) throw new Error('sync');
        return n;
      },
      clock: new TestClock(),
    });
    await expect(queue.submit(7)).resolves.toBe(7);
    expect(queue.stats).toMatchObject({ failed: 1, completed: 1 });
  });

  it('a thenable that settles twice counts once (its first outcome)', async () => {
    const twice = {
      // biome-ignore lint/suspicious/noThenProperty: a thenable on purpose
      then: (ok: (v: number) => void, fail: (e: unknown) => void) => {
        ok(1);
        fail(new Error('late'));
      },
    };
    const queue = new Queue<number, number>({ handler: () => twice as unknown as Promise<number>, clock: new TestClock() });
    await expect(queue.submit(0)).resolves.toBe(1);
    await queue.onIdle();
    expect(queue.stats).toMatchObject({ completed: 1, failed: 0, deadLettered: 0 });
  });

  it('a handler that never settles is ended by the visibility timeout; its slot is freed', async () => {
    const clock = new TestClock();
    const queue = new Queue<number>({ visibilityTimeoutMs: 50, handler: (n) => (n === 0 ? new Promise(() => {}) : undefined), clock });
    await queue.push(0);
    await queue.push(1);
    await clock.advance(50);
    expect(queue.stats).toMatchObject({ completed: 1, deadLettered: 1, inFlight: 0 });
    expect(clock.pendingTimers).toBe(0);
  });

  it('a groupBy that throws refuses the item at push', async () => {
    const boom = new Error('no group');
    const queue = new Queue<number>({
      groupBy: (n) => {
        if (n === 13) throw boom;
        return 'g';
      },
      handler: () => {},
      clock: new TestClock(),
    });
    await expect(queue.push(13)).rejects.toBe(boom);
    await queue.push(1);
    await queue.onIdle();
    expect(queue.stats).toMatchObject({ accepted: 1, completed: 1 });
  });

  it('a retryIf or onRetry that throws ends retry() with that error', async () => {
    const bad = new Error('predicate bug');
    await expect(
      retry(() => Promise.reject(new Error('x')), {
        clock: new TestClock(),
        retryIf: () => {
          throw bad;
        },
      }),
    ).rejects.toBe(bad);
  });

  it('a queue’s throwing retryIf dead-letters the item as rejected and reports the bug as an error event', async () => {
    const bad = new Error('predicate bug');
    const queue = new Queue<number>({
      retry: {
        retryIf: () => {
          throw bad;
        },
      },
      handler: () => Promise.reject(new Error('x')),
      clock: new TestClock(),
    });
    const errors: unknown[] = [];
    queue.on('error', (e) => errors.push(e));
    await queue.push(1);
    await queue.onIdle();
    expect(errors).toEqual([bad]);
    expect((queue.deadLetter as DeadLetter<number>).entries()[0]!.reason).toBe('rejected');
  });
});

describe('thrown values that cannot be read', () => {
  /** A revoked Proxy (every read throws), and an Error whose `message` getter throws. */
  function unreadable(): unknown[] {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    const error = new Error('x');
    Object.defineProperty(error, 'message', {
      get() {
        throw new Error('no message for you');
      },
    });
    return [proxy, error];
  }

  it.each(unreadable().map((value, i) => [i === 0 ? 'a revoked Proxy' : 'an Error whose message getter throws', value]))(
    'a handler that rejects with %s: the item is dead-lettered, later items run, close resolves',
    async (_what, thrown) => {
      const clock = new TestClock();
      const done: number[] = [];
      const queue = new Queue<number>({
        retry: { maxAttempts: 2, backoff: { initialDelayMs: 0, maxDelayMs: 0 } },
        handler: (n) => {
          if (n === 1) return Promise.reject(thrown);
          done.push(n);
        },
        clock,
      });
      for (let n = 0; n < 4; n++) queue.tryPush(n);
      await clock.advance(0);
      await expect(queue.close()).resolves.toEqual({ unprocessed: [] });
      expect(done).toEqual([0, 2, 3]);
      expect(queue.stats).toMatchObject({ accepted: 4, completed: 3, deadLettered: 1, failed: 2, inFlight: 0 });
      expect(balanced(queue.stats)).toBe(true);
      expect(queue.deadLetter.size).toBe(1);
    },
  );

  it('brand checks answer false, and retry() gives up with RetryExhaustedError', async () => {
    for (const thrown of unreadable()) {
      expect(isSluiceError(thrown)).toBe(false);
      expect(isRejectError(thrown)).toBe(false);
      const clock = new TestClock();
      const failing = retry(() => Promise.reject(thrown), { maxAttempts: 2, backoff: { initialDelayMs: 0, maxDelayMs: 0 }, clock });
      const outcome = track(failing);
      await clock.advance(0);
      await vi.waitFor(() => expect(outcome.settled).toBe(true));
      expect(outcome.error).toBeInstanceOf(RetryExhaustedError);
    }
  });
});

describe('delays longer than setTimeout allows (2^31 − 1 ms), on the faked global timers', () => {
  const DAY = 86_400_000;
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a queue’s ttlMs, delayMs and visibilityTimeoutMs of weeks take weeks, not a millisecond', async () => {
    vi.useFakeTimers();
    const ttl = new Queue<number>({ ttlMs: 30 * DAY, autoStart: false });
    await ttl.push(1);
    const ran: number[] = [];
    const delayed = new Queue<number>({ handler: (n) => void ran.push(n) });
    await delayed.push(2, { delayMs: 25 * DAY });
    let aborted = false;
    const lapsing = new Queue<number>({
      visibilityTimeoutMs: 25 * DAY,
      handler: (_n, { signal }) =>
        new Promise<void>(() => {
          signal.addEventListener('abort', () => (aborted = true));
        }),
    });
    await lapsing.push(3);
    await vi.advanceTimersByTimeAsync(1_000);
    expect([ttl.stats.deadLettered, ran, aborted]).toEqual([0, [], false]);
    await vi.advanceTimersByTimeAsync(25 * DAY);
    expect([ttl.stats.deadLettered, ran, aborted]).toEqual([0, [2], true]);
    await vi.advanceTimersByTimeAsync(5 * DAY);
    expect(ttl.stats.deadLettered).toBe(1);
    expect(ttl.deadLetter.size).toBe(1);
  });

  it('retry() waits out a Retry-After of weeks, and a TokenBucket and a BatchAccumulator wait weeks without grants or seals before', async () => {
    vi.useFakeTimers();
    let attempts = 0;
    const retrying = track(
      retry(
        () => {
          attempts++;
          if (attempts === 1) return Promise.reject(Object.assign(new Error('busy'), { retryAfterMs: 25 * DAY }));
          return Promise.resolve('ok');
        },
        { maxAttempts: 2 },
      ),
    );
    const bucket = new TokenBucket({ ratePerSecond: 1 / (30 * 86_400), burst: 1, initialTokens: 0 });
    const granted = track(bucket.acquire());
    const acc = new BatchAccumulator<number>({ lingerMs: 30 * DAY });
    await acc.add(1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect([attempts, granted.settled, acc.pending]).toEqual([1, false, 0]);
    await vi.advanceTimersByTimeAsync(25 * DAY);
    expect(attempts).toBe(2);
    expect(retrying.value).toBe('ok');
    expect([granted.settled, acc.pending]).toEqual([false, 0]);
    await vi.advanceTimersByTimeAsync(5 * DAY);
    expect([granted.settled, acc.pending]).toEqual([true, 1]);
  });
});

describe('clocks that jump', () => {
  it('a queue’s delays and retries keep their remaining time across a jump back by hours', async () => {
    const clock = new TestClock(10 * 3_600_000);
    const ran = vi.fn();
    const queue = new Queue<number>({ handler: ran, clock });
    await queue.push(1, { delayMs: 1_000 });
    await clock.advance(400);
    clock.jumpTo(0);
    await clock.advance(599);
    expect(ran).not.toHaveBeenCalled();
    await clock.advance(1);
    expect(ran).toHaveBeenCalledOnce();
  });

  it('a jump forward by hours fires what is due and refills a bucket to burst only', async () => {
    const clock = new TestClock();
    const ran = vi.fn();
    const queue = new Queue<number>({ handler: ran, clock });
    await queue.push(1, { delayMs: 3_600_000 });
    clock.jumpTo(5 * 3_600_000);
    await clock.advance(3_600_000);
    expect(ran).toHaveBeenCalledOnce();
    const bucket = new TokenBucket({ ratePerSecond: 100, burst: 3, initialTokens: 0, clock });
    clock.jumpTo(clock.now() + 3 * 3_600_000);
    expect(bucket.tokens).toBe(3);
  });
});

describe('abort signals at every await point', () => {
  it('already aborted: push, acquire, retry and close reject with the reason and change nothing', async () => {
    const controller = new AbortController();
    const reason = new Error('cancelled before');
    controller.abort(reason);
    const queue = new Queue<number>({ capacity: 1, handler: () => {}, clock: new TestClock() });
    await expect(queue.push(1, { signal: controller.signal })).rejects.toBe(reason);
    const bucket = new TokenBucket({ ratePerSecond: 1, clock: new TestClock() });
    await expect(bucket.acquire(1, { signal: controller.signal })).rejects.toBe(reason);
    expect(bucket.tokens).toBe(1);
    await expect(retry(() => 1, { signal: controller.signal })).rejects.toBe(reason);
    expect(queue.stats.accepted).toBe(0);
    await expect(queue.close({ signal: controller.signal })).rejects.toBe(reason);
    expect(queue.isClosed).toBe(true);
  });

  it('aborted while waiting for room, for a token, for a retry and for a drain', async () => {
    const clock = new TestClock();
    const queue = new Queue<number>({ capacity: 1, autoStart: false, handler: () => {}, clock });
    await queue.push(1);
    const roomAbort = new AbortController();
    const waitingForRoom = track(queue.push(2, { signal: roomAbort.signal }));
    const bucket = new TokenBucket({ ratePerSecond: 1, initialTokens: 0, clock });
    const tokenAbort = new AbortController();
    const waitingForToken = track(bucket.acquire(1, { signal: tokenAbort.signal }));
    const retryAbort = new AbortController();
    const retrying = track(
      retry(() => Promise.reject(new Error('x')), { clock, signal: retryAbort.signal, backoff: { initialDelayMs: 1_000, jitter: 'none' } }),
    );
    await clock.advance(10);
    roomAbort.abort('room');
    tokenAbort.abort('token');
    retryAbort.abort('retry');
    await clock.advance(0);
    expect([waitingForRoom.error, waitingForToken.error, retrying.error]).toEqual(['room', 'token', 'retry']);
    expect(bucket.pending).toBe(0);
    expect(queue.stats).toMatchObject({ accepted: 1, waiting: 1 });
    queue.resume();
    await queue.onIdle();
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('bad item functions in batching', () => {
  it('a sizeOf that throws refuses that item at add; the rest still batch', async () => {
    const acc = new BatchAccumulator<number>({
      maxItems: 10,
      maxBytes: 100,
      sizeOf: (n) => {
        if (n < 0) throw new RangeError('negative item');
        return n;
      },
      clock: new TestClock(),
    });
    await acc.add(1);
    await expect(acc.add(-1)).rejects.toThrow('negative item');
    await acc.add(2);
    expect(await acc.close()).toEqual({ unconsumed: [[1, 2]] });
  });

  it('in a pipeline, a key that throws ends the stream with that error after the batches formed', async () => {
    const got: number[][] = [];
    const run = (async () => {
      for await (const b of pipe(
        [1, 2, 3],
        batch<number>({
          maxItems: 1,
          key: (n) => {
            if (n === 3) throw new Error('bad key');
            return 'k';
          },
        }),
      ))
        got.push(b);
    })();
    await expect(run).rejects.toThrow('bad key');
    expect(got).toEqual([[1], [2]]);
  });
});
