import { EventEmitter } from 'eventemitter3';
import { type Clock, systemClock } from './clock.js';
import { DeadLetter, type DeadLetterEntry, type DeadLetterInput, type DeadLetterReason, type DeadLetterStore } from './dead-letter.js';
import { type DedupeKey, Deduper, type DedupeStore } from './deduper.js';
import {
  DuplicateError,
  QueueClosedError,
  QueueFullError,
  TimeoutError,
  isRejectError,
} from './errors.js';
import { emitSafely } from './internal/events.js';
import { LinkedList } from './internal/linked-list.js';
import { EntryRing } from './internal/entry-ring.js';
import { Ring } from './internal/ring.js';
import { holdShapes } from './internal/shapes.js';
import { seqId } from './internal/seq-id.js';
import { type TimerEntry, TimerHeap } from './internal/timer-heap.js';
import * as v from './internal/validate.js';
import type {
  CloseOptions,
  CloseResult,
  Delivery,
  GroupKey,
  Handler,
  HandlerContext,
  NackOptions,
  Overflow,
  PushOptions,
  QueueDedupeOptions,
  QueueEvents,
  QueueOptions,
  QueueStats,
  Receipt,
} from './queue-types.js';
import { type ResolvedRetryPolicy, resolveRetryPolicy, retryDelay, retryVerdict } from './retry.js';
import { type RateLimiter, TokenBucket, toRateLimiter } from './token-bucket.js';

const PART = 'Queue';
const OVERFLOWS: readonly Overflow[] = ['block', 'reject', 'drop-oldest', 'drop-newest'];

// Job states.
const READY = 0; // in a priority level, runnable
const GROUP_WAIT = 1; // behind its group's in-flight items
const DELAYED = 2; // waiting for delayMs or a retry backoff
const RUNNING = 3; // an attempt runs (or a delivery is unacked)
const DONE = 4; // completed, dead-lettered or returned

interface Settler<R> {
  resolve(value: R): void;
  reject(error: unknown): void;
}

interface Group<T, R> {
  readonly key: GroupKey;
  /** Items holding one of the group's slots: ready or in flight. */
  active: number;
  readonly waiting: Ring<Job<T, R>>;
  /** Live items in `waiting` (it may also hold removed ones). */
  waitingLive: number;
}

/** The signal of attempts that cannot time out (no `visibilityTimeoutMs`): it never aborts. */
let neverAborted: AbortSignal | undefined;

/** One accepted item. Without a visibility timeout it is also its attempts' {@link HandlerContext}. */
class Job<T, R> implements HandlerContext {
  state = READY;
  attempt = 0;
  /** Bumped per attempt, so a lapsed attempt's late outcome is ignored. */
  token = 0;
  group: Group<T, R> | undefined = undefined;
  holdsSlot = false;
  timer: TimerEntry | undefined = undefined;
  ttlTimer: TimerEntry | undefined = undefined;
  errors: unknown[] | undefined = undefined;
  previousDelay: number | undefined = undefined;
  settlers: Settler<R>[] | undefined = undefined;
  context: Context | undefined = undefined;
  puller: PullIterator<T, R> | undefined = undefined;

  #id: string | undefined;

