import * as v from '../internal/validate.js';
import { AdaptiveLimit, type AdaptiveLimitOptions, LIMIT_KEYS, type LimitReason, limitOptions, type WindowSummary } from './limit.js';

const PART = 'VegasLimit';

/** Options of {@link VegasLimit}. */
export interface VegasLimitOptions extends AdaptiveLimitOptions {
  /** How much of each new estimate is taken, in `(0, 1]`. @default 1 (Netflix's `smoothing`) */
  readonly smoothing?: number;
  /** The no-load latency is measured again every `probeMultiplier × limit` windows (× a jitter in [0.5, 1)). @default 30 (Netflix's) */
  readonly probeMultiplier?: number;
  /** Source of randomness for the probe's jitter, `[0, 1)`. @default Math.random */
  readonly random?: () => number;
}

const KEYS = /* @__PURE__ */ v.knownKeys<VegasLimitOptions>({ ...LIMIT_KEYS, smoothing: true, probeMultiplier: true, random: true });

/** `max(1, floor(log10(n)))`: Netflix's `Log10RootIntFunction`. */
function log10(n: number): number {
  return Math.max(1, Math.floor(Math.log10(Math.max(1, n))));
}

/**
 * A limit from the queue it estimates at the server, as Netflix
 * concurrency-limits' `VegasLimit` (after TCP Vegas). With `rttNoLoad` the
 * lowest latency seen (probed again every `probeMultiplier × limit`
 * windows) and `rtt` the window's mean:
 *
 * - `queue = ceil(limit × (1 − rttNoLoad / rtt))`
 * - a drop: `limit − log10(limit)`;
 * - `queue ≤ log10(limit)`: `limit + 6·log10(limit)` (β: no queueing, grow fast);
 * - `queue < 3·log10(limit)` (α): `limit + log10(limit)`;
 * - `queue > 6·log10(limit)` (β): `limit − log10(limit)`;
 * - otherwise unchanged; no growth while in flight stays under half the limit;
 *
 * with `log10(n) = max(1, ⌊log₁₀ n⌋)`, smoothed by `smoothing` and kept
 * within `minLimit..maxLimit`. Netflix's defaults: `initialLimit` 20,
 * `maxLimit` 1 000, `smoothing` 1, `probeMultiplier` 30.
 *
 * @example
 * ```ts
 * const queue = new Queue({ handler: send, concurrency: new VegasLimit({ maxLimit: 256 }) });
 * ```
 */
export class VegasLimit extends AdaptiveLimit {
  readonly #smoothing: number;
  readonly #probeMultiplier: number;
  readonly #random: () => number;
  #rttNoLoad = 0;
  #probeCount = 0;
  #probeJitter: number;

  /**
   * @param options - see {@link VegasLimitOptions}.
   * @throws TypeError for an unknown option or a wrong type; RangeError for a number out of range.
   */
  constructor(options: VegasLimitOptions = {}) {
    const o = limitOptions<VegasLimitOptions>(PART, options, KEYS);
    super(PART, o, 1000);
    this.#smoothing = v.number(PART, 'smoothing', o.smoothing, 'positive', 1);
    if (this.#smoothing > 1) throw new RangeError(`${PART}: smoothing must be in (0, 1], got ${this.#smoothing}`);
    this.#probeMultiplier = v.number(PART, 'probeMultiplier', o.probeMultiplier, 'positive-integer', 30);
    this.#random = v.fn<() => number>(PART, 'random', o.random) ?? Math.random;
    this.#probeJitter = this.#jitter();
  }

  /** The latency (ms) taken as "no load"; 0 until the first window. */
  get rttNoLoadMs(): number {
    return this.#rttNoLoad;
  }

  #jitter(): number {
    return 0.5 + this.#random() * 0.5;
  }

  /** Vegas's rule, once per window (see the class). */
  protected decide(w: WindowSummary): readonly [number, LimitReason] | undefined {
    const estimate = this.estimate;
    const decrease = estimate - log10(estimate);
    const smooth = (next: number): number => (1 - this.#smoothing) * estimate + this.#smoothing * next;
    if (w.dropped) return [smooth(decrease), 'drop'];
    const rtt = w.rttMs;
    if (rtt <= 0) return undefined;
    this.#probeCount++;
    if (this.#probeJitter * this.#probeMultiplier * estimate <= this.#probeCount) {
      this.#probeJitter = this.#jitter();
      this.#probeCount = 0;
      this.#rttNoLoad = rtt;
      return undefined;
    }
    if (this.#rttNoLoad === 0 || rtt < this.#rttNoLoad) {
      this.#rttNoLoad = rtt;
      return undefined;
    }
    if (w.maxInFlight * 2 < estimate) return undefined;
    const queue = Math.ceil(estimate * (1 - this.#rttNoLoad / rtt));
    const l = log10(estimate);
    if (queue <= l) return [smooth(estimate + 6 * l), 'increase'];
    if (queue < 3 * l) return [smooth(estimate + l), 'increase'];
    if (queue > 6 * l) return [smooth(decrease), 'decrease'];
    return undefined;
  }
}
