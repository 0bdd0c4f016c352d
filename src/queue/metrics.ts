import { Histogram, quantilesOf } from '../internal/histogram.js';
import { SlidingWindow } from '../internal/sliding-window.js';
import type { QueueMetrics } from '../queue-types.js';

/** One slot of a queue's metrics window. */
interface Slot {
  arrivals: number;
  completed: number;
  failed: number;
  readonly wait: Histogram;
  readonly run: Histogram;
  /** ∫ waiting dt over the slot's time, item·ms (observed at arrivals and timed starts). */
  waitingArea: number;
}

const makeSlot = (): Slot => ({ arrivals: 0, completed: 0, failed: 0, wait: new Histogram(), run: new Histogram(), waitingArea: 0 });
const resetSlot = (s: Slot): void => {
  s.arrivals = 0;
  s.completed = 0;
  s.failed = 0;
  s.wait.clear();
  s.run.clear();
  s.waitingArea = 0;
};

/** The span over which the push rate is judged for timing every attempt, ms. */
const SPAN_MS = 64;

/**
 * What a queue with `metrics` on records. Every arrival and outcome is
 * counted (no clock read of its own: an arrival has its push's stamp, an
 * outcome goes to the current slot), and every arrival and timed start
 * observes the number waiting (∫ waiting dt: Little's law's L). Attempts are
 * timed (their wait and run times go to log-linear histograms) while pushes
 * average at most one per ms over the last 64 to 128 ms; faster, one in `sampleEvery` on a random stride
 * (so no periodic pattern in the work can hide from it). Fixed memory: four slots of two 1.8 KB
 * histograms (about 15 KB).
 */
export class QueueRecorder {
  readonly #window: SlidingWindow<Slot>;
  /** The slot counters go to: the current one at the last time read. */
  #slot: Slot;
  /** The number waiting at the last timed observation, and when (for ∫ waiting dt). */
  #waiting = 0;
  #observedAt: number;
  readonly #sampleEvery: number;
  /** Attempts until the next timed one. */
  #countdown = 1;
  #seed = 0x9e3779b9;

  constructor(windowMs: number, sampleEvery: number, now: number) {
    this.#window = new SlidingWindow(windowMs, makeSlot, resetSlot, now);
    this.#slot = this.#window.at(now);
    this.#observedAt = now;
    this.#sampleEvery = sampleEvery;
  }

  /** The latest push stamp seen (ms). */
  #lastArrival = Number.NEGATIVE_INFINITY;
  /** Pushes counted by stamp in spans of {@link SPAN_MS}: the current span's number, its count and the last span's. */
  #span = Number.NEGATIVE_INFINITY;
  #inSpan = 0;
  #inLastSpan = 0;
  /** The weight of a sampled attempt's figures now: 1 while every attempt is timed, else `sampleEvery`. */
  #weight = 1;

  /**
   * Whether the attempt starting now is timed, as the weight its figures
   * carry (0: not timed): every one (weight 1) while pushes average at most
   * one per ms over the current and the last span of 64 ms (by their stamps,
   * no clock read: a burst of pushes is timed whole), else one in
   * `sampleEvery` on a random stride, standing for `sampleEvery` attempts
   * (so the quantiles are not tilted toward the slower period's attempts).
   * `waiting` items wait now: an attempt not timed sets the number waiting
   * with no clock read (see {@link QueueRecorder.level}).
   */
  sample(waiting: number): number {
    if (this.#inSpan + this.#inLastSpan <= 2 * SPAN_MS) {
      this.#weight = 1;
      return 1;
    }
    this.#weight = this.#sampleEvery;
    if (--this.#countdown > 0) {
      this.#waiting = waiting;
      return 0;
    }
    if (this.#sampleEvery === 1) this.#countdown = 1;
    else {
      // xorshift32: a stride of 1 .. 2 × sampleEvery − 1, sampleEvery on average.
      let x = this.#seed;
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      this.#seed = x >>> 0;
      this.#countdown = 1 + (this.#seed % (2 * this.#sampleEvery - 1));
    }
    return this.#sampleEvery;
  }

  /** The number waiting is `waiting` at `now`: the time since the last observation counts at the old number. */
  #observe(now: number, waiting: number): Slot {
    const slot = this.#window.at(now);
    this.#slot = slot;
    const dt = now - this.#observedAt;
    if (dt > 0) {
      slot.waitingArea += this.#waiting * dt;
      this.#observedAt = now;
    }
    this.#waiting = waiting;
    return slot;
  }

