import { type Clock, systemClock } from '../clock.js';
import { DeadLetter, type DeadLetterStore, type DeathHistory } from '../dead-letter.js';
import type { AsyncDedupeStore, DedupeKey, DedupeStore } from '../deduper.js';
import { groupRateOptions, isDedupeStore, makeDeduper, toConcurrency, toDeadLetterStore, toRateLimits } from '../internal/inputs.js';
import { type ResolvedRetryPolicy, resolveRetryPolicy } from '../internal/retry-policy.js';
import * as v from '../internal/validate.js';
import type { GroupKey, Handler, Overflow, PushOptions, QueueDedupeOptions, QueueOptions } from '../queue-types.js';
import type { Classify } from '../limits/classify.js';
import type { ConcurrencyLimit, LimitSample } from '../limits/limit.js';
import { KeyedTokenBucket } from '../keyed-token-bucket.js';
import type { RateLimiter } from '../token-bucket.js';

/** The name errors and dead-letter messages give the part. */
export const PART = 'Queue';

/** The part whose options are being checked: `Queue`, or a part built on one (`TaskQueue`). */
let constructing = PART;

/**
 * Makes a queue on behalf of another part: its option and push errors name
 * that part (`TaskQueue: priority must be …`), as the user called it.
 */
export function constructAs<Q>(part: string, make: () => Q): Q {
  constructing = part;
  try {
    return v.within(part, '', make);
  } finally {
    constructing = PART;
  }
}

const OVERFLOWS: readonly Overflow[] = ['block', 'reject', 'drop-oldest', 'drop-newest'];
const RETRY_AFTER: readonly ('item' | 'queue')[] = ['item', 'queue'];
const QUEUE_KEYS = /* @__PURE__ */ v.knownKeys<QueueOptions<unknown, unknown>>({
  handler: true,
  concurrency: true,
  classify: true,
  retryAfter: true,
  capacity: true,
  overflow: true,
  retry: true,
  deadLetter: true,
  visibilityTimeoutMs: true,
  ttlMs: true,
  groupBy: true,
  groupConcurrency: true,
  groupRateLimit: true,
  dedupe: true,
  rateLimit: true,
  autoStart: true,
  metrics: true,
  name: true,
  clock: true,
});
const METRICS_KEYS = /* @__PURE__ */ v.knownKeys<{ windowMs?: number; sampleEvery?: number }>({ windowMs: true, sampleEvery: true });
const DEDUPE_KEYS = /* @__PURE__ */ v.knownKeys<QueueDedupeOptions<unknown>>({ key: true, windowMs: true, maxKeys: true, mode: true });
const DEDUPE_MODES: readonly ('drop' | 'replace')[] = ['drop', 'replace'];
const PUSH_KEYS = /* @__PURE__ */ v.knownKeys<PushOptions>({
  priority: true,
  delayMs: true,
  ttlMs: true,
  id: true,
  group: true,
  timeoutMs: true,
  signal: true,
  history: true,
});

/** No retries: one attempt. */
const ONE_ATTEMPT: ResolvedRetryPolicy = { maxAttempts: 1, backoff: () => 0, retryIf: undefined };

