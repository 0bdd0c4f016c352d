/**
 * A sliding window of `SLOTS` slots of `windowMs / SLOTS` each: the current
 * slot and the ones before it that still fall in the window, so a reading
 * covers the last `windowMs` to within one slot. Each slot is made once and
 * reused (`reset` empties it): fixed memory whatever the traffic.
 */
export class SlidingWindow<S> {
  static readonly SLOTS = 4;
  readonly slotMs: number;
  readonly #slots: S[];
  readonly #starts: number[];
  #current = 0;

  constructor(
    readonly windowMs: number,
    make: () => S,
    readonly reset: (slot: S) => void,
    now: number,
  ) {
    this.slotMs = windowMs / SlidingWindow.SLOTS;
    this.#slots = Array.from({ length: SlidingWindow.SLOTS }, make);
    this.#starts = Array.from({ length: SlidingWindow.SLOTS }, () => Number.NEGATIVE_INFINITY);
    this.#starts[0] = now;
  }

  /** The slot `now` falls in; slots that have left the window are emptied and reused. */
  at(now: number): S {
    const start = this.#starts[this.#current]!;
    if (now < start + this.slotMs) return this.#slots[this.#current]!;
    // Move on by as many slots as passed (at most all of them), emptying each.
    const passed = Math.min(SlidingWindow.SLOTS, Math.floor((now - start) / this.slotMs));
    for (let i = 0; i < passed; i++) {
      this.#current = (this.#current + 1) % SlidingWindow.SLOTS;
      this.reset(this.#slots[this.#current]!);
      this.#starts[this.#current] = start + (i + 1) * this.slotMs;
    }
    if (now >= this.#starts[this.#current]! + this.slotMs) this.#starts[this.#current] = now - ((now - start) % this.slotMs);
    return this.#slots[this.#current]!;
  }

  /** Calls `each` for every slot in the window at `now`, oldest first; returns the time they cover (ms). */
  read(now: number, each: (slot: S) => void): number {
    this.at(now);
    let oldest = now;
    for (let k = SlidingWindow.SLOTS - 1; k >= 0; k--) {
      const i = (this.#current - k + SlidingWindow.SLOTS) % SlidingWindow.SLOTS;
      const start = this.#starts[i]!;
      if (start === Number.NEGATIVE_INFINITY || start <= now - this.windowMs - this.slotMs) continue;
      each(this.#slots[i]!);
      if (start < oldest) oldest = start;
    }
    return Math.max(now - oldest, 0);
  }
}
