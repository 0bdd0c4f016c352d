import { EventEmitter } from 'eventemitter3';
import { type Clock, systemClock } from '../clock.js';
import { emitSafely } from '../internal/events.js';
import { CountRates, RATES_WINDOW_MS } from '../internal/count-rates.js';
import * as v from '../internal/validate.js';

/**
 * One settled attempt, as a concurrency limit (or an adaptive rate limiter)
 * learns from it — Netflix concurrency-limits' `onSample(startTime, rtt,
 * inflight, didDrop)`.
 */
export interface LimitSample {
  /** When the attempt started (ms, the part's clock). */
  readonly startedAt: number;
  /** How long it took, start to settle (ms). */
  readonly rttMs: number;
  /** Attempts in flight when it started, itself included. */
  readonly inFlight: number;
  /** Whether the attempt was dropped: shed by the server (429, 503, Retry-After) or timed out (see `classify`). */
  readonly dropped: boolean;
}

/** Why a limit moved (the `'limit'` event). */
export type LimitReason =
  /** A window held a dropped attempt (429/503, Retry-After, a timeout). */
  | 'drop'
  /** A window's latency passed the limit's timeout (AIMD's `timeoutMs`). */
  | 'timeout'
  /** Latency says there is room: the limit grows. */
  | 'increase'
  /** Latency says work queues at the server: the limit shrinks. */
  | 'decrease';

/** The `'limit'` event's payload: the limit went `from` → `to` because of `reason`. */
export interface LimitChange {
  /** The limit before. */
  readonly from: number;
  /** The limit now. */
  readonly to: number;
  /** Why it moved. */
  readonly reason: LimitReason;
}

/** Events of a built-in concurrency limit. */
export interface LimitEvents {
  /** The limit moved. */
  limit: [change: LimitChange];
}

/**
 * A concurrency limit that follows load: anything that takes `concurrency`
 * (Queue, TaskQueue, `mapConcurrent`) also takes one of these, feeds it a
 * {@link LimitSample} per settled attempt (the ones `classify` does not
 * ignore), and starts work only while fewer than `limit` attempts run.
 * The shape of Netflix concurrency-limits' `Limit`. {@link AimdLimit},
 * {@link Gradient2Limit} and {@link VegasLimit} are built in; a limit of
 * your own needs only `limit` and `onSample` (the part reads `limit` after
 * every sample, and on `'limit'` events when the object has `on`/`off`).
 */
export interface ConcurrencyLimit {
  /** The limit in force now: a positive integer. */
  readonly limit: number;
  /** Learns from one settled attempt. */
  onSample(sample: LimitSample): void;
  /** Subscribes to limit changes, when the limit can move on its own (optional). */
  on?(event: 'limit', listener: (change: LimitChange) => void): unknown;
  /** Unsubscribes (optional; a closed queue lets go of a shared limit). */
  off?(event: 'limit', listener: (change: LimitChange) => void): unknown;
}

/** Options every built-in limit takes (Netflix's builder options, in ms). */
export interface AdaptiveLimitOptions {
  /** The limit to start at, clamped to `minLimit..maxLimit`. @default 20 (Netflix's) */
  readonly initialLimit?: number;
  /** The lowest the limit goes: a positive integer. @default 1 */
  readonly minLimit?: number;
  /** The highest the limit goes: a positive integer ≥ `minLimit`. @default 200 (AIMD, Gradient2), 1000 (Vegas), as Netflix's */
  readonly maxLimit?: number;
  /**
   * The shortest decision window, ms (≥ 1). A window lasts twice its fastest
   * attempt, between `minWindowMs` and `maxWindowMs` (Netflix's
   * `WindowedLimit`). Netflix's default is 1 000 ms; sluice's is the 100 ms
   * floor Netflix's builder allows, so a limit converges in seconds.
   * @default 100
   */
  readonly minWindowMs?: number;
  /** The longest decision window, ms (≥ `minWindowMs`). @default 1000 (Netflix's) */
  readonly maxWindowMs?: number;
  /**
   * Samples a window needs before it decides (Netflix's `windowSize`). A
   * window short of it goes on collecting rather than being thrown away, and
   * one that holds a drop decides once its time is up, whatever its count.
   * @default 10
   */
  readonly windowSize?: number;
  /** Source of time, for the windows. @default systemClock */
  readonly clock?: Clock;
}

/** What one decision window saw (Netflix's average sample window). */
export interface WindowSummary {
  /** When the window's last attempt started (ms). */
  readonly startedAt: number;
  /** The mean latency of its attempts that were not dropped (ms); 0 when every one was. */
  readonly rttMs: number;
  /** The fastest of those (ms); Infinity when every one was dropped. */
  readonly minRttMs: number;
  /** The most attempts in flight at any of its starts. */
  readonly maxInFlight: number;
  /** Whether any of its attempts was dropped. */
  readonly dropped: boolean;
  /** Attempts in the window. */
  readonly samples: number;
}