/** A queue's options, checked once and resolved to their defaults (see {@link QueueOptions}). */
export interface QueueConfig<T, R> {
  readonly clock: Clock;
  readonly handler: Handler<T, R> | undefined;
  readonly concurrency: number;
  /** The limit object `concurrency` follows, when one was given. */
  readonly limit: ConcurrencyLimit | undefined;
  readonly classify: Classify<R> | undefined;
  readonly retryAfter: 'item' | 'queue';
  readonly capacity: number;
  readonly overflow: Overflow;
  readonly policy: ResolvedRetryPolicy;
  readonly deadLetter: DeadLetterStore<T>;
  /** The dead letter the queue made for itself, when none was given. */
  readonly ownDeadLetter: DeadLetter<T> | undefined;
  readonly visibilityTimeoutMs: number | undefined;
  readonly ttlMs: number | undefined;
  readonly groupBy: ((item: T) => GroupKey | undefined) | undefined;
  readonly groupConcurrency: number | ((key: GroupKey) => number);
  /** A group's rate limiter, when groups have one (`groupRateLimit`). */
  readonly groupRateLimit: ((key: GroupKey) => RateLimiter) | undefined;
  /** Where dedupe keys are remembered, when the queue dedupes. */
  readonly dedupeStore: DedupeStore | AsyncDedupeStore | undefined;
  /** What a push of a live key does (`dedupe.mode`). */
  readonly dedupeMode: 'drop' | 'replace';
  /** The key of an item pushed without an `id` (`dedupe.key`); none when a store was given. */
  readonly dedupeKey: ((item: T) => DedupeKey) | undefined;
  readonly rateLimit: RateLimiter | undefined;
  /** The rate limiters that learn from samples (`onSample`). */
  readonly learners: readonly { onSample(sample: LimitSample): void }[];
  /** Whether settled attempts are sampled (a limit object, or a limiter that learns): every attempt then needs a record. */
  readonly sampling: boolean;
  readonly autoStart: boolean;
  /** The metrics window (ms) when `metrics` is on, and one attempt in how many is timed. */
  readonly metricsWindowMs: number | undefined;
  readonly metricsSampleEvery: number;
  readonly name: string;
  /** The part the user called (`Queue`, or `TaskQueue`), named in push errors. */
  readonly part: string;
  /** Whether a push without options needs no record: no `groupBy`, `dedupe` or `ttlMs`, and not {@link QueueConfig.tracksOldest}. */
  readonly plainPushes: boolean;
  /**
   * Whether the waiting items are also kept by push order, to find the
   * oldest in O(log n): a bounded `'drop-oldest'` queue. Every item then has
   * a record (the heap holds records).
   */
  readonly tracksOldest: boolean;
}

/**
 * Checks a queue's options and fills their defaults.
 * @throws TypeError or RangeError as {@link Queue}'s constructor documents.
 */
export function resolveOptions<T, R>(options: QueueOptions<T, R> | undefined): QueueConfig<T, R> {
  // Checked in the order the options are documented, so the first bad one is the one reported.
  const o = v.options<QueueOptions<T, R>>(PART, options, QUEUE_KEYS);
  const clock = v.clock(PART, o.clock, systemClock);
  const handler = v.fn<Handler<T, R>>(PART, 'handler', o.handler);
  const { concurrency, limit } = toConcurrency(PART, 'concurrency', o.concurrency, 1);
  const classify = v.fn<Classify<R>>(PART, 'classify', o.classify);
  const retryAfter = v.choice(PART, 'retryAfter', o.retryAfter, RETRY_AFTER, 'item');
  const capacity = v.number(PART, 'capacity', o.capacity, 'positive-integer-or-infinity', Infinity);
  const overflow = v.choice(PART, 'overflow', o.overflow, OVERFLOWS, 'block');
  const policy = o.retry === undefined ? ONE_ATTEMPT : resolveRetryPolicy(PART, o.retry, 3);
  const given = toDeadLetterStore<T>(PART, o.deadLetter);
  const ownDeadLetter = given === undefined ? new DeadLetter<T>({ clock }) : undefined;
  const deadLetter = given ?? ownDeadLetter!;
  const visibilityTimeoutMs = v.number(PART, 'visibilityTimeoutMs', o.visibilityTimeoutMs, 'positive');
  const ttlMs = v.number(PART, 'ttlMs', o.ttlMs, 'positive');
  const groupBy = v.fn<(item: T) => GroupKey | undefined>(PART, 'groupBy', o.groupBy);
  const groupConcurrency =
    typeof o.groupConcurrency === 'function'
      ? o.groupConcurrency
      : v.number(PART, 'groupConcurrency', o.groupConcurrency, 'positive-integer-or-infinity', 1);
  const groupRateLimit = toGroupRateLimit(o.groupRateLimit, clock);
  let dedupeStore: DedupeStore | AsyncDedupeStore | undefined;
  let dedupeKey: ((item: T) => DedupeKey) | undefined;
  let dedupeMode: 'drop' | 'replace' = 'drop';
  const dedupe = o.dedupe;
  if (isDedupeStore(dedupe)) dedupeStore = dedupe;
  else if (typeof dedupe === 'object' && dedupe !== null) {
    const d = v.options<QueueDedupeOptions<T>>(PART, dedupe, DEDUPE_KEYS, 'dedupe');
    dedupeKey = v.requiredFn<(item: T) => DedupeKey>(PART, 'dedupe.key', d.key);
    dedupeMode = v.choice(PART, 'dedupe.mode', d.mode, DEDUPE_MODES, 'drop');
    dedupeStore = makeDeduper(PART, 'dedupe', d, clock);
  } else if (dedupe !== undefined) {
    throw new TypeError(`${PART}: dedupe must be { key, windowMs?, maxKeys? } or a Deduper, got ${v.show(dedupe)}`);
  }
  const { limiter: rateLimit, learners } = toRateLimits(PART, 'rateLimit', o.rateLimit, clock);
  const sampling = limit !== undefined || learners.length > 0;
  const tracksOldest = overflow === 'drop-oldest' && capacity !== Infinity;
  return {
    part: constructing,
    clock,
    handler,
    concurrency,
    limit,
    classify,
    retryAfter,
    capacity,
    overflow,
    policy,
    deadLetter,
    ownDeadLetter,
    visibilityTimeoutMs,
    ttlMs,
    groupBy,
    groupConcurrency,
    groupRateLimit,
    dedupeStore,
    dedupeMode,
    dedupeKey,
    rateLimit,
    learners,
    sampling,
    autoStart: v.boolean(PART, 'autoStart', o.autoStart, true),
    ...metricsOptions(o.metrics),
    name: v.string(PART, 'name', o.name, 'queue'),
    plainPushes: groupBy === undefined && dedupeStore === undefined && ttlMs === undefined && !tracksOldest && !sampling,
    tracksOldest,
  };
}

