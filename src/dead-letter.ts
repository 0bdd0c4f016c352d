import { EventEmitter } from 'eventemitter3';
import { type Clock, systemClock } from './clock.js';
import { QueueFullError } from './errors.js';
import { emitSafely } from './internal/events.js';
import { CountRates, RATES_WINDOW_MS } from './internal/count-rates.js';
import * as v from './internal/validate.js';
import { toRateLimiter } from './internal/inputs.js';
import type { RateLimitInput, RateLimiter } from './token-bucket.js';

const DEAD_LETTER_KEYS = /* @__PURE__ */ v.knownKeys<DeadLetterOptions>({ capacity: true, overflow: true, clock: true });
/** @internal The keys of a dead-letter entry's input (RedisDeadLetter checks the same). */
export const ENTRY_KEYS = /* @__PURE__ */ v.knownKeys<DeadLetterInput<unknown>>({
  item: true,
  reason: true,
  error: true,
  errors: true,
  attempts: true,
  source: true,
  firstSeenAt: true,
  deaths: true,
});
const ENTRIES_KEYS = /* @__PURE__ */ v.knownKeys<EntriesOptions>({ reason: true, limit: true });
const REDRIVE_KEYS = /* @__PURE__ */ v.knownKeys<RedriveOptions<unknown>>({ filter: true, limit: true, rateLimit: true, signal: true });

/**
 * Why an item was dead-lettered, in RabbitMQ's `x-death` vocabulary:
 * - `'rejected'` — a handler said never retry (`RejectError`);
 * - `'expired'` — it waited past its TTL (`ttlMs`);
 * - `'maxlen'` — an overflow strategy dropped it (`drop-oldest`/`drop-newest`);
 * - `'delivery_limit'` — its attempts were exhausted.
 */
export type DeadLetterReason = 'rejected' | 'expired' | 'maxlen' | 'delivery_limit';

const REASONS: readonly DeadLetterReason[] = ['rejected', 'expired', 'maxlen', 'delivery_limit'];

/** One line of an entry's death history, as a record of RabbitMQ's `x-death` header. */
export interface DeathRecord {
  /** The part that dead-lettered the item (a queue writes its `name`, or `'queue'`). */
  readonly source: string | undefined;
  /** Why. */
  readonly reason: DeadLetterReason;
  /** How many times the item died from this source for this reason. */
  readonly count: number;
  /** When it last did, in clock ms. */
  readonly time: number;
}

/** An item in a {@link DeadLetter}. */
export interface DeadLetterEntry<T> {
  /** Generated when the entry is added; unique within its dead letter. */
  readonly id: string;
  /** The item itself, unchanged. */
  readonly item: T;
  /** Why it was dead-lettered. */
  readonly reason: DeadLetterReason;
  /** The last failure, when there was one. */
  readonly error?: unknown;
  /** Every failure, oldest first (empty when none was recorded). */
  readonly errors: readonly unknown[];
  /** Attempts made before it died (0 when it never ran). */
  readonly attempts: number;
  /**
   * When the item was first seen (clock ms); defaults to `deadAt`. A
   * `Queue` stamps it when the item is pushed. With the default
   * (system) clock it reads the clock once per synchronous run of code and
   * stamps every push of that run with the reading, as Node's timers measure
   * from the event loop's cached time: a loop of a million pushes costs one
   * clock read, and a stamp is early by at most the time the run had taken
   * before that push. Any other clock (e.g. `TestClock`) is read at every push.
   */
  readonly firstSeenAt: number;
  /** When it was dead-lettered (clock ms). */
  readonly deadAt: number;
  /** The part that dead-lettered it. */
  readonly source?: string;
  /**
   * The item's death history across redrives, newest first: one record per
   * `{ source, reason }`, with a `count` and the latest `time` (RabbitMQ's `x-death`).
   */
  readonly deaths: readonly DeathRecord[];
}