  /** An item was accepted at `now` (the push's stamp: no clock read of its own); `waiting` items wait now. */
  arrived(now: number, waiting: number): void {
    this.#inSpan++;
    if (now === this.#lastArrival) {
      // Pushes stamped in the same turn: no time passed since the last observation.
      this.#waiting = waiting;
      this.#slot.arrivals++;
      return;
    }
    this.#lastArrival = now;
    const span = Math.floor(now / SPAN_MS);
    if (span !== this.#span) {
      this.#inLastSpan = span === this.#span + 1 ? this.#inSpan - 1 : 0;
      this.#inSpan = 1;
      this.#span = span;
    }
    this.#observe(now, waiting).arrivals++;
  }

  /**
   * The number waiting changed with no clock read (an untimed start, a
   * retry's re-entry): the time since the last observation counts at the new
   * number. Observations come at every arrival, so the error is bounded by
   * the gap between arrivals (under 1 ms whenever attempts go untimed).
   */
  level(waiting: number): void {
    this.#waiting = waiting;
  }

  /** An attempt that was not timed ended: counted in the current slot. */
  counted(ok: boolean): void {
    const slot = this.#slot;
    if (ok) slot.completed++;
    else slot.failed++;
  }

  /**
   * A timed attempt started at `now` after waiting `waitMs`; `waiting` items
   * wait now. `weight`: what {@link QueueRecorder.sample} gave, or 1 when
   * every attempt is timed (the queue has a listener).
   */
  started(now: number, waitMs: number, waiting: number, weight: number): void {
    this.#observe(now, waiting).wait.record(waitMs, weight);
  }

  /**
   * A timed attempt ended at `now` after `runMs`: counted and recorded, with
   * weight 1 when every attempt is timed, else the current sampling weight.
   */
  settled(now: number, runMs: number, ok: boolean, everyAttempt: boolean): void {
    const slot = this.#window.at(now);
    this.#slot = slot;
    if (ok) slot.completed++;
    else slot.failed++;
    slot.run.record(runMs, everyAttempt ? 1 : this.#weight);
  }

  /**
   * Counts tallied elsewhere (a RedisQueue's counters in Redis, read at
   * `now`): `arrivals`, `completed` and `failed` since the last tally, and
   * `waiting` items wait now.
   */
  tally(now: number, arrivals: number, completed: number, failed: number, waiting: number): void {
    const slot = this.#observe(now, waiting);
    slot.arrivals += arrivals;
    slot.completed += completed;
    slot.failed += failed;
  }

  /** An attempt's run time, its outcome counted elsewhere (see {@link QueueRecorder.tally}). */
  ran(now: number, runMs: number): void {
    const slot = this.#window.at(now);
    this.#slot = slot;
    slot.run.record(runMs, 1);
  }

  /** The window's figures at `now`. */
  read(now: number, waiting: number, inFlight: number, concurrencyLimit: number): QueueMetrics {
    this.#observe(now, waiting);
    const wait = new Histogram();
    const run = new Histogram();
    let arrivals = 0;
    let completed = 0;
    let failed = 0;
    let area = 0;
    const covered = this.#window.read(now, (s) => {
      arrivals += s.arrivals;
      completed += s.completed;
      failed += s.failed;
      area += s.waitingArea;
      wait.add(s.wait);
      run.add(s.run);
    });
    const seconds = covered / 1000;
    const perSecond = (n: number): number => (seconds > 0 ? n / seconds : 0);
    const lambda = perSecond(arrivals);
    const W = wait.count === 0 ? 0 : wait.sum / wait.count / 1000;
    const L = covered > 0 ? area / covered : waiting;
    const lambdaW = lambda * W;
    return {
      windowMs: covered,
      arrivalRate: lambda,
      throughput: perSecond(completed),
      failureRate: perSecond(failed),
      waitMs: quantilesOf(wait),
      runMs: quantilesOf(run),
      waiting,
      inFlight,
      concurrencyLimit,
      littlesLaw: { L, lambda, W, lambdaW, relativeError: L > 0 ? Math.abs(L - lambdaW) / L : lambdaW > 0 ? 1 : 0 },
    };
  }
}
