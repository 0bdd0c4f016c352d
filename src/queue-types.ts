import type { Clock } from './clock.js';
import type { DeadLetterEntry, DeadLetterStore, DeathHistory } from './dead-letter.js';
import type { AsyncDedupeStore, DedupeKey, DedupeStore } from './deduper.js';
import type { Classify, defaultClassify } from './limits/classify.js';
import type { ConcurrencyLimit } from './limits/limit.js';
import type { RetryPolicy } from './retry.js';
import type { KeyedTokenBucket } from './keyed-token-bucket.js';
import type { RateLimiter, RateLimitInput, TokenBucketOptions } from './token-bucket.js';

/**
 * What a {@link Queue} does when `capacity` waiting items are reached:
 * - `'block'` — `push` waits for room (`tryPush` returns `undefined`);
 * - `'reject'` — `push` rejects, `tryPush` throws, with `QueueFullError`;
 * - `'drop-oldest'` — the oldest waiting item is dead-lettered (`'maxlen'`) to make room;
 * - `'drop-newest'` — the incoming item is dead-lettered (`'maxlen'`); its receipt says `dropped: true`.
 */
export type Overflow = 'block' | 'reject' | 'drop-oldest' | 'drop-newest';

/** A message group key, as SQS FIFO's `MessageGroupId`. */
export type GroupKey = string | number;

/** What a handler is told about the attempt it runs. */
export interface HandlerContext {
  /** The item's id (its push `id`, or one the queue generated). */
  readonly id: string;
  /** This attempt's number, from 1. */
  readonly attempt: number;
  /**
   * Aborts when the attempt passes `visibilityTimeoutMs` (reason: a
   * `TimeoutError`). Created on first access, so handlers that ignore it pay nothing.
   */
  readonly signal: AbortSignal;
  /** The item's message group (`groupBy(item)`), when the queue groups. */
  readonly key: GroupKey | undefined;
}

/**
 * Handles one item. Return (or resolve) to complete it; throw (or reject) to
 * fail the attempt; throw `RejectError` to dead-letter it at once.
 */
export type Handler<T, R> = (item: T, context: HandlerContext) => R | PromiseLike<R>;

/** Queue deduplication by a key taken from each item. */
export interface QueueDedupeOptions<T> {
  /** The item's idempotency key. A push `id`, when given, is used instead. */
  readonly key: (item: T) => DedupeKey;
  /** How long a key stays a duplicate after first sight, in ms. @default 300000 (SQS FIFO) */
  readonly windowMs?: number;
  /** The most keys remembered (LRU). @default 100000 */
  readonly maxKeys?: number;
  /**
   * What a push of a key that is live does:
   * - `'drop'` — it is a duplicate: not accepted; its `submit` shares the
   *   live item's outcome (SQS FIFO's deduplication);
   * - `'replace'` — debounce: when the live item still waits, the new item
   *   takes its place (its position, priority, group, delay and id; the
   *   older item is dropped) and both pushes' `submit`s settle with the
   *   outcome of the one that runs. Counted in `duplicates` (the push added
   *   no item) and in `replaced`; the receipt says `replaced: true`. While
   *   the live item runs, the push is a duplicate as with `'drop'`.
   * @default 'drop'
   */
  readonly mode?: 'drop' | 'replace';
}

