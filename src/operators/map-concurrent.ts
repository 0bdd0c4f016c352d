import { type Clock, systemClock } from '../clock.js';
import type { DeadLetterStore } from '../dead-letter.js';
import { isRejectError, isRetryExhaustedError } from '../errors.js';
import { toConcurrency, toDeadLetterStore } from '../internal/inputs.js';
import { closeQuietly } from '../internal/iterators.js';
import { resolveRetryPolicy, retryAfterOf } from '../internal/retry-policy.js';
import { type Classify, defaultClassify } from '../limits/classify.js';
import type { ConcurrencyLimit, LimitChange } from '../limits/limit.js';
import * as v from '../internal/validate.js';
import { type RetryEvent, type RetryPolicy, retry } from '../retry.js';
import { type Operator, toAsyncIterator } from './source.js';

const MAP_CONCURRENT_KEYS = /* @__PURE__ */ v.knownKeys<MapConcurrentOptions<unknown>>({
  concurrency: true,
  classify: true,
  retryAfter: true,
  backpressure: true,
  ordered: true,
  retry: true,
  onRetry: true,
  deadLetter: true,
  timeoutMs: true,
  clock: true,
});

/** What {@link mapConcurrent}'s function is told about a call. */
export interface MapContext {
  /** Aborts when the attempt passes `timeoutMs` (reason: `TimeoutError`) or the consumer stops. */
  readonly signal: AbortSignal;
  /** The attempt's number, from 1. */
  readonly attempt: number;
  /** The item's position in the source, from 0. */
  readonly index: number;
}

/** Options of {@link mapConcurrent}. */
export interface MapConcurrentOptions<T> {
  /**
   * Items in flight at once (their calls, and their waits between retries): a
   * positive integer or `Infinity` (as p-map's), or a {@link ConcurrencyLimit}
   * fed a sample per settled call and followed live.
   * @default 1
   */
  readonly concurrency?: number | ConcurrencyLimit;
  /** How a settled call counts for a limit object (see Queue's `classify`). @default defaultClassify */
  readonly classify?: Classify<unknown>;
  /**
   * `'queue'`: an error carrying `retryAfterMs` holds every new call until
   * then — no item is pulled, and a call due meanwhile (a retry) waits
   * inside its attempt (the wait counts toward `timeoutMs`). `'item'`: only
   * that item's retry waits.
   * @default 'item'
   */
  readonly retryAfter?: 'item' | 'queue';
  /**
   * The most results running or finished but not yet taken by the consumer
   * (p-map's `pMapIterable` `backpressure`): calls go on ahead of a slow
   * consumer until this many are in hand. At least `concurrency`.
   * @default concurrency (with a limit object: the limit in force)
   */
  readonly backpressure?: number;
  /** Yield results in source order (`true`) or as they finish. @default true */
  readonly ordered?: boolean;
  /** Retry failed calls with backoff; without it each item gets one attempt. */
  readonly retry?: RetryPolicy;
  /** Called before each wait between attempts. */
  readonly onRetry?: (event: RetryEvent & { readonly item: T }) => void;
  /**
   * Where items go that fail for good (retries exhausted: `'delivery_limit'`;
   * `RejectError` or `retryIf` false: `'rejected'`); they are not yielded.
   * Without it the failure's own error propagates to the consumer.
   */
  readonly deadLetter?: DeadLetterStore<T>;
  /**
   * Time limit per attempt in ms (a non-negative number); the attempt's `signal` aborts with `TimeoutError`.
   * @default none: an attempt may run as long as it likes
   */
  readonly timeoutMs?: number;
  /** Source of time for backoff waits and `timeoutMs`. @default systemClock */
  readonly clock?: Clock;
}

/** A limit object's `limit`, or `fallback` while it reads as no positive integer. */
function limitOf(limit: ConcurrencyLimit, fallback: number): number {
  const n = limit.limit;
  return (Number.isInteger(n) && n >= 1) || n === Infinity ? n : fallback;
}

type Outcome<R> = { ok: true; value: R } | { ok: false; error: unknown; dead: boolean };

/**
 * Maps items through an async function with bounded concurrency, retries and
 * a dead letter: `p-map`'s `pMapIterable` for streams. At most `concurrency`
 * calls run, and at most `backpressure` results are running or waiting to be
 * yielded: calls go on ahead of a slow consumer up to that bound. Each result
 * is yielded as soon as it is there (in source order when `ordered`), even
 * while the source has nothing new to give.
 * @param fn - called as `fn(item, { signal, attempt, index })`.
 * @param options - see {@link MapConcurrentOptions}.
 * @returns an operator yielding each result (source order when `ordered`).
 * @throws TypeError or RangeError for bad arguments (at the call). Iteration
 *   rejects with an item's last error when it fails for good and there is no
 *   dead letter (the `RejectError`'s cause, or the `RejectError` itself).
 */
