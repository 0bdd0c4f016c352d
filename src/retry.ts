import type { BackoffFn, BackoffOptions } from './backoff.js';
import { type Clock, systemClock } from './clock.js';
import { isRejectError, RetryExhaustedError, TimeoutError } from './errors.js';
import { whenAborted } from './internal/abort.js';
import { setLongTimeout } from './internal/long-timer.js';
import { resolveRetryPolicy, retryDelay, retryVerdict } from './internal/retry-policy.js';
import * as v from './internal/validate.js';

const RETRY_KEYS = /* @__PURE__ */ v.knownKeys<RetryOptions>({
  maxAttempts: true,
  backoff: true,
  retryIf: true,
  random: true,
  timeoutMs: true,
  signal: true,
  onRetry: true,
  clock: true,
});

/** What `onRetry` is told before each wait. */
export interface RetryEvent {
  /** The failure of the attempt that just ended. */
  readonly error: unknown;
  /** The attempt that failed (numbered from 1). */
  readonly attempt: number;
  /** How long sluice waits before the next attempt, in ms. */
  readonly delayMs: number;
}

/**
 * The retry policy shared by {@link retry}, `Queue` and `mapConcurrent`.
 */
export interface RetryPolicy {
  /** Attempts in total, the first included (a positive integer or `Infinity`). @default 3 */
  readonly maxAttempts?: number;
  /**
   * The delay between attempts: a {@link BackoffFn} or options for {@link backoff}.
   * @default backoff() — 100 ms doubling up to 30 s, full jitter
   */
  readonly backoff?: BackoffFn | BackoffOptions;
  /**
   * Decides whether a failure is worth another attempt. When it returns
   * false the failure is passed on unchanged (not wrapped). A `RejectError`
   * is never retried, whatever this says.
   * @default every failure is retried but a `TypeError` that is not a
   *   network error (`fetch failed`, `Failed to fetch`, `Load failed`, a
   *   `cause.code` such as `ECONNRESET`): that is a bug (`Invalid URL`,
   *   `x is not a function`), and retrying it only repeats it (p-retry's
   *   rule). Give `retryIf` to decide otherwise.
   */
  readonly retryIf?: (error: unknown, attempt: number) => boolean;
  /** Random source in `[0, 1)` for the default backoff's jitter. @default Math.random */
  readonly random?: () => number;
}

/** Options of {@link retry}. */
export interface RetryOptions extends RetryPolicy {
  /**
   * Time limit per attempt in ms (a non-negative number): at the limit the
   * attempt's `signal` aborts with a {@link TimeoutError} and the attempt
   * counts as failed with it.
   * @default none: an attempt may run as long as it likes
   */
  readonly timeoutMs?: number;
  /** Aborting stops at once: the returned promise rejects with `signal.reason`. */
  readonly signal?: AbortSignal;
  /** Called before each wait between attempts. */
  readonly onRetry?: (event: RetryEvent) => void;
  /** Source of time for the waits and `timeoutMs`. @default systemClock */
  readonly clock?: Clock;
}

/**
 * Calls `fn` until it succeeds, waiting with exponential backoff and jitter
 * between attempts (as AWS's "Exponential Backoff and Jitter").
 *
 * - `fn(attempt, signal)` gets the attempt number (from 1) and a signal that
 *   aborts when the attempt times out (`timeoutMs`) or `options.signal` aborts.
 * - An error with a numeric `retryAfterMs` makes the next wait at least that
 *   long (HTTP 429 `Retry-After`).
 * - `retryIf` returning false (by default: a `TypeError` that is not a
 *   network error, as p-retry) passes the error on unchanged; a
 *   `RejectError` passes on its `cause` (itself when it has none), as
 *   `Queue.submit` does.
 *
 * @param fn - the operation; may return a value or a promise.
 * @param options - see {@link RetryOptions}.
 * @returns the first successful result.
 * @throws RetryExhaustedError (rejects) after `maxAttempts` failures, with
 *   `attempts`, `errors` (every failure) and `cause` (the last).
 * @throws (rejects) the error itself when it is not to be retried; a
 *   `RejectError`'s cause.
 * @throws the abort `signal.reason` (rejects) when `options.signal` aborts.
 * @throws TypeError or RangeError (rejects) for bad options.
 *
 * @example
 * ```ts
 * const body = await retry(async (attempt, signal) => {
 *   const res = await fetch(url, { signal });
 *   if (res.status === 429) throw Object.assign(new Error('busy'), { retryAfterMs: 1000 });
 *   return res.json();
 * }, { maxAttempts: 5, timeoutMs: 10_000, backoff: { jitter: 'equal' } });
 * ```
 */