/** Options of {@link Queue}. */
export interface QueueOptions<T, R> {
  /** Handles each item (push mode). Give it here or later with `process()`; omit both for pull mode. */
  readonly handler?: Handler<T, R>;
  /**
   * Handler calls (or unacked deliveries) at once: a positive integer or
   * `Infinity`, or a {@link ConcurrencyLimit} (`AimdLimit`, `Gradient2Limit`,
   * `VegasLimit`, or your own) that the queue feeds a sample per settled
   * attempt (see `classify`) and follows live. Netflix concurrency-limits'
   * `SimpleLimiter`.
   * @default 1
   */
  readonly concurrency?: number | ConcurrencyLimit;
  /**
   * How a settled attempt counts for the concurrency limit and the rate
   * limiters that learn (`AdaptiveTokenBucket`): `'success'`, `'dropped'`
   * (back off) or `'ignore'` (no sample). Called only when something learns.
   * @default {@link defaultClassify}: 429/503, a `retryAfterMs` and timeouts are dropped; `RejectError` and other errors ignored
   */
  readonly classify?: Classify<R>;
  /**
   * What an error carrying `retryAfterMs` (HTTP `Retry-After`) holds back:
   * `'item'` only that item's retry (it waits at least that long); `'queue'`
   * every start, as {@link Queue.pauseFor} — the server asked the client,
   * not one request, to wait (bottleneck's and Bull's "pause after a 429").
   * @default 'item'
   */
  readonly retryAfter?: 'item' | 'queue';
  /** The most waiting items (delayed included, in flight not): a positive integer or `Infinity`. @default Infinity */
  readonly capacity?: number;
  /** What happens at capacity; see {@link Overflow}. @default 'block' */
  readonly overflow?: Overflow;
  /**
   * Retry failed attempts with backoff. Without it an item gets one attempt.
   * `maxAttempts` defaults to 3 when `retry` is given.
   */
  readonly retry?: RetryPolicy;
  /**
   * Where items go that cannot be handled.
   * @default a new `DeadLetter` of its own (see `queue.deadLetter`), which keeps
   *   the newest 10 000 entries and evicts the oldest (`stats.deadLetterEvicted`
   *   counts them): give one with a larger `capacity` to keep more.
   */
  readonly deadLetter?: DeadLetterStore<T>;
  /**
   * Time limit of an attempt (or an unacked delivery), in ms (a positive
   * number; delays past 2^31 − 1 ms are chained), as SQS's visibility
   * timeout: past it the handler's `signal` aborts, the attempt fails with
   * `TimeoutError` and its concurrency slot is freed.
   * @default none: an attempt may run as long as it likes
   */
  readonly visibilityTimeoutMs?: number;
  /**
   * Time to live in ms (a positive number), from `push` until the first
   * attempt starts; past it the item is dead-lettered `'expired'`, and a
   * `submit` of it rejects with a `TimeoutError` carrying this TTL.
   * @default none: items wait as long as it takes
   */
  readonly ttlMs?: number;
  /**
   * The item's message group: FIFO per group, at most `groupConcurrency` in
   * flight per group (SQS FIFO's `MessageGroupId`). `undefined` puts the item
   * in no group (it runs as in a queue without `groupBy`).
   */
  readonly groupBy?: (item: T) => GroupKey | undefined;
  /**
   * Items of one group holding a slot (ready or in flight) at once: a
   * positive integer or `Infinity`, or a function of the group's key (asked
   * once per group, when it forms: per-tenant limits). Live through
   * `queue.groupConcurrency`. A busy group never blocks the others.
   * @default 1
   */
  readonly groupConcurrency?: number | ((key: GroupKey) => number);
  /**
   * A rate limit per message group: `{ ratePerSecond, burst }` (a bucket per
   * group, in one {@link KeyedTokenBucket}), or a function giving a group's
   * {@link RateLimiter} (asked once per group, when it forms). An item of a
   * group takes one of its group's tokens before it may start; a group out of
   * tokens waits on its own, and never delays another group or an item
   * without a group. BullMQ Pro's group rate limit.
   */
  readonly groupRateLimit?: Omit<TokenBucketOptions, 'clock' | 'initialTokens'> | ((key: GroupKey) => RateLimiter);
  /**
   * Drop duplicates: key options, or a `Deduper` (then only pushes with an
   * `id` are checked), or a store shared by many processes
   * (`AsyncDedupeStore`: `sluice/redis`'s `RedisDeduper`), asked before
   * `push` and `submit` accept an item — a duplicate of an item still live
   * then rejects with DuplicateError rather than sharing its outcome, and
   * `tryPush`, which cannot wait, refuses a push with a dedupe key.
   */
  readonly dedupe?: QueueDedupeOptions<T> | DedupeStore | AsyncDedupeStore;
  /**
   * A rate limit acquired (one token) before each handler start or delivery;
   * an array of them (per second and per hour; global and per endpoint):
   * an attempt starts when every one grants, and no token is taken from one
   * while another refuses. A limiter with `onSample` (an
   * `AdaptiveTokenBucket`) gets a sample per settled attempt.
   */
  readonly rateLimit?: RateLimitInput | readonly RateLimitInput[];
  /** Start handling at once; with `false` the queue starts paused until `resume()`. @default true */
  readonly autoStart?: boolean;
  /**
   * Keep figures for {@link Queue.metrics} over a sliding window: rates
   * (every item counted), wait and run quantiles and Little's law. Every
   * attempt is timed while pushes average at most one per ms over the last
   * 64 to 128 ms (bursts below that are timed whole); faster, one in
   * `sampleEvery` on a random stride (reading the clock twice per item would cost a no-op queue
   * half its speed). Off, the queue records nothing.
   * @default false
   */
  readonly metrics?:
    | boolean
    | {
        /** The sliding window, ms. @default 60000 */
        readonly windowMs?: number;
        /** Above one push per ms, time one attempt in this many, on a random stride (1: every attempt). @default 64 */
        readonly sampleEvery?: number;
      };
  /** A name for dead-letter entries' `source`. @default 'queue' */
  readonly name?: string;
  /** Source of time for delays, retries, TTLs and visibility timeouts. @default systemClock */
  readonly clock?: Clock;
}

