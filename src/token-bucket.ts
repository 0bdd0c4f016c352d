import { type Clock, systemClock } from './clock.js';
import { TimeoutError } from './errors.js';
import { CountRates, RATES_WINDOW_MS } from './internal/count-rates.js';
import { Histogram, quantilesOf } from './internal/histogram.js';
import type { LimitSample } from './limits/limit.js';
import type { Quantiles } from './queue-types.js';
import { noop, whenAborted } from './internal/abort.js';
import { LinkedList, type ListNode } from './internal/linked-list.js';
import { MAX_TIMER_MS } from './internal/long-timer.js';
import { MonotonicTime } from './internal/monotonic.js';
import { holdShapes } from './internal/shapes.js';
import * as v from './internal/validate.js';

const BUCKET_KEYS = /* @__PURE__ */ v.knownKeys<TokenBucketOptions>({ ratePerSecond: true, burst: true, initialTokens: true, clock: true });
const ACQUIRE_KEYS = /* @__PURE__ */ v.knownKeys<AcquireOptions>({ signal: true, maxWaitMs: true });

/** Options of {@link TokenBucket}. */
export interface TokenBucketOptions {
  /**
   * Tokens added per second; may be fractional (`0.5` = one token every 2 s).
   * Must be a positive finite number. Required.
   */
  readonly ratePerSecond: number;
  /**
   * The bucket's capacity in tokens: the most that can be granted at once
   * after an idle period. Go's `x/time/rate` and Envoy call it burst.
   * @default 1
   */
  readonly burst?: number;
  /**
   * Tokens in the bucket at construction, `0` to `burst`.
   * @default burst
   */
  readonly initialTokens?: number;
  /** Source of time. @default systemClock */
  readonly clock?: Clock;
}

/** Options of {@link TokenBucket.acquire}. */
export interface AcquireOptions {
  /** Aborting rejects the wait with `signal.reason` and frees the waiter's place. */
  readonly signal?: AbortSignal;
  /**
   * Fail fast under overload: when the predicted wait (waiters ahead included)
   * exceeds this many ms (a non-negative number), reject at once with
   * {@link TimeoutError} instead of queueing.
   * @default none: wait as long as it takes
   */
  readonly maxWaitMs?: number;
}

/** What {@link TokenBucket.metrics} tells. */
export interface TokenBucketMetrics {
  /** Tokens added per second now. */
  readonly ratePerSecond: number;
  /** The capacity in tokens now. */
  readonly burst: number;
  /** Tokens available now. */
  readonly tokens: number;
  /** `acquire` calls waiting now. */
  readonly pending: number;
  /** Grants since construction. */
  readonly granted: number;
  /** Of those, grants that waited. */
  readonly waited: number;
  /** The wait of a grant, ms (0 for one made at once). */
  readonly waitMs: Quantiles;
  /** The time the rates cover, ms: the last 60 s (to within 15 s), or less while the bucket is younger or was idle. */
  readonly windowMs: number;
  /** Grants per second over `windowMs`. */
  readonly grantsPerSecond: number;
  /** Grants that waited, per second over `windowMs`. */
  readonly waitedPerSecond: number;
}

/** The shape of a rate limiter sluice parts accept; {@link TokenBucket} implements it. */
export interface RateLimiter {
  /** Resolves once `cost` tokens were granted. */
  acquire(cost?: number, options?: AcquireOptions): Promise<void>;
  /** Grants `cost` tokens now if possible, never waiting. */
  tryAcquire(cost?: number): boolean;
  /**
   * Milliseconds until `cost` tokens would be granted (0: now). Optional;
   * a limiter combined with others (`rateLimit: [a, b]`) must have it.
   */
  waitTime?(cost?: number): number;
  /** Learns from a settled attempt (an `AdaptiveTokenBucket`); optional: a queue feeds it the samples it takes. */
  onSample?(sample: LimitSample): void;
}

/**
 * A rate limit given as a {@link RateLimiter} (e.g. a shared {@link TokenBucket})
 * or as the options of a new bucket (it gets the part's clock).
 */
