import * as v from '../internal/validate.js';
import { AdaptiveLimit, type AdaptiveLimitOptions, LIMIT_KEYS, type LimitReason, limitOptions, type WindowSummary } from './limit.js';

const PART = 'Gradient2Limit';

/** Options of {@link Gradient2Limit}. */
export interface Gradient2LimitOptions extends AdaptiveLimitOptions {
  /** How far the limit may grow per window while latency stays low: a number, or a function of the limit. @default 4 (Netflix's `queueSize`) */
  readonly queueSize?: number | ((limit: number) => number);
  /** How much of each new estimate is taken, in `(0, 1]` (1: all of it). @default 0.2 (Netflix's `smoothing`) */
  readonly smoothing?: number;
  /** How much slower (≥ 1×) latency may get than the long-term average before the limit shrinks. @default 1.5 (Netflix's `rttTolerance`) */
  readonly rttTolerance?: number;
  /**
   * Windows in the long-term latency average (an exponential moving average,
   * after 10 windows of plain mean). Netflix's `longWindow` is 600 windows
   * of its default 1 s: ten minutes. sluice's windows last 100 ms or more,
   * so its default keeps Netflix's ten minutes at 100 ms; with 600, the
   * average follows the queueing it should measure against, and the limit
   * creeps up.
   * @default 6000
   */
  readonly longWindow?: number;
  /**
   * What the limit is multiplied by after a window with a drop, in `[0.5, 1]`
   * (`1`: drops are ignored, as in Netflix's Gradient2). A server that sheds
   * load answers 429 fast, so latency alone would never lower the limit.
   * @default 0.9 (AIMD's backoff; sluice's addition)
   */
  readonly backoffRatio?: number;
}

const KEYS = /* @__PURE__ */ v.knownKeys<Gradient2LimitOptions>({
  ...LIMIT_KEYS,
  queueSize: true,
  smoothing: true,
  rttTolerance: true,
  longWindow: true,
  backoffRatio: true,
});

/** Windows of plain mean before the long-term average turns exponential (Netflix's `ExpAvgMeasurement` warm-up). */
const WARMUP = 10;

/**
 * A limit that follows the gradient between long-term and recent latency, as
 * Netflix concurrency-limits' `Gradient2Limit`. Once per decision window,
 * with `shortRtt` the window's mean latency and `longRtt` an exponential
 * moving average of those over `longWindow` windows:
 *
 * - `gradient = clamp(rttTolerance × longRtt / shortRtt, 0.5, 1)`
 * - `newLimit = limit × gradient + queueSize`
 * - `limit = limit × (1 − smoothing) + newLimit × smoothing`, within `minLimit..maxLimit`
 *
 * The limit does not grow while the window's most attempts in flight stay
 * under half of it (the work, not the server, is the bottleneck); when
 * `longRtt` passes twice `shortRtt` (latency recovered after a long
 * overload) it decays by 5 % per window. Netflix's defaults: `initialLimit`
 * 20, `maxLimit` 200, `queueSize` 4, `smoothing` 0.2, `rttTolerance` 1.5,
 * `longWindow` 600 (of 1 s windows: sluice's 6 000 of 100 ms keeps the ten
 * minutes); `minLimit` is 1 here (Netflix's is 20). sluice adds
 * `backoffRatio` for drops.
 *
 * @example
 * ```ts
 * const queue = new Queue({ handler: send, concurrency: new Gradient2Limit({ maxLimit: 64 }) });
 * ```
 */
export class Gradient2Limit extends AdaptiveLimit {
  readonly #queueSize: (limit: number) => number;
  readonly #smoothing: number;
  readonly #tolerance: number;
  readonly #factor: number;
  readonly #backoffRatio: number;
  #longRtt = 0;
  #longSum = 0;
  #longCount = 0;

  /**
   * @param options - see {@link Gradient2LimitOptions}.
   * @throws TypeError for an unknown option or a wrong type; RangeError for a number out of range.
   */
  constructor(options: Gradient2LimitOptions = {}) {
    const o = limitOptions<Gradient2LimitOptions>(PART, options, KEYS);
    super(PART, o, 200);
    const queueSize = o.queueSize;
    if (typeof queueSize === 'function') this.#queueSize = queueSize;
    else {
      const q = v.number(PART, 'queueSize', queueSize, 'non-negative', 4);
      this.#queueSize = () => q;
    }
    this.#smoothing = v.number(PART, 'smoothing', o.smoothing, 'positive', 0.2);
    if (this.#smoothing > 1) throw new RangeError(`${PART}: smoothing must be in (0, 1], got ${this.#smoothing}`);
    this.#tolerance = v.number(PART, 'rttTolerance', o.rttTolerance, 'positive', 1.5);
    if (this.#tolerance < 1) throw new RangeError(`${PART}: rttTolerance must be at least 1, got ${this.#tolerance}`);
    this.#factor = 2 / (v.number(PART, 'longWindow', o.longWindow, 'positive-integer', 6000) + 1);
    this.#backoffRatio = v.number(PART, 'backoffRatio', o.backoffRatio, 'positive', 0.9);
    if (this.#backoffRatio < 0.5 || this.#backoffRatio > 1) {
      throw new RangeError(`${PART}: backoffRatio must be in [0.5, 1], got ${this.#backoffRatio}`);
    }
  }

  /** The long-term latency average (ms): the latency the limit takes as "no queueing". */
  get longRttMs(): number {
    return this.#longRtt;
  }

  /** Gradient2's rule, once per window (see the class). */
  protected decide(w: WindowSummary): readonly [number, LimitReason] | undefined {
    const estimate = this.estimate;
    if (w.dropped && this.#backoffRatio < 1) return [estimate * this.#backoffRatio, 'drop'];
    if (w.rttMs <= 0) return undefined; // nothing timed (every attempt dropped, or instant)
    const shortRtt = w.rttMs;
    let longRtt: number;
    if (this.#longCount < WARMUP) {
      this.#longCount++;
      this.#longSum += shortRtt;
      longRtt = this.#longSum / this.#longCount;
    } else longRtt = this.#longRtt * (1 - this.#factor) + shortRtt * this.#factor;
    if (longRtt / shortRtt > 2) longRtt *= 0.95;
    this.#longRtt = longRtt;
    if (w.maxInFlight < estimate / 2) return undefined;
    const gradient = Math.max(0.5, Math.min(1, (this.#tolerance * longRtt) / shortRtt));
    const queueSize = this.#queueSize(Math.floor(estimate));
    const next = estimate * (1 - this.#smoothing) + (estimate * gradient + queueSize) * this.#smoothing;
    return [next, next >= estimate ? 'increase' : 'decrease'];
  }
}
