import { BatchAccumulator, type BatchOptions } from './batch-accumulator.js';
import { type Clock, systemClock } from './clock.js';
import type { DeadLetterStore } from './dead-letter.js';
import type { DedupeKey, DedupeStore } from './deduper.js';
import { isRejectError, isRetryExhaustedError } from './errors.js';
import { closeQuietly } from './internal/iterators.js';
import * as v from './internal/validate.js';
import { type RetryEvent, type RetryPolicy, retry } from './retry.js';
import type { RateLimiter, RateLimitInput } from './token-bucket.js';
import { isDedupeStore, makeDeduper, toDeadLetterStore, toRateLimiter } from './internal/inputs.js';
import { resolveRetryPolicy } from './internal/retry-policy.js';

const DEDUPE_KEYS = /* @__PURE__ */ v.knownKeys<DedupeOperatorOptions<unknown>>({
  key: true,
  windowMs: true,
  maxKeys: true,
  onDuplicate: true,
  clock: true,
});
const THROTTLE_KEYS = /* @__PURE__ */ v.knownKeys<ThrottleOptions<unknown>>({ cost: true });
/** `throttle`'s bucket options: a TokenBucket's, with its own clock. */
const THROTTLE_LIMIT_KEYS = /* @__PURE__ */ v.knownKeys<{ ratePerSecond: number; burst?: number; clock?: Clock }>({
  ratePerSecond: true,
  burst: true,
  clock: true,
});
const MAP_CONCURRENT_KEYS = /* @__PURE__ */ v.knownKeys<MapConcurrentOptions<unknown>>({
  concurrency: true,
  backpressure: true,
  ordered: true,
  retry: true,
  onRetry: true,
  deadLetter: true,
  timeoutMs: true,
  clock: true,
});

/** What operators read: any async or sync iterable. */
export type Source<T> = AsyncIterable<T> | Iterable<T>;

/** A pipeline stage: reads a source, yields what it makes of it. */
export type Operator<A, B> = (source: Source<A>) => AsyncIterable<B>;

/**
 * Composes a source with operators, left to right, with full type inference:
 * `pipe(source, a, b, c)` is `c(b(a(source)))`. Errors from the source reach
 * the consumer; a consumer's `break` closes every stage and the source.
 *
 * @example
 * ```ts
 * for await (const result of pipe(events, dedupe({ key: (e) => e.id }), batch({ maxItems: 100, lingerMs: 50 }),
 *   throttle({ ratePerSecond: 10 }), mapConcurrent(send, { concurrency: 4 }))) {
 *   console.log(result);
 * }
 * ```
 */
