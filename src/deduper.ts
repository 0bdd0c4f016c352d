import { type Clock, systemClock } from './clock.js';
import { CountRates, RATES_WINDOW_MS } from './internal/count-rates.js';
import { MonotonicTime } from './internal/monotonic.js';
import { holdShapes } from './internal/shapes.js';
import * as v from './internal/validate.js';

const DEDUPER_KEYS = /* @__PURE__ */ v.knownKeys<DeduperOptions>({ windowMs: true, maxKeys: true, clock: true });

/** An idempotency key: strings and numbers, compared as `Map` keys (`1` and `'1'` differ). */
export type DedupeKey = string | number;

/** Options of {@link Deduper}. */
export interface DeduperOptions {
  /**
   * How long a key counts as seen, in ms from its first sight (a duplicate
   * does not extend it). The default is SQS FIFO's 5-minute deduplication interval.
   * @default 300000
   */
  readonly windowMs?: number;
  /** The most keys remembered; past it the least recently seen key is forgotten (LRU). @default 100000 */
  readonly maxKeys?: number;
  /** Source of time. @default systemClock */
  readonly clock?: Clock;
}

/** What {@link Deduper.metrics} tells, since construction. */
export interface DeduperMetrics {
  /** Keys checked. */
  readonly checks: number;
  /** Of them, duplicates (seen within the window). */
  readonly hits: number;
  /** Keys held now. */
  readonly size: number;
  /** The time the rates cover, ms: the last 60 s (to within 15 s), or less while the deduper is younger or was idle. */
  readonly windowMs: number;
  /** Keys checked per second over `windowMs`. */
  readonly checksPerSecond: number;
  /** Duplicates per second over `windowMs`. */
  readonly hitsPerSecond: number;
}

/** The store a deduplicating part needs; {@link Deduper} implements it in memory. */
export interface DedupeStore {
  /** True on first sight of `key` within the window (and records it); false for a duplicate. */
  check(key: DedupeKey): boolean;
  /** True when `key` was seen within the window; records nothing. */
  has(key: DedupeKey): boolean;
  /** Forgets `key`; true when it was remembered. */
  delete(key: DedupeKey): boolean;
}

/**
 * A {@link DedupeStore} whose answers come later: a store shared by many
 * processes (`sluice/redis`'s `RedisDeduper`). The `dedupe()` operator takes
 * either kind; a Queue asks it before `push` and `submit` accept the item
 * (`tryPush`, which cannot wait, refuses a push with a dedupe key).
 */
export interface AsyncDedupeStore {
  /** Marks a store whose answers come later (a Queue then asks it before a push, not within). */
  readonly answersLater: true;
  /** Resolves true on first sight of `key` within the window (and records it); false for a duplicate. */
  check(key: DedupeKey): Promise<boolean>;
  /** Resolves true when `key` was seen within the window; records nothing. */
  has(key: DedupeKey): Promise<boolean>;
  /** Forgets `key`; resolves true when it was remembered. */
  delete(key: DedupeKey): Promise<boolean>;
}

const PART = 'Deduper';

/**
 * Remembers idempotency keys for a fixed window, as SQS FIFO's message
 * deduplication ID: a key seen within `windowMs` of its first sight is a
 * duplicate. Memory is bounded by `maxKeys` (least recently seen forgotten
 * first; a duplicate counts as a sighting for that order).
 *
 * @example
 * ```ts
 * const seen = new Deduper({ windowMs: 60_000 });
 * if (seen.check(event.id)) handle(event); // first sight only
 * ```
 */
export class Deduper implements DedupeStore {
  readonly #windowMs: number;
  readonly #maxKeys: number;
  /** The clock's time, made monotonic: a clock set back counts as no time passing. */
  readonly #time: MonotonicTime;
  /** key → expiry time; Map order is LRU order (oldest sighting first). */
  readonly #keys = new Map<DedupeKey, number>();
  /** Keys in first-sight order with their expiry, for sweeping expired keys. */
  #expiryKeys: DedupeKey[] = [];
  #expiryTimes: number[] = [];
  #expiryHead = 0;

  /**
   * @param options - see {@link DeduperOptions}.
   * @throws TypeError for an option of the wrong type.
   * @throws RangeError when `windowMs` is negative or not finite, or `maxKeys` is not a positive integer.
   */
  constructor(options?: DeduperOptions) {
    const o = v.options<DeduperOptions>(PART, options, DEDUPER_KEYS);
    this.#windowMs = v.number(PART, 'windowMs', o.windowMs, 'non-negative', 300_000);
    this.#maxKeys = v.number(PART, 'maxKeys', o.maxKeys, 'positive-integer', 100_000);
    this.#time = new MonotonicTime(v.clock<Clock>(PART, o.clock, systemClock));
    this.#rates = new CountRates(RATES_WINDOW_MS, this.#time.now(), [0, 0]);
    // An idle instance that keeps the hidden classes of a deduper (see internal/shapes.ts).
    holdShapes(Deduper, () => [new Deduper()]);
  }