export async function retry<R>(fn: (attempt: number, signal: AbortSignal) => R | PromiseLike<R>, options?: RetryOptions): Promise<R> {
  const part = 'retry';
  v.requiredFn(part, 'fn', fn);
  const o = v.options<RetryOptions>(part, options, RETRY_KEYS);
  const policy = resolveRetryPolicy(part, o, 3, null);
  const timeoutMs = v.number(part, 'timeoutMs', o.timeoutMs, 'non-negative');
  const signal = v.signal(part, 'signal', o.signal);
  const onRetry = v.fn<(event: RetryEvent) => void>(part, 'onRetry', o.onRetry);
  const clock = v.clock<Clock>(part, o.clock, systemClock);

  const errors: unknown[] = [];
  let previousDelay: number | undefined;
  for (let attempt = 1; ; attempt++) {
    signal?.throwIfAborted();
    const outcome = await runAttempt(fn, attempt, timeoutMs, signal, clock);
    if (outcome.ok) return outcome.value;
    const error = outcome.error;
    signal?.throwIfAborted();
    errors.push(error);
    const verdict = retryVerdict(policy, error, attempt);
    // A RejectError rejects with its cause, as `submit` does (the RejectError itself when it has none).
    if (verdict === 'stop') throw isRejectError(error) && error.cause !== undefined ? error.cause : error;
    if (verdict === 'exhausted') throw new RetryExhaustedError(attempt, errors);
    const delayMs = retryDelay(policy, error, attempt, previousDelay);
    previousDelay = delayMs;
    onRetry?.({ error, attempt, delayMs });
    await sleep(delayMs, clock, signal);
  }
}

type Outcome<R> = { ok: true; value: R } | { ok: false; error: unknown };

/**
 * Runs one attempt with its own signal; settles with the outcome, never rejects,
 * except with the outer signal's reason when it aborts mid-attempt.
 */
function runAttempt<R>(
  fn: (attempt: number, signal: AbortSignal) => R | PromiseLike<R>,
  attempt: number,
  timeoutMs: number | undefined,
  outer: AbortSignal | undefined,
  clock: Clock,
): Promise<Outcome<R>> {
  const controller = new AbortController();
  return new Promise<Outcome<R>>((resolve, reject) => {
    let settled = false;
    let cancelTimeout: (() => void) | undefined;
    const finish = (): boolean => {
      if (settled) return false;
      settled = true;
      cancelTimeout?.();
      detach();
      return true;
    };
    const detach = whenAborted(outer, () => {
      if (!finish()) return;
      controller.abort(outer!.reason);
      reject(outer!.reason);
    });
    if (timeoutMs !== undefined) {
      cancelTimeout = setLongTimeout(
        clock,
        () => {
          cancelTimeout = undefined;
          if (!finish()) return;
          const error = new TimeoutError(timeoutMs, `attempt ${attempt} timed out after ${timeoutMs} ms`);
          controller.abort(error);
          resolve({ ok: false, error });
        },
        timeoutMs,
      );
    }
    let result: R | PromiseLike<R>;
    try {
      result = fn(attempt, controller.signal);
    } catch (error) {
      if (finish()) resolve({ ok: false, error });
      return;
    }
    Promise.resolve(result).then(
      (value) => {
        if (finish()) resolve({ ok: true, value });
      },
      (error: unknown) => {
        if (finish()) resolve({ ok: false, error });
      },
    );
  });
}

/** Waits `ms` on `clock`; rejects with `signal.reason` if it aborts first. */
function sleep(ms: number, clock: Clock, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const cancel = setLongTimeout(
      clock,
      () => {
        detach();
        resolve();
      },
      ms,
    );
    const detach = whenAborted(signal, () => {
      cancel();
      reject(signal!.reason);
    });
  });
}