export function pipe<A>(source: Source<A>): AsyncIterable<A>;
export function pipe<A, B>(source: Source<A>, op1: Operator<A, B>): AsyncIterable<B>;
export function pipe<A, B, C>(source: Source<A>, op1: Operator<A, B>, op2: Operator<B, C>): AsyncIterable<C>;
export function pipe<A, B, C, D>(source: Source<A>, op1: Operator<A, B>, op2: Operator<B, C>, op3: Operator<C, D>): AsyncIterable<D>;
export function pipe<A, B, C, D, E>(
  source: Source<A>,
  op1: Operator<A, B>,
  op2: Operator<B, C>,
  op3: Operator<C, D>,
  op4: Operator<D, E>,
): AsyncIterable<E>;
export function pipe<A, B, C, D, E, F>(
  source: Source<A>,
  op1: Operator<A, B>,
  op2: Operator<B, C>,
  op3: Operator<C, D>,
  op4: Operator<D, E>,
  op5: Operator<E, F>,
): AsyncIterable<F>;
export function pipe<A, B, C, D, E, F, G>(
  source: Source<A>,
  op1: Operator<A, B>,
  op2: Operator<B, C>,
  op3: Operator<C, D>,
  op4: Operator<D, E>,
  op5: Operator<E, F>,
  op6: Operator<F, G>,
): AsyncIterable<G>;
export function pipe<A, B, C, D, E, F, G, H>(
  source: Source<A>,
  op1: Operator<A, B>,
  op2: Operator<B, C>,
  op3: Operator<C, D>,
  op4: Operator<D, E>,
  op5: Operator<E, F>,
  op6: Operator<F, G>,
  op7: Operator<G, H>,
): AsyncIterable<H>;
export function pipe<A, B, C, D, E, F, G, H, I>(
  source: Source<A>,
  op1: Operator<A, B>,
  op2: Operator<B, C>,
  op3: Operator<C, D>,
  op4: Operator<D, E>,
  op5: Operator<E, F>,
  op6: Operator<F, G>,
  op7: Operator<G, H>,
  op8: Operator<H, I>,
): AsyncIterable<I>;
export function pipe<A, B, C, D, E, F, G, H, I, J>(
  source: Source<A>,
  op1: Operator<A, B>,
  op2: Operator<B, C>,
  op3: Operator<C, D>,
  op4: Operator<D, E>,
  op5: Operator<E, F>,
  op6: Operator<F, G>,
  op7: Operator<G, H>,
  op8: Operator<H, I>,
  op9: Operator<I, J>,
): AsyncIterable<J>;
export function pipe<A, B, C, D, E, F, G, H, I, J, K>(
  source: Source<A>,
  op1: Operator<A, B>,
  op2: Operator<B, C>,
  op3: Operator<C, D>,
  op4: Operator<D, E>,
  op5: Operator<E, F>,
  op6: Operator<F, G>,
  op7: Operator<G, H>,
  op8: Operator<H, I>,
  op9: Operator<I, J>,
  op10: Operator<J, K>,
): AsyncIterable<K>;
export function pipe<A, B, C, D, E, F, G, H, I, J, K, L>(
  source: Source<A>,
  op1: Operator<A, B>,
  op2: Operator<B, C>,
  op3: Operator<C, D>,
  op4: Operator<D, E>,
  op5: Operator<E, F>,
  op6: Operator<F, G>,
  op7: Operator<G, H>,
  op8: Operator<H, I>,
  op9: Operator<I, J>,
  op10: Operator<J, K>,
  op11: Operator<K, L>,
): AsyncIterable<L>;
export function pipe<A, B, C, D, E, F, G, H, I, J, K, L, M>(
  source: Source<A>,
  op1: Operator<A, B>,
  op2: Operator<B, C>,
  op3: Operator<C, D>,
  op4: Operator<D, E>,
  op5: Operator<E, F>,
  op6: Operator<F, G>,
  op7: Operator<G, H>,
  op8: Operator<H, I>,
  op9: Operator<I, J>,
  op10: Operator<J, K>,
  op11: Operator<K, L>,
  op12: Operator<L, M>,
): AsyncIterable<M>;
export function pipe(source: Source<unknown>, ...operators: Operator<unknown, unknown>[]): AsyncIterable<unknown>;
export function pipe(source: Source<unknown>, ...operators: Operator<unknown, unknown>[]): AsyncIterable<unknown> {
  checkSource('pipe', source);
  operators.forEach((op, i) => {
    v.requiredFn('pipe', `operator ${i + 1}`, op);
  });
  let stage: Source<unknown> = source;
  for (const op of operators) stage = op(stage);
  return isAsyncIterable(stage) ? stage : fromSync(stage);
}

/** Options of the {@link dedupe} operator. */
export interface DedupeOperatorOptions<T> {
  /** The item's idempotency key. */
  readonly key: (item: T) => DedupeKey;
  /** How long a key stays a duplicate after first sight, in ms. @default 300000 (SQS FIFO) */
  readonly windowMs?: number;
  /** The most keys remembered (LRU). @default 100000 */
  readonly maxKeys?: number;
  /** Called with each duplicate dropped (to count or log them). */
  readonly onDuplicate?: (item: T) => void;
  /** Source of time for the window. @default systemClock */
  readonly clock?: Clock;
}