/** What {@link DeadLetter.add} takes; `id`, `deadAt` and `deaths` are filled in. */
export interface DeadLetterInput<T> {
  /** The item. */
  readonly item: T;
  /** Why it is dead-lettered. */
  readonly reason: DeadLetterReason;
  /** The last failure. */
  readonly error?: unknown;
  /** Every failure, oldest first. @default error === undefined ? [] : [error] */
  readonly errors?: readonly unknown[];
  /** Attempts made. @default 0 */
  readonly attempts?: number;
  /** The part that dead-lettered it. */
  readonly source?: string;
  /** When the item was first seen (clock ms). @default the entry's `deadAt` */
  readonly firstSeenAt?: number;
  /**
   * Earlier death history to continue, newest first. When omitted and the
   * item is an object this dead letter redrove earlier, that history is used.
   */
  readonly deaths?: readonly DeathRecord[];
}

/** Options of {@link DeadLetter}. */
export interface DeadLetterOptions {
  /** The most entries held (a positive integer or `Infinity`). @default 10000 */
  readonly capacity?: number;
  /**
   * What `add` does when full: `'drop-oldest'` evicts the oldest entry
   * (emitting `'evicted'`), `'reject'` throws {@link QueueFullError}.
   * @default 'drop-oldest'
   */
  readonly overflow?: 'drop-oldest' | 'reject';
  /** Source of time for `deadAt`. @default systemClock */
  readonly clock?: Clock;
}

/** Options of {@link DeadLetter.entries}. */
export interface EntriesOptions {
  /** Only entries with this reason. */
  readonly reason?: DeadLetterReason;
  /** At most this many entries (a non-negative integer), oldest first. @default all of them */
  readonly limit?: number;
}

/**
 * Where {@link DeadLetter.redrive} hands entries back: a `Queue` (or anything
 * with `push(item)`), or a function called with `(item, entry)`. The entry is
 * removed only once the call returned (or its promise resolved).
 */
export type RedriveTarget<T> = PushTarget<T> | ((item: T, entry: DeadLetterEntry<T>) => unknown);

/** An item's death history, as a redrive hands it to the target with the item (RabbitMQ's `x-death` travels with its message). */
export interface DeathHistory {
  /** Its deaths so far, newest first. */
  readonly deaths: readonly DeathRecord[];
  /** When the item was first seen (clock ms). */
  readonly firstSeenAt: number;
}

/** Anything items can be pushed into, such as a `Queue`. */
export interface PushTarget<T> {
  /**
   * Offers `item`; the item counts as accepted once this returns or its
   * promise resolves, unless it resolves with a receipt saying
   * `duplicate: true` (as `Queue.push` does for a key still in its dedupe
   * window): a duplicate is not accepted, and the entry stays. `options.signal`
   * is redrive's own, so a push waiting for room stops when the redrive is
   * aborted; `options.history` is the entry's death history, which a sluice
   * `Queue` carries into the item's next dead-letter entry, whatever the item's type.
   */
  push(item: T, options?: { readonly signal?: AbortSignal; readonly history?: DeathHistory }): unknown;
}

/** Options of {@link DeadLetter.redrive}. */
export interface RedriveOptions<T> {
  /** Only entries for which this returns true. */
  readonly filter?: (entry: DeadLetterEntry<T>) => boolean;
  /** At most this many entries (a non-negative integer) are handed back. @default all of them */
  readonly limit?: number;
  /**
   * Paces the redrive: a {@link RateLimiter} (one token per entry) or bucket
   * options (`ratePerSecond` in entries per second, `burst` in entries).
   * @default none: as fast as the target accepts
   */
  readonly rateLimit?: RateLimitInput;
  /** Aborting stops the redrive; it rejects with `signal.reason` (entries already redriven stay removed). */
  readonly signal?: AbortSignal;
}

/** What {@link DeadLetter.redrive} did: counts of entries. */
export interface RedriveResult {
  /** Entries the target accepted (now removed from the dead letter). */
  readonly redriven: number;
  /** Entries the target refused (still in the dead letter). */
  readonly failed: number;
}

/** Counters of a {@link DeadLetter}. */
export interface DeadLetterStats {
  /** Entries added since construction. */
  readonly added: number;
  /** Entries evicted by `drop-oldest` overflow. */
  readonly evicted: number;
  /** Entries redriven (and removed). */
  readonly redriven: number;
  /** Entries held now. */
  readonly size: number;
}

