import { type Clock, systemClock } from '../../clock.js';
import type { DedupeKey } from '../../deduper.js';
import { toConcurrency } from '../../internal/inputs.js';
import type { Classify } from '../../limits/classify.js';
import type { ConcurrencyLimit, LimitSample } from '../../limits/limit.js';
import type { RateLimitInput, TokenBucketOptions } from '../../token-bucket.js';
import { type ResolvedRetryPolicy, resolveRetryPolicy } from '../../internal/retry-policy.js';
import * as v from '../../internal/validate.js';
import type { GroupKey, Handler, Overflow, QueueStats } from '../../queue-types.js';
import type { RetryPolicy } from '../../retry.js';
import { RedisDeadLetter } from '../dead-letter.js';
import type { RedisPartOptions, Script } from '../send.js';
import type { QueueRateLimiter } from './grants.js';
import { QueueClosedError, QueueFullError } from '../../errors.js';
import { groupRateLimit, metricsWindow, rateLimits } from './limits.js';

/** The part's name in messages. @internal */
export const PART = 'RedisQueue';

const OVERFLOWS: readonly Overflow[] = ['block', 'reject', 'drop-oldest', 'drop-newest'];
const OPTION_KEYS = /* @__PURE__ */ v.knownKeys<RedisQueueOptions<unknown, unknown>>({
  client: true,
  name: true,
  prefix: true,
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
  autoStart: true,
  pollMs: true,
  rateLimit: true,
  commandTimeoutMs: true,
  clock: true,
  metrics: true,
});
const RETRY_AFTER: readonly ('item' | 'queue')[] = ['item', 'queue'];
const PUSH_KEYS = /* @__PURE__ */ v.knownKeys<RedisPushOptions>({
  delayMs: true,
  ttlMs: true,
  id: true,
  group: true,
  priority: true,
});
const DEDUPE_KEYS = /* @__PURE__ */ v.knownKeys<RedisQueueDedupeOptions<unknown>>({ key: true, windowMs: true, mode: true });
const DEDUPE_MODES: readonly ('drop' | 'replace')[] = ['drop', 'replace'];

/** How long a result waits in Redis for the `submit` that asked for it (its process may have died), ms. */
export const RESULT_TTL_MS = 3_600_000;

/** Deduplication of a {@link RedisQueue}, by a key taken from each item (or the push's `id`). */
export interface RedisQueueDedupeOptions<T> {
  /** The item's idempotency key. A push `id`, when given, is used instead. */
  readonly key: (item: T) => DedupeKey;
  /** How long a key stays a duplicate after first sight, ms (and always while its item waits or runs). @default 300000 (SQS FIFO) */
  readonly windowMs?: number;
  /**
   * What a push of a key that is live does, as Queue's `dedupe.mode`:
   * - `'drop'` — it is a duplicate, not accepted;
   * - `'replace'` — debounce: while the live item still waits (not yet read
   *   by a worker; a retry's backoff counts as waiting), this push's payload
   *   takes its place — its position, priority, group, delay and id kept —
   *   and every `submit` of either push, in any process, settles with the
   *   outcome of the one that runs. Counted in `duplicates` and `replaced`;
   *   the receipt says `replaced: true`. Once a worker has read it, the push
   *   is a duplicate as with `'drop'`. The payload of each keyed item is then
   *   kept apart from the stream (a stream entry cannot be rewritten), in
   *   `…:data`, and read with the item: a few more bytes and a hash read per item.
   * @default 'drop'
   */
  readonly mode?: 'drop' | 'replace';
}