export function mapConcurrent<T, R>(
  fn: (item: T, context: MapContext) => R | PromiseLike<R>,
  options?: MapConcurrentOptions<T>,
): Operator<T, R> {
  const part = 'mapConcurrent';
  v.requiredFn(part, 'fn', fn);
  const o = v.options<MapConcurrentOptions<T>>(part, options, MAP_CONCURRENT_KEYS);
  const { concurrency: fixed, limit } = toConcurrency(part, 'concurrency', o.concurrency, 1);
  const classify = v.fn<Classify<unknown>>(part, 'classify', o.classify) ?? defaultClassify;
  const pauseOnRetryAfter = v.choice(part, 'retryAfter', o.retryAfter, ['item', 'queue'] as const, 'item') === 'queue';
  const givenBackpressure = v.number(part, 'backpressure', o.backpressure, 'positive-integer-or-infinity');
  if (limit === undefined && givenBackpressure !== undefined && givenBackpressure < fixed) {
    throw new RangeError(`${part}: backpressure must be at least concurrency (${fixed}), got ${givenBackpressure}`);
  }
  const ordered = v.boolean(part, 'ordered', o.ordered, true);
  const policy = o.retry === undefined ? undefined : resolveRetryPolicy(part, o.retry, 3);
  const onRetry = v.fn<(event: RetryEvent & { item: T }) => void>(part, 'onRetry', o.onRetry);
  const deadLetter = toDeadLetterStore<T>(part, o.deadLetter);
  const timeoutMs = v.number(part, 'timeoutMs', o.timeoutMs, 'positive');
  const clock = v.clock<Clock>(part, o.clock, systemClock);

  // A call's outcome settles through its own callbacks into `results` (never a race over the running calls); the
  // consumer's `next()` is served from there. The pump pulls the source whenever a slot is free and fewer than
  // `backpressure` results are running or waiting, whether or not the consumer is asking: work goes on ahead of
  // a slow consumer, and a result is yielded as soon as it is there, not when the source next yields.
  return (source) => {
    const iterator = toAsyncIterator(source);
    /** The concurrency in force: the limit object's, read live. */
    const concurrency = (): number => (limit === undefined ? fixed : limitOf(limit, fixed));
    const backpressure = (): number => Math.max(givenBackpressure ?? 0, concurrency());
    /** Calls running (not waits between retries): a sample's `inFlight`. */
    let calls = 0;
    /** `retryAfter: 'queue'`: no call starts before this time (ms). */
    let heldUntil = -Infinity;
    let holdTimer: unknown;
    const onLimit = (_change: LimitChange): void => pump();
    limit?.on?.('limit', onLimit);
    /** Calls `fn` for one attempt, after any hold; samples its outcome for the limit. */
    const call = async (item: T, context: MapContext): Promise<R> => {
      const wait = heldUntil - clock.now();
      if (wait > 0) await new Promise<void>((resolve) => clock.setTimeout(resolve, wait));
      const startedAt = clock.now();
      const inFlight = ++calls;
      let outcome: { ok: true; value: R } | { ok: false; error: unknown };
      try {
        outcome = { ok: true, value: await fn(item, context) };
      } catch (error) {
        outcome = { ok: false, error };
      }
      calls--;
      if (!outcome.ok && pauseOnRetryAfter) {
        const ms = retryAfterOf(outcome.error);
        if (ms !== undefined) hold(ms);
      }
      if (limit !== undefined) sample(limit, outcome, startedAt, inFlight);
      if (outcome.ok) return outcome.value;
      throw outcome.error;
    };
    const sample = (
      l: ConcurrencyLimit,
      outcome: { ok: true; value: R } | { ok: false; error: unknown },
      startedAt: number,
      inFlight: number,
    ) => {
      let kind: string;
      try {
        kind = classify(outcome);
      } catch {
        return; // a classify that throws gives no sample
      }
      if (kind !== 'success' && kind !== 'dropped') return;
      l.onSample({ startedAt, rttMs: Math.max(0, clock.now() - startedAt), inFlight, dropped: kind === 'dropped' });
    };
    const hold = (ms: number): void => {
      const until = clock.now() + ms;
      if (until <= heldUntil) return;
      heldUntil = until;
      if (holdTimer !== undefined) clock.clearTimeout(holdTimer);
      holdTimer = clock.setTimeout(() => {
        holdTimer = undefined;
        pump();
      }, ms);
    };
    const stop = new AbortController();
    /** Settled outcomes not yet yielded: by index when ordered, in settling order otherwise. */
    const results = new Map<number, Outcome<R>>();
    const settledOrder: number[] = [];
    let nextIndex = 0; // the next index to take from the source
    let nextOut = 0; // ordered: the next index to yield
    let running = 0;
    let pulling = false;
    let sourceDone = false;
    let sourceError: { error: unknown } | undefined;
    let finished = false;
    const waiting: { resolve: (r: IteratorResult<R>) => void; reject: (e: unknown) => void }[] = [];

    const run = (item: T, i: number): void => {
      const firstSeenAt = clock.now();
      let attempts = 0;
      running++;
      retry(
        (attempt, signal) => {
          attempts = attempt;
          return limit === undefined && !pauseOnRetryAfter
            ? fn(item, { signal, attempt, index: i })
            : call(item, { signal, attempt, index: i });
        },
        {
          maxAttempts: policy?.maxAttempts ?? 1,
          ...(policy ? { backoff: policy.backoff } : {}),
          ...(policy?.retryIf ? { retryIf: policy.retryIf } : {}),
          ...(timeoutMs !== undefined ? { timeoutMs } : {}),
          ...(onRetry ? { onRetry: (event: RetryEvent) => onRetry({ ...event, item }) } : {}),
          signal: stop.signal,
          clock,
        },
      ).then(
        (value) => settle(i, { ok: true, value }),
        (error: unknown) => {
          if (stop.signal.aborted) return settle(i, { ok: false, error, dead: false });
          const exhausted = isRetryExhaustedError(error);
          const own = exhausted ? error.cause : isRejectError(error) && error.cause !== undefined ? error.cause : error;
          if (deadLetter === undefined) return settle(i, { ok: false, error: own, dead: false });
          let stored: unknown;
          try {
            stored = deadLetter.add({
              item,
              reason: exhausted ? 'delivery_limit' : 'rejected',
              error: own,
              errors: exhausted ? error.errors : [error],
              attempts,
              source: part,
              firstSeenAt,
            });
          } catch (refused) {
            return settle(i, { ok: false, error: refused, dead: false }); // stored nowhere: the consumer hears of it
          }
          if (typeof (stored as PromiseLike<unknown>)?.then !== 'function') return settle(i, { ok: false, error: own, dead: true });
          // A shared store (RedisDeadLetter): the item is dead-lettered once the store has it.
          (stored as PromiseLike<unknown>).then(
            () => settle(i, { ok: false, error: own, dead: true }),
            (refused: unknown) => settle(i, { ok: false, error: refused, dead: false }),
          );
        },
      );
    };

    const settle = (i: number, outcome: Outcome<R>): void => {
      running--;
      if (finished) return;
      results.set(i, outcome);
      if (!ordered) settledOrder.push(i);
      serve();
      pump();
    };

    /** The next outcome ready to hand out, taken from `results`, or `undefined`. */
    const take = (): Outcome<R> | undefined => {
      const i = ordered ? nextOut : settledOrder[0];
      if (i === undefined || !results.has(i)) return undefined;
      const outcome = results.get(i)!;
      results.delete(i);
      if (ordered) nextOut++;
      else settledOrder.shift();
      return outcome;
    };

    const end = (): void => {
      if (finished) return;
      finished = true;
      stop.abort();
      limit?.off?.('limit', onLimit);
      if (holdTimer !== undefined) clock.clearTimeout(holdTimer);
      if (!sourceDone) closeQuietly(iterator);
    };

    /** Hands ready outcomes to waiting `next()` calls; ends iteration when everything is yielded. */
    const serve = (): void => {
      while (waiting.length > 0 && !finished) {
        const outcome = take();
        if (outcome === undefined) break;
        if (outcome.ok) waiting.shift()!.resolve({ value: outcome.value, done: false });
        else if (!outcome.dead) {
          end();
          waiting.shift()!.reject(outcome.error);
        }
      }
      if (finished) {
        for (const w of waiting.splice(0)) w.resolve({ value: undefined, done: true });
        return;
      }
      // The end (or the source's error) goes to a call that asks for it, once the source is done, nothing runs and
      // nothing waits to be yielded: a source that fails while the consumer is busy still reaches it.
      if (waiting.length === 0 || results.size > 0 || running > 0 || !sourceDone) return;
      const failure = sourceError;
      end();
      const first = waiting.shift()!;
      if (failure !== undefined) first.reject(failure.error);
      else first.resolve({ value: undefined, done: true });
      for (const w of waiting.splice(0)) w.resolve({ value: undefined, done: true });
    };

    /** Pulls the source while a slot is free and fewer than `backpressure` results are running or unconsumed. */
    const pump = (): void => {
      if (pulling || sourceDone || finished || running >= concurrency() || running + results.size >= backpressure()) return;
      if (clock.now() < heldUntil) return; // the hold's timer pumps again
      pulling = true;
      let next: Promise<IteratorResult<T>>;
      try {
        next = Promise.resolve(iterator.next());
      } catch (error) {
        next = Promise.reject(error);
      }
      next.then(
        (result) => {
          pulling = false;
          if (finished) return;
          if (result.done === true) {
            sourceDone = true;
            serve();
            return;
          }
          run(result.value, nextIndex++);
          pump();
        },
        (error: unknown) => {
          pulling = false;
          sourceDone = true; // a source that threw has nothing more to give
          sourceError = { error };
          serve();
        },
      );
    };

    const mapped: AsyncIterableIterator<R> = {
      next: () => {
        if (finished && results.size === 0) return Promise.resolve({ value: undefined, done: true });
        const pending = new Promise<IteratorResult<R>>((resolve, reject) => waiting.push({ resolve, reject }));
        serve();
        pump();
        return pending;
      },
      return: () => {
        end();
        results.clear();
        for (const w of waiting.splice(0)) w.resolve({ value: undefined, done: true });
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]: () => mapped,
    };
    return mapped;
  };
}
