import { type Clock, systemClock } from '../clock.js';
import { IndexedHeap } from './indexed-heap.js';
import { MAX_TIMER_MS } from './long-timer.js';
import { MonotonicTime } from './monotonic.js';

const settled = Promise.resolve();

/** An entry of {@link TimerHeap}; keep it to cancel in O(log n). */
export interface TimerEntry {
  due: number;
  seq: number;
  /** Position in the heap; -1 once fired or cancelled. */
  index: number;
  readonly fire: () => void;
}

/**
 * Many timers on one clock timer: a binary min-heap ordered by (due, seq)
 * with O(log n) add and cancel, and a single armed `clock.setTimeout` for the
 * earliest entry (none when empty). Used for delays, retries, TTLs and
 * visibility timeouts.
 */
export class TimerHeap {
  readonly #clock: Clock;
  readonly #heap = new IndexedHeap<TimerEntry>((a, b) => a.due < b.due || (a.due === b.due && a.seq < b.seq));
  #seq = 0;
  #handle: unknown = undefined;
  #armedFor = Infinity;
  readonly #time: MonotonicTime;
  /** Whether `#lastNow` was read in the current synchronous run (see `turnNow`). */
  #turnRead = false;
  readonly #endTurn = (): void => {
    this.#turnRead = false;
  };

  constructor(clock: Clock) {
    this.#clock = clock;
    this.#time = new MonotonicTime(clock);
  }

  /** Calls `fire` at clock time `due` (ms). */
  add(due: number, fire: () => void): TimerEntry {
    const entry: TimerEntry = { due, seq: this.#seq++, index: -1, fire };
    this.#heap.push(entry);
    if (this.#heap.peek() === entry) this.#arm();
    return entry;
  }

  /** Cancels an entry; a fired or cancelled entry is ignored. */
  cancel(entry: TimerEntry): void {
    if (entry.index < 0) return;
    const wasTop = entry.index === 0;
    this.#heap.remove(entry);
    if (wasTop) this.#arm();
  }

  /** Cancels every entry and the clock timer. */
  clear(): void {
    this.#heap.clear();
    this.#disarm();
  }

  /**
   * The heap's time: the clock's, made monotonic (see MonotonicTime). A timer
   * that fires proves its time has come, whatever the wall clock reads.
   */
  now(): number {
    return this.#time.now();
  }

  /**
   * The heap's time as read once per synchronous run of code (a turn: until
   * the next microtask), for stamping many items cheaply: as Node's timers
   * measure from the event loop's cached time (libuv's `uv_now`). Only the
   * system clock is cached, as reading it costs more than a push; any other
   * clock (a `TestClock`, which can advance within a turn) is read each time.
   */
  turnNow(): number {
    if (this.#turnRead) return this.#time.last;
    if (this.#clock !== systemClock) return this.now();
    const now = this.now();
    this.#turnRead = true;
    // A native promise, not queueMicrotask: fake timers that fake microtasks cannot hold the cache.
    void settled.then(this.#endTurn);
    return now;
  }

  #arm(): void {
    const top = this.#heap.peek();
    if (top === undefined) {
      this.#disarm();
      return;
    }
    if (this.#handle !== undefined && this.#armedFor === top.due) return;
    this.#disarm();
    this.#armedFor = top.due;
    const now = this.now();
    // At most MAX_TIMER_MS at a time (a longer delay would fire at once): a timer that ends short of the
    // entry's due time proves only that its own wait has passed, and the heap arms again for the rest.
    const wait = Math.min(Math.max(0, top.due - now), MAX_TIMER_MS);
    const until = now + wait;
    this.#handle = this.#clock.setTimeout(() => this.#onTimer(until), wait);
  }

  #disarm(): void {
    if (this.#handle === undefined) return;
    this.#clock.clearTimeout(this.#handle);
    this.#handle = undefined;
    this.#armedFor = Infinity;
  }

  #onTimer(until: number): void {
    // The clock says the timer's time has come, even if its now() reads a hair
    // earlier (float rounding in a test clock, a coarse wall clock).
    this.#handle = undefined;
    this.#armedFor = Infinity;
    const now = this.#time.reach(until);
    // Fire everything due; entries added while firing that are due fire too.
    for (;;) {
      const top = this.#heap.peek();
      if (top === undefined || top.due > now) break;
      this.#heap.remove(top);
      top.fire();
    }
    this.#arm();
  }
}
