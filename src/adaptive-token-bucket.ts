import { type Clock, systemClock } from './clock.js';
import * as v from './internal/validate.js';
import type { LimitSample } from './limits/limit.js';
import { TokenBucket } from './token-bucket.js';

const PART = 'AdaptiveTokenBucket';

/** Options of {@link AdaptiveTokenBucket}. */
export interface AdaptiveTokenBucketOptions {
  /** The highest rate, tokens per second: a positive finite number. Required. */
  readonly maxRatePerSecond: number;
  /** The lowest rate, tokens per second (≤ `maxRatePerSecond`). @default 0.5 (the AWS SDK's `minFillRate`) */
  readonly minRatePerSecond?: number;
  /** The rate to start at, until the first drop (within min..max). @default maxRatePerSecond */
  readonly ratePerSecond?: number;
  /** The bucket's capacity in tokens, as TokenBucket's. @default 1 */
  readonly burst?: number;
  /** What the measured rate is multiplied by on a drop (CUBIC's β), in `(0, 1)`. @default 0.7 (the AWS SDK's) */
  readonly beta?: number;
  /** CUBIC's scaling constant C: how fast the rate grows back (tokens/s per s³). @default 0.4 (the AWS SDK's) */
  readonly scaleConstant?: number;
  /** The weight of the newest half-second in the measured sending rate, in `(0, 1]`. @default 0.8 (the AWS SDK's `smooth`) */
  readonly smooth?: number;
  /** Source of time. @default systemClock */
  readonly clock?: Clock;
}

const KEYS = /* @__PURE__ */ v.knownKeys<AdaptiveTokenBucketOptions>({
  maxRatePerSecond: true,
  minRatePerSecond: true,
  ratePerSecond: true,
  burst: true,
  beta: true,
  scaleConstant: true,
  smooth: true,
  clock: true,
});

/** The AWS SDK measures the sending rate in half-second buckets. */
const MEASURE_BUCKET_S = 0.5;

/**
 * A {@link TokenBucket} whose rate follows load, as the AWS SDKs' adaptive
 * retry mode (`@smithy/util-retry`'s `DefaultRateLimiter`, CUBIC congestion
 * control): give it to a Queue's `rateLimit` (or call `onSample` yourself)
 * and every settled attempt tells it whether the server shed load.
 *
 * - The sending rate is measured over half-second buckets, smoothed:
 *   `measured = count / elapsed × smooth + measured × (1 − smooth)`.
 * - On a drop: `lastMaxRate = min(measured, rate)`, `rate = lastMaxRate × beta`,
 *   and `K = ∛(lastMaxRate × (1 − beta) / scaleConstant)` — once per
 *   congestion event, as TCP: a drop of an attempt that started before the
 *   last cut (sent at the old rate) does not cut again. The AWS limiter cuts
 *   on every throttled response, so a burst of 429s takes it to its floor.
 * - On a success: `rate = scaleConstant × (t − lastDrop − K)³ + lastMaxRate`
 *   (CUBIC: fast regrowth, flat near the last rate that drew drops, then
 *   probing above it), never above twice the measured rate.
 * - Always within `minRatePerSecond..maxRatePerSecond`.
 *
 * Unlike the AWS limiter, it keeps TokenBucket's guarantees — FIFO waiters,
 * grants on a virtual timeline, one timer whatever the number of waiters,
 * a fixed `burst` (the AWS bucket's capacity is one second of its rate,
 * which lets a whole second's worth out at once) — and it runs at
 * `ratePerSecond` until the first drop, where the AWS limiter does not limit
 * at all. A drop before any rate was measured takes the current rate as
 * the measure (the AWS limiter takes 0, and falls to its floor).
 *
 * @example
 * ```ts
 * const bucket = new AdaptiveTokenBucket({ maxRatePerSecond: 500, burst: 10 });
 * const queue = new Queue({ handler: send, concurrency: 64, rateLimit: bucket });
 * ```
 */
export class AdaptiveTokenBucket extends TokenBucket {
  /** The lowest rate, tokens per second. */
  readonly minRatePerSecond: number;
  /** The highest rate, tokens per second. */
  readonly maxRatePerSecond: number;
  readonly #beta: number;
  readonly #scale: number;
  readonly #smooth: number;
  readonly #clock: Clock;
  #enabled = false;
  #measured = 0;
  #count = 0;
  #lastBucket: number;
  #lastMaxRate = 0;
  #lastDrop: number;
  #window = 0;
  #drops = 0;