/**
 * Drops items whose key was seen within the window (SQS FIFO's
 * deduplication interval by default). Given a `Deduper` (or any
 * `DedupeStore`), the items themselves are the keys.
 * @param options - key options, or a store.
 * @returns an operator yielding first sightings only, in order.
 * @throws TypeError or RangeError for bad options (at the call, not when iterated).
 */
export function dedupe<T>(options: DedupeOperatorOptions<T> | DedupeStore): Operator<T, T> {
  const part = 'dedupe';
  let store: DedupeStore;
  let key: (item: T) => DedupeKey;
  let onDuplicate: ((item: T) => void) | undefined;
  if (isDedupeStore(options)) {
    store = options;
    key = (item) => item as DedupeKey;
  } else {
    const o = v.options<DedupeOperatorOptions<T>>(part, options, DEDUPE_KEYS);
    key = v.requiredFn<(item: T) => DedupeKey>(part, 'key', o.key);
    onDuplicate = v.fn<(item: T) => void>(part, 'onDuplicate', o.onDuplicate);
    store = makeDeduper(part, '', o, v.clock(part, o.clock, systemClock));
  }
  return (source) =>
    (async function* deduplicated() {
      for await (const item of source) {
        if (store.check(key(item))) yield item;
        else onDuplicate?.(item);
      }
    })();
}

/**
 * Groups items into batches with a {@link BatchAccumulator}: sealed at
 * `maxItems`, at `maxBytes`, or `lingerMs` after a batch's first item
 * (Kafka's `batch.size` and `linger.ms`). The source is pulled concurrently,
 * so `lingerMs` fires while a slow source waits; at most `maxPending` sealed
 * batches are buffered.
 *
 * When the source throws, the batches already formed are yielded first, then
 * the error. A consumer's `break` closes the source and clears every timer.
 * @param options - see {@link BatchOptions}.
 * @returns an operator yielding `T[]` batches in sealing order.
 * @throws TypeError or RangeError for bad options (at the call).
 */
export function batch<T>(options?: BatchOptions<T>): Operator<T, T[]> {
  // Validate now, at the call: a throwaway accumulator checks every option (errors name `batch`).
  v.within('batch', '', () => new BatchAccumulator<T>(options));
  return (source) => batched(source, options);
}

/** The generator `batch()` returns (one function for every call, so V8 sees one shape of generator). */
async function* batched<T>(source: Source<T>, options: BatchOptions<T> | undefined): AsyncGenerator<T[]> {
  const accumulator = new BatchAccumulator<T>(options);
  const iterator = toAsyncIterator(source);
  const stop = new AbortController();
  let failure: { error: unknown } | undefined;
  const batches = accumulator[Symbol.asyncIterator]();
  const pumping = accumulator.addAll({ [Symbol.asyncIterator]: () => iterator }, { signal: stop.signal }).then(
    () => accumulator.close(),
    (error: unknown) => {
      if (!stop.signal.aborted) failure = { error };
      return accumulator.close();
    },
  );
  try {
    for (;;) {
      const next = await batches.next();
      if (next.done) break;
      yield next.value;
    }
    await pumping;
    if (failure) throw failure.error;
  } finally {
    // Normal end, error or the consumer's break: stop the pump, clear timers, close the source.
    stop.abort();
    void batches.return?.();
    void accumulator.close();
    closeQuietly(iterator);
  }
}

/** Options of the {@link throttle} operator. */
export interface ThrottleOptions<T> {
  /** Tokens each item costs: a number, or a function of the item. @default 1 */
  readonly cost?: number | ((item: T) => number);
}

/**
 * Passes items on no faster than a token bucket allows (one token per item,
 * or `cost`). Given bucket options, it makes its own `TokenBucket`; given a
 * bucket, it shares it.
 * @param limit - a `TokenBucket` (any `RateLimiter`), or `{ ratePerSecond, burst, clock }`.
 * @param options - `cost` per item.
 * @returns an operator yielding the same items, paced.
 * @throws TypeError or RangeError for bad arguments (at the call); the operator's
 *   iteration rejects with the bucket's RangeError when an item's cost exceeds its burst.
 */
