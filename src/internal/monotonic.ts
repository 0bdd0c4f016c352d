import type { Clock } from '../clock.js';

/**
 * A clock's time made monotonic, for every part that measures durations:
 * a reading lower than the last one counts as no time passing, and the time
 * the clock lost is added to every later reading (an offset). So time that
 * had passed before a wall clock was set back still counts, and time after
 * it counts from there: a 100 ms wait that had 40 ms behind it when the clock
 * stepped back a minute ends 60 ms later.
 */
export class MonotonicTime {
  readonly clock: Clock;
  #last = -Infinity;
  /** Added to the clock's readings: the time the clock lost by jumping back. */
  #offset = 0;

  constructor(clock: Clock) {
    this.clock = clock;
  }

  /** The time now (ms): the clock's reading plus what it lost, never lower than the last. */
  now(): number {
    let now = this.clock.now() + this.#offset;
    if (now < this.#last) {
      this.#offset += this.#last - now;
      now = this.#last;
    }
    this.#last = now;
    return now;
  }

  /** The last time read (−Infinity before the first reading). */
  get last(): number {
    return this.#last;
  }

  /**
   * A timer armed for `time` fired, so its time has come, whatever the clock
   * reads (real timers run on a monotonic clock; a coarse or rounded clock may
   * read a little early): later readings are at least `time`. Returns the time now.
   */
  reach(time: number): number {
    const now = this.now();
    if (now >= time) return now;
    this.#offset += time - now;
    this.#last = time;
    return time;
  }
}