  /**
   * @param options - see {@link AdaptiveTokenBucketOptions}.
   * @throws TypeError for an unknown option, a missing `maxRatePerSecond` or a wrong type;
   *   RangeError for a number out of range (`minRatePerSecond` above `maxRatePerSecond`, `beta` outside (0, 1)).
   */
  constructor(options: AdaptiveTokenBucketOptions) {
    const o = v.options<AdaptiveTokenBucketOptions>(PART, options, KEYS);
    if (o.maxRatePerSecond === undefined) {
      throw new TypeError(`${PART}: maxRatePerSecond must be a positive finite number, got undefined`);
    }
    const max = v.number(PART, 'maxRatePerSecond', o.maxRatePerSecond, 'positive', 1);
    const min = v.number(PART, 'minRatePerSecond', o.minRatePerSecond, 'positive', Math.min(0.5, max));
    if (min > max) throw new RangeError(`${PART}: minRatePerSecond must be at most maxRatePerSecond (${max}), got ${min}`);
    const start = v.number(PART, 'ratePerSecond', o.ratePerSecond, 'positive', max);
    if (start < min || start > max) {
      throw new RangeError(`${PART}: ratePerSecond must be within minRatePerSecond..maxRatePerSecond (${min}..${max}), got ${start}`);
    }
    const clock = v.clock(PART, o.clock, systemClock);
    super({ ratePerSecond: start, ...(o.burst !== undefined ? { burst: o.burst } : {}), clock });
    this.minRatePerSecond = min;
    this.maxRatePerSecond = max;
    this.#beta = v.number(PART, 'beta', o.beta, 'positive', 0.7);
    if (this.#beta >= 1) throw new RangeError(`${PART}: beta must be in (0, 1), got ${this.#beta}`);
    this.#scale = v.number(PART, 'scaleConstant', o.scaleConstant, 'positive', 0.4);
    this.#smooth = v.number(PART, 'smooth', o.smooth, 'positive', 0.8);
    if (this.#smooth > 1) throw new RangeError(`${PART}: smooth must be in (0, 1], got ${this.#smooth}`);
    this.#clock = clock;
    const t = this.#seconds();
    this.#lastBucket = Math.floor(t);
    this.#lastDrop = t;
  }

  /** The sending rate measured from the samples, tokens per second (smoothed over half-seconds). */
  get measuredRatePerSecond(): number {
    return this.#measured;
  }

  /** Drops seen (samples with `dropped`). */
  get drops(): number {
    return this.#drops;
  }

  /**
   * Learns from one settled attempt: a drop cuts the rate by `beta`, a
   * success grows it back along the CUBIC curve (see the class).
   * @throws TypeError when `sample` has no boolean `dropped`.
   */
  onSample(sample: LimitSample): void {
    const dropped = sample?.dropped;
    if (typeof dropped !== 'boolean') throw new TypeError(`${PART}: onSample takes { dropped, … }, got ${v.show(sample)}`);
    const t = this.#seconds();
    this.#measure(t);
    let rate: number;
    if (dropped) {
      this.#drops++;
      // One cut per congestion event, as TCP: an attempt started before the last cut was sent at the old rate.
      const startedAt = typeof sample.startedAt === 'number' ? sample.startedAt / 1000 : t;
      if (this.#enabled && startedAt < this.#lastDrop) return;
      const measured = this.#measured > 0 ? this.#measured : this.ratePerSecond;
      const base = this.#enabled ? Math.min(measured, this.ratePerSecond) : measured;
      this.#lastMaxRate = base;
      this.#window = Math.cbrt((base * (1 - this.#beta)) / this.#scale);
      this.#lastDrop = t;
      this.#enabled = true;
      rate = base * this.#beta;
    } else {
      if (!this.#enabled) return; // before the first drop the rate stays where it started
      rate = this.#scale * (t - this.#lastDrop - this.#window) ** 3 + this.#lastMaxRate;
      if (this.#measured > 0) rate = Math.min(rate, 2 * this.#measured);
    }
    rate = Math.min(this.maxRatePerSecond, Math.max(this.minRatePerSecond, rate));
    if (Math.abs(rate - this.ratePerSecond) > 1e-9 * rate) this.setRate(rate);
  }

  #seconds(): number {
    return this.#clock.now() / 1000;
  }

  #measure(t: number): void {
    const bucket = Math.floor(t / MEASURE_BUCKET_S) * MEASURE_BUCKET_S;
    this.#count++;
    if (bucket > this.#lastBucket) {
      const current = this.#count / (bucket - this.#lastBucket);
      this.#measured = current * this.#smooth + this.#measured * (1 - this.#smooth);
      this.#count = 0;
      this.#lastBucket = bucket;
    }
  }
}