/** What a built-in limit's `metrics()` tells: where the limit is and where it has been, since construction. */
export interface LimitMetrics {
  /** The limit in force now. */
  readonly limit: number;
  /** The lowest it may go. */
  readonly minLimit: number;
  /** The highest it may go. */
  readonly maxLimit: number;
  /** The lowest it has been. */
  readonly lowest: number;
  /** The highest it has been. */
  readonly highest: number;
  /** Samples taken. */
  readonly samples: number;
  /** Of them, the dropped ones (429, 503, Retry-After, timeouts). */
  readonly drops: number;
  /** Decision windows closed. */
  readonly windows: number;
  /** Changes of the limit they made (`'limit'` events). */
  readonly changes: number;
  /** The time the rates cover, ms: the last 60 s (to within 15 s), or less while the limit is younger or was idle. */
  readonly windowMs: number;
  /** Samples per second over `windowMs`. */
  readonly samplesPerSecond: number;
  /** Dropped samples per second over `windowMs`. */
  readonly dropsPerSecond: number;
}

/** Option keys of the base limit, for each built-in's own list. */
export const LIMIT_KEYS = {
  initialLimit: true,
  minLimit: true,
  maxLimit: true,
  minWindowMs: true,
  maxWindowMs: true,
  windowSize: true,
  clock: true,
} as const;

/**
 * The machinery the built-in limits share: options, decision windows and
 * the `'limit'` event. A subclass decides once per window
 * ({@link AdaptiveLimit.decide}); this class clamps the result to
 * `minLimit..maxLimit`, floors it to an integer and tells the listeners.
 */
export abstract class AdaptiveLimit extends EventEmitter<LimitEvents> implements ConcurrencyLimit {
  /** The lowest the limit goes. */
  readonly minLimit: number;
  /** The highest the limit goes. */
  readonly maxLimit: number;
  /** The part's name in errors. */
  protected readonly part: string;
  /** The limit as a real number (the algorithms keep fractions; `limit` is its floor). */
  protected estimate: number;
  readonly #clock: Clock;
  /** Samples and drops per second over the last minute (snapshots as `onSample` reads the clock). */
  readonly #rates: CountRates;
  readonly #minWindowMs: number;
  readonly #maxWindowMs: number;
  readonly #windowSize: number;
  #limit: number;
  // The open window.
  #samples = 0;
  #rttSum = 0;
  #timed = 0;
  #minRtt = Infinity;
  #maxInFlight = 0;
  #dropped = false;
  #lastStart = 0;
  /** When the open window may decide (ms): once an attempt ends after it. */
  #windowEnd = -Infinity;
  // For metrics(): since construction.
  #sampleCount = 0;
  #dropCount = 0;
  #windowCount = 0;
  #changeCount = 0;
  #lowest: number;
  #highest: number;

  /**
   * @param part - the subclass's name, for errors.
   * @param o - the options, already checked for unknown keys.
   * @param defaultMax - the subclass's default `maxLimit`.
   * @throws RangeError or TypeError for a bad option (see {@link AdaptiveLimitOptions}).
   */
  protected constructor(part: string, o: AdaptiveLimitOptions, defaultMax: number) {
    super();
    this.part = part;
    this.minLimit = v.number(part, 'minLimit', o.minLimit, 'positive-integer', 1);
    this.maxLimit = v.number(part, 'maxLimit', o.maxLimit, 'positive-integer', Math.max(defaultMax, this.minLimit));
    if (this.maxLimit < this.minLimit) {
      throw new RangeError(`${part}: maxLimit must be at least minLimit (${this.minLimit}), got ${this.maxLimit}`);
    }
    const initial = v.number(part, 'initialLimit', o.initialLimit, 'positive-integer', 20);
    this.estimate = Math.min(this.maxLimit, Math.max(this.minLimit, initial));
    this.#limit = Math.floor(this.estimate);
    this.#lowest = this.#limit;
    this.#highest = this.#limit;
    this.#minWindowMs = v.number(part, 'minWindowMs', o.minWindowMs, 'positive', 100);
    this.#maxWindowMs = v.number(part, 'maxWindowMs', o.maxWindowMs, 'positive', Math.max(1000, this.#minWindowMs));
    if (this.#maxWindowMs < this.#minWindowMs) {
      throw new RangeError(`${part}: maxWindowMs must be at least minWindowMs (${this.#minWindowMs}), got ${this.#maxWindowMs}`);
    }
    this.#windowSize = v.number(part, 'windowSize', o.windowSize, 'positive-integer', 10);
    this.#clock = v.clock(part, o.clock, systemClock);
    this.#rates = new CountRates(RATES_WINDOW_MS, this.#clock.now(), [0, 0]);
  }

  /** The limit in force now: an integer in `minLimit..maxLimit`. */
  get limit(): number {
    return this.#limit;
  }

