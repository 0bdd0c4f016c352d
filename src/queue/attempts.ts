import type { DeadLetterEntry, DeadLetterReason } from '../dead-letter.js';
import { TimeoutError } from '../errors.js';
import { retryAfterOf } from '../internal/retry-policy.js';
import { seqId } from '../internal/seq-id.js';
import type { TimerHeap } from '../internal/timer-heap.js';
import type { QueueEvents } from '../queue-types.js';
import { AttemptContext, DONE, Job, type PlainInFlight, RUNNING } from './job.js';
import type { Flow } from './flow.js';
import type { QueueRecorder } from './metrics.js';
import type { LiveKeys } from './live-keys.js';
import { PART, type QueueConfig } from './options.js';
import { deadLetterError, deadLetterInput, decideFailure, handedBackError } from './outcome.js';
import type { WaitingRoom } from './waiting.js';

/** A running attempt's time in the queue before it: since its push, or since its last attempt ended (ms). */
function waitOf(job: { readonly startedAt: number; readonly readyAt: number; readonly pushedAt: number }): number {
  return job.startedAt - (Number.isNaN(job.readyAt) ? job.pushedAt : job.readyAt);
}

/** What the attempt lifecycle needs of its queue. */
export interface AttemptsHost<T, R> {
  /** Whether `event` has a listener (one field read while nothing listens at all). */
  listens(event: keyof QueueEvents<T, R>): boolean;
  /** Emits a queue event; a throwing listener never breaks the queue. */
  emit<E extends keyof QueueEvents<T, R> & string>(event: E, ...args: QueueEvents<T, R>[E]): void;
  /** Reports an error of the queue's own machinery (`retryIf`, the backoff, the dead letter). */
  reportError(error: unknown): void;
  /** An item settled, failed or left: start what can start now, and say so if the queue is idle. */
  settled(): void;
  /** A worker loop's attempt lapsed: the loop's concurrency slot is free (push mode). */
  lapsed(): void;
  /** The number waiting now (for the metrics' Little's law). */
  waiting(): number;
}

/**
 * One attempt's lifecycle, and the books of everything that has left the
 * waiting room: {@link Attempts.begin}, then {@link Attempts.succeed} or
 * {@link Attempts.fail} (or a lapse past `visibilityTimeoutMs`); a failure
 * retries, is handed back, or dead-letters. Each attempt has a generation:
 * an outcome for one that is no longer current (it lapsed, or its delivery
 * was given back) is ignored ({@link Job.isCurrent}).
 *
 * The worker loop's plain lane ({@link Attempts.startPlain},
 * {@link Attempts.completePlain}, {@link Attempts.failPlain}) is the same
 * lifecycle for a first attempt that needs no record.
 */
export class Attempts<T, R> {
  // The books of items that left the waiting room; see QueueStats.
  running = 0;
  completed = 0;
  failed = 0;
  retried = 0;
  deadLettered = 0;
  /** Of `deadLettered`, items the dead letter refused. */
  deadLetterRefused = 0;
  returned = 0;
  cancelled = 0;
  /** Every live record pushed with an `id` (the newest, when ids repeat): where `cancel(id)` looks first. */
  readonly byId = new Map<string, Job<T, R>>();
  /** Set by `close({ drain: false })`: an item that would retry is handed back into it instead. */
  returning: T[] | undefined = undefined;
  /** Whether a handler runs the attempts (push mode); deliveries otherwise. */
  pushMode: boolean;

  readonly #config: QueueConfig<T, R>;
  readonly #timers: TimerHeap;
  readonly #room: WaitingRoom<T, R>;
  readonly #dedupe: LiveKeys<T, R> | undefined;
  readonly #host: AttemptsHost<T, R>;
  readonly #flow: Flow;
  /** Whether settled attempts are sampled for a limit (QueueConfig.sampling). */
  readonly #sampling: boolean;
  readonly #pauseOnRetryAfter: boolean;
  /** The metrics window's recorder, when `metrics` is on. */
  readonly metrics: QueueRecorder | undefined;
  /** Set once the queue has any listener: until then no event is emitted (one field read). */
  listened = false;
  /** Set once the queue has a listener of the user's: attempts are timed for its events (the clock read twice each). */
  timed = false;
  readonly #report = (error: unknown): void => this.#host.reportError(error);