/** Options of a {@link RedisQueue}: Queue's, and where it lives. */
export interface RedisQueueOptions<T, R> extends RedisPartOptions {
  /** The queue's name: every process naming it (with the same prefix) shares its items and counters. */
  readonly name: string;
  /** Prefix of its Redis keys. @default 'sluice:' */
  readonly prefix?: string;
  /** Handles an item in this process; without it (and until `process`), this process only pushes. */
  readonly handler?: Handler<T, R>;
  /**
   * Attempts this process runs at once: a positive integer or `Infinity`,
   * or a {@link ConcurrencyLimit} (`AimdLimit`, `Gradient2Limit`,
   * `VegasLimit`) fed a sample per attempt settled here and followed live,
   * as Queue's — each process learns its own limit, as each client of
   * Netflix concurrency-limits does.
   * @default 1
   */
  readonly concurrency?: number | ConcurrencyLimit;
  /**
   * How a settled attempt counts for the concurrency limit and the rate
   * limiters that learn, as Queue's `classify`.
   * @default defaultClassify: 429/503, a `retryAfterMs` and timeouts are dropped
   */
  readonly classify?: Classify<R>;
  /**
   * What an error carrying `retryAfterMs` (HTTP `Retry-After`) holds back,
   * as Queue's: `'item'` only that item's retry; `'queue'` every start in
   * this process, as {@link RedisQueue.pauseFor}.
   * @default 'item'
   */
  readonly retryAfter?: 'item' | 'queue';
  /** The most items waiting, in every process's count (delayed included, in flight not): a positive integer or `Infinity`. @default Infinity */
  readonly capacity?: number;
  /**
   * At capacity: `'block'` (push waits for room, asking Redis again every
   * `pollMs`), `'reject'` (`QueueFullError`), `'drop-newest'`, `'drop-oldest'`
   * (dead-lettered `'maxlen'`; the oldest ready item, else the first delayed one).
   * @default 'block'
   */
  readonly overflow?: Overflow;
  /** Retries with backoff, as Queue's; the backoff waits in Redis (any process's worker takes the retry). */
  readonly retry?: RetryPolicy;
  /**
   * Where items go that cannot be handled: a {@link RedisDeadLetter}, shared
   * by every process. In Redis Cluster it must share the queue's hash tag
   * (its `key` the queue's `name`), as the default does: an item leaves the
   * queue and enters the dead letter in one script run.
   * @default a RedisDeadLetter with the queue's name and prefix (capacity 10 000, evicting the oldest)
   */
  readonly deadLetter?: RedisDeadLetter<T>;
  /**
   * An attempt's time limit, ms, as SQS's visibility timeout: past it the
   * handler's `signal` aborts and the attempt fails with `TimeoutError`; an
   * item held by a process that stopped answering (killed, frozen, cut off)
   * for this long plus `pollMs` is taken back by another process's worker
   * (`XAUTOCLAIM`) and counts a failed attempt: it runs again with
   * `attempt + 1`, or is dead-lettered `'delivery_limit'` past `maxAttempts`.
   * @default 30000 (SQS's default): unlike Queue's, never unlimited — a
   *   killed worker's items must come back.
   */
  readonly visibilityTimeoutMs?: number;
  /** Time to live, ms, from `push` until the first attempt starts; past it the item is dead-lettered `'expired'`. @default none */
  readonly ttlMs?: number;
  /** Message groups: FIFO per group with one item in flight per group, across every process (SQS FIFO's `MessageGroupId`). */
  readonly groupBy?: (item: T) => GroupKey | undefined;
  /**
   * Items of one message group out at once — running, or waiting out a
   * retry's backoff — across every process: a positive integer or
   * `Infinity`, or a function of the group's key, as Queue's. They start
   * in the group's order; with more than one out they may end in any.
   * Each item keeps its group's limit from its push (a function is asked
   * then), so a limit that changes applies to items pushed after it.
   * @default 1 (SQS FIFO: one in flight per group)
   */
  readonly groupConcurrency?: number | ((key: GroupKey) => number);
  /**
   * A rate limit per message group, as Queue's: `{ ratePerSecond, burst }`
   * — a bucket per group in a {@link KeyedRedisTokenBucket} named after the
   * queue (`<name>:group-rate`), one rate for every process — or a function
   * giving a group's limiter (a `TokenBucket`: this process's own; a
   * `RedisTokenBucket`: shared), asked once per group (the newest 1 000
   * kept). A worker asks the group's limiter when it is about to start the
   * group's item; without a token the item goes back to the delayed set
   * for as long as the limiter says (nothing counted, its place in the
   * group kept), and the worker goes on with other items. BullMQ Pro's
   * group rate limit.
   */
  readonly groupRateLimit?: Omit<TokenBucketOptions, 'clock' | 'initialTokens'> | ((key: GroupKey) => GroupRateLimiter);
  /** Deduplication: a key is a duplicate while its item waits or runs, and for `windowMs` from first sight. */
  readonly dedupe?: RedisQueueDedupeOptions<T>;
  /** Start handling at once (when there is a handler). @default true */
  readonly autoStart?: boolean;
  /**
   * A rate limit of this process's starts: bucket options `{ ratePerSecond,
   * burst }` or a `TokenBucket` (this process's own rate), a
   * `RedisTokenBucket` (one rate for every worker that shares it), or an
   * array of them (an attempt starts once every one granted). A worker
   * holds a grant before it reads an item, so an item never waits for a
   * token while its visibility timeout runs; a grant taken while the queue
   * was empty is used by the next item, so starts may run ahead of the
   * limiter's timeline by one per worker (never more). Local limiters in an array
   * are taken together, none while another refuses (as Queue's); a shared
   * one is asked after them, so their tokens may be spent while it makes
   * the worker wait — the rate runs under, never over. A limiter with
   * `onSample` (an `AdaptiveTokenBucket`) gets a sample per attempt.
   */
  readonly rateLimit?: RateLimitInput | QueueRateLimiter | readonly (RateLimitInput | QueueRateLimiter)[];
  /**
   * Source of time for this process's own waits: the `pauseFor` hold, the
   * buckets made from `rateLimit` options, the concurrency limit's samples.
   * Delays, retries, TTLs and visibility timeouts are the server's (`TIME`)
   * and Node's timers: they are shared by every process.
   * @default systemClock
   */
  readonly clock?: Clock;
  /**
   * How often a worker process looks for delays and backoffs that are over
   * and for items whose visibility timeout lapsed, ms (it also looks when
   * the next delay it knows of is due). @default 250
   */
  readonly pollMs?: number;
  /**
   * Keep figures for {@link RedisQueue.metrics} over a sliding window, as
   * Queue's: rates and the number waiting from the counters in Redis (the
   * whole queue's), wait and run quantiles of the attempts run in this
   * process. Every attempt is timed (Queue's `sampleEvery` spares clock
   * reads that a round trip to Redis dwarfs). A worker reads the counters
   * once more per `pollMs` while it is on.
   * @default false
   */
  readonly metrics?:
    | boolean
    | {
        /** The sliding window, ms. @default 60000 */
        readonly windowMs?: number;
      };
}

