import { BatchAccumulator, type BatchOptions } from './batch-accumulator.js';
import { type Clock, systemClock } from './clock.js';
import type { AsyncDedupeStore, DedupeKey, DedupeStore } from './deduper.js';
import { closeQuietly } from './internal/iterators.js';
import * as v from './internal/validate.js';
import type { RateLimiter, RateLimitInput } from './token-bucket.js';
import { isDedupeStore, makeDeduper, toRateLimiter } from './internal/inputs.js';
import { checkSource, isAsyncIterable, fromSync, type Operator, type Source, toAsyncIterator } from './operators/source.js';

export type { Operator, Source } from './operators/source.js';
export type { MapConcurrentOptions, MapContext } from './operators/map-concurrent.js';
export { mapConcurrent } from './operators/map-concurrent.js';
export type { SourceItem } from './operators/transform.js';
export { filter, map, merge, tap } from './operators/transform.js';
export type { LateInfo, WindowKey, WindowOptions, WindowResult } from './operators/window.js';
export { window } from './operators/window.js';

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
 * `DedupeStore`, or an `AsyncDedupeStore` such as `sluice/redis`'s
 * `RedisDeduper`, whose answers are awaited), the items themselves are the keys.
 * @param options - key options, or a store.
 * @returns an operator yielding first sightings only, in order.
 * @throws TypeError or RangeError for bad options (at the call, not when iterated).
 */
export function dedupe<T>(options: DedupeOperatorOptions<T> | DedupeStore | AsyncDedupeStore): Operator<T, T> {
  const part = 'dedupe';
  let store: DedupeStore | AsyncDedupeStore;
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
        const first = store.check(key(item));
        // A shared store (RedisDeduper) answers later: its answer is awaited, item by item, in order.
        if (first === true || (first !== false && (await first))) yield item;
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
