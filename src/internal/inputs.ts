import type { Clock } from '../clock.js';
import type { DeadLetterStore } from '../dead-letter.js';
import { Deduper, type DedupeStore } from '../deduper.js';
import type { ConcurrencyLimit, LimitSample } from '../limits/limit.js';
import { type RateLimiter, type TokenBucketOptions, TokenBucket } from '../token-bucket.js';
import { AllLimiters } from './all-limiters.js';
import * as v from './validate.js';

// Options that name a part or its settings, turned into the part: shared by every part that takes them.

/** The keys of a rate limit given as options: `{ ratePerSecond, burst }`. */
const RATE_LIMIT_KEYS = /* @__PURE__ */ v.knownKeys<Omit<TokenBucketOptions, 'clock' | 'initialTokens'>>({
  ratePerSecond: true,
  burst: true,
});

/**
 * Turns a {@link RateLimitInput} into a limiter. Options are checked as the
 * part's own: `Queue: rateLimit.ratePerSecond …`, `Queue: unknown option 'rateLimit.brust' …`.
 * @param known - the keys the options may hold. @default `ratePerSecond`, `burst`
 */
export function toRateLimiter(
  part: string,
  name: string,
  value: unknown,
  clock: Clock,
  known: ReadonlySet<string> = RATE_LIMIT_KEYS,
): RateLimiter {
  if (typeof value === 'object' && value !== null) {
    if (typeof (value as RateLimiter).acquire === 'function' && typeof (value as RateLimiter).tryAcquire === 'function') {
      return value as RateLimiter;
    }
    const o = v.options<Omit<TokenBucketOptions, 'clock' | 'initialTokens'>>(part, value, known, name);
    return v.within(
      part,
      name,
      () => new TokenBucket({ ratePerSecond: o.ratePerSecond, ...(o.burst !== undefined ? { burst: o.burst } : {}), clock }),
    );
  }
  throw new TypeError(`${part}: ${name} must be a TokenBucket or { ratePerSecond, burst }, got ${v.show(value)}`);
}

/** Whether `value` is a {@link ConcurrencyLimit}: a numeric `limit` and an `onSample`. */
export function isConcurrencyLimit(value: unknown): value is ConcurrencyLimit {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as ConcurrencyLimit).onSample === 'function' &&
    typeof (value as ConcurrencyLimit).limit === 'number'
  );
}

/** A `concurrency` option resolved: the number in force now, and the limit object it follows, if one was given. */
export interface ConcurrencyInput {
  readonly concurrency: number;
  readonly limit: ConcurrencyLimit | undefined;
}

/**
 * Turns a `concurrency` option (a positive integer, `Infinity`, or a
 * {@link ConcurrencyLimit}) into the number in force now and the limit to follow.
 * @throws TypeError or RangeError naming the part and the option.
 */
export function toConcurrency(part: string, name: string, value: unknown, fallback: number): ConcurrencyInput {
  if (isConcurrencyLimit(value)) {
    const n = value.limit;
    if (!((Number.isInteger(n) && n >= 1) || n === Infinity)) {
      throw new RangeError(`${part}: ${name}.limit must be a positive integer, got ${v.show(n)}`);
    }
    return { concurrency: n, limit: value };
  }
  if (typeof value === 'object' && value !== null) {
    throw new TypeError(
      `${part}: ${name} must be a positive integer, Infinity or a ConcurrencyLimit ({ limit, onSample }), got ${v.show(value)}`,
    );
  }
  return { concurrency: v.number(part, name, value, 'positive-integer-or-infinity', fallback), limit: undefined };
}

/** A `rateLimit` option resolved: one limiter to acquire from (several combined), and those that learn from samples. */
export interface RateLimitsInput {
  readonly limiter: RateLimiter | undefined;
  readonly learners: readonly { onSample(sample: LimitSample): void }[];
}

/**
 * Turns a `rateLimit` option (a limiter, bucket options, or an array of
 * them) into one limiter: an array's limiters are combined so that a grant
 * takes a token from every one, and none while another refuses.
 * @throws TypeError or RangeError naming the part and the option (`rateLimit[1].burst …`).
 */
export function toRateLimits(part: string, name: string, value: unknown, clock: Clock): RateLimitsInput {
  if (value === undefined) return { limiter: undefined, learners: [] };
  const list = Array.isArray(value)
    ? value.map((each, i) => toRateLimiter(part, `${name}[${i}]`, each, clock))
    : [toRateLimiter(part, name, value, clock)];
  list.forEach((limiter, i) => {
    if (limiter instanceof TokenBucket && limiter.burst < 1) {
      const which = Array.isArray(value) ? `${name}[${i}]` : name;
      throw new RangeError(`${part}: ${which} burst must be at least 1 (a start takes one token), got ${limiter.burst}`);
    }
  });
  if (list.length === 0) throw new RangeError(`${part}: ${name} must hold at least one limiter, got []`);
  const learners = list.filter((l): l is RateLimiter & { onSample(sample: LimitSample): void } => typeof l.onSample === 'function');
  const limiter = list.length === 1 ? list[0] : new AllLimiters(part, name, list, clock);
  return { limiter, learners };
}

/** Whether `value` has a {@link DedupeStore}'s `check`. */
export function isDedupeStore(value: unknown): value is DedupeStore {
  return typeof value === 'object' && value !== null && typeof (value as DedupeStore).check === 'function';
}

/**
 * A new {@link Deduper} with the window options given (each checked by Deduper, defaults as Deduper's);
 * its errors name `part` and the option's `path` (`Queue: dedupe.windowMs …`).
 */
export function makeDeduper(
  part: string,
  path: string,
  options: { readonly windowMs?: number | undefined; readonly maxKeys?: number | undefined },
  clock: Clock,
): DedupeStore {
  return v.within(
    part,
    path,
    () =>
      new Deduper({
        ...(options.windowMs !== undefined ? { windowMs: options.windowMs } : {}),
        ...(options.maxKeys !== undefined ? { maxKeys: options.maxKeys } : {}),
        clock,
      }),
  );
}

/** Checks a `deadLetter` option: a {@link DeadLetterStore} (anything with `add`), or `undefined`. */
export function toDeadLetterStore<T>(part: string, value: unknown): DeadLetterStore<T> | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'object' && value !== null && typeof (value as DeadLetterStore<T>).add === 'function') {
    return value as DeadLetterStore<T>;
  }
  throw new TypeError(`${part}: deadLetter must be a DeadLetter, got ${v.show(value)}`);
}

const GROUP_RATE_KEYS = /* @__PURE__ */ v.knownKeys<{ ratePerSecond: number; burst?: number }>({ ratePerSecond: true, burst: true });

/**
 * A `groupRateLimit` option given as bucket options, checked (its function
 * form is the caller's to take).
 * @throws TypeError for anything but an object of known keys, naming `part`.
 */
export function groupRateOptions(part: string, value: unknown): { ratePerSecond: number; burst?: number } {
  if (typeof value !== 'object' || value === null) {
    throw new TypeError(`${part}: groupRateLimit must be { ratePerSecond, burst } or a function of the group's key, got ${v.show(value)}`);
  }
  return v.options<{ ratePerSecond: number; burst?: number }>(part, value, GROUP_RATE_KEYS, 'groupRateLimit');
}