/** Options of {@link Queue.push}. */
export interface PushOptions {
  /** Higher runs first; FIFO among equals. @default 0 */
  readonly priority?: number;
  /** Wait this many ms before the item becomes available (SQS `DelaySeconds`). @default 0 */
  readonly delayMs?: number;
  /** This item's time to live in ms (a positive number), overriding the queue's `ttlMs`. @default the queue's `ttlMs` */
  readonly ttlMs?: number;
  /** The item's id; also its dedupe key when the queue dedupes. @default generated */
  readonly id?: string;
  /**
   * The item's message group, as SQS FIFO's per-message `MessageGroupId`:
   * FIFO within it, at most `groupConcurrency` of it in flight. Overrides
   * `groupBy`; a queue without `groupBy` groups the items pushed with one.
   * @default `groupBy(item)`, or none
   */
  readonly group?: GroupKey;
  /**
   * Time limit per attempt of this item in ms (a positive number),
   * overriding the queue's `visibilityTimeoutMs`: at the limit the attempt's
   * `signal` aborts with a `TimeoutError` and the attempt counts as failed
   * (retried or dead-lettered as any failure). p-queue's per-task `timeout`.
   * @default the queue's `visibilityTimeoutMs` (none unless given)
   */
  readonly timeoutMs?: number;
  /**
   * Cancels the push and then the item, as `cancel(id, signal.reason)`
   * would: while the push waits for room (`overflow: 'block'`) it rejects
   * with `signal.reason`; once accepted, an item that waits leaves and one
   * that runs has its `signal` aborted and is not retried (counted
   * `cancelled`; its `submit` rejects with the reason). Watched until the
   * item ends (p-queue's per-task `signal`).
   */
  readonly signal?: AbortSignal;
  /**
   * The item's earlier death history (what `DeadLetter.redrive` passes): if
   * it is dead-lettered again, its new entry continues these deaths and
   * keeps this `firstSeenAt`, whatever the item's type.
   */
  readonly history?: DeathHistory;
}

/** What {@link Queue.push} resolves with once the item is accepted. */
export interface Receipt {
  /** The item's id. */
  readonly id: string;
  /** True when the item was a duplicate: it will not run. */
  readonly duplicate: boolean;
  /** True when `overflow: 'drop-newest'` dead-lettered it at once. */
  readonly dropped: boolean;
  /** True when it took the place of a waiting item with its dedupe key (`dedupe.mode: 'replace'`); `duplicate` is true too. */
  readonly replaced: boolean;
}

/**
 * Counters of a {@link Queue}. At every moment
 * `accepted = completed + deadLettered + returned + cancelled + waiting + inFlight`,
 * and pushes = `accepted + duplicates`.
 */
