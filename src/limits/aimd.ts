import * as v from '../internal/validate.js';
import { AdaptiveLimit, type AdaptiveLimitOptions, LIMIT_KEYS, type LimitReason, limitOptions, type WindowSummary } from './limit.js';

const PART = 'AimdLimit';

/** Options of {@link AimdLimit}. */
export interface AimdLimitOptions extends AdaptiveLimitOptions {
  /**
   * What the limit is multiplied by after a window with a drop: in
   * `[0.5, 1)`. @default 0.9 (Netflix's `backoffRatio`)
   */
  readonly backoffRatio?: number;
  /** A window whose mean latency passes this many ms counts as a drop. @default 5000 (Netflix's `timeout`) */
  readonly timeoutMs?: number;
}

const KEYS = /* @__PURE__ */ v.knownKeys<AimdLimitOptions>({ ...LIMIT_KEYS, backoffRatio: true, timeoutMs: true });

/**
 * Additive increase, multiplicative decrease, as Netflix concurrency-limits'
 * `AIMDLimit` (and TCP Reno): once per decision window,
 *
 * - a drop (429/503, Retry-After, a timeout; see `classify`) or a mean
 *   latency above `timeoutMs`: `limit = floor(limit × backoffRatio)`;
 * - otherwise, while the window's most attempts in flight reached half the
 *   limit: `limit = limit + 1` (a limit the work never uses does not grow);
 *
 * always within `minLimit..maxLimit`. Netflix's defaults: `initialLimit`
 * 20, `maxLimit` 200, `backoffRatio` 0.9, `timeoutMs` 5 000; `minLimit` is 1
 * here (Netflix's is 20). AIMD reacts to drops only: it finds the most the
 * server takes before it sheds load, where {@link Gradient2Limit} and
 * {@link VegasLimit} back off as latency grows.
 *
 * @example
 * ```ts
 * const limit = new AimdLimit({ initialLimit: 10, maxLimit: 100 });
 * const queue = new Queue({ handler: send, concurrency: limit, retryAfter: 'queue' });
 * limit.on('limit', ({ from, to, reason }) => console.log(`limit ${from} → ${to} (${reason})`));
 * ```
 */
export class AimdLimit extends AdaptiveLimit {
  /** The factor applied on a drop. */
  readonly backoffRatio: number;
  /** The latency (ms) that counts as a drop. */
  readonly timeoutMs: number;

  /**
   * @param options - see {@link AimdLimitOptions}.
   * @throws TypeError for an unknown option or a wrong type; RangeError for a
   *   number out of range (`backoffRatio` outside `[0.5, 1)`, `maxLimit` below `minLimit`).
   */
  constructor(options: AimdLimitOptions = {}) {
    const o = limitOptions<AimdLimitOptions>(PART, options, KEYS);
    super(PART, o, 200);
    const ratio = v.number(PART, 'backoffRatio', o.backoffRatio, 'positive', 0.9);
    if (ratio < 0.5 || ratio >= 1) throw new RangeError(`${PART}: backoffRatio must be in [0.5, 1), got ${ratio}`);
    this.backoffRatio = ratio;
    this.timeoutMs = v.number(PART, 'timeoutMs', o.timeoutMs, 'positive', 5000);
  }

  /** AIMD's rule, once per window (see the class). */
  protected decide(w: WindowSummary): readonly [number, LimitReason] | undefined {
    const limit = this.limit;
    if (w.dropped) return [Math.floor(limit * this.backoffRatio), 'drop'];
    if (w.rttMs > this.timeoutMs) return [Math.floor(limit * this.backoffRatio), 'timeout'];
    if (w.maxInFlight * 2 >= limit) return [limit + 1, 'increase'];
    return undefined;
  }
}