  /**
   * Where the limit is and where it has been, and the samples, drops and
   * windows it saw, since construction; samples and drops per second over
   * the last minute (a sliding window of four 15 s slots).
   */
  metrics(): LimitMetrics {
    const rates = this.#rates.read(this.#clock.now(), [this.#sampleCount, this.#dropCount]);
    return {
      limit: this.#limit,
      minLimit: this.minLimit,
      maxLimit: this.maxLimit,
      lowest: this.#lowest,
      highest: this.#highest,
      samples: this.#sampleCount,
      drops: this.#dropCount,
      windows: this.#windowCount,
      changes: this.#changeCount,
      windowMs: rates.windowMs,
      samplesPerSecond: rates.perSecond[0]!,
      dropsPerSecond: rates.perSecond[1]!,
    };
  }

  /**
   * Adds one settled attempt. A window holds the attempts that ended within
   * it; an attempt that ends past the window's end closes it — when it holds
   * `windowSize` samples or a drop; otherwise it goes on collecting — the
   * algorithm decides on it, and the attempt opens the next window, lasting
   * twice the fastest latency of the last one, between `minWindowMs` and
   * `maxWindowMs` (Netflix's `WindowedLimit`, which adds the closing attempt
   * to the window it closes). The first window lasts `minWindowMs`.
   * @throws TypeError when `sample` is not a {@link LimitSample}.
   */
  onSample(sample: LimitSample): void {
    const { startedAt, rttMs, inFlight, dropped } = sample ?? ({} as LimitSample);
    if (typeof startedAt !== 'number' || typeof rttMs !== 'number' || typeof inFlight !== 'number' || typeof dropped !== 'boolean') {
      throw new TypeError(`${this.part}: onSample takes { startedAt, rttMs, inFlight, dropped }, got ${v.show(sample)}`);
    }
    const rtt = Math.max(rttMs || 0, 0); // NaN and negatives count as 0
    const now = this.#clock.now();
    if (now >= this.#rates.next) this.#rates.snap(now, [this.#sampleCount, this.#dropCount]);
    this.#sampleCount++;
    if (dropped) this.#dropCount++;
    const end = Math.max(startedAt + rtt, now);
    // The first window lasts minWindowMs too: closed on its first windowSize samples, it would hold only the
    // fastest of the first attempts, and a limit that keeps the lowest latency seen (Vegas) would keep that bias.
    if (this.#windowEnd === -Infinity) this.#windowEnd = end + this.#minWindowMs;
    else if (end > this.#windowEnd && (this.#samples >= this.#windowSize || this.#dropped)) this.#close(end);
    this.#samples++;
    if (dropped) this.#dropped = true;
    else {
      this.#rttSum += rtt;
      this.#timed++;
      if (rtt < this.#minRtt) this.#minRtt = rtt;
    }
    if (inFlight > this.#maxInFlight) this.#maxInFlight = inFlight;
    if (startedAt > this.#lastStart) this.#lastStart = startedAt;
  }

  /** Closes the open window at `end`: the algorithm decides on it, and the next one opens. */
  #close(end: number): void {
    this.#windowCount++;
    const window: WindowSummary = {
      startedAt: this.#lastStart,
      rttMs: this.#timed > 0 ? this.#rttSum / this.#timed : 0,
      minRttMs: this.#minRtt,
      maxInFlight: this.#maxInFlight,
      dropped: this.#dropped,
      samples: this.#samples,
    };
    const fastest = Number.isFinite(this.#minRtt) ? this.#minRtt : 0;
    this.#windowEnd = end + Math.min(Math.max(fastest * 2, this.#minWindowMs), this.#maxWindowMs);
    this.#samples = 0;
    this.#rttSum = 0;
    this.#timed = 0;
    this.#minRtt = Infinity;
    this.#maxInFlight = 0;
    this.#dropped = false;
    const decided = this.decide(window);
    if (decided !== undefined) this.#move(decided[0], decided[1]);
  }

  /**
   * The algorithm: given the window that just closed, the new estimate (a
   * real number; clamped to `minLimit..maxLimit` here) and why, or
   * `undefined` to keep the limit.
   */
  protected abstract decide(window: WindowSummary): readonly [estimate: number, reason: LimitReason] | undefined;

  #move(estimate: number, reason: LimitReason): void {
    this.estimate = Math.min(this.maxLimit, Math.max(this.minLimit, estimate));
    const to = Math.floor(this.estimate);
    const from = this.#limit;
    if (to === from) return;
    this.#limit = to;
    this.#changeCount++;
    if (to < this.#lowest) this.#lowest = to;
    if (to > this.#highest) this.#highest = to;
    emitSafely<LimitEvents, 'limit'>(this, 'limit', { from, to, reason });
  }
}

/** The checked options object of a built-in limit. */
export function limitOptions<O extends AdaptiveLimitOptions>(part: string, options: unknown, keys: ReadonlySet<string>): O {
  return v.options<O>(part, options, keys);
}