/** A message group's rate limiter (see `groupRateLimit`): a `TokenBucket`, a `RedisTokenBucket`, or one of your own. */
export interface GroupRateLimiter {
  /** Takes `cost` tokens if there are that many now: true when it did. */
  tryAcquire(cost?: number): boolean | PromiseLike<boolean>;
  /** How long until `cost` tokens would be there, ms. */
  waitTime(cost?: number): number | PromiseLike<number>;
}

/** Options of {@link RedisQueue.push}. */
export interface RedisPushOptions {
  /** Wait this long before the item may start, ms (in Redis: any process's worker starts it). @default 0 */
  readonly delayMs?: number;
  /** This item's time to live, ms (overrides the queue's `ttlMs`). */
  readonly ttlMs?: number;
  /** The item's id (and dedupe key): a string. @default the next number of the queue's sequence, as a string */
  readonly id?: string;
  /** Its message group (overrides `groupBy`). */
  readonly group?: GroupKey;
  /**
   * Higher runs first, FIFO among equals (an integer). Each priority used
   * is a stream of its own that workers read highest first.
   * @default 0
   */
  readonly priority?: number;
}

/** An item read from the stream, as this process runs it. */
export interface Held {
  /** Its stream entry's id (what XACK takes). */
  readonly entry: string;
  readonly id: string;
  readonly data: string;
  readonly attempt: number;
  readonly pushedAt: number;
  /** When it became ready to run (ms, server time): its push, or the end of its last attempt. */
  readonly readyAt: number;
  readonly group: string | undefined;
  readonly deadline: number | undefined;
  readonly replyTo: string | undefined;
  /** Its dedupe key, when the queue dedupes. */
  readonly key: string | undefined;
  /** Its priority: 0 (the queue's stream) or its level stream's. */
  readonly priority: number;
  /** Its sequence number at push (a cancel applies to items pushed before it). */
  readonly seq: number;
  /** Its payload is kept apart (`dedupe.mode: 'replace'`): `data` is the latest only once read through a script. */
  readonly apart: boolean;
}