export interface QueueStats {
  /** Items accepted (duplicates not included). */
  readonly accepted: number;
  /** Pushes refused as duplicates (those that replaced a waiting item included). */
  readonly duplicates: number;
  /** Of `duplicates`, pushes whose item took the place of a waiting one with its key (`dedupe.mode: 'replace'`). */
  readonly replaced: number;
  /** Items handled successfully. */
  readonly completed: number;
  /** Failed attempts (an item can fail several times). */
  readonly failed: number;
  /** Retries scheduled. */
  readonly retried: number;
  /** Items handed to the dead letter (refused ones included: see `deadLetterRefused`). */
  readonly deadLettered: number;
  /**
   * Of `deadLettered`, items the dead letter refused (a `DeadLetter` with
   * `overflow: 'reject'` when full, or a store that threw): stored nowhere;
   * each refusal was reported as an `'error'` event (the store's error).
   */
  readonly deadLetterRefused: number;
  /**
   * Entries the queue's own dead letter evicted to make room for newer ones
   * (its default `capacity` is 10 000): dead-lettered, no longer held. Always
   * 0 for a dead letter given in the options, whose own `stats.evicted` counts them.
   */
  readonly deadLetterEvicted: number;
  /** Items handed back by `close({ drain: false })` or `clear()`. */
  readonly returned: number;
  /** Items cancelled (`cancel(id)`, or an aborted push `signal`): ones that waited, and ones that ran once their attempt settled. */
  readonly cancelled: number;
  /** Items waiting, delayed and retry-pending included. */
  readonly waiting: number;
  /** Attempts running (or deliveries unacked). */
  readonly inFlight: number;
}

/** What events tell about an attempt. */
export interface AttemptInfo {
  /** The item's id. */
  readonly id: string;
  /** The attempt's number, from 1. */
  readonly attempt: number;
  /** When the item was accepted (ms, the queue's clock). */
  readonly enqueuedAt: number;
  /**
   * When this attempt started (ms, the queue's clock). Read only while the
   * queue has a listener or `metrics` on: `NaN` for an attempt that started
   * before the first listener was added.
   */
  readonly startedAt: number;
  /**
   * Time in the queue before this attempt, ms: since the push for the first
   * attempt (its `delayMs` included), since the last attempt ended for a
   * retry (its backoff included). Kept apart from `runMs`.
   */
  readonly waitMs: number;
}

/** Quantiles of durations over a metrics window, in ms, from a log-linear histogram (within 1/32 of the exact values). */
export interface Quantiles {
  /** The median. */
  readonly p50: number;
  /** The 90th percentile. */
  readonly p90: number;
  /** The 99th percentile. */
  readonly p99: number;
  /** The largest, exact. */
  readonly max: number;
  /** The mean, exact. */
  readonly mean: number;
  /** How many attempts the figures stand for: each timed one, or `sampleEvery` for each sampled one above one push per ms. */
  readonly count: number;
}

/** Little's law over a metrics window: L = λW in a steady state. */
export interface LittlesLaw {
  /** The number waiting, averaged over the window's time (measured). */
  readonly L: number;
  /** Arrivals per second. */
  readonly lambda: number;
  /** The mean wait, s. */
  readonly W: number;
  /** λ × W: what L should be. */
  readonly lambdaW: number;
  /** |L − λW| / L (1 when L is 0 and λW is not; 0 when both are). */
  readonly relativeError: number;
}

/**
 * A queue's figures over its metrics window ({@link Queue.metrics}): rates
 * per second, wait and run time quantiles, and Little's law (L = λW: the
 * number waiting, on average, equals the arrival rate times the mean wait).
 */
export interface QueueMetrics {
  /** The time the figures cover, ms: the window (`metrics.windowMs`), or less while the queue is younger. */
  readonly windowMs: number;
  /** Items accepted per second. */
  readonly arrivalRate: number;
  /** Items completed per second. */
  readonly throughput: number;
  /** Attempts failed per second (retried or not). */
  readonly failureRate: number;
  /** Time in the queue before each attempt that started in the window (see {@link AttemptInfo.waitMs}). */
  readonly waitMs: Quantiles;
  /** Run time of each attempt that settled in the window. */
  readonly runMs: Quantiles;
  /** Items waiting now. */
  readonly waiting: number;
  /** Attempts in flight now. */
  readonly inFlight: number;
  /** The concurrency in force now (a limit object's, when the queue follows one). */
  readonly concurrencyLimit: number;
  /**
   * Little's law over the window: `L` the number waiting, averaged over
   * time (measured); `lambda` arrivals per second; `W` the mean wait in s;
   * `lambdaW` their product; `relativeError` = |L − λW| / L. They agree in
   * a steady state; a queue that grows or drains in the window shows it.
   */
  readonly littlesLaw: LittlesLaw;
}

