import { type Clock, systemClock } from '../clock.js';
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
  readonly #heap: TimerEntry[] = [];
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
    const entry: TimerEntry = { due, seq: this.#seq++, index: this.#heap.length, fire };
    this.#heap.push(entry);
    this.#up(entry.index);
    if (this.#heap[0] === entry) this.#arm();
    return entry;
  }

  /** Cancels an entry; a fired or cancelled entry is ignored. */
  cancel(entry: TimerEntry): void {
    if (entry.index < 0) return;
    const wasTop = entry.index === 0;
    this.#removeAt(entry.index);
    if (wasTop) this.#arm();
  }

  /** Cancels every entry and the clock timer. */
  clear(): void {
    for (const entry of this.#heap) entry.index = -1;
    this.#heap.length = 0;
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
    const top = this.#heap[0];
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
      const top = this.#heap[0];
      if (top === undefined || top.due > now) break;
      this.#removeAt(0);
      top.fire();
    }
    this.#arm();
  }

  #removeAt(index: number): void {
    const heap = this.#heap;
    const entry = heap[index]!;
    entry.index = -1;
    const last = heap.pop()!;
    if (index < heap.length) {
      heap[index] = last;
      last.index = index;
      this.#down(index);
      this.#up(last.index);
    }
  }

  #less(a: TimerEntry, b: TimerEntry): boolean {
    return a.due < b.due || (a.due === b.due && a.seq < b.seq);
  }

  #up(index: number): void {
    const heap = this.#heap;
    const entry = heap[index]!;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = heap[parentIndex]!;
      if (!this.#less(entry, parent)) break;
      heap[index] = parent;
      parent.index = index;
      index = parentIndex;
    }
    heap[index] = entry;
    entry.index = index;
  }

  #down(index: number): void {
    const heap = this.#heap;
    const length = heap.length;
    const entry = heap[index]!;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= length) break;
      const right = left + 1;
      const child = right < length && this.#less(heap[right]!, heap[left]!) ? right : left;
      if (!this.#less(heap[child]!, entry)) break;
      heap[index] = heap[child]!;
      heap[index]!.index = index;
      index = child;
    }
    heap[index] = entry;
    entry.index = index;
  }
}