export type RateLimitInput = RateLimiter | Omit<TokenBucketOptions, 'clock' | 'initialTokens'>;

interface Waiter {
  readonly cost: number;
  /** When `acquire` was called (ms, clock time). */
  readonly arrivedAt: number;
  readonly resolve: () => void;
  readonly reject: (reason: unknown) => void;
  detach: () => void;
}

const PART = 'TokenBucket';

/**
 * A token bucket: rate limiting with bursts, as Go's `x/time/rate` and
 * Envoy's local rate limiter. Tokens accrue at `ratePerSecond` up to
 * `burst`; `acquire(cost)` takes `cost` tokens, waiting until they are there.
 *
 * - Waiters are served first-in first-out: a large request is never starved
 *   by later small ones, and `tryAcquire` never jumps the queue.
 * - Grants are booked on a virtual timeline (as GCRA and Go's reservations):
 *   a waiter is granted at the instant its tokens accrued, even if its timer
 *   fires late, so timer lateness delays a grant but never lowers the rate.
 * - At most one timer is armed, whatever the number of waiters; an idle
 *   bucket holds none.
 * - Time that goes backwards counts as no time passing, and time that had
 *   passed still counts: a waiter is served when its tokens would have
 *   accrued on the time that really passed. A jump forward refills to at
 *   most `burst`.
 *
 * @example
 * ```ts
 * const bucket = new TokenBucket({ ratePerSecond: 50, burst: 10 });
 * for (const url of urls) {
 *   await bucket.acquire();
 *   void fetch(url);
 * }
 * ```
 */
export class TokenBucket implements RateLimiter {
  #rate: number; // tokens per ms
  #ratePerSecond: number;
  #burst: number;
  #tokens: number;
  /** The time `#tokens` was valid at; may trail `now` by a late timer's lateness. */
  #last: number;
  readonly #clock: Clock;
  /** The clock's time, made monotonic: a clock set back counts as no time passing. */
  readonly #time: MonotonicTime;
  readonly #waiters = new LinkedList<Waiter>();
  #pendingCost = 0;
  #timer: unknown = undefined;
  #timerArmed = false;
  /** Grants made at once (no wait), and the waits of those that waited (ms, on the virtual timeline). */
  #grantedAtOnce = 0;
  #waits: Histogram | undefined = undefined;
  /** Grants and waited grants per second over the last minute (snapshots as the clock is read). */
  readonly #rates: CountRates;