  constructor(
    readonly item: T,
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

  /** The push `id`, or one made from the sequence number when first asked for. */
  get id(): string {
    return (this.#id ??= seqId(this.seq));
  }

  get key(): GroupKey | undefined {
    return this.groupKey;
  }

  get signal(): AbortSignal {
    return (neverAborted ??= new AbortController().signal);
  }
}

/** The context of a plain item's first attempt: no record, the id made only if asked for. */
class PlainContext implements HandlerContext {
  // One field, so making one per item costs next to nothing; the rest lives on the prototype.
  constructor(readonly seq: number) {}

  get id(): string {
    return seqId(this.seq);
  }

  get attempt(): number {
    return 1;
  }

  get key(): undefined {
    return undefined;
  }

  get signal(): AbortSignal {
    return (neverAborted ??= new AbortController().signal);
  }
}

/** What a worker loop keeps of the plain item it runs, for the record it gets if it fails. */
class PlainInFlight {
  /** The push time (ms); NaN to start with, so the field holds a double from the first. */
  pushedAt = Number.NaN;
}

/** The per-attempt context handed to handlers; the signal is made on first use. */
class Context implements HandlerContext {
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

/** Ready items of one priority: items with nothing to keep but their priority as they are, others as their Job. */
class Level<T, R> {
  ring = new EntryRing<T | Job<T, R>>();
  constructor(readonly priority: number) {}
}

interface Pusher<T, R> {
  readonly item: T;
  readonly options: Checked;
  readonly settler: Settler<R> | undefined;
  readonly resolve: (receipt: Receipt) => void;
  readonly reject: (error: unknown) => void;
  detach: () => void;
}

interface Checked {
  readonly priority: number;
  readonly delayMs: number;
  readonly ttlMs: number | undefined;
  readonly id: string | undefined;
  readonly signal: AbortSignal | undefined;
  readonly groupKey: GroupKey | undefined;
  readonly dedupeKey: DedupeKey | undefined;
}

interface PullIterator<T, R> {
  done: boolean;
  readonly unacked: Set<Job<T, R>>;
  readonly pending: ((result: IteratorResult<Delivery<T>>) => void)[];
}

interface Watcher {
  /** Met only while fewer than this many items wait (every watcher needs `waiting < below`). */
  readonly below: number;
  readonly test: () => boolean;
  readonly resolve: () => void;
  detach: () => void;
}

const NO_OPTIONS: Checked = {
  priority: 0,
  delayMs: 0,
  ttlMs: undefined,
  id: undefined,
  signal: undefined,
  groupKey: undefined,
  dedupeKey: undefined,
};

/**
 * An in-process work queue: concurrency, priorities, delays, retries with
 * backoff, dead letters, message groups, deduplication, rate limits and
 * visibility timeouts — what users of p-queue, fastq, BullMQ and SQS expect,
 * without a broker.
 *
 * Nothing accepted is lost: every item ends completed, dead-lettered (with a
 * reason), handed back by `close({ drain: false })`, or was refused as a
 * duplicate. {@link Queue.stats} makes it checkable:
 * `accepted = completed + deadLettered + returned + waiting + inFlight`.
 *
 * Push mode runs a handler; pull mode (`for await (const d of queue)`) lends
 * deliveries to be `ack`ed or `nack`ed. A queue uses one or the other.
 *
 * @typeParam T - the item type.
 * @typeParam R - the handler's result type.
 *
 * @example
 * ```ts
 * const queue = new Queue<Email, void>({
 *   concurrency: 8,
 *   retry: { maxAttempts: 5, backoff: { initialDelayMs: 500 } },
 *   rateLimit: { ratePerSecond: 20, burst: 5 },
 *   handler: (email, { signal }) => smtp.send(email, { signal }),
 * });
 * await queue.push(email);
 * await queue.close(); // drains
 * queue.deadLetter.entries(); // what could not be sent, and why
 * ```
 */
export class Queue<T, R = unknown> extends EventEmitter<QueueEvents<T, R>> {
  readonly #clock: Clock;
  readonly #timers: TimerHeap;
  #handler: Handler<T, R> | undefined;
  #concurrency: number;
  readonly #capacity: number;
  readonly #overflow: Overflow;
  readonly #policy: ResolvedRetryPolicy;
  readonly #deadLetter: DeadLetterStore<T>;
  readonly #visibilityTimeoutMs: number | undefined;
  readonly #ttlMs: number | undefined;
  readonly #groupBy: ((item: T) => GroupKey) | undefined;
  readonly #groupConcurrency: number;
  readonly #groups = new Map<GroupKey, Group<T, R>>();
  readonly #dedupeStore: DedupeStore | undefined;
  readonly #dedupeKey: ((item: T) => DedupeKey) | undefined;
  /** Dedupe keys of items waiting or in flight. */
  readonly #live = new Map<DedupeKey, Job<T, R>>();
  readonly #rateLimit: RateLimiter | undefined;
  #tokenHeld = false;
  #tokenPending = false;
  /** Stops a pending token acquisition once a closed queue has nothing left to start. */
  #tokenAbort: AbortController | undefined = undefined;
  readonly #source: string;

  // Ready items by priority, highest first; level 0 is kept at hand.
  readonly #level0 = new Level<T, R>(0);
  #levels: Level<T, R>[] = [this.#level0];
  readonly #levelByPriority = new Map<number, Level<T, R>>([[0, this.#level0]]);
  #ready = 0;

  /** Items waiting for `delayMs` or a retry backoff. */
  readonly #delayed = new Set<Job<T, R>>();
  readonly #pushers = new LinkedList<Pusher<T, R>>();
  #paused: boolean;
  #closed = false;
  #closing: Promise<CloseResult<T>> | undefined = undefined;
  /** Set by `close({ drain: false })`: retries are handed back instead. */
  #returning: T[] | undefined = undefined;
  /** Worker loops holding a concurrency slot (handler mode). */
  #workers = 0;

  readonly #pullIterators = new Set<PullIterator<T, R>>();
  readonly #pullers = new LinkedList<PullIterator<T, R>>();
  #pullMode = false;

  #watchers: Watcher[] = [];
  /** One more than the most items a watcher can be met with: 0 when none watches (see #watch). */
  #watchBelow = 0;
  /** Whether a push without options needs no record: no `groupBy`, `dedupe` or `ttlMs` (set once, in the constructor). */
  readonly #plainPushes: boolean;
  /** Set once any listener is added: until then no event needs a listener lookup per item. */
  #listened = false;

  #nextId = 1;
  #accepted = 0;
  #duplicates = 0;
  #completed = 0;
  #failed = 0;
  #retried = 0;
  #deadLettered = 0;
  #returned = 0;
  #waiting = 0;
  #running = 0;

  /**
   * @param options - see {@link QueueOptions}; all optional.
   * @throws TypeError for an option of the wrong type or an unknown `overflow`.
   * @throws RangeError for an out-of-range number (`concurrency`, `capacity`,
   *   `visibilityTimeoutMs`, `ttlMs`, `groupConcurrency`, retry and dedupe numbers).
   */
  constructor(options?: QueueOptions<T, R>) {
    super();
    const o = v.options<QueueOptions<T, R>>(PART, options);
    this.#clock = v.clock(PART, o.clock, systemClock);
    this.#timers = new TimerHeap(this.#clock);
    this.#handler = v.fn<Handler<T, R>>(PART, 'handler', o.handler);
    this.#concurrency = v.number(PART, 'concurrency', o.concurrency, 'positive-integer-or-infinity', 1);
    this.#capacity = v.number(PART, 'capacity', o.capacity, 'positive-integer-or-infinity', Infinity);
    this.#overflow = v.choice(PART, 'overflow', o.overflow, OVERFLOWS, 'block');
    this.#policy =
      o.retry === undefined
        ? { maxAttempts: 1, backoff: () => 0, retryIf: undefined }
        : resolveRetryPolicy(PART, o.retry, 3);
    if (o.deadLetter === undefined) this.#deadLetter = new DeadLetter<T>({ clock: this.#clock });
    else if (typeof o.deadLetter === 'object' && o.deadLetter !== null && typeof o.deadLetter.add === 'function') {
      this.#deadLetter = o.deadLetter;
    } else throw new TypeError(`${PART}: deadLetter must be a DeadLetter, got ${v.show(o.deadLetter)}`);
    this.#visibilityTimeoutMs = v.number(PART, 'visibilityTimeoutMs', o.visibilityTimeoutMs, 'positive');
    this.#ttlMs = v.number(PART, 'ttlMs', o.ttlMs, 'positive');
    this.#groupBy = v.fn<(item: T) => GroupKey>(PART, 'groupBy', o.groupBy);
    this.#groupConcurrency = v.number(PART, 'groupConcurrency', o.groupConcurrency, 'positive-integer', 1);
    const dedupe = o.dedupe;
    if (dedupe === undefined) {
      this.#dedupeStore = undefined;
      this.#dedupeKey = undefined;
    } else if (typeof dedupe === 'object' && dedupe !== null && typeof (dedupe as DedupeStore).check === 'function') {
      this.#dedupeStore = dedupe as DedupeStore;
      this.#dedupeKey = undefined;
    } else if (typeof dedupe === 'object' && dedupe !== null) {
      const d = dedupe as QueueDedupeOptions<T>;
      this.#dedupeKey = v.requiredFn<(item: T) => DedupeKey>(PART, 'dedupe.key', d.key);
      this.#dedupeStore = new Deduper({
        ...(d.windowMs !== undefined ? { windowMs: d.windowMs } : {}),
        ...(d.maxKeys !== undefined ? { maxKeys: d.maxKeys } : {}),
        clock: this.#clock,
      });
    } else throw new TypeError(`${PART}: dedupe must be { key, windowMs?, maxKeys? } or a Deduper, got ${v.show(dedupe)}`);
    this.#plainPushes = this.#groupBy === undefined && this.#dedupeStore === undefined && this.#ttlMs === undefined;
    this.#rateLimit = o.rateLimit === undefined ? undefined : toRateLimiter(PART, 'rateLimit', o.rateLimit, this.#clock);
    if (this.#rateLimit instanceof TokenBucket && this.#rateLimit.burst < 1) {
      throw new RangeError(`${PART}: rateLimit burst must be at least 1 (a start takes one token), got ${this.#rateLimit.burst}`);
    }
    if (o.autoStart !== undefined && typeof o.autoStart !== 'boolean') {
      throw new TypeError(`${PART}: autoStart must be a boolean, got ${v.show(o.autoStart)}`);
    }
    this.#paused = o.autoStart === false;
    if (o.name !== undefined && typeof o.name !== 'string') {
      throw new TypeError(`${PART}: name must be a string, got ${v.show(o.name)}`);
    }
    this.#source = o.name ?? 'queue';
    // Idle instances that keep the hidden classes of a queue and of its records (see internal/shapes.ts).
    holdShapes(Queue, () => [
      new Queue<unknown, unknown>({ handler: noop }),
      Job.plain(undefined, 1, 0.5, 0),
      new PlainContext(1),
      new PlainInFlight(),
      new Context('1', 1, undefined),
    ]);
  }

  /** The dead letter this queue writes to (its own unless one was given). */
  get deadLetter(): DeadLetterStore<T> {
    return this.#deadLetter;
  }

  /** The queue's name (`'queue'` unless one was given). */
  get name(): string {
    return this.#source;
  }

  /** Items waiting, delayed and retry-pending included (O(1)). */
  get size(): number {
    return this.#waiting;
  }

  /** Attempts running, or deliveries unacked. */
  get inFlight(): number {
    return this.#running;
  }

  /**
   * Adds a listener, as `EventEmitter.on`; see {@link QueueEvents} for the events.
   * @returns this queue.
   */
  override on<E extends EventEmitter.EventNames<QueueEvents<T, R>>>(
    event: E,
    fn: EventEmitter.EventListener<QueueEvents<T, R>, E>,
    context?: unknown,
  ): this {
    this.#listened = true;
    return super.on(event, fn, context);
  }

  /**
   * Adds a listener, as `EventEmitter.addListener` (the same as {@link Queue.on}).
   * @returns this queue.
   */
  override addListener<E extends EventEmitter.EventNames<QueueEvents<T, R>>>(
    event: E,
    fn: EventEmitter.EventListener<QueueEvents<T, R>, E>,
    context?: unknown,
  ): this {
    this.#listened = true;
    return super.addListener(event, fn, context);
  }

  /**
   * Adds a listener called at most once, as `EventEmitter.once`.
   * @returns this queue.
   */
  override once<E extends EventEmitter.EventNames<QueueEvents<T, R>>>(
    event: E,
    fn: EventEmitter.EventListener<QueueEvents<T, R>, E>,
    context?: unknown,
  ): this {
    this.#listened = true;
    return super.once(event, fn, context);
  }

  /** Whether the queue is paused (`pause()`, or `autoStart: false` before `resume()`). */
  get isPaused(): boolean {
    return this.#paused;
  }

  /** Whether `close()` was called. */
  get isClosed(): boolean {
    return this.#closed;
  }

  /** Counters; see {@link QueueStats} for the conservation law they obey. */
  get stats(): QueueStats {
    return {
      accepted: this.#accepted,
      duplicates: this.#duplicates,
      completed: this.#completed,
      failed: this.#failed,
      retried: this.#retried,
      deadLettered: this.#deadLettered,
      returned: this.#returned,
      waiting: this.#waiting,
      inFlight: this.#running,
    };
  }

  /**
   * Offers an item. Resolves once it is accepted (or refused as a duplicate,
   * or dropped by `'drop-newest'`).
   * @param item - any value, `undefined`, `0`, `''` and `null` included.
   * @param options - see {@link PushOptions}.
   * @returns the item's {@link Receipt}.
   * @throws QueueClosedError (rejects) after `close()`.
   * @throws QueueFullError (rejects) when full with `overflow: 'reject'`.
   * @throws the abort `signal.reason` (rejects) when the wait for room is aborted.
   * @throws TypeError or RangeError (rejects) for bad options; whatever `groupBy` or `dedupe.key` throws.
   */
  push(item: T, options?: PushOptions): Promise<Receipt> {
    return this.#offer(item, options, undefined);
  }

  /**
   * Offers an item without waiting.
   * @param item - the item.
   * @param options - see {@link PushOptions} (`signal` is ignored: nothing waits).
   * @returns the {@link Receipt}, or `undefined` when the item would have to
   *   wait for room (`overflow: 'block'` and full, or earlier pushes waiting).
   * @throws QueueClosedError after `close()`; QueueFullError when full with
   *   `overflow: 'reject'`; TypeError or RangeError for bad options.
   */
  tryPush(item: T, options?: PushOptions): Receipt | undefined {
    if (options === undefined && this.#plainPushes && !this.#closed && this.#waiting < this.#capacity && this.#pushers.size === 0) {
      return this.#acceptPlain(item, 0); // the common case, without #check and #accept's other branches
    }
    const checked = this.#check(item, options);
    if (this.#closed) throw new QueueClosedError(`${PART}: closed`);
    if (this.#pushers.size > 0 || (this.#waiting >= this.#capacity && this.#overflow === 'block')) return undefined;
    return this.#accept(item, checked, undefined);
  }

  /**
   * Pushes an item and resolves with the handler's result for it.
   * A duplicate shares the outcome of its original while that one waits or
   * runs; otherwise it rejects with `DuplicateError`.
   * @param item - the item.
   * @param options - see {@link PushOptions}.
   * @returns the handler's result.
   * @throws (rejects) the handler's last error once the item is dead-lettered
   *   (retries exhausted or `RejectError`: the `RejectError`'s cause, or itself);
   *   `QueueFullError` when it was dropped for overflow; `TimeoutError` when it
   *   expired (`ttlMs`); `QueueClosedError` when closed or handed back by
   *   `close({ drain: false })`; as {@link Queue.push} otherwise.
   */
  submit(item: T, options?: PushOptions): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.#offer(item, options, { resolve, reject }).catch(reject);
    });
  }

