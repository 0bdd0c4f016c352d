import type { Quantiles } from '../queue-types.js';

/**
 * A fixed-memory log-linear histogram of durations in ms (HdrHistogram's
 * layout, coarse): 1 µs resolution below 16 µs, then 16 linear sub-buckets
 * per power of two up to 2³² µs (about 71 minutes); larger values count in
 * the top bucket (`max` stays exact). 464 buckets of 4 bytes: 1.8 KB.
 *
 * A quantile is the midpoint of the bucket holding it: within 1/32 (3.125 %)
 * of a value that was recorded, or 0.5 µs below 16 µs.
 */
export class Histogram {
  /** Linear sub-buckets per power of two. */
  static readonly SUB = 16;
  /** Buckets: 16 of 1 µs, then 16 per power of two from 2⁴ to 2³² µs. */
  static readonly SIZE = 16 + 28 * 16;
  /** The largest relative error of a quantile (above 16 µs). */
  static readonly RELATIVE_ERROR = 1 / 32;

  readonly counts = new Uint32Array(Histogram.SIZE);
  count = 0;
  max = 0;
  sum = 0;

  /**
   * Records a duration in ms (negative and NaN count as 0), standing for
   * `weight` values (a sample of one in `weight`: counts, quantiles and the
   * mean then estimate the whole).
   */
  record(ms: number, weight = 1): void {
    const v = Math.max(ms || 0, 0); // NaN and negatives count as 0
    this.counts[indexOf(v)]! += weight;
    this.count += weight;
    this.sum += v * weight;
    if (v > this.max) this.max = v;
  }

  /** Adds another histogram's counts to this one. */
  add(other: Histogram): void {
    if (other.count === 0) return;
    const counts = this.counts;
    const theirs = other.counts;
    for (let i = 0; i < counts.length; i++) counts[i]! += theirs[i]!;
    this.count += other.count;
    this.sum += other.sum;
    if (other.max > this.max) this.max = other.max;
  }

  /** Forgets everything. */
  clear(): void {
    if (this.count === 0) return;
    this.counts.fill(0);
    this.count = 0;
    this.max = 0;
    this.sum = 0;
  }

  /** The value at quantile `q` (0..1), in ms: its bucket's midpoint, at most `max`; 0 when empty. */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    const counts = this.counts;
    for (let i = 0; i < counts.length; i++) {
      seen += counts[i]!;
      if (seen >= rank) return i === counts.length - 1 ? this.max : Math.min(midpointOf(i), this.max);
    }
    return this.max;
  }
}

/** The bucket of a duration in ms. */
function indexOf(ms: number): number {
  const us = ms * 1000;
  if (us < 16) return Math.floor(us);
  if (us >= 2 ** 32) return Histogram.SIZE - 1;
  const e = 31 - Math.clz32(us); // floor(log2(us)) for us < 2^32: 4..31
  const sub = Math.floor(us / 2 ** (e - 4)) - 16; // 0..15
  return 16 + (e - 4) * 16 + sub;
}

/** The midpoint of bucket `i`, in ms. */
function midpointOf(i: number): number {
  if (i < 16) return (i + 0.5) / 1000;
  const e = 4 + ((i - 16) >> 4);
  const sub = (i - 16) & 15;
  const width = 2 ** (e - 4);
  return ((16 + sub) * width + width / 2) / 1000;
}

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
