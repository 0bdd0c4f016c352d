import type { Clock } from '../clock.js';
import type { DeadLetterStore } from '../dead-letter.js';
import { Deduper, type DedupeStore } from '../deduper.js';
import { type RateLimiter, type TokenBucketOptions, TokenBucket } from '../token-bucket.js';
import * as v from './validate.js';

// Options that name a part or its settings, turned into the part: shared by every part that takes them.

/**
 * Turns a {@link RateLimitInput} into a limiter.
 */
export function toRateLimiter(part: string, name: string, value: unknown, clock: Clock): RateLimiter {
  if (typeof value === 'object' && value !== null) {
    if (typeof (value as RateLimiter).acquire === 'function' && typeof (value as RateLimiter).tryAcquire === 'function') {
      return value as RateLimiter;
    }
    const o = value as Omit<TokenBucketOptions, 'clock' | 'initialTokens'>;
    return new TokenBucket({ ratePerSecond: o.ratePerSecond, ...(o.burst !== undefined ? { burst: o.burst } : {}), clock });
  }
  throw new TypeError(`${part}: ${name} must be a TokenBucket or { ratePerSecond, burst }, got ${v.show(value)}`);
}

/** Whether `value` has a {@link DedupeStore}'s `check`. */
export function isDedupeStore(value: unknown): value is DedupeStore {
  return typeof value === 'object' && value !== null && typeof (value as DedupeStore).check === 'function';
}

/** A new {@link Deduper} with the window options given (each checked by Deduper, defaults as Deduper's). */
export function makeDeduper(
  options: { readonly windowMs?: number | undefined; readonly maxKeys?: number | undefined },
  clock: Clock,
): DedupeStore {
  return new Deduper({
    ...(options.windowMs !== undefined ? { windowMs: options.windowMs } : {}),
    ...(options.maxKeys !== undefined ? { maxKeys: options.maxKeys } : {}),
    clock,
  });
}

/** Checks a `deadLetter` option: a {@link DeadLetterStore} (anything with `add`), or `undefined`. */
export function toDeadLetterStore<T>(part: string, value: unknown): DeadLetterStore<T> | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'object' && value !== null && typeof (value as DeadLetterStore<T>).add === 'function') {
    return value as DeadLetterStore<T>;
  }
  throw new TypeError(`${part}: deadLetter must be a DeadLetter, got ${v.show(value)}`);
}