  /**
   * Pushes every item of a (sync or async) iterable, one at a time, waiting
   * for room as `push` does (backpressure).
   * @param items - the items.
   * @returns how many were accepted (duplicates not counted).
   * @throws (rejects) the first push's error; items before it stay accepted,
   *   and the source is closed (`return()`).
   */
  async pushAll(items: Iterable<T> | AsyncIterable<T>): Promise<number> {
    if (items === null || typeof items !== 'object' && typeof items !== 'function') {
      throw new TypeError(`${PART}: pushAll needs an iterable or async iterable, got ${v.show(items)}`);
    }
    const it = items as Partial<Iterable<T> & AsyncIterable<T>>;
    if (typeof it[Symbol.asyncIterator] !== 'function' && typeof it[Symbol.iterator] !== 'function') {
      throw new TypeError(`${PART}: pushAll needs an iterable or async iterable, got ${v.show(items)}`);
    }
    let count = 0;
    for await (const item of items) {
      const receipt = this.tryPush(item) ?? (await this.push(item));
      if (!receipt.duplicate) count++;
    }
    return count;
  }

  /**
   * Starts push mode with `handler`, when none was given in the options.
   * @param handler - handles each item.
   * @param options - `concurrency` overrides the queue's.
   * @throws TypeError when a handler is already set or pull mode is in use, or for bad arguments.
   */
  process(handler: Handler<T, R>, options?: { readonly concurrency?: number }): void {
    const fn = v.requiredFn<Handler<T, R>>(PART, 'handler', handler);
    const o = v.options<{ concurrency?: number }>(PART, options);
    const concurrency = v.number(PART, 'concurrency', o.concurrency, 'positive-integer-or-infinity');
    if (this.#handler) throw new TypeError(`${PART}: a handler is already set`);
    if (this.#pullMode) throw new TypeError(`${PART}: pull mode is in use; a queue has a handler or is iterated, not both`);
    this.#handler = fn;
    if (concurrency !== undefined) this.#concurrency = concurrency;
    this.#drain();
  }

  /** Stops starting attempts; running ones go on. */
  pause(): void {
    this.#paused = true;
  }

  /** Starts attempts again (and starts a queue made with `autoStart: false`). */
  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#drain();
  }

  /** Resolves when nothing waits and nothing is in flight; at once if so already. */
  onIdle(): Promise<void> {
    return this.#watch(1, () => this.#waiting === 0 && this.#running === 0);
  }

  /** Resolves when nothing waits (attempts may still run); at once if so already. */
  onEmpty(): Promise<void> {
    return this.#watch(1, () => this.#waiting === 0);
  }

  /**
   * Resolves when fewer than `limit` items wait; at once if so already.
   * @param limit - a non-negative number.
   * @throws RangeError (rejects) for a bad `limit`.
   */
  onSizeBelow(limit: number): Promise<void> {
    try {
      v.number(PART, 'limit', limit, 'non-negative', 0);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#watch(limit, () => this.#waiting < limit);
  }

  /**
   * Stops accepting items (`push` rejects `QueueClosedError`, as do pushes
   * still waiting for room) and finishes.
   * - `drain: true` (default): everything accepted is handled (or
   *   dead-lettered); resolves `{ unprocessed: [] }` once idle. A paused
   *   queue drains once resumed.
   * - `drain: false`: waiting, delayed and retry-pending items are handed
   *   back at once; in-flight attempts are not aborted, and one that fails
   *   and would retry is handed back too. Resolves once they settled.
   *
   * A second call returns the first one's promise.
   * @param options - see {@link CloseOptions}.
   * @returns the items handed back.
   * @throws the abort `signal.reason` (rejects) when `signal` aborts before the end.
   */
  close(options?: CloseOptions): Promise<CloseResult<T>> {
    if (this.#closing) return this.#closing;
    let drain: boolean;
    let signal: AbortSignal | undefined;
    try {
      const o = v.options<CloseOptions>(PART, options);
      if (o.drain !== undefined && typeof o.drain !== 'boolean') {
        throw new TypeError(`${PART}: drain must be a boolean, got ${v.show(o.drain)}`);
      }
      drain = o.drain ?? true;
      signal = v.signal(PART, 'signal', o.signal);
    } catch (error) {
      return Promise.reject(error);
    }
    this.#closed = true;
    for (let pusher = this.#pushers.shift(); pusher; pusher = this.#pushers.shift()) {
      pusher.detach();
      pusher.reject(new QueueClosedError(`${PART}: closed`));
    }
    let returned: T[] = [];
    if (!drain) {
      returned = this.#takeAllWaiting();
      this.#returning = returned;
    }
    const finished = this.#watch(1, () => this.#waiting === 0 && this.#running === 0, signal);
    this.#closing = finished.then(() => {
      this.#timers.clear();
      // Nothing is left to start: a token still on its way would only keep the process alive.
      this.#tokenAbort?.abort();
      this.#checkWatchers();
      return { unprocessed: returned };
    });
    this.#checkWatchers();
    return this.#closing;
  }

  /**
   * Pull mode: yields deliveries to `ack()` or `nack()`. At most
   * `concurrency` deliveries are unacked at once; an unacked delivery past
   * `visibilityTimeoutMs` lapses (its signal aborts, its late `ack` returns
   * false) and the item is visible again at once with `attempt + 1`.
   * Iteration ends when the queue is closed and empty. On `break`, the
   * iterator's unacked deliveries return to waiting without using an attempt.
   * @throws TypeError when the queue has a handler.
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<Delivery<T>> {
    if (this.#handler) throw new TypeError(`${PART}: the queue has a handler; a queue has a handler or is iterated, not both`);
    this.#pullMode = true;
    const state: PullIterator<T, R> = { done: false, unacked: new Set(), pending: [] };
    this.#pullIterators.add(state);
    const done = (): IteratorResult<Delivery<T>> => ({ value: undefined, done: true });
    const iterator: AsyncIterableIterator<Delivery<T>> = {
      next: () => {
        if (state.done) return Promise.resolve(done());
        if (this.#closed && this.#waiting === 0 && this.#running === 0) {
          this.#endPull(state);
          return Promise.resolve(done());
        }
        return new Promise<IteratorResult<Delivery<T>>>((resolve) => {
          state.pending.push(resolve);
          this.#pullers.push(state);
          this.#drain();
        });
      },
      return: () => {
        this.#endPull(state);
        return Promise.resolve(done());
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  // ---- accepting ----

  #offer(item: T, options: PushOptions | undefined, settler: Settler<R> | undefined): Promise<Receipt> {
    let checked: Checked;
    try {
      checked = this.#check(item, options);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#closed) return Promise.reject(new QueueClosedError(`${PART}: closed`));
    if (checked.signal?.aborted) return Promise.reject(checked.signal.reason);
    if (this.#pushers.size === 0 && (this.#waiting < this.#capacity || this.#overflow !== 'block')) {
      try {
        return Promise.resolve(this.#accept(item, checked, settler));
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return new Promise<Receipt>((resolve, reject) => {
      const pusher: Pusher<T, R> = { item, options: checked, settler, resolve, reject, detach: noop };
      const node = this.#pushers.push(pusher);
      const signal = checked.signal;
      if (signal) {
        const abort = (): void => {
          if (this.#pushers.remove(node)) reject(signal.reason);
          // Room may now be there for the pushes behind it.
          this.#admitPushers();
        };
        signal.addEventListener('abort', abort, { once: true });
        pusher.detach = () => signal.removeEventListener('abort', abort);
      }
    });
  }

  #check(item: T, options: PushOptions | undefined): Checked {
    if (options === undefined && this.#plainPushes) return NO_OPTIONS;
    const o = v.options<PushOptions>(PART, options);
    const priority = o.priority === undefined ? 0 : o.priority;
    if (typeof priority !== 'number') throw new TypeError(`${PART}: priority must be a finite number, got ${v.show(priority)}`);
    if (!Number.isFinite(priority)) throw new RangeError(`${PART}: priority must be a finite number, got ${v.show(priority)}`);
    const delayMs = v.number(PART, 'delayMs', o.delayMs, 'non-negative', 0);
    const ttlMs = v.number(PART, 'ttlMs', o.ttlMs, 'positive') ?? this.#ttlMs;
    if (o.id !== undefined && typeof o.id !== 'string') throw new TypeError(`${PART}: id must be a string, got ${v.show(o.id)}`);
    const signal = v.signal(PART, 'signal', o.signal);
    let groupKey: GroupKey | undefined;
    if (this.#groupBy) {
      groupKey = this.#groupBy(item);
      if (typeof groupKey !== 'string' && typeof groupKey !== 'number') {
        throw new TypeError(`${PART}: groupBy must return a string or a number, got ${v.show(groupKey)}`);
      }
    }
    let dedupeKey: DedupeKey | undefined;
    if (this.#dedupeStore) {
      dedupeKey = o.id ?? this.#dedupeKey?.(item);
      if (dedupeKey !== undefined && typeof dedupeKey !== 'string' && typeof dedupeKey !== 'number') {
        throw new TypeError(`${PART}: dedupe.key must return a string or a number, got ${v.show(dedupeKey)}`);
      }
    }
    return { priority, delayMs, ttlMs, id: o.id, signal, groupKey, dedupeKey };
  }

  /** Accepts an item there is room for (or that overflow handles). Throws QueueFullError for 'reject'. */
  #accept(item: T, o: Checked, settler: Settler<R> | undefined): Receipt {
    const key = o.dedupeKey;
    if (key !== undefined) {
      const original = this.#live.get(key);
      if (original !== undefined || this.#dedupeStore!.has(key)) {
        this.#duplicates++;
        if (settler) {
          if (original) (original.settlers ??= []).push(settler);
          else settler.reject(new DuplicateError(key, `${PART}: duplicate of key ${JSON.stringify(key)}`));
        }
        return { id: o.id ?? original?.id ?? String(key), duplicate: true, dropped: false };
      }
    }
    if (this.#waiting >= this.#capacity && this.#overflow === 'reject') {
      throw new QueueFullError(this.#capacity, `${PART}: capacity of ${this.#capacity} reached`);
    }
    if (key !== undefined) this.#dedupeStore!.check(key);
    // Plain: nothing but a priority to keep. NO_OPTIONS means no push options, no groupBy, no dedupe and no queue ttlMs (see #check).
    if (settler === undefined && this.#waiting < this.#capacity) {
      if (o === NO_OPTIONS) return this.#acceptPlain(item, 0);
      if (this.#plainPushes && o.delayMs === 0 && o.ttlMs === undefined && o.id === undefined) return this.#acceptPlain(item, o.priority);
    }
    // Stamped with the turn's time: one clock read for a loop of pushes (see firstSeenAt).
    const now = this.#timers.turnNow();
    const seq = this.#nextId++;
    const job = new Job<T, R>(item, o.id, seq, o.priority, now, o.groupKey, key);
    if (settler) job.settlers = [settler];
    this.#accepted++;
    if (this.#waiting >= this.#capacity) {
      if (this.#overflow === 'drop-newest') {
        this.#deadLetterJob(job, 'maxlen', undefined);
        return { id: job.id, duplicate: false, dropped: true };
      }
      // drop-oldest
      const oldest = this.#takeOldest();
      if (oldest) this.#deadLetterJob(oldest, 'maxlen', undefined);
    }
    if (key !== undefined) this.#live.set(key, job);
    this.#waiting++;
    if (o.ttlMs !== undefined) job.ttlTimer = this.#timers.add(this.#timers.now() + o.ttlMs, () => this.#expire(job));
    if (o.delayMs > 0) this.#delay(job, this.#timers.now() + o.delayMs);
    else this.#admit(job);
    this.#drain();
    return { id: job.id, duplicate: false, dropped: false };
  }

  /**
   * Accepts an item into a queue with room when there is nothing to keep of it but its priority (no id, delay, TTL,
   * group, dedupe key or caller awaiting its result): it waits as it is in its level's ring, no record (24 bytes).
   */
  #acceptPlain(item: T, priority: number): Receipt {
    const seq = this.#nextId++;
    this.#accepted++;
    this.#waiting++;
    // Stamped with the turn's time: one clock read for a loop of pushes (see firstSeenAt).
    (priority === 0 ? this.#level0 : this.#level(priority)).ring.push(item, seq, this.#timers.turnNow());
    this.#ready++;
    // A push can only start work: it never meets a watcher (they wait for fewer items) or admits a pusher.
    if (this.#workers < this.#concurrency || this.#handler === undefined) this.#drain();
    return { id: seqId(seq), duplicate: false, dropped: false };
  }

  #admitPushers(): void {
    while (this.#pushers.size > 0 && (this.#waiting < this.#capacity || this.#overflow !== 'block')) {
      const pusher = this.#pushers.shift()!;
      pusher.detach();
      try {
        pusher.resolve(this.#accept(pusher.item, pusher.options, pusher.settler));
      } catch (error) {
        pusher.reject(error);
      }
    }
  }

  // ---- where waiting items live ----

  /** A waiting item becomes available: into its group, or ready. */
  #admit(job: Job<T, R>): void {
    if (job.groupKey === undefined) {
      this.#toReady(job);
      return;
    }
    let group = job.group;
    if (group === undefined) {
      group = this.#groups.get(job.groupKey);
      if (group === undefined) {
        group = { key: job.groupKey, active: 0, waiting: new Ring(), waitingLive: 0 };
        this.#groups.set(job.groupKey, group);
      }
      job.group = group;
    }
    if (group.active < this.#groupConcurrency) {
      group.active++;
      job.holdsSlot = true;
      this.#toReady(job);
    } else {
      job.state = GROUP_WAIT;
      group.waiting.push(job);
      group.waitingLive++;
    }
  }

  #toReady(job: Job<T, R>): void {
    job.state = READY;
    this.#level(job.priority).ring.push(job, job.seq, job.pushedAt);
    this.#ready++;
  }

  #level(priority: number): Level<T, R> {
    if (priority === 0) return this.#level0;
    let level = this.#levelByPriority.get(priority);
    if (level === undefined) {
      level = new Level(priority);
      this.#levelByPriority.set(priority, level);
      const levels = this.#levels;
      let i = 0;
      while (i < levels.length && levels[i]!.priority > priority) i++;
      levels.splice(i, 0, level);
    }
    return level;
  }