  /** The deduplication window in ms. */
  get windowMs(): number {
    return this.#windowMs;
  }

  /** The most keys remembered at once. */
  get maxKeys(): number {
    return this.#maxKeys;
  }

  /** How many keys are remembered and still within their window. */
  get size(): number {
    this.#sweep(this.#time.now());
    return this.#keys.size;
  }

  #checks = 0;
  #hits = 0;
  /** Checks and hits per second over the last minute (snapshots as `check` reads the clock). */
  readonly #rates: CountRates;

  /**
   * Sightings checked since construction, duplicates among them (hits), the
   * keys held now, and checks and hits per second over the last minute (a
   * sliding window of four 15 s slots).
   */
  metrics(): DeduperMetrics {
    const size = this.size;
    const rates = this.#rates.read(this.#time.now(), [this.#checks, this.#hits]);
    return {
      checks: this.#checks,
      hits: this.#hits,
      size,
      windowMs: rates.windowMs,
      checksPerSecond: rates.perSecond[0]!,
      hitsPerSecond: rates.perSecond[1]!,
    };
  }

  /**
   * Records a sighting of `key`.
   * @param key - the idempotency key.
   * @returns true on first sight within the window (the key is now recorded), false for a duplicate.
   * @throws TypeError when `key` is not a string or a number.
   */
  check(key: DedupeKey): boolean {
    checkKey(key);
    const now = this.#time.now();
    if (now >= this.#rates.next) this.#rates.snap(now, [this.#checks, this.#hits]);
    this.#sweep(now);
    this.#checks++;
    const expiresAt = this.#keys.get(key);
    if (expiresAt !== undefined && expiresAt > now) {
      // A duplicate: refresh LRU order, keep the window fixed.
      this.#keys.delete(key);
      this.#keys.set(key, expiresAt);
      this.#hits++;
      return false;
    }
    const expiry = now + this.#windowMs;
    this.#keys.delete(key);
    this.#keys.set(key, expiry);
    this.#expiryKeys.push(key);
    this.#expiryTimes.push(expiry);
    while (this.#keys.size > this.#maxKeys) {
      const oldest = this.#keys.keys().next().value as DedupeKey;
      this.#keys.delete(oldest);
    }
    this.#compact();
    return true;
  }

  /**
   * @param key - the idempotency key.
   * @returns true when `key` was seen within its window; records nothing.
   * @throws TypeError when `key` is not a string or a number.
   */
  has(key: DedupeKey): boolean {
    checkKey(key);
    const expiresAt = this.#keys.get(key);
    return expiresAt !== undefined && expiresAt > this.#time.now();
  }

  /**
   * Forgets `key`, so its next sighting is a first sight.
   * @param key - the idempotency key.
   * @returns true when the key was remembered.
   * @throws TypeError when `key` is not a string or a number.
   */
  delete(key: DedupeKey): boolean {
    checkKey(key);
    const expiresAt = this.#keys.get(key);
    this.#keys.delete(key);
    return expiresAt !== undefined && expiresAt > this.#time.now();
  }

  /** Forgets every key. */
  clear(): void {
    this.#keys.clear();
    this.#expiryKeys = [];
    this.#expiryTimes = [];
    this.#expiryHead = 0;
  }

  #sweep(now: number): void {
    const keys = this.#expiryKeys;
    const times = this.#expiryTimes;
    let head = this.#expiryHead;
    while (head < keys.length && times[head]! <= now) {
      const key = keys[head]!;
      // Only the key's current record: it may have been forgotten and seen anew since.
      if (this.#keys.get(key) === times[head]) this.#keys.delete(key);
      head++;
    }
    this.#expiryHead = head;
    this.#compact();
  }

  /** Keeps the expiry list within twice the live keys (it holds stale records of evicted keys). */
  #compact(): void {
    const length = this.#expiryKeys.length - this.#expiryHead;
    if (length <= 2 * this.#keys.size + 64 && this.#expiryHead <= length + 64) return;
    const keys: DedupeKey[] = [];
    const times: number[] = [];
    for (let i = this.#expiryHead; i < this.#expiryKeys.length; i++) {
      const key = this.#expiryKeys[i]!;
      if (this.#keys.get(key) === this.#expiryTimes[i]) {
        keys.push(key);
        times.push(this.#expiryTimes[i]!);
      }
    }
    this.#expiryKeys = keys;
    this.#expiryTimes = times;
    this.#expiryHead = 0;
  }
}

function checkKey(key: unknown): asserts key is DedupeKey {
  v.key(PART, 'key', key, false);
}