/** A RedisQueue's options, checked and resolved to their defaults. @internal */
export interface RedisQueueConfig<T, R> {
  readonly name: string;
  readonly prefix: string;
  readonly handler: Handler<T, R> | undefined;
  readonly concurrency: number;
  readonly limit: ConcurrencyLimit | undefined;
  readonly classify: Classify<R> | undefined;
  readonly retryAfter: 'item' | 'queue';
  readonly clock: Clock;
  readonly learners: readonly { onSample(sample: LimitSample): void }[];
  /** The metrics window (ms) when `metrics` is on. */
  readonly metricsWindowMs: number | undefined;
  readonly capacity: number;
  readonly overflow: Overflow;
  readonly policy: ResolvedRetryPolicy;
  readonly visibilityTimeoutMs: number;
  readonly ttlMs: number;
  readonly groupBy: ((item: T) => GroupKey | undefined) | undefined;
  readonly groupConcurrency: number | ((key: GroupKey) => number);
  readonly groupRateLimit: ((key: GroupKey) => GroupRateLimiter) | undefined;
  readonly dedupe: { readonly key: (item: T) => DedupeKey; readonly windowMs: number; readonly mode: 'drop' | 'replace' } | undefined;
  readonly autoStart: boolean;
  readonly pollMs: number;
  readonly commandTimeoutMs: number;
  readonly rateLimit: QueueRateLimiter | undefined;
}

/**
 * Checks a RedisQueue's options and fills their defaults.
 * @throws TypeError or RangeError for a bad option, named as `RedisQueue: …`.
 * @internal
 */
export function resolveOptions<T, R>(options: RedisQueueOptions<T, R>): RedisQueueConfig<T, R> {
  const o = v.options<RedisQueueOptions<T, R>>(PART, options, OPTION_KEYS);
  const name = v.string(PART, 'name', o.name);
  if (name === undefined || name === '') throw new TypeError(`${PART}: name must be a non-empty string, got ${v.show(o.name)}`);
  let dedupe: RedisQueueConfig<T, R>['dedupe'];
  if (o.dedupe !== undefined) {
    const d = v.options<RedisQueueDedupeOptions<T>>(PART, o.dedupe, DEDUPE_KEYS, 'dedupe');
    const key = v.fn<(item: T) => DedupeKey>(PART, 'dedupe.key', d.key);
    if (key === undefined) throw new TypeError(`${PART}: dedupe.key must be a function, got ${v.show(d.key)}`);
    dedupe = {
      key,
      windowMs: v.number(PART, 'dedupe.windowMs', d.windowMs, 'non-negative', 300_000),
      mode: v.choice(PART, 'dedupe.mode', d.mode, DEDUPE_MODES, 'drop'),
    };
  }
  const clock = v.clock(PART, o.clock, systemClock);
  const { concurrency, limit } = toConcurrency(PART, 'concurrency', o.concurrency, 1);
  const { limiter, learners } = rateLimits(o.rateLimit, clock);
  return {
    name,
    prefix: v.string(PART, 'prefix', o.prefix, 'sluice:'),
    handler: v.fn<Handler<T, R>>(PART, 'handler', o.handler),
    concurrency,
    limit,
    classify: v.fn<Classify<R>>(PART, 'classify', o.classify),
    retryAfter: v.choice(PART, 'retryAfter', o.retryAfter, RETRY_AFTER, 'item'),
    clock,
    learners,
    metricsWindowMs: metricsWindow(o.metrics),
    capacity: v.number(PART, 'capacity', o.capacity, 'positive-integer-or-infinity', Number.POSITIVE_INFINITY),
    overflow: v.choice(PART, 'overflow', o.overflow, OVERFLOWS, 'block'),
    policy: resolveRetryPolicy(PART, o.retry, o.retry === undefined ? 1 : 3),
    visibilityTimeoutMs: v.number(PART, 'visibilityTimeoutMs', o.visibilityTimeoutMs, 'positive', 30_000),
    ttlMs: v.number(PART, 'ttlMs', o.ttlMs, 'positive', 0),
    groupBy: v.fn<(item: T) => GroupKey | undefined>(PART, 'groupBy', o.groupBy),
    groupConcurrency:
      typeof o.groupConcurrency === 'function'
        ? o.groupConcurrency
        : v.number(PART, 'groupConcurrency', o.groupConcurrency, 'positive-integer-or-infinity', 1),
    groupRateLimit: groupRateLimit(o.groupRateLimit, options.client, name, o.prefix, o.commandTimeoutMs),
    dedupe,
    autoStart: v.boolean(PART, 'autoStart', o.autoStart, true),
    pollMs: v.number(PART, 'pollMs', o.pollMs, 'positive', 250),
    commandTimeoutMs: v.number(PART, 'commandTimeoutMs', o.commandTimeoutMs, 'positive', 5_000),
    rateLimit: limiter,
  };
}

