/**
 * Test helpers, imported from `sluice/testing`.
 *
 * @packageDocumentation
 */
import type { Clock } from '../clock.js';

interface Timer {
  readonly id: number;
  readonly due: number;
  readonly seq: number;
  readonly callback: () => void;
}

/** How many microtask turns `advance` and `runAll` let run after each timer. */
const MICROTASK_TURNS = 100;

/** `runAll()` gives up after this many timers: a timer that keeps re-arming itself. */
const RUN_ALL_LIMIT = 10_000;

/**
 * A {@link Clock} whose time moves only when a test says so: fully
 * deterministic, no real waiting. Pass it as `clock` to any part.
 *
 * Timers due at the same time run in the order they were scheduled; between
 * two timers, pending promise callbacks (microtasks) run, so code that awaits
 * between timers behaves as it would with real time. A microtask chain longer
 * than 100 hops may still be pending when `advance` moves on.
 *
 * @example
 * ```ts
 * import { TestClock } from 'sluice/testing';
 * const clock = new TestClock();
 * const bucket = new TokenBucket({ ratePerSecond: 10, initialTokens: 0, clock });
 * const granted = bucket.acquire();
 * await clock.advance(100); // exactly one token has accrued
 * await granted;
 * ```
 */
export class TestClock implements Clock {
  #now: number;
  #timers: Timer[] = [];
  #nextId = 1;
  #seq = 0;

  /**
   * @param startMs - the initial time in ms (default `0`).
   * @throws RangeError when `startMs` is not a finite number.
   */
  constructor(startMs = 0) {
    if (typeof startMs !== 'number') throw new TypeError(`TestClock: startMs must be a finite number, got ${String(startMs)}`);
    if (!Number.isFinite(startMs)) throw new RangeError(`TestClock: startMs must be a finite number, got ${startMs}`);
    this.#now = startMs;
  }

  /** The current test time in ms. */
  now(): number {
    return this.#now;
  }

  /** The number of timers scheduled and not yet run or cleared. */
  get pendingTimers(): number {
    return this.#timers.length;
  }

  /**
   * Schedules `callback` at `now() + ms` (negative or NaN `ms` counts as 0).
   * @returns a handle for {@link TestClock.clearTimeout}.
   */
  setTimeout(callback: () => void, ms: number): unknown {
    const delay = Math.max(ms, 0);
    const timer: Timer = { id: this.#nextId++, due: this.#now + delay, seq: this.#seq++, callback };
    // Keep timers sorted by (due, seq): binary search for the insertion point.
    const timers = this.#timers;
    let lo = 0;
    let hi = timers.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (timers[mid]!.due <= timer.due) lo = mid + 1;
      else hi = mid;
    }
    timers.splice(lo, 0, timer);
    return timer.id;
  }

  /** Cancels a timer; unknown or spent handles are ignored. */
  clearTimeout(handle: unknown): void {
    const index = this.#timers.findIndex((t) => t.id === handle);
    if (index !== -1) this.#timers.splice(index, 1);
  }

  /**
   * Moves time forward by `ms`, running every timer due on the way in time
   * order (scheduling order among equals), with microtasks drained after each.
   * Timers scheduled while advancing run too if they fall due within the window.
   *
   * @param ms - how far to move, in ms (≥ 0).
   * @returns a promise that resolves once time is `now() + ms` and microtasks are drained.
   * @throws TypeError (rejects) when `ms` is not a number; RangeError (rejects) when it is negative or not finite.
   */
  async advance(ms: number): Promise<void> {
    if (typeof ms !== 'number') throw new TypeError(`TestClock: advance(ms) needs a non-negative finite number, got ${typeof ms}`);
    if (!(ms >= 0) || !Number.isFinite(ms)) {
      throw new RangeError(`TestClock: advance(ms) needs a non-negative finite number, got ${String(ms)}`);
    }
    const target = this.#now + ms;
    await flushMicrotasks();
    for (;;) {
      const next = this.#timers[0];
      if (next === undefined || next.due > target) break;
      await this.#runNext();
    }
    this.#now = target;
    await flushMicrotasks();
  }

  /**
   * Runs timers until none is left, moving time to each one's due time.
   *
   * @returns a promise that resolves when no timer is pending.
   * @throws Error (rejects) after 10 000 timers, which means a timer loop.
   */
  async runAll(): Promise<void> {
    await flushMicrotasks();
    let count = 0;
    while (this.#timers.length > 0) {
      if (++count > RUN_ALL_LIMIT) {
        throw new Error(`TestClock: runAll() ran ${RUN_ALL_LIMIT} timers and timers remain: a timer keeps re-arming itself`);
      }
      await this.#runNext();
    }
  }

  /**
   * Sets `now()` to `timeMs` without running any timer: a wall-clock jump
   * (backwards too), as when a machine's clock is corrected. Pending timers
   * keep their remaining delay, as real timers (which run on a monotonic
   * clock) do.
   * @param timeMs - the new current time in ms.
   */
  jumpTo(timeMs: number): void {
    if (typeof timeMs !== 'number' || !Number.isFinite(timeMs)) {
      throw new RangeError(`TestClock: jumpTo(timeMs) needs a finite number, got ${String(timeMs)}`);
    }
    const delta = timeMs - this.#now;
    this.#now = timeMs;
    this.#timers = this.#timers.map((t) => ({ ...t, due: t.due + delta }));
  }

  async #runNext(): Promise<void> {
    const timer = this.#timers.shift()!;
    if (timer.due > this.#now) this.#now = timer.due;
    timer.callback();
    await flushMicrotasks();
  }
}

async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < MICROTASK_TURNS; i++) await undefined;
}
