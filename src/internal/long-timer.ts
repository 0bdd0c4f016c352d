import type { Clock } from '../clock.js';

/**
 * The longest delay `setTimeout` honours: 2^31 − 1 ms (about 24.8 days). Node
 * and browsers fire a longer one after 1 ms, so every part arms at most this
 * much and arms again for the rest.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Calls `fn` once, `ms` from now on `clock`, chaining timers of at most
 * {@link MAX_TIMER_MS}. Returns the function that cancels it.
 */
export function setLongTimeout(clock: Clock, fn: () => void, ms: number): () => void {
  let handle: unknown;
  const arm = (left: number): void => {
    const wait = Math.min(left, MAX_TIMER_MS);
    handle = clock.setTimeout(() => {
      if (left > wait) arm(left - wait);
      else fn();
    }, wait);
  };
  arm(ms);
  return () => clock.clearTimeout(handle);
}