/** The `metrics` option: the window in ms (`undefined` when off), and one attempt in how many is timed. */
function metricsOptions(value: unknown): { metricsWindowMs: number | undefined; metricsSampleEvery: number } {
  if (value === undefined || value === false) return { metricsWindowMs: undefined, metricsSampleEvery: 1 };
  if (value === true) return { metricsWindowMs: 60_000, metricsSampleEvery: 64 };
  if (typeof value !== 'object' || value === null) {
    throw new TypeError(`${PART}: metrics must be a boolean or { windowMs, sampleEvery }, got ${v.show(value)}`);
  }
  const o = v.options<{ windowMs?: number; sampleEvery?: number }>(PART, value, METRICS_KEYS, 'metrics');
  return {
    metricsWindowMs: v.number(PART, 'metrics.windowMs', o.windowMs, 'positive', 60_000),
    metricsSampleEvery: v.number(PART, 'metrics.sampleEvery', o.sampleEvery, 'positive-integer', 64),
  };
}

/** A `groupRateLimit` option as a function of the group's key: bucket options become a {@link KeyedTokenBucket}. */
function toGroupRateLimit(value: unknown, clock: Clock): ((key: GroupKey) => RateLimiter) | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'function') return value as (key: GroupKey) => RateLimiter;
  const o = groupRateOptions(PART, value);
  const keyed = v.within(
    PART,
    'groupRateLimit',
    () =>
      new KeyedTokenBucket({
        ratePerSecond: o.ratePerSecond,
        ...(o.burst !== undefined ? { burst: o.burst } : {}),
        maxKeys: Infinity,
        clock,
      }),
  );
  if (keyed.burst < 1)
    throw new RangeError(`${PART}: groupRateLimit.burst must be at least 1 (a start takes one token), got ${keyed.burst}`);
  return (key) => keyed.limiterFor(key);
}