export function throttle<T>(
  limit: RateLimiter | (RateLimitInput & { readonly clock?: Clock }),
  options?: ThrottleOptions<T>,
): Operator<T, T> {
  const part = 'throttle';
  const clock =
    typeof limit === 'object' && limit !== null && 'clock' in limit ? v.clock<Clock>(part, limit.clock, systemClock) : systemClock;
  const bucket = toRateLimiter(part, 'limit', limit, clock, THROTTLE_LIMIT_KEYS);
  const o = v.options<ThrottleOptions<T>>(part, options, THROTTLE_KEYS);
  const cost = o.cost;
  if (typeof cost === 'number') v.number(part, 'cost', cost, 'positive');
  else if (cost !== undefined) v.requiredFn(part, 'cost', cost);
  const costOf = (item: T): number => (cost === undefined ? 1 : typeof cost === 'number' ? cost : cost(item));
  // Hand-written rather than a generator: a `return()` that arrives while a token is
  // awaited (a concurrent puller such as batch() stopping) must abort that wait at once.
  return (source) => {
    const upstream = toAsyncIterator(source);
    let done = false;
    const waits = new Set<AbortController>();
    const finished = (): IteratorResult<T> => ({ value: undefined, done: true });
    const iterator: AsyncIterableIterator<T> = {
      next: async () => {
        if (done) return finished();
        let next: IteratorResult<T>;
        try {
          next = await upstream.next();
        } catch (error) {
          done = true; // the source failed: it has nothing more to give
          throw error;
        }
        if (next.done || done) {
          done = true;
          return finished();
        }
        const wait = new AbortController();
        waits.add(wait);
        try {
          await bucket.acquire(costOf(next.value), { signal: wait.signal });
        } catch (error) {
          if (done) return finished();
          // A cost above the bucket's burst, or a cost function that throws: this operator ends, and so does its
          // source (a pull-mode queue upstream must get its delivery back, not keep it in flight).
          done = true;
          for (const other of waits) other.abort();
          closeQuietly(upstream);
          throw error;
        } finally {
          waits.delete(wait);
        }
        return { value: next.value, done: false };
      },
      return: async () => {
        done = true;
        for (const wait of waits) wait.abort();
        closeQuietly(upstream);
        return finished();
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  };
}

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
  /** Calls running at once: a positive integer or `Infinity` (as p-map's). @default 1 */
  readonly concurrency?: number;
  /**
   * The most results running or finished but not yet taken by the consumer
   * (p-map's `pMapIterable` `backpressure`): calls go on ahead of a slow
   * consumer until this many are in hand. At least `concurrency`.
   * @default concurrency
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
  const concurrency = v.number(part, 'concurrency', o.concurrency, 'positive-integer-or-infinity', 1);
  const backpressure = v.number(part, 'backpressure', o.backpressure, 'positive-integer-or-infinity', concurrency);
  if (backpressure < concurrency) {
    throw new RangeError(`${part}: backpressure must be at least concurrency (${concurrency}), got ${backpressure}`);
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
          return fn(item, { signal, attempt, index: i });
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
          try {
            deadLetter.add({
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
          settle(i, { ok: false, error: own, dead: true });
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
      if (pulling || sourceDone || finished || running >= concurrency || running + results.size >= backpressure) return;
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

function checkSource(part: string, source: unknown): void {
  v.iterable(part, 'source', source);
}

function isAsyncIterable<T>(source: Source<T>): source is AsyncIterable<T> {
  return typeof (source as AsyncIterable<T>)[Symbol.asyncIterator] === 'function';
}

async function* fromSync<T>(source: Iterable<T>): AsyncGenerator<T> {
  yield* source;
}

function toAsyncIterator<T>(source: Source<T>): AsyncIterator<T> {
  checkSource('operator', source);
  return isAsyncIterable(source) ? source[Symbol.asyncIterator]() : fromSync(source)[Symbol.asyncIterator]();
}
