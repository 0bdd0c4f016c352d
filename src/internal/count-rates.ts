/** The window of the rates in parts' `metrics()` (Queue's has its own option), ms: a minute, as Queue's default. */
export const RATES_WINDOW_MS = 60_000;

/** Snapshots kept: one per slot of a window of four, and the one before them. */
const KEPT = 5;
/** Slots per window. */
const SLOTS = 4;

/** Rates over a sliding window: the time covered (ms) and, per counter, events per second. */
export interface WindowRates {
  readonly windowMs: number;
  readonly perSecond: number[];
}

/**
 * Per-second rates of a part's cumulative counters over a sliding window
 * (the last `windowMs`, to within a quarter of it), from snapshots of the
 * counters the part takes when its clock passes {@link CountRates.next}:
 * its hot path pays one comparison where it reads the clock anyway, and no
 * clock read of its own. Fixed memory: five snapshots.
 */
export class CountRates {
  /** When the next snapshot is due, ms: the part calls {@link CountRates.snap} at its first clock reading at or past it. */
  next = 0;
  readonly #slotMs: number;
  readonly #times: number[] = [];
  readonly #counts: (readonly number[])[] = [];

  constructor(
    readonly windowMs: number,
    now: number,
    counts: readonly number[],
  ) {
    this.#slotMs = windowMs / SLOTS;
    this.snap(now, counts);
  }

  /** The counters are `counts` (an array of the caller's, kept) at `now`, the event being counted not yet included. */
  snap(now: number, counts: readonly number[]): void {
    if (this.#times.push(now) > KEPT) {
      this.#times.shift();
      this.#counts.shift();
    }
    this.#counts.push(counts);
    this.next = now + this.#slotMs;
  }

  /**
   * The rates at `now`, the counters being `counts`: from the oldest snapshot
   * in the window to now (none covers no time: rates 0). Counts made since a
   * snapshot are taken to have happened after it, so the events of the
   * window's first slot may be missed, and none before the window counted.
   */
  read(now: number, counts: readonly number[]): WindowRates {
    if (now >= this.next) this.snap(now, counts);
    const i = this.#times.findIndex((t) => t >= now - this.windowMs);
    const covered = now - this.#times[i]!;
    const then = this.#counts[i]!;
    return { windowMs: covered, perSecond: counts.map((n, k) => (covered > 0 ? ((n - then[k]!) * 1_000) / covered : 0)) };
  }
}