/**
 * The entries of an XREADGROUP reply over one or more streams, in the
 * shapes the clients give it: `[[stream, entries], …]` (RESP2), `[stream,
 * entries]`, or `{ stream: entries, … }` (node-redis 5).
 * @internal
 */
export function entriesOf(reply: unknown): [string, string[]][] {
  if (reply === null || typeof reply !== 'object') return [];
  if (!Array.isArray(reply)) return Object.values(reply).flat() as [string, string[]][];
  if (reply.length === 0) return [];
  if (typeof reply[0] === 'string') return (reply[1] as [string, string[]][]) ?? [];
  return (reply as [string, [string, string[]][]][]).flatMap((stream) => stream[1] ?? []);
}

/** A stream entry as this process runs it. @internal */
export function held(entry: string, fields: readonly string[]): Held {
  const t: Record<string, string> = {};
  for (let i = 0; i < fields.length; i += 2) t[fields[i]!] = fields[i + 1]!;
  return {
    entry,
    id: t.i!,
    data: t.d!,
    attempt: Number(t.a) + 1,
    pushedAt: Number(t.e),
    readyAt: t.w === undefined ? Number(t.e) : Number(t.w),
    group: t.g,
    deadline: t.x === undefined ? undefined : Number(t.x),
    replyTo: t.r,
    key: t.k,
    priority: t.p === undefined ? 0 : Number(t.p),
    seq: Number(t.s ?? 0),
    apart: t.D !== undefined,
  };
}

/** The counters as the stats script replies them (HGETALL pairs and `inFlight`), as QueueStats. @internal */
export function statsOf(reply: unknown): QueueStats {
  const flat = reply as (string | number)[];
  const c: Record<string, number> = {};
  for (let i = 0; i < flat.length; i += 2) c[String(flat[i])] = Number(flat[i + 1]);
  const n = (k: string): number => c[k] ?? 0;
  const inFlight = n('inFlight');
  return {
    accepted: n('accepted'),
    duplicates: n('duplicates'),
    replaced: n('replaced'),
    completed: n('completed'),
    failed: n('failed'),
    retried: n('retried'),
    deadLettered: n('deadLettered'),
    deadLetterRefused: n('deadLetterRefused'),
    deadLetterEvicted: n('deadLetterEvicted'),
    returned: n('returned'),
    cancelled: n('cancelled'),
    waiting: n('accepted') - n('completed') - n('deadLettered') - n('cancelled') - n('returned') - inFlight,
    inFlight,
  };
}

/**
 * Checks a push and makes the push script's arguments (see PUSH): the item
 * as JSON, its id, delay, the queue's capacity and overflow, its dedupe key
 * and window, group, TTL and reply-to, then `tail` (key base, source, the
 * dead letter's capacity and overflow), then its priority.
 * @throws TypeError or RangeError for bad options or an item that is not JSON-serializable.
 * @internal
 */
export function pushArgs<T, R>(
  c: RedisQueueConfig<T, R>,
  item: T,
  options: RedisPushOptions | undefined,
  replyTo: string,
  tail: readonly (string | number)[],
): { args: (string | number)[]; delayMs: number } {
  const o = v.options<RedisPushOptions>(PART, options, PUSH_KEYS, 'options');
  const priority = o.priority ?? 0;
  if (typeof priority !== 'number' || !Number.isInteger(priority)) {
    throw new RangeError(`${PART}: options.priority must be an integer, got ${v.show(o.priority)}`);
  }
  const delayMs = v.number(PART, 'options.delayMs', o.delayMs, 'non-negative', 0);
  const ttlMs = v.number(PART, 'options.ttlMs', o.ttlMs, 'positive', c.ttlMs);
  const id = v.string(PART, 'options.id', o.id);
  const group = o.group ?? c.groupBy?.(item);
  let data: string | undefined;
  try {
    data = JSON.stringify(item);
  } catch (error) {
    throw new TypeError(`${PART}: an item must be JSON-serializable, got ${v.show(item)} (${(error as Error).message})`);
  }
  if (data === undefined) throw new TypeError(`${PART}: an item must be JSON-serializable, got ${v.show(item)}`);
  const key = c.dedupe === undefined ? '' : String(id ?? c.dedupe.key(item));
  const capacity = c.capacity === Number.POSITIVE_INFINITY ? -1 : c.capacity;
  const args = [data, id ?? '', delayMs, capacity, c.overflow, key, c.dedupe?.windowMs ?? 0, group === undefined ? '' : String(group)];
  const groupN = group === undefined ? 1 : groupLimit(c, group);
  return { args: [...args, ttlMs, replyTo, ...tail, priority, groupN, c.dedupe?.mode === 'replace' ? 1 : 0], delayMs };
}