/** What the `'completed'` and `'failed'` events tell: the attempt's timing too. */
export interface SettledInfo extends AttemptInfo {
  /** How long the attempt ran, start to settle, ms. */
  readonly runMs: number;
}

/** What the `'enqueued'` event tells. */
export interface EnqueuedInfo {
  /** The item's id (its receipt's). */
  readonly id: string;
  /** When it was accepted (ms, the queue's clock). */
  readonly enqueuedAt: number;
}

/** What the `'cancelled'` event tells. */
export interface CancelledInfo {
  /** The item's id. */
  readonly id: string;
  /** Its attempts so far (0: it never started). */
  readonly attempt: number;
  /** When the item was accepted (ms, the queue's clock). */
  readonly enqueuedAt: number;
}

/** What the `'failed'` event tells. */
export interface FailedInfo extends SettledInfo {
  /** Whether another attempt is scheduled. */
  readonly willRetry: boolean;
}

/** The events of a {@link Queue}, as eventemitter3 tuples. */
export interface QueueEvents<T, R> {
  /** An item was accepted (not a duplicate, not dropped), told within the push that offered it. */
  enqueued: [item: T, info: EnqueuedInfo];
  /** An attempt started. */
  active: [item: T, info: AttemptInfo];
  /**
   * An item was handled: `result` is the handler's result. In pull mode an
   * `ack` carries no result, so `result` is `undefined` there (declare a
   * pull-mode queue's `R` as `void` or leave it `unknown`).
   */
  completed: [item: T, result: R, info: SettledInfo];
  /** An attempt failed. */
  failed: [item: T, error: unknown, info: FailedInfo];
  /** An item was dead-lettered. */
  'dead-lettered': [entry: DeadLetterEntry<T>];
  /**
   * An item was cancelled (`cancel(id)`, or its push's `signal` aborted):
   * at once when it waited, when its attempt settled when it ran.
   * `attempt` is 0 for an item that never started.
   */
  cancelled: [item: T, reason: unknown, info: CancelledInfo];
  /** Nothing is waiting or in flight any more. */
  idle: [];
  /**
   * A listener threw; or the queue's own machinery failed: the dead letter
   * refused an entry, `retryIf` or the backoff threw, the rate limiter's
   * `acquire` rejected (the queue asks it again after a backoff of 100 ms
   * doubling to 30 s). With no `'error'` listener, the first error of the
   * machinery is shown with `console.warn` and later ones are not.
   */
  error: [error: unknown];
}

/** Options of {@link Queue.close}. */
export interface CloseOptions {
  /**
   * `true`: finish everything accepted, then resolve. `false`: hand back the
   * waiting items (in-flight attempts still settle). @default true
   */
  readonly drain?: boolean;
  /** Stops waiting for the drain; `close` rejects with `signal.reason` (the queue stays closed). */
  readonly signal?: AbortSignal;
}

/** What {@link Queue.close} resolves with. */
export interface CloseResult<T> {
  /** Items handed back (empty when draining). */
  readonly unprocessed: T[];
}

/** Options of {@link Delivery.nack}. */
export interface NackOptions {
  /** Make the item visible again after this many ms instead of the retry backoff. */
  readonly delayMs?: number;
}

/** A pull-mode delivery: an item lent to the consumer until `ack` or `nack`. */
export interface Delivery<T> {
  /** The item. */
  readonly item: T;
  /** The item's id. */
  readonly id: string;
  /** This delivery's attempt number, from 1. */
  readonly attempt: number;
  /** Aborts when the delivery lapses (`visibilityTimeoutMs`). */
  readonly signal: AbortSignal;
  /** The item's message group, when the queue groups. */
  readonly key: GroupKey | undefined;
  /**
   * Completes the item. Returns false when the delivery already lapsed or
   * was settled; also when the item was cancelled meanwhile (the ack then
   * ends it as cancelled).
   */
  ack(): boolean;
  /**
   * Fails this attempt: the item is retried (after `delayMs`, or the backoff)
   * or dead-lettered when out of attempts (`RejectError` dead-letters at once).
   * Returns false when the delivery already lapsed or was settled; also when
   * the item was cancelled meanwhile (the nack then ends it as cancelled).
   */
  nack(error?: unknown, options?: NackOptions): boolean;
}