/** What {@link DeadLetter.metrics} tells: the counters, and the entries held by reason. */
export interface DeadLetterMetrics extends DeadLetterStats {
  /** Entries held now, by reason (reasons with none are left out). */
  readonly byReason: Partial<Record<DeadLetterReason, number>>;
  /** The time the rates cover, ms: the last 60 s (to within 15 s), or less while the dead letter is younger or was idle. */
  readonly windowMs: number;
  /** Entries added per second over `windowMs`. */
  readonly addedPerSecond: number;
  /** Entries redriven per second over `windowMs`. */
  readonly redrivenPerSecond: number;
}

/** The events of a {@link DeadLetter}, as eventemitter3 tuples. */
export interface DeadLetterEvents<T> {
  /** An entry was added. */
  added: [entry: DeadLetterEntry<T>];
  /** An entry was evicted to make room (`overflow: 'drop-oldest'`). */
  evicted: [entry: DeadLetterEntry<T>];
  /** An entry was handed back by `redrive` and removed. */
  redriven: [entry: DeadLetterEntry<T>];
  /** A listener of another event threw. */
  error: [error: unknown];
}

/** The storage a dead-lettering part needs; {@link DeadLetter} implements it in memory. */
export interface DeadLetterStore<T> {
  /**
   * Stores an entry and returns it — or a promise of it, for a store shared
   * by many processes (`sluice/redis`'s `RedisDeadLetter`): a part that
   * dead-letters into it counts the item dead-lettered at once, and a
   * promise that rejects counts as a refusal (a Queue's
   * `stats.deadLetterRefused`, and its `'error'` event).
   */
  add(input: DeadLetterInput<T>): DeadLetterEntry<T> | PromiseLike<DeadLetterEntry<T>>;
  /** Entries held (a shared store answers with a promise). */
  readonly size: number | PromiseLike<number>;
}

const PART = 'DeadLetter';

/**
 * An item's death history after one more death (RabbitMQ's `x-death`): its
 * `{ source, reason }` record counted up and moved first, with `time`.
 * @internal
 */
export function nextDeaths(
  previous: readonly DeathRecord[],
  source: string | undefined,
  reason: DeadLetterReason,
  time: number,
): DeathRecord[] {
  const existing = previous.find((d) => d.source === source && d.reason === reason);
  return [{ source, reason, count: (existing?.count ?? 0) + 1, time }, ...previous.filter((d) => d !== existing)];
}

/**
 * How a redrive hands an entry to its target: a function's call, or a
 * `push` with the entry's death history (a Queue keeps it).
 * @internal
 */
export function redriveSender<T>(
  part: string,
  target: RedriveTarget<T>,
  signal: AbortSignal | undefined,
): (item: T, entry: DeadLetterEntry<T>) => unknown {
  if (typeof target === 'function') return target;
  if (typeof target === 'object' && target !== null && typeof target.push === 'function') {
    return (item, entry) =>
      target.push(item, {
        ...(signal === undefined ? {} : { signal }),
        history: { deaths: entry.deaths, firstSeenAt: entry.firstSeenAt },
      });
  }
  throw new TypeError(`${part}: redrive target must be a function or have a push(item) method, got ${v.show(target)}`);
}

interface Tail<T> {
  readonly buffer: DeadLetterEntry<T>[];
  readonly waiting: ((result: IteratorResult<DeadLetterEntry<T>>) => void)[];
}

/**
 * A dead-letter store: where items go that could not be handled, with why,
 * how often, and their history — as SQS dead-letter queues and RabbitMQ's
 * dead-letter exchanges, in memory.
 *
 * Entries are kept oldest first up to `capacity`. `redrive` hands them back
 * to a queue (SQS "start DLQ redrive"), removing each only after the target
 * accepted it. Iterating a dead letter tails it live.
 *
 * @typeParam T - the item type.
 *
 * @example
 * ```ts
 * const dlq = new DeadLetter<Order>({ capacity: 1000 });
 * dlq.on('added', (e) => log.warn(`dead: ${e.reason}`, e.error));
 * // later, once the downstream is healthy again:
 * const { redriven, failed } = await dlq.redrive(queue, { filter: (e) => e.reason === 'delivery_limit' });
 * ```
 */
