import * as v from './internal/validate.js';

/** The keys of {@link BackoffOptions}. */
export const BACKOFF_KEYS = /* @__PURE__ */ v.knownKeys<BackoffOptions>({
  initialDelayMs: true,
  maxDelayMs: true,
  multiplier: true,
  jitter: true,
  random: true,
});

/** How a backoff delay is randomised; the four strategies of AWS's "Exponential Backoff and Jitter". */
export type Jitter = 'none' | 'full' | 'equal' | 'decorrelated';

/**
 * A backoff strategy: the delay in ms before the attempt after `attempt`
 * (attempts are numbered from 1). `previousDelayMs` is the delay this
 * strategy returned last time (used by `'decorrelated'` jitter).
 */
export type BackoffFn = (attempt: number, previousDelayMs?: number) => number;

/** Options of {@link backoff}. */
export interface BackoffOptions {
  /** Delay after the first failed attempt, before jitter, in ms. @default 100 */
  readonly initialDelayMs?: number;
  /** No delay exceeds this many ms. @default 30000, or `initialDelayMs` when that is larger */
  readonly maxDelayMs?: number;
  /** Growth factor per attempt (≥ 1). @default 2 */
  readonly multiplier?: number;
  /** Randomisation strategy. @default 'full' */
  readonly jitter?: Jitter;
  /** Random source returning values in `[0, 1)`, injectable for tests. @default Math.random */
  readonly random?: () => number;
}

const JITTERS: readonly Jitter[] = ['none', 'full', 'equal', 'decorrelated'];

/**
 * Exponential backoff with jitter, exactly as AWS's Architecture Blog
 * "Exponential Backoff and Jitter" defines it. For attempt `n`:
 *
 * - `base = min(maxDelayMs, initialDelayMs × multiplier^(n-1))`
 * - `'none'`: `base`
 * - `'full'`: `rand(0, base)`
 * - `'equal'`: `base/2 + rand(0, base/2)`
 * - `'decorrelated'`: `min(maxDelayMs, rand(initialDelayMs, previous × 3))`,
 *   where `previous` starts at `initialDelayMs` and is the last capped delay.
 *
 * with `rand(a, b) = a + random() × (b − a)`.
 *
 * @param options - see {@link BackoffOptions}.
 * @returns a {@link BackoffFn}. It throws `TypeError` when `attempt` is not a number, `RangeError`
 *   when it is not a positive integer.
 * @throws TypeError for an option of the wrong type or an unknown `jitter`.
 * @throws RangeError for a negative or non-finite delay, `maxDelayMs < initialDelayMs`, or `multiplier < 1`.
 *
 * @example
 * ```ts
 * const delay = backoff({ initialDelayMs: 200, jitter: 'equal' });
 * delay(1); // 100..200
 * delay(3); // 400..800
 * ```
 */
export function backoff(options?: BackoffOptions): BackoffFn {
  const part = 'backoff';
  const o = v.options<BackoffOptions>(part, options, BACKOFF_KEYS);
  const initial = v.number(part, 'initialDelayMs', o.initialDelayMs, 'non-negative', 100);
  // Without a maxDelayMs, the cap is 30 s, or the initial delay when that is longer.
  const max = v.number(part, 'maxDelayMs', o.maxDelayMs, 'non-negative', Math.max(30_000, initial));
  if (max < initial) {
    throw new RangeError(`${part}: maxDelayMs must be at least initialDelayMs (${initial}), got ${max}`);
  }
  const multiplier = v.number(part, 'multiplier', o.multiplier, 'positive', 2);
  if (multiplier < 1) throw new RangeError(`${part}: multiplier must be at least 1, got ${multiplier}`);
  const jitter = v.choice(part, 'jitter', o.jitter, JITTERS, 'full');
  const random = v.fn<() => number>(part, 'random', o.random) ?? Math.random;
  const rand = (a: number, b: number): number => a + random() * (b - a);

  return (attempt: number, previousDelayMs?: number): number => {
    if (typeof attempt !== 'number') throw new TypeError(`${part}: attempt must be a positive integer, got ${v.show(attempt)}`);
    if (!Number.isInteger(attempt) || attempt < 1) {
      throw new RangeError(`${part}: attempt must be a positive integer, got ${v.show(attempt)}`);
    }
    if (jitter === 'decorrelated') {
      const previous =
        typeof previousDelayMs === 'number' && Number.isFinite(previousDelayMs) && previousDelayMs > 0 ? previousDelayMs : initial;
      return Math.min(max, rand(initial, Math.max(initial, previous * 3)));
    }
    // 0 × Infinity (a zero initial delay at an attempt whose growth overflows) is NaN: a zero delay stays zero.
    const base = initial === 0 ? 0 : Math.min(max, initial * multiplier ** (attempt - 1));
    switch (jitter) {
      case 'none':
        return base;
      case 'full':
        return rand(0, base);
      case 'equal':
        return base / 2 + rand(0, base / 2);
    }
  };
}
