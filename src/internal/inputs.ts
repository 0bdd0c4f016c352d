import type { Clock } from '../clock.js';
import type { DeadLetterStore } from '../dead-letter.js';
import { Deduper, type DedupeStore } from '../deduper.js';
import { type RateLimiter, type TokenBucketOptions, TokenBucket } from '../token-bucket.js';
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