/** The concurrency of group `key` for an item pushed now (`Infinity` as the largest the scripts take). */
function groupLimit<T, R>(c: RedisQueueConfig<T, R>, key: GroupKey): number {
  const n = typeof c.groupConcurrency === 'function' ? c.groupConcurrency(key) : c.groupConcurrency;
  if (!((Number.isInteger(n) && n >= 1) || n === Number.POSITIVE_INFINITY)) {
    throw new RangeError(`${PART}: groupConcurrency(${v.show(key)}) must be a positive integer or Infinity, got ${v.show(n)}`);
  }
  return Math.min(n, 2 ** 31 - 1);
}

/** An item's JSON parsed, or the text itself when it is not JSON. @internal */
export const safeParse = (data: string): unknown => {
  try {
    return JSON.parse(data);
  } catch {
    return data;
  }
};

/**
 * The streams of `main`'s priority levels (`levels`: as the levels set
 * holds them, highest first), highest first; the queue's own is priority 0.
 * @internal
 */
export function streamsOf(main: string, levels: readonly string[]): string[] {
  const above = levels.filter((p) => Number(p) > 0).map((p) => `${main}:p${p}`);
  const below = levels.filter((p) => Number(p) < 0).map((p) => `${main}:p${p}`);
  return [...above, main, ...below];
}

/** Puts `h` into `ready` after every item of its priority or higher: highest first, in the order read among equals. @internal */
export function enterByPriority(ready: Held[], h: Held): void {
  let at = ready.length;
  while (at > 0 && ready[at - 1]!.priority < h.priority) at--;
  ready.splice(at, 0, h);
}

/**
 * Runs the push script until it takes the item: at capacity `'reject'`
 * throws QueueFullError, `'block'` asks again every `pollMs`.
 * @returns the script's status (`ok`, `dup`, `dropped`) and the item's id.
 * @throws QueueFullError; QueueClosedError when the queue closed while the push waited.
 * @internal
 */
export async function pushUntilRoom<T, R>(
  script: Script,
  keys: readonly string[],
  args: readonly (string | number)[],
  c: RedisQueueConfig<T, R>,
  closed: () => boolean,
): Promise<[string, string]> {
  for (;;) {
    const reply = (await script.run(keys, args)) as [string, string];
    if (reply[0] !== 'full') return reply;
    if (c.overflow === 'reject') throw new QueueFullError(c.capacity, `${PART}: capacity of ${c.capacity} reached`);
    await new Promise((resolve) => setTimeout(resolve, c.pollMs));
    if (closed()) throw new QueueClosedError(`${PART}: closed while the push waited for room`);
  }
}

/**
 * The timings of an attempt for its events: ids, when it was pushed (on this process's clock) and started, and its
 * wait as Queue's: since the push, or for a retry since its last attempt ended. @internal
 */
export function attemptInfo(h: Held, startedAt: number, clockOffset: number) {
  const enqueuedAt = h.pushedAt - clockOffset;
  return { id: h.id, attempt: h.attempt, enqueuedAt, startedAt, waitMs: Math.max(0, startedAt - (h.readyAt - clockOffset)) };
}

/**
 * The queue's dead letter: the one given (a RedisDeadLetter), or its own
 * with the queue's name and prefix (so they share a cluster hash tag).
 * @throws TypeError when the one given is not a RedisDeadLetter.
 * @internal
 */
export function deadLetterOf<T, R>(options: RedisQueueOptions<T, R>, c: RedisQueueConfig<T, R>): RedisDeadLetter<T> {
  const given = options.deadLetter;
  if (given !== undefined && !(given instanceof RedisDeadLetter)) {
    throw new TypeError(`${PART}: deadLetter must be a RedisDeadLetter, got ${v.show(given)}`);
  }
  return given ?? new RedisDeadLetter<T>({ client: options.client, key: c.name, prefix: c.prefix, commandTimeoutMs: c.commandTimeoutMs });
}
