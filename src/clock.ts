/**
 * The source of time for every sluice part.
 *
 * Every part takes `clock?: Clock` and reads time only through it, so a test
 * can drive time by hand (`TestClock` from `sluice/testing`) or with
 * `vi.useFakeTimers()` / `@sinonjs/fake-timers` and the default clock.
 *
 * @example
 * ```ts
 * const clock: Clock = {
 *   now: () => performance.now(),
 *   setTimeout: (cb, ms) => setTimeout(cb, ms),
 *   clearTimeout: (handle) => clearTimeout(handle as number),
 * };
 * ```
 */
export interface Clock {
  /** Current time in milliseconds. Parts treat a value lower than the last one as no time passing. */
  now(): number;
  /**
   * Calls `callback` once, `ms` milliseconds from now (fractional values allowed).
   * Returns an opaque handle for {@link Clock.clearTimeout}.
   */
  setTimeout(callback: () => void, ms: number): unknown;
  /** Cancels a timer returned by {@link Clock.setTimeout}; unknown or spent handles are ignored. */
  clearTimeout(handle: unknown): void;
}

/**
 * The default {@link Clock}: `Date.now()`, `setTimeout` and `clearTimeout`,
 * each looked up on `globalThis` at call time (never at import time), so fake
 * timers installed after sluice was imported still own it fully.
 */
export const systemClock: Clock = Object.freeze({
  now: (): number => Date.now(),
  setTimeout: (callback: () => void, ms: number): unknown => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle: unknown): void => {
    globalThis.clearTimeout(handle as Parameters<typeof globalThis.clearTimeout>[0]);
  },
});
