import { afterEach, describe, expect, it, vi } from 'vitest';
import { Queue, RejectError, RetryExhaustedError, TimeoutError, retry } from '../src/index.js';
import { TestClock } from '../src/testing/index.js';
import { track } from './helpers.js';

const none = { jitter: 'none' as const, initialDelayMs: 100 };

describe('retry', () => {
  it('returns the first success, passing attempt numbers from 1 and a signal', async () => {
    const clock = new TestClock();
    const seen: number[] = [];
    const result = track(
      retry(
        (attempt, signal) => {
          seen.push(attempt);
          expect(signal).toBeInstanceOf(AbortSignal);
          if (attempt < 3) throw new Error(`fail ${attempt}`);
          return 'ok';
        },
        { clock, backoff: none },
      ),
    );
    await clock.advance(100);
    expect(seen).toEqual([1, 2]);
    await clock.advance(200);
    expect(seen).toEqual([1, 2, 3]);
    expect(result.value).toBe('ok');
  });

  it('makes maxAttempts attempts in total, then rejects RetryExhaustedError with every error', async () => {
    const clock = new TestClock();
    const errors = [new Error('a'), new Error('b'), new Error('c')];
    const fn = vi.fn((attempt: number) => Promise.reject(errors[attempt - 1]));
    const result = track(retry(fn, { clock, maxAttempts: 3, backoff: none }));
    await clock.runAll();
    expect(fn).toHaveBeenCalledTimes(3);
    expect(result.error).toBeInstanceOf(RetryExhaustedError);
    const e = result.error as RetryExhaustedError;
    expect(e.attempts).toBe(3);
    expect(e.errors).toEqual(errors);
    expect(e.cause).toBe(errors[2]);
  });

  it('waits the backoff between attempts and reports each to onRetry with the failed attempt', async () => {
    const clock = new TestClock();
    const onRetry = vi.fn();
    const boom = new Error('boom');
    const result = track(
      retry(
        () => {
          throw boom;
        },
        { clock, maxAttempts: 3, backoff: { ...none, multiplier: 3 }, onRetry },
      ),
    );
    await clock.advance(0);
    expect(onRetry.mock.calls).toEqual([[{ error: boom, attempt: 1, delayMs: 100 }]]);
    await clock.advance(100);
    expect(onRetry.mock.calls[1]).toEqual([{ error: boom, attempt: 2, delayMs: 300 }]);
    await clock.advance(299);
    expect(result.settled).toBe(false);
    await clock.advance(1);
    expect(result.error).toBeInstanceOf(RetryExhaustedError);
  });

  it("a 'random' option reaches the default backoff", async () => {
    const clock = new TestClock();
    const onRetry = vi.fn();
    void retry(() => Promise.reject(new Error('x')), { clock, maxAttempts: 2, random: () => 0.5, onRetry }).catch(() => {});
    await clock.advance(0);
    expect(onRetry.mock.calls[0]![0].delayMs).toBe(50); // full jitter over 100 ms
    await clock.runAll();
  });

  it('waits at least retryAfterMs (HTTP 429 Retry-After), uncapped by maxDelayMs', async () => {
    const clock = new TestClock();
    const onRetry = vi.fn();
    const busy = Object.assign(new Error('429'), { retryAfterMs: 5_000 });
    const result = track(
      retry((attempt) => (attempt === 1 ? Promise.reject(busy) : 'ok'), {
        clock,
        backoff: { ...none, maxDelayMs: 1_000 },
        onRetry,
      }),
    );
    await clock.advance(4_999);
    expect(result.settled).toBe(false);
    await clock.advance(1);
    expect(result.value).toBe('ok');
    expect(onRetry.mock.calls[0]![0].delayMs).toBe(5_000);
  });

  it('rethrows the error unchanged when retryIf says no', async () => {
    const clock = new TestClock();
    const fatal = new Error('fatal');
    const retryIf = vi.fn((e: unknown) => e !== fatal);
    const fn = vi.fn((attempt: number) => Promise.reject(attempt === 1 ? new Error('transient') : fatal));
    const result = track(retry(fn, { clock, retryIf, backoff: none, maxAttempts: 5 }));
    await clock.runAll();
    expect(result.error).toBe(fatal);
    expect(fn).toHaveBeenCalledTimes(2);
    expect(retryIf.mock.calls[1]).toEqual([fatal, 2]);
  });

  it('never retries a RejectError, and rejects with its cause as submit does (itself when it has none)', async () => {
    const poison = new Error('poison');
    const fn = vi.fn(() => Promise.reject(new RejectError(poison)));
    await expect(retry(fn, { clock: new TestClock(), retryIf: () => true })).rejects.toBe(poison);
    expect(fn).toHaveBeenCalledOnce();
    const bare = new RejectError();
    await expect(retry(() => Promise.reject(bare), { clock: new TestClock() })).rejects.toBe(bare);
  });

  it('does not retry a TypeError that is a bug (p-retry’s rule), but does retry network TypeErrors', async () => {
    const clock = new TestClock();
    const invalid = new TypeError('Invalid URL');
    const bug = vi.fn(() => Promise.reject(invalid));
    await expect(retry(bug, { clock, maxAttempts: 5 })).rejects.toBe(invalid);
    expect(bug).toHaveBeenCalledOnce();
    const network = [
      new TypeError('fetch failed'),
      new TypeError('Failed to fetch'),
      new TypeError('Load failed'),
      new TypeError('NetworkError when attempting to fetch resource.'),
      new TypeError('socket hang up', { cause: Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }) }),
      Object.assign(new TypeError('other side closed'), { code: 'UND_ERR_SOCKET' }),
    ];
    for (const error of network) {
      let calls = 0;
      const flaky = () => (++calls < 3 ? Promise.reject(error) : Promise.resolve('ok'));
      const result = retry(flaky, { clock, maxAttempts: 3, backoff: { initialDelayMs: 0 } });
      await clock.runAll();
      await expect(result).resolves.toBe('ok');
      expect(calls).toBe(3);
    }
    // retryIf decides when given: it may retry a TypeError.
    let calls = 0;
    const opted = retry(() => (++calls < 2 ? Promise.reject(invalid) : 'ok'), {
      clock,
      retryIf: () => true,
      backoff: { initialDelayMs: 0 },
    });
    await clock.runAll();
    await expect(opted).resolves.toBe('ok');
    // Other errors, and values that are not errors, are retried as before.
    const other = retry(() => Promise.reject(new RangeError('x')), { clock, maxAttempts: 2, backoff: { initialDelayMs: 0 } });
    const settled = other.catch((e: unknown) => e);
    await clock.runAll();
    expect(await settled).toBeInstanceOf(RetryExhaustedError);
  });

  it('a Queue follows the same rule: a TypeError bug is dead-lettered after one attempt', async () => {
    const queue = new Queue<number>({
      clock: new TestClock(),
      retry: { maxAttempts: 4 },
      handler: () => {
        throw new TypeError('x.y is not a function');
      },
    });
    await queue.push(1);
    await queue.onIdle();
    expect(queue.stats).toMatchObject({ failed: 1, retried: 0, deadLettered: 1 });
  });

  it('timeoutMs aborts the attempt’s signal with a TimeoutError and counts it as a failure', async () => {
    const clock = new TestClock();
    const reasons: unknown[] = [];
    const result = track(
      retry(
        (attempt, signal) =>
          new Promise<string>((resolve) => {
            signal.addEventListener('abort', () => reasons.push(signal.reason));
            if (attempt === 2) resolve('second');
          }),
        { clock, timeoutMs: 1_000, backoff: none },
      ),
    );
    await clock.advance(1_000);
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toBeInstanceOf(TimeoutError);
    expect((reasons[0] as TimeoutError).timeoutMs).toBe(1_000);
    await clock.advance(100);
    expect(result.value).toBe('second');
    expect(clock.pendingTimers).toBe(0);
  });

  it('all attempts timing out end in RetryExhaustedError whose errors are TimeoutErrors', async () => {
    const clock = new TestClock();
    const result = track(retry(() => new Promise(() => {}), { clock, timeoutMs: 10, maxAttempts: 2, backoff: none }));
    await clock.runAll();
    const e = result.error as RetryExhaustedError;
    expect(e.errors.map((x) => (x as TimeoutError).code)).toEqual(['ERR_TIMEOUT', 'ERR_TIMEOUT']);
  });

  it('abort during an attempt rejects at once with signal.reason and aborts the attempt', async () => {
    const clock = new TestClock();
    const controller = new AbortController();
    let attemptSignal: AbortSignal | undefined;
    const result = track(
      retry(
        (_, signal) => {
          attemptSignal = signal;
          return new Promise(() => {});
        },
        { clock, signal: controller.signal, timeoutMs: 1_000 },
      ),
    );
    await clock.advance(10);
    const reason = new Error('user cancelled');
    controller.abort(reason);
    await clock.advance(0);
    expect(result.error).toBe(reason);
    expect(attemptSignal!.aborted).toBe(true);
    expect(attemptSignal!.reason).toBe(reason);
    expect(clock.pendingTimers).toBe(0);
  });

  it('abort during the wait between attempts rejects with signal.reason and clears the timer', async () => {
    const clock = new TestClock();
    const controller = new AbortController();
    const fn = vi.fn(() => Promise.reject(new Error('x')));
    const result = track(retry(fn, { clock, signal: controller.signal, backoff: none }));
    await clock.advance(50);
    controller.abort();
    await clock.advance(0);
    expect(result.error).toBe(controller.signal.reason);
    expect(fn).toHaveBeenCalledOnce();
    expect(clock.pendingTimers).toBe(0);
  });

  it('an already-aborted signal rejects without calling fn', async () => {
    const controller = new AbortController();
    controller.abort('gone');
    const fn = vi.fn();
    await expect(retry(fn, { signal: controller.signal })).rejects.toBe('gone');
    expect(fn).not.toHaveBeenCalled();
  });

  it('treats non-Error failures as failures', async () => {
    const clock = new TestClock();
    const result = track(
      retry(
        (attempt) => {
          if (attempt === 1) throw undefined;
          if (attempt === 2) return Promise.reject('text');
          return Object.freeze({ done: true });
        },
        { clock, backoff: none },
      ),
    );
    await clock.runAll();
    expect(result.value).toEqual({ done: true });
  });

  it('rejects bad options with a clear error', async () => {
    await expect(retry(() => 1, { maxAttempts: 0 })).rejects.toThrow(
      new RangeError('retry: maxAttempts must be a positive integer or Infinity, got 0'),
    );
    await expect(retry(() => 1, { timeoutMs: -5 })).rejects.toThrow(RangeError);
    await expect(retry(() => 1, { backoff: 5 as never })).rejects.toThrow(TypeError);
    await expect(retry('nope' as never)).rejects.toThrow(new TypeError('retry: fn must be a function, got "nope"'));
  });

  describe('with vi.useFakeTimers() and no clock injected', () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    it('waits on the faked global timers', async () => {
      vi.useFakeTimers();
      const fn = vi.fn((attempt: number) => (attempt < 2 ? Promise.reject(new Error('x')) : 'done'));
      const result = track(retry(fn, { backoff: { jitter: 'none', initialDelayMs: 1_000 } }));
      await vi.advanceTimersByTimeAsync(999);
      expect(fn).toHaveBeenCalledOnce();
      await vi.advanceTimersByTimeAsync(1);
      expect(result.value).toBe('done');
      expect(vi.getTimerCount()).toBe(0);
    });
  });
});
