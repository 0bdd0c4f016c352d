import { type Clock, systemClock } from './clock.js';
import * as v from './internal/validate.js';
import { type AcquireOptions, type RateLimiter, TokenBucket } from './token-bucket.js';

const PART = 'KeyedTokenBucket';

/** Options of {@link KeyedTokenBucket}: every key's bucket has the same rate and burst. */
export interface KeyedTokenBucketOptions {
  /** Tokens added per second to each key's bucket: a positive finite number. Required. */
  readonly ratePerSecond: number;
  /** Each key's capacity in tokens. @default 1 */
  readonly burst?: number;
  /**
   * The most keys held at once (a positive integer or Infinity). Past it, the
   * key used least recently that nobody waits on is forgotten: it starts full
   * again when next used, as rate limiters with an LRU map do (a key whose
   * bucket is full is forgotten anyway: it holds nothing to remember).
   * @default 10000
   */
  readonly maxKeys?: number;
  /** Source of time. @default systemClock */
  readonly clock?: Clock;
}

const KEYS = /* @__PURE__ */ v.knownKeys<KeyedTokenBucketOptions>({ ratePerSecond: true, burst: true, maxKeys: true, clock: true });

/** Keys checked at the least-recently-used end on each call, to forget those whose bucket is full again. */
const SWEEP = 2;

/**
 * A token bucket per key — per tenant, per user, per endpoint — each as
 * {@link TokenBucket} (FIFO waiters, the virtual timeline, one timer while
 * it has waiters, none when idle). A key holds memory only while its bucket
 * is not full: a full one is forgotten (it would start full anyway), so a
 * million keys used once each cost nothing once they refilled; `maxKeys`
 * bounds the rest. Envoy's and rate-limiter-flexible's per-key limits, in
 * memory: limits shared by several instances of an app need a shared store.
 *
 * Keys are strings or numbers, compared as `Map` keys (`1` and `'1'` differ).
 *
 * @example
 * ```ts
 * const perTenant = new KeyedTokenBucket({ ratePerSecond: 5, burst: 10 });
 * await perTenant.acquire(request.tenantId);
 * ```
 */
export class KeyedTokenBucket {
  /** Tokens added per second to each key's bucket. */
  readonly ratePerSecond: number;
  /** Each key's capacity in tokens. */
  readonly burst: number;
  /** The most keys held at once. */
  readonly maxKeys: number;
  readonly #clock: Clock;
  /** Least recently used first (a key is moved to the end when used). */
  readonly #buckets = new Map<string | number, TokenBucket>();

  /**
   * @param options - see {@link KeyedTokenBucketOptions}.
   * @throws TypeError when `ratePerSecond` is missing, an option is unknown or has the wrong type.
   * @throws RangeError for an out-of-range number.
   */
  constructor(options: KeyedTokenBucketOptions) {
    const o = v.options<KeyedTokenBucketOptions>(PART, options, KEYS);
    if (o.ratePerSecond === undefined) throw new TypeError(`${PART}: ratePerSecond must be a positive finite number, got undefined`);
    this.ratePerSecond = v.number(PART, 'ratePerSecond', o.ratePerSecond, 'positive', 1);
    this.burst = v.number(PART, 'burst', o.burst, 'positive', 1);
    this.maxKeys = v.number(PART, 'maxKeys', o.maxKeys, 'positive-integer-or-infinity', 10_000);
    this.#clock = v.clock(PART, o.clock, systemClock);
  }

  /** Keys held now: those whose bucket is not full, or has waiters (full ones are forgotten as they are met). */
  get size(): number {
    this.#sweep(Infinity);
    return this.#buckets.size;
  }

  /**
   * Takes `cost` tokens from `key`'s bucket now if it can, as {@link TokenBucket.tryAcquire}.
   * @throws TypeError for a key that is not a string or a number; RangeError for a bad `cost`.
   */
  tryAcquire(key: string | number, cost = 1): boolean {
    v.key(PART, 'key', key, false);
    this.#checkCost(cost);
    return this.#bucket(key).tryAcquire(cost);
  }

  /**
   * Waits until `key`'s bucket has `cost` tokens and takes them, as {@link TokenBucket.acquire}
   * (FIFO per key; a key never waits on another).
   * @returns a promise that rejects as TokenBucket's does, and with TypeError for a bad key.
   */
  acquire(key: string | number, cost = 1, options?: AcquireOptions): Promise<void> {
    let bucket: TokenBucket;
    try {
      v.key(PART, 'key', key, false);
      this.#checkCost(cost);
      bucket = this.#bucket(key);
    } catch (error) {
      return Promise.reject(error);
    }
    return bucket.acquire(cost, options);
  }

  /**
   * Milliseconds until `cost` tokens could be granted on `key`, as {@link TokenBucket.waitTime}; 0 for a key not held.
   * @throws TypeError for a bad key; RangeError for a bad `cost`.
   */
  waitTime(key: string | number, cost = 1): number {
    v.key(PART, 'key', key, false);
    const bucket = this.#buckets.get(key);
    if (bucket !== undefined) return bucket.waitTime(cost);
    this.#checkCost(cost);
    return 0;
  }

  /**
   * One key's limit as a {@link RateLimiter} (what a Queue's `groupRateLimit` function may return):
   * its calls are this bucket's for `key`.
   * @throws TypeError for a bad key.
   */
  limiterFor(key: string | number): RateLimiter {
    v.key(PART, 'key', key, false);
    return {
      acquire: (cost?: number, options?: AcquireOptions) => this.acquire(key, cost, options),
      tryAcquire: (cost?: number) => this.tryAcquire(key, cost),
      waitTime: (cost?: number) => this.waitTime(key, cost),
    };
  }

  /** The bucket of `key`, made (full) when not held, and moved to the most-recently-used end. */
  #bucket(key: string | number): TokenBucket {
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      this.#sweep(SWEEP);
      if (this.#buckets.size >= this.maxKeys) this.#evict();
      bucket = new TokenBucket({ ratePerSecond: this.ratePerSecond, burst: this.burst, clock: this.#clock });
    } else this.#buckets.delete(key);
    this.#buckets.set(key, bucket);
    return bucket;
  }

  /** Forgets up to `n` keys at the least-recently-used end whose bucket is full and idle; stops at the first that is not. */
  #sweep(n: number): void {
    for (const [key, bucket] of this.#buckets) {
      if (n-- <= 0 || bucket.pending > 0 || bucket.tokens < this.burst) return;
      this.#buckets.delete(key);
    }
  }

  /** Makes room for a key past `maxKeys`: forgets the least recently used key that nobody waits on. */
  #evict(): void {
    for (const [key, bucket] of this.#buckets) {
      if (bucket.pending === 0) {
        this.#buckets.delete(key);
        return;
      }
    }
  }

  #checkCost(cost: unknown): void {
    if (typeof cost !== 'number') throw new TypeError(`${PART}: cost must be a positive finite number, got ${v.show(cost)}`);
    if (!(cost > 0) || !Number.isFinite(cost)) throw new RangeError(`${PART}: cost must be a positive finite number, got ${v.show(cost)}`);
    if (cost > this.burst) throw new RangeError(`${PART}: cost must be at most burst (${this.burst}), got ${cost}`);
  }
}
