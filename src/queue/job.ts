import type { DeathHistory } from '../dead-letter.js';
import type { DedupeKey } from '../deduper.js';
import { neverAborted } from '../internal/abort.js';
import { seqId } from '../internal/seq-id.js';
import type { TimerEntry } from '../internal/timer-heap.js';
import type { GroupKey, HandlerContext } from '../queue-types.js';
import type { Group } from './groups.js';
import type { PullIterator } from './pull.js';

// A Job's states. An accepted item is in exactly one of them until DONE:
// READY, GROUP_WAIT and DELAYED count as waiting, RUNNING as in flight.
/** In a priority level, runnable. */
export const READY = 0;
/** Behind its group's in-flight items. */
export const GROUP_WAIT = 1;
/** Waiting for `delayMs` or a retry backoff. */
export const DELAYED = 2;
/** An attempt runs (or a delivery is unacked). */
export const RUNNING = 3;
/** Completed, dead-lettered or handed back; also the tombstone of an item taken out of a ring. */
export const DONE = 4;

/** Whoever awaits an item's outcome (`submit`, and duplicates that share it). */
export interface Settler<R> {
  resolve(value: R): void;
  reject(error: unknown): void;
}

/**
 * One accepted item's record. Without a visibility timeout (in push mode) it
 * is also its attempts' {@link HandlerContext}.
 *
 * Each attempt gets a new `generation`; an outcome that arrives for an older
 * one (a lapsed attempt's late result, an `ack` after a lapse) is ignored:
 * see {@link Job.isCurrent}.
 */
export class Job<T, R> implements HandlerContext {
  state = READY;
  attempt = 0;
  /** Bumped per attempt (and when an unacked delivery is given back). */
  generation = 0;
  group: Group<T, R> | undefined = undefined;
  /** Whether it holds one of its group's `groupConcurrency` slots. */
  holdsSlot = false;
  /** Its delay, backoff or visibility-timeout timer. */
  timer: TimerEntry | undefined = undefined;
  ttlTimer: TimerEntry | undefined = undefined;
  /** Every attempt's error, oldest first. */
  errors: unknown[] | undefined = undefined;
  previousDelay: number | undefined = undefined;
  settlers: Settler<R>[] | undefined = undefined;
  /** The running attempt's own context, when its signal can abort. */
  context: AttemptContext | undefined = undefined;
  /** The pull iterator holding its unacked delivery. */
  puller: PullIterator<T, R> | undefined = undefined;
  /** Its earlier death history (pushed by a redrive), continued if it dies again. */
  history: DeathHistory | undefined = undefined;
  /** Its attempts' time limit (push `timeoutMs`), overriding the queue's `visibilityTimeoutMs`. */
  timeoutMs: number | undefined = undefined;
  /** Set by `cancel()` while it runs: when the attempt settles, the item is counted cancelled, whatever the outcome. */
  cancelled = false;
  cancelReason: unknown = undefined;
  /** Stops watching the push's `signal` (which cancels the item while it is live). */
  detach: (() => void) | undefined = undefined;
  /** The signal of its attempts when the record is their context (push mode, no time limit): made on first use. */
  #controller: AbortController | undefined = undefined;
  /** Its place in the waiting room's heap by push order (a `'drop-oldest'` queue's); -1 while it is not in it. */
  index = -1;
  /** When its running attempt started (ms; NaN when the queue did not read the time), and how many were in flight then. */
  startedAt = Number.NaN;
  startInFlight = 0;
  /** When its current wait began, if not at its push: when its last attempt ended (ms). */
  readyAt = Number.NaN;

  #id: string | undefined;

  constructor(
    /** The item; a push with `dedupe.mode: 'replace'` may put a newer one in its place while it waits. */
    public item: T,
    id: string | undefined,
    readonly seq: number,
    readonly priority: number,
    readonly pushedAt: number,
    readonly groupKey: GroupKey | undefined,
    readonly dedupeKey: DedupeKey | undefined,
  ) {
    this.#id = id;
  }

  /** The record of an item pushed plain (no options but a priority), made when it first needs one. */
  static plain<T, R>(item: T, seq: number, pushedAt: number, priority: number): Job<T, R> {
    return new Job<T, R>(item, undefined, seq, priority, pushedAt, undefined, undefined);
  }

  /** Whether `generation` is the attempt running now: false once it ended, lapsed or was given back. */
  isCurrent(generation: number): boolean {
    return this.generation === generation && this.state === RUNNING;
  }

  /** The push `id`, or one made from the sequence number when first asked for. */
  get id(): string {
    return (this.#id ??= seqId(this.seq));
  }

  get key(): GroupKey | undefined {
    return this.groupKey;
  }

  /** Aborts only by `cancel()` (or the push's `signal`): a record is the context of attempts with no time limit. */
  get signal(): AbortSignal {
    return (this.#controller ??= new AbortController()).signal;
  }

  /** Aborts the running attempt's signal, whichever context it has. */
  abortAttempt(reason: unknown): void {
    if (this.context !== undefined) this.context.abort(reason);
    else (this.#controller ??= new AbortController()).abort(reason);
  }
}

/** The context of a plain item's first attempt: no record, the id made only if asked for. */
export class PlainContext implements HandlerContext {
  // Two fields, so making one per item costs next to nothing; the rest lives on the prototype.
  constructor(
    readonly seq: number,
    /** The worker loop running it, which holds its signal if one is asked for. */
    readonly inFlight: PlainInFlight,
  ) {}

  get id(): string {
    return seqId(this.seq);
  }

  get attempt(): number {
    return 1;
  }

  get key(): undefined {
    return undefined;
  }

  /** Aborts only by `cancel()`; made on first use (while the item runs). */
  get signal(): AbortSignal {
    const inFlight = this.inFlight;
    if (inFlight.seq !== this.seq) return neverAborted(); // asked after the attempt ended
    return (inFlight.controller ??= new AbortController()).signal;
  }
}

/**
 * What a worker loop keeps of the plain item it runs: its sequence number
 * (0 while none runs) and push time, for the record it gets if it fails,
 * and what `cancel()` needs to find and stop it.
 */
export class PlainInFlight {
  seq = 0;
  /** The record the loop ran last (running while its state is RUNNING): where `cancel()` finds a record that runs. */
  job: Job<unknown, unknown> | undefined = undefined;
  /** The push time (ms); NaN to start with, so the field holds a double from the first. */
  pushedAt = Number.NaN;
  /** When the running item's attempt started (ms), when the queue reads the time. */
  startedAt = Number.NaN;
  /** The running item's signal, once its handler asked for it. */
  controller: AbortController | undefined = undefined;
  /** Set by `cancel()`: the item is counted cancelled when it settles. */
  cancelled = false;
  cancelReason: unknown = undefined;

  /** Cancels the item running now: its signal aborts with `reason`. */
  cancel(reason: unknown): void {
    this.cancelled = true;
    this.cancelReason = reason;
    (this.controller ??= new AbortController()).abort(reason);
  }
}

/** The context of an attempt whose signal can abort (visibility timeout, pull mode); the signal is made on first use. */
export class AttemptContext implements HandlerContext {
  #controller: AbortController | undefined = undefined;
  #reason: unknown = undefined;
  #aborted = false;

  constructor(
    readonly id: string,
    readonly attempt: number,
    readonly key: GroupKey | undefined,
  ) {}

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }
}