  #popReady(): Job<T, R> | undefined {
    for (let i = 0; i < this.#levels.length; ) {
      const level = this.#levels[i]!;
      const ring = level.ring;
      while (ring.size > 0) {
        const entry = ring.shift()!;
        if (entry instanceof Job) {
          if (entry.state !== READY) continue; // removed while it waited
          this.#ready--;
          if (ring.size === 0 && level !== this.#level0) this.#dropLevel(level);
          return entry;
        }
        // An item pushed without options: it gets its record only now.
        this.#ready--;
        return Job.plain<T, R>(entry, ring.shiftedSeq, ring.shiftedTime, level.priority);
      }
      // Only removed items were left at this level.
      if (level === this.#level0) i++;
      else this.#dropLevel(level);
    }
    return undefined;
  }

  #dropLevel(level: Level<T, R>): void {
    this.#levelByPriority.delete(level.priority);
    this.#levels = this.#levels.filter((l) => l !== level);
  }

  /** Takes the waiting item pushed first out of the queue (for 'drop-oldest'), READY/GROUP_WAIT/DELAYED → DONE. */
  #takeOldest(): Job<T, R> | undefined {
    let oldest: Job<T, R> | undefined;
    let oldestLevel: Level<T, R> | undefined;
    let oldestSeq = Infinity;
    const older = (job: Job<T, R>): void => {
      if (job.seq < oldestSeq) {
        oldest = job;
        oldestLevel = undefined;
        oldestSeq = job.seq;
      }
    };
    for (const level of this.#levels) {
      const ring = level.ring;
      // Removed items at the head are dead weight: drop them, so the head is live.
      while (ring.size > 0) {
        const head = ring.peek();
        if (!(head instanceof Job) || head.state === READY) break;
        ring.shift();
      }
      if (ring.size > 0 && ring.peekSeq() < oldestSeq) {
        oldestSeq = ring.peekSeq();
        oldestLevel = level;
        oldest = undefined;
      }
    }
    for (const group of this.#groups.values()) {
      for (const job of group.waiting) {
        if (job.state === GROUP_WAIT) {
          older(job);
          break;
        }
      }
    }
    for (const job of this.#delayed) older(job);
    if (oldestLevel !== undefined) {
      const entry = oldestLevel.ring.shift()!;
      const job =
        entry instanceof Job
          ? entry
          : Job.plain<T, R>(entry, oldestLevel.ring.shiftedSeq, oldestLevel.ring.shiftedTime, oldestLevel.priority);
      job.state = READY;
      oldest = job;
    }
    if (oldest !== undefined) this.#unlink(oldest);
    return oldest;
  }