export class DeadLetter<T = unknown> extends EventEmitter<DeadLetterEvents<T>> implements DeadLetterStore<T> {
  readonly #capacity: number;
  readonly #overflow: 'drop-oldest' | 'reject';
  readonly #clock: Clock;
  /** Entries added and redriven per second over the last minute (snapshots as `add` reads the clock). */
  readonly #rates: CountRates;
  readonly #entries = new Map<string, DeadLetterEntry<T>>();
  readonly #history = new WeakMap<object, { deaths: readonly DeathRecord[]; firstSeenAt: number }>();
  readonly #tails = new Set<Tail<T>>();
  #nextId = 1;
  #added = 0;
  #evicted = 0;
  #redriven = 0;

  /**
   * @param options - see {@link DeadLetterOptions}.
   * @throws TypeError for an option of the wrong type or an unknown `overflow`.
   * @throws RangeError when `capacity` is not a positive integer or `Infinity`.
   */
  constructor(options?: DeadLetterOptions) {
    super();
    const o = v.options<DeadLetterOptions>(PART, options, DEAD_LETTER_KEYS);
    this.#capacity = v.number(PART, 'capacity', o.capacity, 'positive-integer-or-infinity', 10_000);
    this.#overflow = v.choice(PART, 'overflow', o.overflow, ['drop-oldest', 'reject'] as const, 'drop-oldest');
    this.#clock = v.clock(PART, o.clock, systemClock);
    this.#rates = new CountRates(RATES_WINDOW_MS, this.#clock.now(), [0, 0]);
  }

  /** Entries held now. */
  get size(): number {
    return this.#entries.size;
  }

  /** The most entries held. */
  get capacity(): number {
    return this.#capacity;
  }