  /**
   * @param options - see {@link TokenBucketOptions}.
   * @throws TypeError when `ratePerSecond` is missing or an option has the wrong type.
   * @throws RangeError when `ratePerSecond` or `burst` is not a positive finite number, or
   *   `initialTokens` is outside `0..burst`.
   */
  constructor(options: TokenBucketOptions) {
    const o = v.options<TokenBucketOptions>(PART, options, BUCKET_KEYS);
    if (o.ratePerSecond === undefined) {
      throw new TypeError(`${PART}: ratePerSecond must be a positive finite number, got undefined`);
    }
    this.#ratePerSecond = v.number(PART, 'ratePerSecond', o.ratePerSecond, 'positive', 1);
    this.#rate = this.#ratePerSecond / 1000;
    this.#burst = v.number(PART, 'burst', o.burst, 'positive', 1);
    const initial = v.number(PART, 'initialTokens', o.initialTokens, 'non-negative', this.#burst);
    this.#tokens = v.atMost(PART, 'initialTokens', initial, this.#burst, 'burst');
    this.#clock = v.clock(PART, o.clock, systemClock);
    this.#time = new MonotonicTime(this.#clock);
    this.#last = this.#time.now();
    this.#rates = new CountRates(RATES_WINDOW_MS, this.#last, [0, 0]);
    // An idle instance that keeps the hidden classes of a bucket and its waiter list (see internal/shapes.ts).
    holdShapes(TokenBucket, () => [new TokenBucket({ ratePerSecond: 1 })]);
  }

  /** Tokens added per second. */
  get ratePerSecond(): number {
    return this.#ratePerSecond;
  }

  /** The bucket's capacity in tokens. */
  get burst(): number {
    return this.#burst;
  }

  /** Tokens available now (refilled lazily; never negative, never above `burst`). */
  get tokens(): number {
    return this.#tokensAt(this.#now());
  }

  /** How many `acquire` calls are waiting. */
  get pending(): number {
    return this.#waiters.size;
  }

  /**
   * Milliseconds until `cost` tokens could be granted to a new request,
   * counting the waiters ahead of it. `0` when it would be granted now.
   * @param cost - tokens wanted (default 1).
   * @throws RangeError when `cost` is not a positive finite number or exceeds `burst`.
   */
  waitTime(cost = 1): number {
    this.#checkCost(cost);
    return this.#predictWait(cost, this.#now());
  }

  /**
   * Takes `cost` tokens now if they are available and nobody is waiting.
   * Never waits and never jumps ahead of queued `acquire` calls.
   * @param cost - tokens wanted (default 1).
   * @returns whether the tokens were granted.
   * @throws RangeError when `cost` is not a positive finite number or exceeds `burst`.
   */
  tryAcquire(cost = 1): boolean {
    this.#checkCost(cost);
    if (this.#waiters.size > 0) return false;
    const now = this.#now();
    if (now < this.#last) return false; // held by pauseFor
    this.#refill(now);
    if (this.#tokens < cost) return false;
    this.#tokens -= cost;
    this.#grantedAtOnce++;
    return true;
  }

  /**
   * Waits until `cost` tokens are available and takes them. Waiters are
   * served in call order.
   * @param cost - tokens wanted (default 1); must be a positive finite number ≤ `burst`.
   * @param options - `signal` to abort the wait, `maxWaitMs` to fail fast.
   * @returns a promise that resolves once the tokens are granted. It rejects with
   *   `RangeError` for a bad `cost` (`cost > burst` included), with
   *   {@link TimeoutError} when the predicted wait exceeds `maxWaitMs`,
   *   with `signal.reason` on abort, and with `RangeError` if `setRate` later
   *   lowers `burst` below `cost`.
   */
  acquire(cost = 1, options?: AcquireOptions): Promise<void> {
    let signal: AbortSignal | undefined;
    let maxWaitMs: number | undefined;
    try {
      this.#checkCost(cost);
      const o = v.options<AcquireOptions>(PART, options, ACQUIRE_KEYS);
      signal = v.signal(PART, 'signal', o.signal);
      maxWaitMs = v.number(PART, 'maxWaitMs', o.maxWaitMs, 'non-negative');
    } catch (error) {
      return Promise.reject(error);
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    const now = this.#now();
    if (this.#waiters.size === 0 && now >= this.#last) {
      this.#refill(now);
      if (this.#tokens >= cost) {
        this.#tokens -= cost;
        this.#grantedAtOnce++;
        return Promise.resolve();
      }
    }
    if (maxWaitMs !== undefined) {
      const wait = this.#predictWait(cost, now);
      if (wait > maxWaitMs) {
        return Promise.reject(
          new TimeoutError(maxWaitMs, `${PART}: predicted wait of ${round(wait)} ms exceeds maxWaitMs (${maxWaitMs} ms)`),
        );
      }
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { cost, arrivedAt: now, resolve, reject, detach: noop };
      const node = this.#waiters.push(waiter);
      this.#pendingCost += cost;
      if (signal) waiter.detach = whenAborted(signal, () => this.#cancel(node, signal.reason));
      if (node === this.#waiters.head) this.#serve();
    });
  }

  /**
   * Reconfigures the bucket live (adaptive flow control, e.g. after a 429).
   * Tokens accrued so far are kept (clamped to the new burst); queued waiters
   * keep their order and are re-timed at the new rate; a waiter whose cost
   * exceeds the new burst is rejected with `RangeError`.
   * @param ratePerSecond - the new rate, tokens per second.
   * @param burst - the new capacity in tokens (default: unchanged).
   * @throws TypeError or RangeError for a bad `ratePerSecond` or `burst`.
   */
  setRate(ratePerSecond: number, burst?: number): void {
    if (ratePerSecond === undefined) {
      throw new TypeError(`${PART}: ratePerSecond must be a positive finite number, got undefined`);
    }
    const rate = v.number(PART, 'ratePerSecond', ratePerSecond, 'positive', 1);
    const newBurst = v.number(PART, 'burst', burst, 'positive', this.#burst);
    const now = this.#now();
    // Grant what is already due at the old rate, then move the books to now.
    this.#grantDue(now);
    this.#refill(now);
    this.#ratePerSecond = rate;
    this.#rate = rate / 1000;
    this.#burst = newBurst;
    if (this.#tokens > newBurst) this.#tokens = newBurst;
    for (let node = this.#waiters.head; node; ) {
      const next = node.next;
      if (node.value.cost > newBurst) {
        this.#cancel(
          node,
          new RangeError(`${PART}: cost must be at most burst (${newBurst}) after setRate, got ${node.value.cost}`),
          false,
        );
      }
      node = next;
    }
    this.#disarm();
    this.#serve();
  }

  /**
   * The bucket's figures: its rate, burst, tokens and waiters now; since
   * construction, grants made (at once, and after a wait) and the wait of a
   * grant (`acquire` and `tryAcquire` alike; 0 for one made at once) as
   * quantiles from a log-linear histogram (within 1/32 of the exact values).
   * Waits are measured on the bucket's virtual timeline: from the call to the
   * instant its tokens had accrued. Over the last minute (a sliding window of
   * four 15 s slots), grants and waited grants per second.
   */
  metrics(): TokenBucketMetrics {
    const rates = this.#rates.read(this.#time.now(), this.#rateCounts());
    const waits = new Histogram();
    waits.counts[0] = this.#grantedAtOnce;
    waits.count = this.#grantedAtOnce;
    if (this.#waits !== undefined) waits.add(this.#waits);
    return {
      ratePerSecond: this.#ratePerSecond,
      burst: this.#burst,
      tokens: this.tokens,
      pending: this.#waiters.size,
      granted: waits.count,
      waited: this.#waits?.count ?? 0,
      waitMs: quantilesOf(waits),
      windowMs: rates.windowMs,
      grantsPerSecond: rates.perSecond[0]!,
      waitedPerSecond: rates.perSecond[1]!,
    };
  }

  /**
   * Grants nothing for `ms` from now, as a server's `Retry-After` asks: the
   * waiters keep their order and are served after the pause, and
   * `tryAcquire` refuses until then. Tokens do not accrue during the pause;
   * those already in the bucket stay. The longer pause wins when one is on.
   * Share one bucket between parts (queues, operators, processes' worth of
   * callers) and one 429 holds them all.
   * @param ms - how long, in ms: a non-negative finite number.
   * @throws TypeError or RangeError for a bad `ms`.
   */
  pauseFor(ms: number): void {
    if (ms === undefined) throw new TypeError(`${PART}: ms must be a non-negative finite number, got undefined`);
    const hold = v.number(PART, 'ms', ms, 'non-negative', 0);
    const now = this.#now();
    this.#grantDue(now);
    this.#refill(now);
    const until = now + hold;
    if (until <= this.#last) return;
    this.#last = until;
    this.#disarm();
    this.#serve();
  }

  #checkCost(cost: unknown): asserts cost is number {
    if (typeof cost !== 'number') throw new TypeError(`${PART}: cost must be a positive finite number, got ${v.show(cost)}`);
    if (!(cost > 0) || !Number.isFinite(cost)) {
      throw new RangeError(`${PART}: cost must be a positive finite number, got ${v.show(cost)}`);
    }
    if (cost > this.#burst) {
      throw new RangeError(`${PART}: cost must be at most burst (${this.#burst}), got ${cost}`);
    }
  }

  /** Reads the clock's time, made monotonic: time set back passes no time, and time already passed still counts. */
  #now(): number {
    const now = this.#time.now();
    if (now >= this.#rates.next) this.#rates.snap(now, this.#rateCounts());
    return now;
  }

  /** The counters the rates follow: grants, and those that waited. */
  #rateCounts(): number[] {
    const waited = this.#waits?.count ?? 0;
    return [this.#grantedAtOnce + waited, waited];
  }

  #tokensAt(now: number): number {
    const elapsed = now - this.#last;
    const tokens = elapsed > 0 ? this.#tokens + elapsed * this.#rate : this.#tokens;
    return Math.min(tokens, this.#burst);
  }

  #refill(now: number): void {
    this.#tokens = this.#tokensAt(now);
    if (now > this.#last) this.#last = now;
  }

  #predictWait(cost: number, now: number): number {
    const deficit = this.#pendingCost + cost - this.#tokensAt(now);
    // #last is ahead of now only while pauseFor holds the bucket: nothing accrues until then.
    const held = this.#last > now ? this.#last - now : 0;
    return held + (deficit > 0 ? deficit / this.#rate : 0);
  }

  /**
   * Grants every head waiter whose tokens have accrued by `now`, booking each
   * grant at the instant it became possible (the virtual timeline).
   * Returns the ready time of the first waiter still waiting, or undefined.
   */
  #grantDue(now: number): number | undefined {
    for (let node = this.#waiters.head; node; node = this.#waiters.head) {
      const waiter = node.value;
      // The bucket's books start from when the waiter arrived, or from the previous grant.
      const arrived = Math.min(waiter.arrivedAt, now);
      if (arrived > this.#last) this.#refill(arrived);
      let readyAt = this.#last;
      if (this.#tokens < waiter.cost) readyAt = this.#last + (waiter.cost - this.#tokens) / this.#rate;
      if (readyAt > now) return readyAt;
      if (readyAt === this.#last) this.#tokens -= waiter.cost;
      else {
        this.#tokens = 0;
        this.#last = readyAt;
      }
      this.#waiters.remove(node);
      this.#pendingCost -= waiter.cost;
      (this.#waits ??= new Histogram()).record(readyAt - waiter.arrivedAt);
      waiter.detach();
      waiter.resolve();
    }
    this.#pendingCost = 0; // no drift once nobody waits
    return undefined;
  }

  /** Grants what is due; arms the timer for the next waiter. `armedFor`: the time a firing timer was set for. */
  #serve(armedFor = -Infinity): void {
    // A timer that fires proves its time has come, whatever the clock reads: a coarse or rounded clock, or
    // one set back while the timer ran (timers run on a monotonic clock), cannot make a waiter wait longer.
    const now = armedFor === -Infinity ? this.#now() : this.#time.reach(armedFor);
    if (now >= this.#rates.next) this.#rates.snap(now, this.#rateCounts());
    const readyAt = this.#grantDue(now);
    if (readyAt === undefined) {
      this.#disarm();
      return;
    }
    if (this.#timerArmed) return;
    this.#timerArmed = true;
    // At most MAX_TIMER_MS at a time (a longer delay would fire at once); a timer that ends short of readyAt
    // proves only its own wait, and #serve arms again for the rest.
    const wait = Math.min(readyAt - now, MAX_TIMER_MS);
    const until = now + wait;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timerArmed = false;
      this.#timer = undefined;
      this.#serve(until);
    }, wait);
  }

  #disarm(): void {
    if (!this.#timerArmed) return;
    this.#clock.clearTimeout(this.#timer);
    this.#timerArmed = false;
    this.#timer = undefined;
  }

  #cancel(node: ListNode<Waiter>, reason: unknown, reschedule = true): void {
    const wasHead = node === this.#waiters.head;
    if (!this.#waiters.remove(node)) return;
    this.#pendingCost -= node.value.cost;
    if (this.#waiters.size === 0) this.#pendingCost = 0;
    node.value.detach();
    node.value.reject(reason);
    if (wasHead && reschedule) {
      // The next waiter may be grantable now, or need another timer.
      this.#disarm();
      this.#serve();
    }
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
