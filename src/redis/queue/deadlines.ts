import { systemClock } from '../../clock.js';
import { setLongTimeout } from '../../internal/long-timer.js';
import type { Held } from './options.js';

/** An attempt with a time limit. @internal */
export interface Timed {
  /** When it times out, ms (Date.now). */
  readonly deadline: number;
  /** Set once it settled: its deadline no longer matters. */
  readonly done: boolean;
  /** Called once its deadline passed while it was not done. */
  expire(): void;
}

/**
 * The time limits of a worker's attempts on one timer: every attempt gets
 * the same limit, so deadlines come in the order attempts start and the
 * earliest is always the oldest not done (a FIFO, not a heap).
 * @internal
 */
export class Deadlines<A extends Timed = Timed> {
  #queue: A[] = [];
  #head = 0;
  /** Cancels the armed timer (core's long timer: a limit past 2^31 − 1 ms is waited out, not fired at once). */
  #timer: (() => void) | undefined;

  add(attempt: A): void {
    // Attempts mostly settle in the order they started: drop the settled ones at the head as new ones come.
    const q = this.#queue;
    while (this.#head < q.length && q[this.#head]!.done) this.#head++;
    if (this.#head > 1_024 && this.#head * 2 > q.length) {
      this.#queue = q.slice(this.#head);
      this.#head = 0;
    }
    this.#queue.push(attempt);
    if (this.#timer === undefined) this.#arm(attempt.deadline);
  }

  /** The attempts not yet done, oldest first. */
  *running(): IterableIterator<A> {
    for (let i = this.#head; i < this.#queue.length; i++) if (!this.#queue[i]!.done) yield this.#queue[i]!;
  }

  /** Stops the timer (the worker stopped). */
  clear(): void {
    this.#timer?.();
    this.#timer = undefined;
    this.#queue = [];
    this.#head = 0;
  }

  #arm(at: number): void {
    this.#timer = setLongTimeout(systemClock, () => this.#fire(), Math.max(0, at - Date.now()));
  }

  #fire(): void {
    this.#timer = undefined;
    const now = Date.now();
    const q = this.#queue;
    while (this.#head < q.length) {
      const a = q[this.#head]!;
      if (!a.done) {
        if (a.deadline > now) break;
        a.expire();
      }
      this.#head++;
    }
    // Skip the settled at the head: the timer waits for the first one still running.
    while (this.#head < this.#queue.length && this.#queue[this.#head]!.done) this.#head++;
    const next = this.#queue[this.#head];
    if (next !== undefined) this.#arm(next.deadline);
    else {
      this.#queue = [];
      this.#head = 0;
    }
  }
}

/** An attempt running in a worker process. @internal */
export interface Attempt<T> extends Timed {
  readonly h: Held;
  readonly item: T;
  /** The attempt's AbortController, made when its handler first reads `signal`. */
  abort: AbortController | undefined;
  readonly startedAt: number;
  /** When it started on the queue's `clock` (for the concurrency limit's sample; 0 when nothing samples). */
  readonly sampleStart: number;
  /** Attempts running here when it started, itself included (the sample's `inFlight`). */
  readonly startInFlight: number;
  readonly deadline: number;
  done: boolean;
  expire(): void;
}

/** One timer for `fn`, at the soonest of the times asked for (`schedule(ms)`); it fires once, then may be asked again. @internal */
export class SoonestTimer {
  #timer: (() => void) | undefined;
  #at = Number.POSITIVE_INFINITY;

  constructor(private readonly fn: () => unknown) {}

  schedule(ms: number): void {
    const at = Date.now() + ms;
    if (this.#timer !== undefined && this.#at <= at) return;
    this.#timer?.();
    this.#at = at;
    this.#timer = setLongTimeout(
      systemClock,
      () => {
        this.#timer = undefined;
        this.#at = Number.POSITIVE_INFINITY;
        this.fn();
      },
      ms,
    );
  }

  clear(): void {
    this.#timer?.();
    this.#timer = undefined;
    this.#at = Number.POSITIVE_INFINITY;
  }
}

/**
 * A worker's poll (due delays, lapses, levels): `tick` runs at the soonest
 * time asked for, then again after `pollMs` or when the next delay it
 * reports is due, whichever is sooner; a failing tick is reported.
 * @internal
 */
export class Poller {
  readonly #timer = new SoonestTimer(() =>
    this.tick().then(
      (due) => this.schedule(Math.min(due, this.pollMs())),
      (error: unknown) => {
        this.report(error);
        this.schedule(this.pollMs());
      },
    ),
  );

  constructor(
    private readonly pollMs: () => number,
    private readonly active: () => boolean,
    /** The poll's work: ms until the next due delay (Infinity: none). */
    private readonly tick: () => Promise<number>,
    private readonly report: (error: unknown) => unknown,
  ) {}

  /** Polls in `ms` (or sooner, if asked sooner), while the worker is active. */
  schedule(ms: number): void {
    if (this.active()) this.#timer.schedule(ms);
  }

  clear(): void {
    this.#timer.clear();
  }
}