  constructor(
    config: QueueConfig<T, R>,
    timers: TimerHeap,
    room: WaitingRoom<T, R>,
    dedupe: LiveKeys<T, R> | undefined,
    flow: Flow,
    metrics: QueueRecorder | undefined,
    host: AttemptsHost<T, R>,
  ) {
    this.metrics = metrics;
    this.#config = config;
    this.#flow = flow;
    this.#sampling = config.sampling;
    this.#pauseOnRetryAfter = config.retryAfter === 'queue';
    this.#timers = timers;
    this.#room = room;
    this.#dedupe = dedupe;
    this.#host = host;
    this.pushMode = config.handler !== undefined;
  }

  /** Starts an attempt at an item taken from the room (which counted it out); returns the attempt's generation. */
  begin(job: Job<T, R>): number {
    if (job.ttlTimer !== undefined) {
      this.#timers.cancel(job.ttlTimer);
      job.ttlTimer = undefined;
    }
    job.state = RUNNING;
    this.running++;
    const weight = this.metrics?.sample(this.#host.waiting()) ?? 0;
    // Every attempt is timed for a listener or a limit object's samples: then its figures weigh 1.
    const every = this.timed || this.#sampling;
    if (weight > 0 || every) {
      const now = this.#timers.now();
      job.startedAt = now;
      this.metrics?.started(now, waitOf(job), this.#host.waiting(), every ? 1 : weight);
      if (this.#sampling) job.startInFlight = this.running;
    } else job.startedAt = Number.NaN;
    const attempt = ++job.attempt;
    const generation = ++job.generation;
    const timeoutMs = job.timeoutMs ?? this.#config.visibilityTimeoutMs;
    if (timeoutMs !== undefined || !this.pushMode) {
      // Attempts that can time out (and deliveries) get a context of their own, with a signal that can abort.
      job.context = new AttemptContext(job.id, attempt, job.groupKey);
      if (timeoutMs !== undefined) {
        job.timer = this.#timers.add(this.#timers.now() + timeoutMs, () => this.#lapse(job, generation, timeoutMs));
      }
    }
    if (this.#host.listens('active')) {
      this.#host.emit('active', job.item, { id: job.id, attempt, enqueuedAt: job.pushedAt, startedAt: job.startedAt, waitMs: waitOf(job) });
    }
    return generation;
  }

  /** Completes attempt `generation`; false (nothing done) when it is no longer current. */
  succeed(job: Job<T, R>, generation: number, value: R): boolean {
    if (!job.isCurrent(generation)) return false;
    if (job.cancelled) {
      this.#end(job);
      this.#finishCancelled(job);
      return true;
    }
    this.#end(job);
    const runMs = this.#ran(job.startedAt, true);
    if (this.#sampling) this.#flow.settled(job, { ok: true, value });
    job.state = DONE;
    this.completed++;
    this.#release(job);
    const settlers = job.settlers;
    if (settlers !== undefined) for (const s of settlers) s.resolve(value);
    if (this.#host.listens('completed')) this.#host.emit('completed', job.item, value, this.#settledInfo(job, runMs));
    this.#host.settled();
    return true;
  }

  /**
   * Fails attempt `generation`; false (nothing done) when it is no longer current.
   * `delayOverride` is a nack's `delayMs` (or 0 for a lapsed delivery, visible again at once).
   */
  fail(job: Job<T, R>, generation: number, error: unknown, delayOverride: number | undefined): boolean {
    if (!job.isCurrent(generation)) return false;
    if (job.cancelled) {
      this.#end(job);
      this.#finishCancelled(job);
      return true;
    }
    this.#failAttempt(job, error, delayOverride);
    return true;
  }

  /**
   * Cancels an item: one that waits leaves at once; one that runs has its
   * signal aborted with `reason` and is counted cancelled when its attempt
   * settles, whatever the outcome (no retry). Whoever awaits it gets `reason`.
   * @returns false when it had already ended (or was cancelled before).
   */
  cancel(job: Job<T, R>, reason: unknown): boolean {
    if (job.state === RUNNING) {
      if (job.cancelled) return false;
      job.cancelled = true;
      job.cancelReason = reason;
      job.abortAttempt(reason);
      return true;
    }
    if (!this.#room.unlink(job)) return false;
    job.cancelReason = reason;
    this.#finishCancelled(job);
    return true;
  }

  /** An item was accepted: the `'enqueued'` event, when listened to. */
  enqueued(item: T, id: string, at: number): void {
    if (this.#host.listens('enqueued')) this.#host.emit('enqueued', item, { id, enqueuedAt: at });
  }

  /** A plain item's attempt settled after `cancel()`: counted cancelled. */
  cancelledPlain(item: T, seq: number, reason: unknown, pushedAt: number): void {
    this.running--;
    this.cancelled++;
    if (this.#host.listens('cancelled')) this.#host.emit('cancelled', item, reason, { id: seqId(seq), attempt: 1, enqueuedAt: pushedAt });
  }

  /** A plain item that waited was cancelled (its record made for it, its entry taken out of its ring). */
  cancelledWaitingPlain(job: Job<T, R>, reason: unknown): void {
    job.cancelReason = reason;
    this.#finishCancelled(job);
  }

  /** The books of a cancelled item, then whoever awaits it and the listeners. */
  #finishCancelled(job: Job<T, R>): void {
    job.state = DONE;
    this.cancelled++;
    this.#release(job);
    const reason = job.cancelReason;
    const settlers = job.settlers;
    if (settlers !== undefined) for (const s of settlers) s.reject(reason);
    if (this.#host.listens('cancelled')) {
      this.#host.emit('cancelled', job.item, reason, { id: job.id, attempt: job.attempt, enqueuedAt: job.pushedAt });
    }
    this.#host.settled();
  }

  /** The plain lane's start: only the books (the room counted the item out), and the time when it is read. */
  startPlain(item: T, seq: number, plain: PlainInFlight): void {
    this.running++;
    const weight = this.metrics?.sample(this.#host.waiting()) ?? 0;
    if (weight === 0 && !this.timed) {
      plain.startedAt = Number.NaN;
      if (this.listened && this.#host.listens('active')) {
        const info = { id: seqId(seq), attempt: 1, enqueuedAt: plain.pushedAt, startedAt: Number.NaN, waitMs: Number.NaN };
        this.#host.emit('active', item, info);
      }
      return;
    }
    const now = this.#timers.now();
    plain.startedAt = now;
    this.metrics?.started(now, now - plain.pushedAt, this.#host.waiting(), this.timed ? 1 : weight);
    if (this.#host.listens('active')) {
      this.#host.emit('active', item, {
        id: seqId(seq),
        attempt: 1,
        enqueuedAt: plain.pushedAt,
        startedAt: now,
        waitMs: now - plain.pushedAt,
      });
    }
  }

  /** The plain lane's completion: only the books and the event (the worker loop goes on, or leaves and checks watchers). */
  completePlain(item: T, seq: number, value: R, plain: PlainInFlight): void {
    this.running--;
    this.completed++;
    const startedAt = plain.startedAt;
    const runMs = this.#ran(startedAt, true); // NaN when not timed: nobody listened when it started
    if (this.listened && this.#host.listens('completed')) {
      const info = { id: seqId(seq), attempt: 1, enqueuedAt: plain.pushedAt, startedAt, waitMs: startedAt - plain.pushedAt, runMs };
      this.#host.emit('completed', item, value, info);
    }
  }

  /** The plain lane's first attempt failed: the item gets its record now, to retry or dead-letter. */
  failPlain(item: T, seq: number, plain: PlainInFlight, error: unknown): void {
    const job = Job.plain<T, R>(item, seq, plain.pushedAt, 0); // worker loops take plain items only from level 0
    job.state = RUNNING;
    job.attempt = 1;
    job.generation = 1;
    job.startedAt = plain.startedAt;
    this.#failAttempt(job, error, undefined);
  }

  /** An attempt that started at `startedAt` ended now: its run time (NaN when it was not timed), recorded in the metrics. */
  #ran(startedAt: number, ok: boolean): number {
    if (Number.isNaN(startedAt)) {
      this.metrics?.counted(ok);
      return Number.NaN;
    }
    const now = this.#timers.now();
    const runMs = now - startedAt;
    this.metrics?.settled(now, runMs, ok, this.timed || this.#sampling);
    return runMs;
  }

  #settledInfo(
    job: Job<T, R>,
    runMs: number,
  ): { id: string; attempt: number; enqueuedAt: number; startedAt: number; waitMs: number; runMs: number } {
    return { id: job.id, attempt: job.attempt, enqueuedAt: job.pushedAt, startedAt: job.startedAt, waitMs: waitOf(job), runMs };
  }

  /**
   * An unacked delivery goes back to waiting without using an attempt; its outcome no longer counts. While the
   * queue closes without drain it is handed back instead, as the waiting items were.
   */
  giveBack(job: Job<T, R>): void {
    this.#end(job);
    job.attempt--;
    job.generation++;
    if (job.cancelled) {
      this.#finishCancelled(job);
      return;
    }
    if (this.returning === undefined) {
      this.#room.giveBack(job);
      return;
    }
    this.returning.push(job.item);
    this.handBack(job);
  }

  /** Dead-letters an item (failed, expired or dropped at capacity) and rejects whoever awaits it. */
  deadLetter(job: Job<T, R>, reason: DeadLetterReason, error: unknown): void {
    this.#countDeadLettered(job);
    this.#store(job, reason, error);
  }

  /** The books of a dead-lettered item, counted before anyone hears of it (so listeners see them balanced). */
  #countDeadLettered(job: Job<T, R>): void {
    job.state = DONE;
    this.deadLettered++;
    this.#release(job);
  }

  /** Hands a counted dead-lettered item to the dead letter, rejects whoever awaits it and tells the listeners. */
  #store(job: Job<T, R>, reason: DeadLetterReason, error: unknown, failure = deadLetterError(this.#config, job, reason, error)): void {
    let stored: DeadLetterEntry<T> | PromiseLike<DeadLetterEntry<T>> | undefined;
    try {
      stored = this.#config.deadLetter.add(deadLetterInput(job, reason, error, this.#config.name));
    } catch (refused) {
      this.#refused(refused);
    }
    const settlers = job.settlers;
    if (settlers !== undefined) for (const s of settlers) s.reject(failure);
    if (stored === undefined) return;
    if (typeof (stored as PromiseLike<DeadLetterEntry<T>>).then === 'function') {
      // A shared store (RedisDeadLetter) answers later: the entry's event then, a refusal counted then.
      (stored as PromiseLike<DeadLetterEntry<T>>).then(
        (entry) => {
          if (this.#host.listens('dead-lettered')) this.#host.emit('dead-lettered', entry);
        },
        (refused: unknown) => this.#refused(refused),
      );
      return;
    }
    if (this.#host.listens('dead-lettered')) this.#host.emit('dead-lettered', stored as DeadLetterEntry<T>);
  }

  /** Counted dead-lettered (it left the queue), but stored nowhere: say so in the books and as an error. */
  #refused(refused: unknown): void {
    this.deadLetterRefused++;
    this.#report(refused);
  }

  /**
   * An item's time to live (`ttlMs`) ran out before its first attempt: dead-lettered `'expired'`; whoever
   * awaits it gets a TimeoutError with that TTL.
   */
  expire(job: Job<T, R>, ttlMs: number): void {
    job.ttlTimer = undefined;
    if (!this.#room.unlink(job)) return; // it started (or left) already
    this.#countDeadLettered(job);
    this.#store(
      job,
      'expired',
      undefined,
      new TimeoutError(ttlMs, `${PART}: item ${job.id} expired before its first attempt (ttlMs ${ttlMs})`),
    );
    this.#host.settled();
  }

  /**
   * Hands back every waiting item (close without drain, or `clear()`); returns them in the order they would
   * have run. Every one is counted before anyone hears of the first.
   */
  handBackWaiting(by: 'close' | 'clear' = 'close'): T[] {
    const jobs = this.#room.takeAll();
    const items: T[] = [];
    for (const job of jobs) {
      items.push(job.item);
      this.#countHandedBack(job);
    }
    for (const job of jobs) this.#rejectHandedBack(job, by);
    return items;
  }

  /** Hands an item back (close without drain) and rejects whoever awaits it. */
  handBack(job: Job<T, R>): void {
    this.#countHandedBack(job);
    this.#rejectHandedBack(job, 'close');
  }

  /** The books of a handed-back item, counted before anyone hears of it (so listeners see them balanced). */
  #countHandedBack(job: Job<T, R>): void {
    job.state = DONE;
    this.returned++;
    this.#release(job);
  }

  #rejectHandedBack(job: Job<T, R>, by: 'close' | 'clear'): void {
    const settlers = job.settlers;
    if (settlers !== undefined) {
      const error = handedBackError(job, by);
      for (const s of settlers) s.reject(error);
    }
  }

  #failAttempt(job: Job<T, R>, error: unknown, delayOverride: number | undefined): void {
    this.#end(job);
    const runMs = this.#ran(job.startedAt, false);
    if (this.#sampling) this.#flow.settled(job, { ok: false, error });
    if (this.#pauseOnRetryAfter) {
      const ms = retryAfterOf(error);
      if (ms !== undefined) this.#flow.pauseFor(ms);
    }
    this.failed++;
    (job.errors ??= []).push(error);
    const outcome = decideFailure(this.#config.policy, job, error, delayOverride, this.returning !== undefined, this.#report);
    if (outcome.action === 'retry') {
      job.previousDelay = outcome.delayMs;
      this.retried++;
      this.#room.retry(job, outcome.delayMs);
      this.metrics?.level(this.#room.size);
      this.#emitFailed(job, error, true, runMs);
    } else if (outcome.action === 'hand-back') {
      this.#countHandedBack(job);
      this.returning!.push(job.item);
      this.#emitFailed(job, error, false, runMs);
      this.#rejectHandedBack(job, 'close');
    } else {
      this.#countDeadLettered(job);
      this.#emitFailed(job, error, false, runMs);
      this.#store(job, outcome.reason, outcome.error);
    }
    this.#host.settled();
  }

  /** An attempt passed its time limit (`visibilityTimeoutMs`, or the push's `timeoutMs`): its signal aborts and it fails with a TimeoutError. */
  #lapse(job: Job<T, R>, generation: number, ms: number): void {
    job.timer = undefined;
    if (!job.isCurrent(generation)) return;
    const limit = job.timeoutMs === undefined ? 'visibilityTimeoutMs' : 'timeoutMs';
    const error = new TimeoutError(ms, `${PART}: attempt ${job.attempt} of item ${job.id} passed ${limit} (${ms} ms)`);
    job.context?.abort(error);
    // Its worker stays stuck on the handler's promise: this frees the slot, and the worker leaves once that settles.
    if (this.pushMode) this.#host.lapsed();
    if (job.cancelled) {
      this.#end(job);
      this.#finishCancelled(job);
      return;
    }
    this.#failAttempt(job, error, this.pushMode ? undefined : 0);
  }

  #end(job: Job<T, R>): void {
    if (job.timer !== undefined) {
      this.#timers.cancel(job.timer);
      job.timer = undefined;
    }
    job.context = undefined;
    this.running--;
    if (job.puller) {
      job.puller.unacked.delete(job);
      job.puller = undefined;
    }
  }

  #emitFailed(job: Job<T, R>, error: unknown, willRetry: boolean, runMs: number): void {
    if (this.#host.listens('failed')) this.#host.emit('failed', job.item, error, { ...this.#settledInfo(job, runMs), willRetry });
    // A retry's wait starts when this attempt ended.
    if (willRetry && !Number.isNaN(job.startedAt)) job.readyAt = job.startedAt + runMs;
  }

  /** Releases what a finished item held: its id, signal watch, dedupe key, group slot and timers. */
  #release(job: Job<T, R>): void {
    if (this.byId.size > 0 && this.byId.get(job.id) === job) this.byId.delete(job.id);
    if (job.detach !== undefined) {
      job.detach();
      job.detach = undefined;
    }
    this.#dedupe?.release(job);
    if (job.ttlTimer !== undefined) {
      this.#timers.cancel(job.ttlTimer);
      job.ttlTimer = undefined;
    }
    if (job.timer !== undefined) {
      this.#timers.cancel(job.timer);
      job.timer = undefined;
    }
    if (job.group !== undefined) this.#room.groups!.release(job);
  }
}