/** A push's options checked, with the item's group and dedupe keys taken. */
export interface CheckedPush {
  readonly priority: number;
  readonly delayMs: number;
  readonly ttlMs: number | undefined;
  readonly id: string | undefined;
  /** Its attempts' time limit, when it has one of its own. */
  readonly timeoutMs: number | undefined;
  readonly signal: AbortSignal | undefined;
  readonly groupKey: GroupKey | undefined;
  readonly dedupeKey: DedupeKey | undefined;
  /** Its earlier death history (a redrive's). */
  readonly history: DeathHistory | undefined;
  /** Whether there is nothing to keep of the item but its priority: it may wait as a plain item (no record). */
  readonly onlyPriority: boolean;
}

/** A push without options into a queue whose pushes are plain ({@link QueueConfig.plainPushes}). */
export const NO_OPTIONS: CheckedPush = {
  priority: 0,
  delayMs: 0,
  ttlMs: undefined,
  id: undefined,
  timeoutMs: undefined,
  signal: undefined,
  groupKey: undefined,
  dedupeKey: undefined,
  history: undefined,
  onlyPriority: true,
};

/**
 * Checks a push's options and takes the item's keys (calls `groupBy` and `dedupe.key`).
 * @throws TypeError or RangeError for bad options or keys; whatever `groupBy` or `dedupe.key` throws.
 */
export function checkPush<T, R>(config: QueueConfig<T, R>, item: T, options: PushOptions | undefined): CheckedPush {
  if (options === undefined && config.plainPushes) return NO_OPTIONS;
  const o = v.options<PushOptions>(config.part, options, PUSH_KEYS);
  const priority = o.priority === undefined ? 0 : o.priority;
  if (typeof priority !== 'number') throw new TypeError(`${config.part}: priority must be a finite number, got ${v.show(priority)}`);
  if (!Number.isFinite(priority)) throw new RangeError(`${config.part}: priority must be a finite number, got ${v.show(priority)}`);
  const delayMs = v.number(config.part, 'delayMs', o.delayMs, 'non-negative', 0);
  const ttlMs = v.number(config.part, 'ttlMs', o.ttlMs, 'positive') ?? config.ttlMs;
  const id = v.string(config.part, 'id', o.id);
  const timeoutMs = v.number(config.part, 'timeoutMs', o.timeoutMs, 'positive');
  const signal = v.signal(config.part, 'signal', o.signal);
  let groupKey: GroupKey | undefined;
  if (o.group !== undefined) groupKey = v.key(config.part, 'group', o.group, false);
  else if (config.groupBy !== undefined) {
    const key = config.groupBy(item);
    if (key !== undefined) groupKey = v.key(config.part, 'groupBy', key, true);
  }
  // A push `id` is its dedupe key; otherwise `dedupe.key`'s, which must be one (as groupBy's and the dedupe()
  // operator's): a key function that returns nothing would turn dedupe off unseen. A Deduper given as `dedupe`
  // checks only pushes with an id.
  let dedupeKey: DedupeKey | undefined;
  if (config.dedupeStore !== undefined) {
    dedupeKey = id ?? (config.dedupeKey === undefined ? undefined : v.key(config.part, 'dedupe.key', config.dedupeKey(item), true));
  }
  const history = checkHistory(o.history);
  const onlyPriority =
    delayMs === 0 &&
    ttlMs === undefined &&
    id === undefined &&
    timeoutMs === undefined &&
    signal === undefined &&
    groupKey === undefined &&
    dedupeKey === undefined &&
    history === undefined;
  return { priority, delayMs, ttlMs, id, timeoutMs, signal, groupKey, dedupeKey, history, onlyPriority };
}

/** Checks a push's `history`: `{ deaths: DeathRecord[], firstSeenAt: finite number }`, or `undefined`. */
function checkHistory(history: unknown): DeathHistory | undefined {
  if (history === undefined) return undefined;
  const h = history as Partial<DeathHistory> | null;
  if (typeof h !== 'object' || h === null || !Array.isArray(h.deaths) || typeof h.firstSeenAt !== 'number') {
    throw new TypeError(`${PART}: history must be { deaths: DeathRecord[], firstSeenAt: number }, got ${v.show(history)}`);
  }
  if (!Number.isFinite(h.firstSeenAt))
    throw new RangeError(`${PART}: history.firstSeenAt must be a finite number, got ${v.show(h.firstSeenAt)}`);
  return h as DeathHistory;
}