  /**
   * The counters, the entries held now by reason (O(n) in the entries
   * held: read it now and then, not per item), and entries added and
   * redriven per second over the last minute (a sliding window of four 15 s
   * slots).
   */
  metrics(): DeadLetterMetrics {
    const byReason: Partial<Record<DeadLetterReason, number>> = {};
    for (const entry of this.#entries.values()) byReason[entry.reason] = (byReason[entry.reason] ?? 0) + 1;
    const rates = this.#rates.read(this.#clock.now(), [this.#added, this.#redriven]);
    return {
      ...this.stats,
      byReason,
      windowMs: rates.windowMs,
      addedPerSecond: rates.perSecond[0]!,
      redrivenPerSecond: rates.perSecond[1]!,
    };
  }

  /** Counters since construction. */
  get stats(): DeadLetterStats {
    return { added: this.#added, evicted: this.#evicted, redriven: this.#redriven, size: this.#entries.size };
  }

  /**
   * Stores an item with why it died. When full, `'drop-oldest'` evicts the
   * oldest entry first (emitting `'evicted'`); `'reject'` throws.
   * @param input - see {@link DeadLetterInput}.
   * @returns the stored entry.
   * @throws TypeError for a missing or unknown `reason` or a field of the wrong type.
   * @throws QueueFullError when full and `overflow` is `'reject'`.
   */
  add(input: DeadLetterInput<T>): DeadLetterEntry<T> {
    const o = v.options<DeadLetterInput<T>>(PART, input, ENTRY_KEYS, 'entry');
    if (!('item' in o)) throw new TypeError(`${PART}: entry.item is required, got an object without it`);
    if (o.reason === undefined) {
      throw new TypeError(`${PART}: entry.reason must be one of ${REASONS.map((r) => `'${r}'`).join(', ')}, got undefined`);
    }
    const reason = v.choice(PART, 'entry.reason', o.reason, REASONS, 'rejected');
    const attempts = v.number(PART, 'entry.attempts', o.attempts, 'non-negative-integer', 0);
    v.string(PART, 'entry.source', o.source);
    if (o.errors !== undefined && !Array.isArray(o.errors)) {
      throw new TypeError(`${PART}: entry.errors must be an array, got ${v.show(o.errors)}`);
    }
    if (o.firstSeenAt !== undefined && typeof o.firstSeenAt !== 'number') {
      throw new TypeError(`${PART}: entry.firstSeenAt must be a finite number, got ${v.show(o.firstSeenAt)}`);
    }
    if (o.firstSeenAt !== undefined && !Number.isFinite(o.firstSeenAt)) {
      throw new RangeError(`${PART}: entry.firstSeenAt must be a finite number, got ${v.show(o.firstSeenAt)}`);
    }
    if (this.#entries.size >= this.#capacity && this.#overflow === 'reject') {
      throw new QueueFullError(this.#capacity, `${PART}: capacity of ${this.#capacity} reached`);
    }

    const deadAt = this.#clock.now();
    if (deadAt >= this.#rates.next) this.#rates.snap(deadAt, [this.#added, this.#redriven]);
    const item = o.item;
    const earlier = typeof item === 'object' && item !== null ? this.#history.get(item) : undefined;
    if (earlier) this.#history.delete(item as object);
    const previous = o.deaths ?? earlier?.deaths ?? [];
    const source = o.source;
    const deaths = nextDeaths(previous, source, reason, deadAt);
    const entry: DeadLetterEntry<T> = {
      id: String(this.#nextId++),
      item,
      reason,
      ...('error' in o ? { error: o.error } : {}),
      errors: o.errors ? [...o.errors] : 'error' in o ? [o.error] : [],
      attempts,
      firstSeenAt: o.firstSeenAt ?? earlier?.firstSeenAt ?? deadAt,
      deadAt,
      ...(source !== undefined ? { source } : {}),
      deaths,
    };
    while (this.#entries.size >= this.#capacity) {
      const oldest = this.#entries.values().next().value as DeadLetterEntry<T>;
      this.#entries.delete(oldest.id);
      this.#evicted++;
      this.#emit('evicted', oldest);
    }
    this.#entries.set(entry.id, entry);
    this.#added++;
    for (const tail of this.#tails) this.#deliver(tail, entry);
    this.#emit('added', entry);
    return entry;
  }

  /**
   * The entries held, oldest first.
   * @param options - `reason` to filter, `limit` to keep only the oldest few.
   * @returns a new array (a snapshot).
   * @throws TypeError for an unknown `reason`; RangeError for a bad `limit`.
   */
  entries(options?: EntriesOptions): DeadLetterEntry<T>[] {
    const o = v.options<EntriesOptions>(PART, options, ENTRIES_KEYS);
    const reason = o.reason === undefined ? undefined : v.choice(PART, 'reason', o.reason, REASONS, 'rejected');
    const limit = v.number(PART, 'limit', o.limit, 'non-negative-integer', Infinity);
    const out: DeadLetterEntry<T>[] = [];
    if (limit === 0) return out;
    for (const entry of this.#entries.values()) {
      if (reason !== undefined && entry.reason !== reason) continue;
      out.push(entry);
      if (out.length >= limit) break;
    }
    return out;
  }

  /**
   * @param id - an entry's id.
   * @returns the entry, or undefined when it is not held.
   */
  get(id: string): DeadLetterEntry<T> | undefined {
    return this.#entries.get(id);
  }

  /**
   * Removes one entry (e.g. after handling it by hand).
   * @param id - an entry's id.
   * @returns true when it was held.
   */
  remove(id: string): boolean {
    return this.#entries.delete(id);
  }

  /** Removes every entry. Counters are kept. */
  clear(): void {
    this.#entries.clear();
  }

  /**
   * Hands entries back to `target`, oldest first and one at a time, removing
   * each only after the target accepted it (SQS DLQ redrive). Entries added
   * while the redrive runs are not part of it.
   *
   * @param target - a `Queue` (anything with `push(item)`) or a function `(item, entry)`.
   * @param options - `filter`, `limit`, `rateLimit`, `signal`.
   * @returns counts: `redriven` (accepted and removed) and `failed` (refused, kept).
   * @throws TypeError (rejects) for a bad target or option; the abort `signal.reason` (rejects) on abort.
   */
  async redrive(target: RedriveTarget<T>, options?: RedriveOptions<T>): Promise<RedriveResult> {
    const o = v.options<RedriveOptions<T>>(PART, options, REDRIVE_KEYS);
    const signal = v.signal(PART, 'signal', o.signal);
    const send = redriveSender(PART, target, signal);
    const filter = v.fn<(entry: DeadLetterEntry<T>) => boolean>(PART, 'filter', o.filter);
    const limit = v.number(PART, 'limit', o.limit, 'non-negative-integer', Infinity);
    const limiter: RateLimiter | undefined =
      o.rateLimit === undefined ? undefined : toRateLimiter(PART, 'rateLimit', o.rateLimit, this.#clock);

    let redriven = 0;
    let failed = 0;
    for (const entry of [...this.#entries.values()]) {
      if (redriven >= limit) break;
      signal?.throwIfAborted();
      if (!this.#entries.has(entry.id)) continue;
      if (filter && !filter(entry)) continue;
      if (limiter) await limiter.acquire(1, signal ? { signal } : undefined);
      if (!this.#entries.has(entry.id)) continue;
      if (typeof entry.item === 'object' && entry.item !== null) {
        this.#history.set(entry.item, { deaths: entry.deaths, firstSeenAt: entry.firstSeenAt });
      }
      let accepted: boolean;
      try {
        accepted = !isDuplicateReceipt(await send(entry.item, entry));
      } catch {
        accepted = false;
      }
      if (!accepted) {
        if (typeof entry.item === 'object' && entry.item !== null) this.#history.delete(entry.item);
        signal?.throwIfAborted(); // aborted while the target waited: the entry stays, the redrive ends
        failed++;
        continue;
      }
      this.#entries.delete(entry.id);
      redriven++;
      this.#redriven++;
      this.#emit('redriven', entry);
    }
    return { redriven, failed };
  }

  /**
   * A live tail: yields each entry added after iteration begins, as it is
   * added. Ends only when the consumer stops (`break`/`return()`). A slow
   * consumer's backlog is bounded by `capacity` (the oldest unread are skipped).
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<DeadLetterEntry<T>> {
    const tail: Tail<T> = { buffer: [], waiting: [] };
    this.#tails.add(tail);
    const done = (): IteratorResult<DeadLetterEntry<T>> => ({ value: undefined, done: true });
    const close = (): void => {
      if (!this.#tails.delete(tail)) return;
      tail.buffer.length = 0;
      for (const resolve of tail.waiting.splice(0)) resolve(done());
    };
    const iterator: AsyncIterableIterator<DeadLetterEntry<T>> = {
      next: () => {
        if (tail.buffer.length > 0) return Promise.resolve({ value: tail.buffer.shift()!, done: false });
        if (!this.#tails.has(tail)) return Promise.resolve(done());
        return new Promise((resolve) => tail.waiting.push(resolve));
      },
      return: () => {
        close();
        return Promise.resolve(done());
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  #deliver(tail: Tail<T>, entry: DeadLetterEntry<T>): void {
    const waiter = tail.waiting.shift();
    if (waiter) {
      waiter({ value: entry, done: false });
      return;
    }
    tail.buffer.push(entry);
    if (tail.buffer.length > this.#capacity) tail.buffer.shift();
  }

  /** Emits an event of this part's map, safely (see emitSafely). */
  #emit<E extends keyof DeadLetterEvents<T> & string>(event: E, ...args: DeadLetterEvents<T>[E]): void {
    emitSafely<DeadLetterEvents<T>, E>(this, event, ...args);
  }
}

/** Whether a push answered with a receipt saying the item was a duplicate (so not accepted). */
function isDuplicateReceipt(result: unknown): boolean {
  try {
    return typeof result === 'object' && result !== null && (result as { duplicate?: unknown }).duplicate === true;
  } catch {
    return false; // an answer that cannot be read is no duplicate receipt
  }
}