  /** Takes a waiting item out of wherever it waits; the caller decides where it goes. */
  #unlink(job: Job<T, R>): void {
    switch (job.state) {
      case READY:
        this.#ready--;
        break;
      case GROUP_WAIT:
        job.group!.waitingLive--;
        break;
      case DELAYED:
        if (job.timer) this.#timers.cancel(job.timer);
        job.timer = undefined;
        this.#delayed.delete(job);
        break;
      default:
        return;
    }
    job.state = DONE; // a tombstone where it sat in a ring
    this.#waiting--;
  }

  #takeAllWaiting(): T[] {
    const jobs: Job<T, R>[] = [];
    for (const level of this.#levels) {
      const ring = level.ring;
      ring.forEach((entry, seq, time) => {
        if (!(entry instanceof Job)) jobs.push(Job.plain<T, R>(entry, seq, time, level.priority));
        else if (entry.state === READY) jobs.push(entry);
      });
      level.ring = new EntryRing();
    }
    for (const group of this.#groups.values()) for (const job of group.waiting) if (job.state === GROUP_WAIT) jobs.push(job);
    const delayed = [...this.#delayed];
    delayed.sort((a, b) => a.timer!.due - b.timer!.due || a.timer!.seq - b.timer!.seq);
    jobs.push(...delayed);
    const items: T[] = [];
    for (const job of jobs) {
      this.#unlink(job);
      items.push(job.item);
      this.#returnJob(job);
    }
    return items;
  }

  // ---- running ----

  /** Starts what can start (worker loops, or deliveries to waiting pullers), admits waiting pushes, checks watchers. */
  #drain(): void {
    if (this.#handler !== undefined) {
      // Bounded: a worker that finds nothing to start (no token yet) gives its slot straight back.
      for (let n = Math.min(this.#concurrency - this.#workers, this.#ready); n > 0 && !this.#paused && !this.#tokenPending; n--) {
        this.#workers++;
        this.#work(this.#handler);
      }
    } else {
      while (this.#ready > 0 && this.#running < this.#concurrency && !this.#paused && this.#pullers.size > 0) {
        if (this.#rateLimit !== undefined && !this.#takeToken()) break;
        const job = this.#popReady();
        if (job === undefined) break;
        const token = this.#begin(job);
        this.#deliver(job, token, job.context!);
      }
    }
    if (this.#pushers.size > 0) this.#admitPushers();
    if (this.#waiting < this.#watchBelow) this.#checkWatchers();
  }

  /**
   * A worker loop: holds one concurrency slot and runs ready items one after
   * another. It leaves when nothing is ready, or when its attempt lapsed (the
   * lapse freed its slot). It is driven by callbacks on each handler's
   * promise rather than an `await` loop: resuming an async function costs
   * more per item than a promise reaction (about 7 ns of the 30 ns an await
   * of a settled promise costs here), and the callbacks are made once per
   * loop, not per item. Like `await`, it takes one microtask per item, even
   * for a handler that returns a plain value.
   */
  #work(handler: Handler<T, R>): void {
    // The attempt in flight: a plain item (pushed without options, no record unless it fails) or a record.
    let job: Job<T, R> | undefined;
    let item!: T;
    let seq = 0;
    let token = 0;
    // A push time stored in a closure's variable would box a new number per item; a double field reuses its box.
    const plain = new PlainInFlight();
    const run = (): void => {
      while (this.#ready > 0 && !this.#paused) {
        if (this.#rateLimit !== undefined && !this.#takeToken()) break;
        const ring = this.#level0.ring;
        job = undefined;
        if (this.#levels.length === 1 && this.#visibilityTimeoutMs === undefined && ring.size > 0) {
          // One level: take its head here, a record or an item pushed without options.
          const entry = ring.shift()!;
          if (entry instanceof Job) {
            if (entry.state !== READY) continue; // removed while it waited
            this.#ready--;
            job = entry;
          } else {
            item = entry;
            seq = ring.shiftedSeq;
            plain.pushedAt = ring.shiftedTime;
          }
        } else {
          job = this.#popReady();
          if (job === undefined) break;
        }
        let result: R | PromiseLike<R>;
        if (job === undefined) {
          this.#ready--;
          this.#waiting--;
          this.#running++;
          // The context goes to the handler only (events name the item by seq): where the handler is
          // inlined and ignores its context, V8 need not make one at all.
          const context = new PlainContext(seq);
          if (this.#listens('active')) emitSafely(this, 'active', item, { id: seqId(seq), attempt: 1 });
          this.#took();
          try {
            result = handler(item, context);
          } catch (error) {
            this.#failPlain(item, seq, plain.pushedAt, error);
            continue;
          }
        } else {
          token = this.#begin(job);
          this.#took();
          try {
            result = handler(job.item, job.context ?? job);
          } catch (error) {
            if (job.token !== token || job.state !== RUNNING) return;
            this.#failAttempt(job, error, undefined);
            continue;
          }
        }
        Promise.resolve(result).then(done, fail);
        return;
      }
      this.#workers--;
      if (this.#waiting < this.#watchBelow) this.#checkWatchers();
    };
    const done = (value: R): void => {
      if (job === undefined) {
        this.#running--;
        this.#completed++;
        if (this.#listens('completed')) emitSafely(this, 'completed', item, value, { id: seqId(seq), attempt: 1 });
        // Nothing else for a plain completion to do: the loop goes on to the next item, or leaves and checks watchers.
        this.#idleEvent();
      } else {
        if (job.token !== token || job.state !== RUNNING) return;
        this.#complete(job, value);
      }
      run();
    };
    const fail = (error: unknown): void => {
      if (job === undefined) this.#failPlain(item, seq, plain.pushedAt, error);
      else {
        if (job.token !== token || job.state !== RUNNING) return;
        this.#failAttempt(job, error, undefined);
      }
      run();
    };
    run();
  }

  /** The first attempt at a plain item failed: it gets its record now, to retry or dead-letter. */
  #failPlain(item: T, seq: number, pushedAt: number, error: unknown): void {
    const job = Job.plain<T, R>(item, seq, pushedAt, 0); // worker loops take plain items only from level 0
    job.state = RUNNING;
    job.attempt = 1;
    job.token = 1;
    this.#failAttempt(job, error, undefined);
  }

  /**
   * A worker loop took an item: one fewer waits, so waiting pushes may fit
   * and watchers (`onSizeBelow`, `onEmpty`) may be met. (Starts from #drain
   * are followed by the same checks there.)
   */
  #took(): void {
    if (this.#pushers.size > 0) this.#admitPushers();
    if (this.#waiting < this.#watchBelow) this.#checkWatchers();
  }

  #takeToken(): boolean {
    if (this.#tokenHeld) {
      this.#tokenHeld = false;
      return true;
    }
    if (this.#tokenPending) return false;
    if (this.#rateLimit!.tryAcquire(1)) return true;
    this.#tokenPending = true;
    const abort = new AbortController();
    this.#tokenAbort = abort;
    this.#rateLimit!.acquire(1, { signal: abort.signal }).then(
      () => {
        this.#tokenPending = false;
        this.#tokenAbort = undefined;
        this.#tokenHeld = true;
        this.#drain();
      },
      (error: unknown) => {
        this.#tokenPending = false;
        this.#tokenAbort = undefined;
        if (!abort.signal.aborted) emitSafely(this, 'error', error);
      },
    );
    return false;
  }

  /** Bookkeeping of an attempt's start; returns the attempt's token. */
  #begin(job: Job<T, R>): number {
    this.#waiting--;
    if (job.ttlTimer !== undefined) {
      this.#timers.cancel(job.ttlTimer);
      job.ttlTimer = undefined;
    }
    job.state = RUNNING;
    this.#running++;
    const attempt = ++job.attempt;
    const token = ++job.token;
    if (this.#visibilityTimeoutMs !== undefined || this.#handler === undefined) {
      // Attempts that can time out get a context of their own, with a signal that can abort.
      job.context = new Context(job.id, attempt, job.groupKey);
      if (this.#visibilityTimeoutMs !== undefined) {
        job.timer = this.#timers.add(this.#timers.now() + this.#visibilityTimeoutMs, () => this.#lapse(job, token));
      }
    }
    if (this.#listens('active')) emitSafely(this, 'active', job.item, { id: job.id, attempt });
    return token;
  }

  #endAttempt(job: Job<T, R>): void {
    if (job.timer !== undefined) {
      this.#timers.cancel(job.timer);
      job.timer = undefined;
    }
    job.context = undefined;
    this.#running--;
    if (job.puller) {
      job.puller.unacked.delete(job);
      job.puller = undefined;
    }
  }

  #succeed(job: Job<T, R>, token: number, value: R): boolean {
    if (job.token !== token || job.state !== RUNNING) return false;
    this.#complete(job, value);
    return true;
  }

  #complete(job: Job<T, R>, value: R): void {
    this.#endAttempt(job);
    job.state = DONE;
    this.#completed++;
    this.#release(job);
    const settlers = job.settlers;
    if (settlers !== undefined) for (const s of settlers) s.resolve(value);
    if (this.#listens('completed')) emitSafely(this, 'completed', job.item, value, { id: job.id, attempt: job.attempt });
    this.#drain();
    this.#idleEvent();
  }

  /**
   * An attempt failed. `delayOverride` is a nack's `delayMs` (or 0 for a
   * lapsed delivery, visible again at once).
   */
  #fail(job: Job<T, R>, token: number, error: unknown, delayOverride: number | undefined): boolean {
    if (job.token !== token || job.state !== RUNNING) return false;
    this.#failAttempt(job, error, delayOverride);
    return true;
  }

  #failAttempt(job: Job<T, R>, error: unknown, delayOverride: number | undefined): void {
    this.#endAttempt(job);
    this.#failed++;
    (job.errors ??= []).push(error);
    const attempt = job.attempt;
    if (isRejectError(error)) {
      this.#emitFailed(job, error, false);
      this.#deadLetterJob(job, 'rejected', error.cause !== undefined ? error.cause : error);
    } else {
      let verdict: 'retry' | 'stop' | 'exhausted';
      try {
        verdict = retryVerdict(this.#policy, error, attempt);
      } catch (retryIfError) {
        emitSafely(this, 'error', retryIfError);
        verdict = 'stop';
      }
      if (verdict === 'retry' && this.#returning !== undefined) {
        // Closing without drain: hand it back instead of retrying.
        this.#emitFailed(job, error, false);
        job.state = DONE;
        this.#returning.push(job.item);
        this.#returnJob(job);
      } else if (verdict === 'retry') {
        let delay: number;
        try {
          delay = delayOverride ?? retryDelay(this.#policy, error, attempt, job.previousDelay);
        } catch (backoffError) {
          emitSafely(this, 'error', backoffError);
          delay = 0;
        }
        job.previousDelay = delay;
        this.#retried++;
        this.#waiting++;
        this.#emitFailed(job, error, true);
        if (delay > 0) this.#delay(job, this.#timers.now() + delay);
        else this.#retryNow(job);
      } else {
        this.#emitFailed(job, error, false);
        this.#deadLetterJob(job, verdict === 'stop' ? 'rejected' : 'delivery_limit', error);
      }
    }
    this.#drain();
    this.#idleEvent();
  }

  #emitFailed(job: Job<T, R>, error: unknown, willRetry: boolean): void {
    if (this.#listens('failed')) {
      emitSafely(this, 'failed', job.item, error, { id: job.id, attempt: job.attempt, willRetry });
    }
  }

  /** A retry (or a returned delivery) re-enters: it keeps its group slot. */
  #retryNow(job: Job<T, R>): void {
    if (job.holdsSlot || job.groupKey === undefined) this.#toReady(job);
    else this.#admit(job);
  }

  #delay(job: Job<T, R>, due: number): void {
    job.state = DELAYED;
    this.#delayed.add(job);
    job.timer = this.#timers.add(due, () => this.#due(job));
  }

  #due(job: Job<T, R>): void {
    job.timer = undefined;
    if (job.state !== DELAYED) return;
    this.#delayed.delete(job);
    this.#retryNow(job);
    this.#drain();
  }

  #expire(job: Job<T, R>): void {
    job.ttlTimer = undefined;
    if (job.state !== READY && job.state !== GROUP_WAIT && job.state !== DELAYED) return;
    this.#unlink(job);
    this.#deadLetterJob(job, 'expired', undefined);
    this.#drain();
    this.#idleEvent();
  }

  #lapse(job: Job<T, R>, token: number): void {
    job.timer = undefined;
    if (job.token !== token || job.state !== RUNNING) return;
    const error = new TimeoutError(
      this.#visibilityTimeoutMs!,
      `${PART}: attempt ${job.attempt} of item ${job.id} passed visibilityTimeoutMs (${this.#visibilityTimeoutMs} ms)`,
    );
    job.context?.abort(error);
    // Its worker stays stuck on the handler's promise: this frees the slot, and the worker leaves once that settles.
    if (this.#handler !== undefined) this.#workers--;
    this.#fail(job, token, error, this.#handler === undefined ? 0 : undefined);
  }

  /** Releases what a finished item held: its dedupe key, group slot and timers. */
  #release(job: Job<T, R>): void {
    if (job.dedupeKey !== undefined && this.#live.get(job.dedupeKey) === job) this.#live.delete(job.dedupeKey);
    if (job.ttlTimer !== undefined) {
      this.#timers.cancel(job.ttlTimer);
      job.ttlTimer = undefined;
    }
    if (job.timer !== undefined) {
      this.#timers.cancel(job.timer);
      job.timer = undefined;
    }
    const group = job.group;
    if (group === undefined) return;
    if (job.holdsSlot) {
      job.holdsSlot = false;
      group.active--;
      while (group.active < this.#groupConcurrency && group.waitingLive > 0) {
        const next = group.waiting.shift()!;
        if (next.state !== GROUP_WAIT) continue;
        group.waitingLive--;
        group.active++;
        next.holdsSlot = true;
        this.#toReady(next);
      }
    }
    if (group.active === 0 && group.waitingLive === 0) this.#groups.delete(group.key);
  }

  #deadLetterJob(job: Job<T, R>, reason: DeadLetterReason, error: unknown): void {
    job.state = DONE;
    this.#deadLettered++;
    this.#release(job);
    const input: DeadLetterInput<T> = {
      item: job.item,
      reason,
      ...(job.errors !== undefined ? { error: error, errors: job.errors } : error !== undefined ? { error } : {}),
      attempts: job.attempt,
      source: this.#source,
      firstSeenAt: job.pushedAt,
    };
    let entry: DeadLetterEntry<T> | undefined;
    try {
      entry = this.#deadLetter.add(input);
    } catch (refused) {
      emitSafely(this, 'error', refused);
    }
    const settlers = job.settlers;
    if (settlers !== undefined) {
      const failure =
        reason === 'maxlen'
          ? new QueueFullError(this.#capacity, `${PART}: item ${job.id} dropped at capacity ${this.#capacity} (overflow '${this.#overflow}')`)
          : reason === 'expired'
            ? new TimeoutError(this.#ttlMs ?? 0, `${PART}: item ${job.id} expired before its first attempt (ttlMs)`)
            : error;
      for (const s of settlers) s.reject(failure);
    }
    if (entry !== undefined && this.#listens('dead-lettered')) emitSafely(this, 'dead-lettered', entry);
  }

  #returnJob(job: Job<T, R>): void {
    this.#returned++;
    this.#release(job);
    const settlers = job.settlers;
    if (settlers !== undefined) {
      const error = new QueueClosedError(`${PART}: closed; item ${job.id} was handed back by close({ drain: false })`);
      for (const s of settlers) s.reject(error);
    }
  }

  /** Whether `event` has a listener; one field read per item while nothing listens at all. */
  #listens(event: keyof QueueEvents<T, R>): boolean {
    return this.#listened && this.listenerCount(event) > 0;
  }

  #idleEvent(): void {
    if (this.#waiting === 0 && this.#running === 0 && this.#listens('idle')) emitSafely(this, 'idle');
  }

  // ---- pull mode ----

  #deliver(job: Job<T, R>, token: number, context: Context): void {
    const state = this.#pullers.shift()!;
    const resolve = state.pending.shift()!;
    job.puller = state;
    state.unacked.add(job);
    const delivery: Delivery<T> = {
      item: job.item,
      id: job.id,
      attempt: job.attempt,
      get signal() {
        return context.signal;
      },
      key: job.groupKey,
      ack: () => this.#succeed(job, token, undefined as R),
      nack: (error?: unknown, options?: NackOptions) => {
        const o = v.options<NackOptions>(PART, options);
        const delayMs = v.number(PART, 'delayMs', o.delayMs, 'non-negative');
        return this.#fail(job, token, error === undefined ? new Error(`${PART}: delivery of item ${job.id} was nacked`) : error, delayMs);
      },
    };
    resolve({ value: delivery, done: false });
  }

  #endPull(state: PullIterator<T, R>): void {
    if (state.done) return;
    state.done = true;
    this.#pullIterators.delete(state);
    for (let node = this.#pullers.head; node; ) {
      const next = node.next;
      if (node.value === state) this.#pullers.remove(node);
      node = next;
    }
    for (const resolve of state.pending.splice(0)) resolve({ value: undefined, done: true });
    // Unacked deliveries go back to waiting, at the front, without using an attempt.
    const jobs = [...state.unacked].reverse();
    for (const job of jobs) {
      this.#endAttempt(job);
      job.attempt--;
      job.token++;
      job.state = READY;
      this.#waiting++;
      this.#level(job.priority).ring.unshift(job, job.seq, job.pushedAt);
      this.#ready++;
    }
    this.#drain();
  }

  #endAllPulls(): void {
    for (const state of [...this.#pullIterators]) {
      if (state.unacked.size === 0) this.#endPull(state);
      else {
        for (const resolve of state.pending.splice(0)) resolve({ value: undefined, done: true });
        for (let node = this.#pullers.head; node; ) {
          const next = node.next;
          if (node.value === state) this.#pullers.remove(node);
          node = next;
        }
      }
    }
  }

  // ---- watchers ----

  #anyWatcherMet(): boolean {
    const watchers = this.#watchers;
    for (let i = 0; i < watchers.length; i++) if (watchers[i]!.test()) return true;
    return false;
  }

  /** Resolves once `test()` holds; `below`: `test()` can only hold while `waiting < below`. */
  #watch(below: number, test: () => boolean, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (test()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const watcher: Watcher = { below, test, resolve, detach: noop };
      if (signal) {
        const abort = (): void => {
          this.#setWatchers(this.#watchers.filter((w) => w !== watcher));
          reject(signal.reason);
        };
        signal.addEventListener('abort', abort, { once: true });
        watcher.detach = () => signal.removeEventListener('abort', abort);
      }
      this.#watchers.push(watcher);
      if (below > this.#watchBelow) this.#watchBelow = below;
    });
  }

  #setWatchers(watchers: Watcher[]): void {
    this.#watchers = watchers;
    let below = 0;
    for (const watcher of watchers) if (watcher.below > below) below = watcher.below;
    this.#watchBelow = below;
  }

  #checkWatchers(): void {
    // Runs after every completion while someone awaits, e.g., onIdle(): it allocates only once a watcher is met.
    if (this.#anyWatcherMet()) {
      const still: Watcher[] = [];
      const met: Watcher[] = [];
      for (const watcher of this.#watchers) (watcher.test() ? met : still).push(watcher);
      this.#setWatchers(still);
      for (const watcher of met) {
        watcher.detach();
        watcher.resolve();
      }
    }
    if (this.#closed && this.#waiting === 0 && this.#running === 0 && this.#pullIterators.size > 0) this.#endAllPulls();
  }
}

function noop(): void {}
