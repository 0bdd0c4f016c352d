import { Histogram } from '../internal/histogram.js';
import { SlidingWindow } from '../internal/sliding-window.js';
import type { Quantiles, QueueMetrics } from '../queue-types.js';

/** One slot of a queue's metrics window. */
interface Slot {
  arrivals: number;
  started: number;
  completed: number;
  failed: number;
  readonly wait: Histogram;
  readonly run: Histogram;
  /** ∫ waiting dt over the slot's time, item·ms. */
  waitingArea: number;
}

const makeSlot = (): Slot => ({
  arrivals: 0,
  started: 0,
  completed: 0,
  failed: 0,
  wait: new Histogram(),
  run: new Histogram(),
  waitingArea: 0,
});
const resetSlot = (s: Slot): void => {
  s.arrivals = 0;
  s.started = 0;
  s.completed = 0;
  s.failed = 0;
  s.wait.clear();
  s.run.clear();
  s.waitingArea = 0;
};

/** Quantiles of a histogram, in ms. */
export function quantilesOf(h: Histogram): Quantiles {
  return {
    p50: h.quantile(0.5),
    p90: h.quantile(0.9),
    p99: h.quantile(0.99),
    max: h.max,
    mean: h.count === 0 ? 0 : h.sum / h.count,
    count: h.count,
  };
}

/**
 * What a queue with `metrics` on records: arrivals, starts and outcomes per
 * slot of a sliding window, wait and run times in log-linear histograms,
 * and the number waiting integrated over time (Little's law's L).
 * Fixed memory: four slots of two 1.8 KB histograms (about 15 KB).
 */
export class QueueRecorder {
  readonly #window: SlidingWindow<Slot>;
  /** The waiting count at the last observation, and when (for ∫ waiting dt). */
  #waiting = 0;
  #observedAt: number;

  constructor(windowMs: number, now: number) {
    this.#window = new SlidingWindow(windowMs, makeSlot, resetSlot, now);
    this.#observedAt = now;
  }

  /** The number waiting changed to `waiting` at `now`: the time before it counts at the old number. */
  #observe(now: number, waiting: number): Slot {
    const slot = this.#window.at(now);
    const dt = now - this.#observedAt;
    if (dt > 0) {
      slot.waitingArea += this.#waiting * dt;
      this.#observedAt = now;
    }
    this.#waiting = waiting;
    return slot;
  }

  arrived(now: number, waiting: number): void {
    this.#observe(now, waiting).arrivals++;
  }

  started(now: number, waitMs: number, waiting: number): void {
    const slot = this.#observe(now, waiting);
    slot.started++;
    slot.wait.record(waitMs);
  }

  settled(now: number, runMs: number, ok: boolean): void {
    const slot = this.#window.at(now);
    if (ok) slot.completed++;
    else slot.failed++;
    slot.run.record(runMs);
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
