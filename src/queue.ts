import type { DeadLetterStore } from './dead-letter.js';
import { QueueClosedError } from './errors.js';
import { noop, untilAborted } from './internal/abort.js';
import { toConcurrency } from './internal/inputs.js';
import { holdShapes } from './internal/shapes.js';
import { TimerHeap } from './internal/timer-heap.js';
import * as v from './internal/validate.js';
import { Attempts } from './queue/attempts.js';
import { Dispatcher } from './queue/dispatch.js';
import { Emitting } from './queue/emitting.js';
import { type Flow, flowControl } from './queue/flow.js';
import type { QueueRecorder } from './queue/metrics.js';
import type { ConcurrencyLimit } from './limits/limit.js';
import { AttemptContext, Job, PlainContext, PlainInFlight, type Settler } from './queue/job.js';
import { LiveKeys } from './queue/live-keys.js';
import { checkPush, PART, type QueueConfig, resolveOptions } from './queue/options.js';
import { type PullHost, PullMode } from './queue/pull.js';
import { Pushers, pushEach } from './queue/pushers.js';
import type { StartGate } from './queue/start-gate.js';
import { cancelById } from './queue/cancel.js';
import { Intake } from './queue/intake.js';
import { WaitingRoom } from './queue/waiting.js';
import { Watchers } from './queue/watchers.js';
import type {
  CloseOptions,
  CloseResult,
  Delivery,
  GroupKey,
  Handler,
  PushOptions,
  QueueEvents,
  QueueMetrics,
  QueueOptions,
  QueueStats,
  Receipt,
} from './queue-types.js';

const PROCESS_KEYS = /* @__PURE__ */ v.knownKeys<{ concurrency?: number }>({ concurrency: true });
const CLOSE_KEYS = /* @__PURE__ */ v.knownKeys<CloseOptions>({ drain: true, signal: true });

/**
 * An in-process work queue: concurrency, priorities, delays, retries with
 * backoff, dead letters, message groups, deduplication, rate limits and
 * visibility timeouts — what users of p-queue, fastq, BullMQ and SQS expect,
 * without a broker.
 *
 * Nothing accepted is lost: every item ends completed, dead-lettered (with a
 * reason), handed back by `close({ drain: false })`, or was refused as a
 * duplicate. {@link Queue.stats} makes it checkable:
 * `accepted = completed + deadLettered + returned + cancelled + waiting + inFlight`.
 *
 * Push mode runs a handler; pull mode (`for await (const d of queue)`) lends
 * deliveries to be `ack`ed or `nack`ed. A queue uses one or the other.
 *
 * @typeParam T - the item type.
 * @typeParam R - the handler's result type.
 *
 * @example
 * ```ts
 * const failed = new DeadLetter<Email>();
 * const queue = new Queue<Email, void>({
 *   concurrency: 8,
 *   deadLetter: failed, // without one, the queue keeps its own (`queue.deadLetter`)
 *   retry: { maxAttempts: 5, backoff: { initialDelayMs: 500 } },
 *   rateLimit: { ratePerSecond: 20, burst: 5 },
 *   handler: (email, { signal }) => smtp.send(email, { signal }),
 * });
 * await queue.push(email);
 * await queue.close(); // drains
 * failed.entries(); // what could not be sent, and why
 * ```
 */
export class Queue<T, R = unknown> extends Emitting<QueueEvents<T, R>> {
  readonly #config: QueueConfig<T, R>;
  readonly #timers: TimerHeap;
  // Read on every push or start: kept here rather than behind #config.
  readonly #capacity: number;
  /** Whether a push without options needs no record (see QueueConfig.plainPushes). */
  readonly #plainPushes: boolean;

  // The collaborators: each made once, `undefined` when its feature is not configured.
  readonly #room: WaitingRoom<T, R>;
  readonly #attempts: Attempts<T, R>;
  readonly #dispatch: Dispatcher<T, R>;
  /** Accepting items and counting what comes in. */
  readonly #intake: Intake<T, R>;
  readonly #pushers: Pushers<T, R>;
  readonly #dedupe: LiveKeys<T, R> | undefined;
  readonly #gate: StartGate | undefined;
  #groupConcurrency: number | ((key: GroupKey) => number);
  /** The metrics window's recorder, when `metrics` is on. */
  readonly #metrics: QueueRecorder | undefined;
  /** Samples for the concurrency limit and the limiters that learn; the `pauseFor` hold. */
  readonly #flow: Flow;
  readonly #watchers = new Watchers();

  #closed = false;
  #closing: Promise<CloseResult<T>> | undefined = undefined;

  // The books: accepted = completed + deadLettered + returned + cancelled + waiting + inFlight, at every moment a
  // listener or a caller can observe. The queue counts what comes in; the room counts what waits
  // (WaitingRoom.size); the attempts count what runs and what has left (Attempts).
  /** Entries the queue's own dead letter evicted (see QueueStats.deadLetterEvicted). */
  #deadLetterEvicted = 0;

  /**
   * @param options - see {@link QueueOptions}; all optional.
   * @throws TypeError for an option of the wrong type or an unknown `overflow`.
   * @throws RangeError for an out-of-range number (`concurrency`, `capacity`,
   *   `visibilityTimeoutMs`, `ttlMs`, `groupConcurrency`, retry and dedupe numbers).
   */
  constructor(options?: QueueOptions<T, R>) {
    super();
    const config = resolveOptions(options);
    this.#config = config;
    this.#timers = new TimerHeap(config.clock);
    this.#capacity = config.capacity;
    this.#plainPushes = config.plainPushes;
    this.#groupConcurrency = config.groupConcurrency;
    this.#dedupe = config.dedupeStore === undefined ? undefined : new LiveKeys(config.dedupeStore, config.dedupeMode);
    const control = flowControl(config, this.#timers, {
      startWork: () => this.#startWork(),
      reportError: (error) => this.reportError(error),
      setConcurrency: (n, start) => {
        if (n === this.#dispatch.concurrency) return;
        this.#dispatch.concurrency = n;
        if (start) this.#startWork();
      },
    });
    this.#room = new WaitingRoom(this.#timers, control.groupPolicy, config.tracksOldest, () => this.#startWork());
    this.#flow = control.flow;
    this.#metrics = control.metrics;
    this.#gate = control.gate;
    this.#attempts = new Attempts(config, this.#timers, this.#room, this.#dedupe, this.#flow, this.#metrics, {
      waiting: () => this.#room.size,
      listens: (event) => this.listens(event),
      emit: (event, ...args) => this.emitEvent(event, ...args),
      reportError: (error) => this.reportError(error),
      settled: () => {
        this.#startWork();
        this.#idleEvent();
      },
      lapsed: () => {
        this.#dispatch.workers--;
      },
    });
    this.#dispatch = new Dispatcher(config, this.#room, this.#attempts, this.#gate, this.#flow, {
      took: () => {
        if (this.#pushers.size > 0) this.#pushers.admit();
        if (this.#room.size < this.#watchers.below) this.#checkWatchers();
      },
      left: () => {
        if (this.#room.size < this.#watchers.below) this.#checkWatchers();
      },
      completedPlain: () => this.#idleEvent(),
    });
    this.#intake = new Intake(config, this.#timers, this.#room, this.#attempts, this.#dispatch, this.#dedupe, () => this.#startWork());
    this.#pushers = new Pushers({
      hasRoom: () => this.#room.size < this.#capacity || this.#config.overflow !== 'block',
      accept: (item, checked, settler) => this.#intake.accept(item, checked, settler),
    });
    config.ownDeadLetter?.on('evicted', () => {
      this.#deadLetterEvicted++;
    });
    // Idle instances that keep the hidden classes of a queue and of its records (see internal/shapes.ts).
    holdShapes(Queue, () => [
      new Queue<unknown, unknown>({ handler: noop }),
      Job.plain(undefined, 1, 0.5, 0),
      new PlainContext(1, new PlainInFlight()),
      new PlainInFlight(),
      new AttemptContext('1', 1, undefined),
    ]);
  }

  /** The dead letter this queue writes to (its own unless one was given). */
  get deadLetter(): DeadLetterStore<T> {
    return this.#config.deadLetter;
  }

  /** The queue's name (`'queue'` unless one was given). */
  get name(): string {
    return this.#config.name;
  }

  /** Items waiting, delayed and retry-pending included (O(1)). */
  get size(): number {
    return this.#room.size;
  }

  /** Attempts running, or deliveries unacked. */
  get inFlight(): number {
    return this.#attempts.running;
  }

  /** Whether the queue is paused (`pause()`, or `autoStart: false` before `resume()`). */
  get isPaused(): boolean {
    return this.#dispatch.paused;
  }

  /** Whether `close()` was called. */
  get isClosed(): boolean {
    return this.#closed;
  }

  /** Counters; see {@link QueueStats} for the conservation law they obey. */
  get stats(): QueueStats {
    return {
      accepted: this.#intake.accepted,
      duplicates: this.#intake.duplicates,
      replaced: this.#dedupe?.replaced ?? 0,
      completed: this.#attempts.completed,
      failed: this.#attempts.failed,
      retried: this.#attempts.retried,
      deadLettered: this.#attempts.deadLettered,
      deadLetterRefused: this.#attempts.deadLetterRefused,
      deadLetterEvicted: this.#deadLetterEvicted,
      returned: this.#attempts.returned,
      cancelled: this.#attempts.cancelled,
      waiting: this.#room.size,
      inFlight: this.#attempts.running,
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
    try {
      return Promise.resolve(this.#offerOrAsk(item, options, undefined));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Offers an item without waiting.
   * @param item - the item.
   * @param options - see {@link PushOptions} (a `signal` cancels the item once accepted: nothing else waits).
   * @returns the {@link Receipt}, or `undefined` when the item would have to
   *   wait for room (`overflow: 'block'` and full, or earlier pushes waiting).
   * @throws QueueClosedError after `close()`; QueueFullError when full with
   *   `overflow: 'reject'`; TypeError or RangeError for bad options.
   */
  tryPush(item: T, options?: PushOptions): Receipt | undefined {
    if (options === undefined && this.#plainPushes && !this.#closed && this.#room.size < this.#capacity && this.#pushers.size === 0) {
      return this.#intake.acceptPlain(item, 0); // the common case, without checkPush and accept's other branches
    }
    const checked = checkPush(this.#config, item, options);
    if (checked.dedupeKey !== undefined && this.#dedupe?.shared)
      throw new TypeError(`${PART}: tryPush cannot wait for a shared dedupe store: use push`);
    if (this.#closed) throw new QueueClosedError(`${PART}: closed`);
    if (this.#pushers.size > 0 || (this.#room.size >= this.#capacity && this.#config.overflow === 'block')) return undefined;
    return this.#intake.accept(item, checked, undefined);
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
      try {
        const offered = this.#offerOrAsk(item, options, { resolve, reject });
        // Accepted at once, it needs no receipt promise; one that waits for room may still be refused.
        if (offered instanceof Promise) offered.catch(reject);
      } catch (error) {
        reject(error);
      }
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
    v.iterable(PART, 'pushAll items', items);
    return pushEach(this, items);
  }

  /**
   * Starts push mode with `handler`, when none was given in the options.
   * @param handler - handles each item.
   * @param options - `concurrency` overrides the queue's.
   * @throws TypeError when a handler is already set or pull mode is in use, or for bad arguments.
   */
  process(handler: Handler<T, R>, options?: { readonly concurrency?: number }): void {
    const fn = v.requiredFn<Handler<T, R>>(PART, 'handler', handler);
    const o = v.options<{ concurrency?: number }>(PART, options, PROCESS_KEYS);
    const concurrency = v.number(PART, 'concurrency', o.concurrency, 'positive-integer-or-infinity');
    if (this.#dispatch.handler) throw new TypeError(`${PART}: a handler is already set`);
    if (this.#dispatch.pull !== undefined)
      throw new TypeError(`${PART}: pull mode is in use; a queue has a handler or is iterated, not both`);
    this.#dispatch.handler = fn;
    this.#attempts.pushMode = true;
    if (concurrency !== undefined) this.#dispatch.concurrency = concurrency;
    this.#startWork();
  }

  /**
   * Attempts (or unacked deliveries) at once, in force now: a positive
   * integer or `Infinity` — the limit object's `limit` when the queue
   * follows one. Live, as p-queue's: raising it starts more at once;
   * lowering it lets the attempts running finish, and starts no more until
   * fewer run.
   */
  get concurrency(): number {
    return this.#dispatch.concurrency;
  }

  /**
   * Sets it live: a number (the queue stops following a limit object it
   * followed), or a {@link ConcurrencyLimit} to follow from now on.
   * @throws TypeError or RangeError for a bad value.
   */
  set concurrency(value: number | ConcurrencyLimit) {
    const { concurrency, limit } = toConcurrency(PART, 'concurrency', value, 1);
    this.#flow.attach(limit);
    this.#dispatch.concurrency = concurrency;
    this.#startWork();
  }

  /**
   * Items of one message group holding a slot at once: a number, or the
   * function of the group's key given. Live: setting it gives every group its
   * new limit at once (a function is asked again for each group), and items
   * waiting behind their group take the slots freed.
   */
  get groupConcurrency(): number | ((key: GroupKey) => number) {
    return this.#groupConcurrency;
  }

  /** Sets it live; see the getter. @throws TypeError or RangeError for a bad value. */
  set groupConcurrency(value: number | ((key: GroupKey) => number)) {
    const next = typeof value === 'function' ? value : v.number(PART, 'groupConcurrency', value, 'positive-integer-or-infinity', 1);
    this.#groupConcurrency = next;
    this.#room.setGroupConcurrency(next);
    this.#startWork();
  }

  /**
   * The queue's figures over its metrics window: arrival rate, throughput
   * and failure rate (per second), wait and run time quantiles (p50, p90,
   * p99 from a log-linear histogram, within 1/32 of the exact values; max
   * and mean exact), waiting and in flight now, the concurrency in force, and
   * Little's law (L measured as the time-average of the number waiting,
   * against λ × W). The window slides in four slots: it covers the last
   * `windowMs` to within a quarter of it.
   * @throws TypeError when the queue was made without `metrics`.
   */
  metrics(): QueueMetrics {
    if (this.#metrics === undefined) throw new TypeError(`${PART}: metrics() needs the metrics option (new Queue({ metrics: true }))`);
    return this.#metrics.read(this.#timers.now(), this.#room.size, this.#attempts.running, this.#dispatch.concurrency);
  }

  /** The {@link ConcurrencyLimit} the queue follows, or `undefined` for a fixed concurrency. */
  get concurrencyLimit(): ConcurrencyLimit | undefined {
    return this.#flow.limit;
  }

  /**
   * Holds every start for `ms` from now, without pausing: the attempts
   * running go on, and starts resume by themselves when the time is up. The
   * longer hold wins when one is on already. With `retryAfter: 'queue'`, an
   * error carrying `retryAfterMs` calls it (HTTP 429 `Retry-After`: the
   * server asked the client to wait, not one request). bottleneck's and
   * Bull's "pause after a 429".
   * @param ms - how long, in ms: a non-negative finite number.
   * @throws TypeError or RangeError for a bad `ms`.
   */
  pauseFor(ms: number): void {
    if (ms === undefined) throw new TypeError(`${PART}: ms must be a non-negative finite number, got undefined`);
    this.#flow.pauseFor(v.number(PART, 'ms', ms, 'non-negative', 0));
  }

  /** Stops starting attempts; running ones go on. */
  pause(): void {
    this.#dispatch.paused = true;
  }

  /** Starts attempts again (and starts a queue made with `autoStart: false`). */
  resume(): void {
    if (!this.#dispatch.paused) return;
    this.#dispatch.paused = false;
    this.#startWork();
  }

  /**
   * Cancels an item by id (its push `id`, or the receipt's): one that waits
   * (delayed and retry-pending included) leaves at once; one that runs has
   * its handler's `signal` aborted with `reason` and is not retried, and is
   * counted when its attempt settles, whatever the outcome (a pull-mode
   * delivery, when it is acked, nacked or lapses). Counted in
   * `stats.cancelled`, told by the `'cancelled'` event; the item's `submit`
   * rejects with `reason`. BullMQ's `job.remove()`, p-queue's task `signal`.
   *
   * O(1) for an item pushed with an `id`; any other is found by a scan of
   * the waiting items and of those in flight. Ids should be unique among
   * live items: when two share one, the newer is cancelled.
   * @param id - the item's id.
   * @param reason - what the signal aborts with and `submit` rejects with;
   *   `undefined` gives a `DOMException` named `'AbortError'`, as `AbortController.abort()` does.
   * @returns true when the item was live and is now cancelled (or will be,
   *   when its attempt settles); false when no live item has that id, or it
   *   was cancelled already.
   * @throws TypeError when `id` is not a string.
   */
  cancel(id: string, reason?: unknown): boolean {
    if (typeof id !== 'string') throw new TypeError(`${PART}: id must be a string, got ${v.show(id)}`);
    const why = reason === undefined ? new DOMException(`${PART}: item ${id} was cancelled`, 'AbortError') : reason;
    return cancelById(id, why, this.#intake.nextSeq, this.#attempts, this.#room, this.#dispatch);
  }

  /**
   * Hands back every waiting item (delayed and retry-pending included)
   * without closing, as p-queue's `clear()`: they are counted `returned`,
   * and the `submit` of each rejects with `QueueClosedError` ("handed back
   * by clear()"). Attempts in flight go on; pushes waiting for room may then
   * get it. The queue takes new items as before.
   * @returns the items handed back, in the order they would have run.
   */
  clear(): T[] {
    const items = this.#attempts.handBackWaiting('clear');
    this.#startWork(); // waiting pushes may fit now; watchers (onEmpty, onSizeBelow) may be met
    this.#idleEvent();
    return items;
  }

  /** Resolves when nothing waits and nothing is in flight; at once if so already. */
  onIdle(): Promise<void> {
    return this.#watchers.watch(1, () => this.#room.size === 0 && this.#attempts.running === 0);
  }

  /** Resolves when nothing waits (attempts may still run); at once if so already. */
  onEmpty(): Promise<void> {
    return this.#watchers.watch(1, () => this.#room.size === 0);
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
    return this.#watchers.watch(limit, () => this.#room.size < limit);
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
      const o = v.options<CloseOptions>(PART, options, CLOSE_KEYS);
      drain = v.boolean(PART, 'drain', o.drain, true);
      signal = v.signal(PART, 'signal', o.signal);
    } catch (error) {
      return Promise.reject(error);
    }
    this.#closed = true;
    this.#pushers.rejectAll(() => new QueueClosedError(`${PART}: closed`));
    let returned: T[] = [];
    if (!drain) {
      returned = this.#attempts.handBackWaiting();
      this.#attempts.returning = returned;
    }
    // The close itself goes on to its end whatever `signal` does (pull iterations end there, timers are cleared);
    // the signal only stops this caller's wait.
    const finished = this.#watchers.watch(1, () => this.#room.size === 0 && this.#attempts.running === 0);
    const closing = finished.then(() => {
      this.#timers.clear();
      // Nothing is left to start: a token still on its way would only keep the process alive.
      this.#gate?.close();
      this.#flow.release();
      this.#flow.detach();
      this.#checkWatchers();
      return { unprocessed: returned };
    });
    this.#closing = closing;
    this.#checkWatchers();
    return untilAborted(closing, signal);
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
    if (this.#dispatch.handler) throw new TypeError(`${PART}: the queue has a handler; a queue has a handler or is iterated, not both`);
    return (this.#dispatch.pull ??= new PullMode(this.#pullHost(), this.#attempts)).iterator();
  }

  // ---- accepting ----

  /**
   * Offers an item to `push` and `submit`: its receipt when accepted at once (or refused as a duplicate), a
   * promise of it when it must wait for room. Throws what refuses it at once (bad options, closed, an aborted
   * signal, QueueFullError).
   */
  /** Offers an item; with a shared dedupe store (it answers later), asks it first. */
  #offerOrAsk(item: T, options: PushOptions | undefined, settler: Settler<R> | undefined): Receipt | Promise<Receipt> {
    if (!this.#dedupe?.shared) return this.#offer(item, options, settler);
    return this.#intake.sharedPush(item, options, settler, () => this.#offer(item, options, settler));
  }

  #offer(item: T, options: PushOptions | undefined, settler: Settler<R> | undefined): Receipt | Promise<Receipt> {
    const checked = checkPush(this.#config, item, options);
    if (this.#closed) throw new QueueClosedError(`${PART}: closed`);
    if (checked.signal?.aborted) throw checked.signal.reason;
    if (this.#pushers.size === 0 && (this.#room.size < this.#capacity || this.#config.overflow !== 'block')) {
      return this.#intake.accept(item, checked, settler);
    }
    return this.#pushers.wait(item, checked, settler);
  }

  // ---- running ----

  /** Starts what can start (worker loops, or deliveries to waiting pullers), admits waiting pushes, checks watchers. */
  #startWork(): void {
    this.#dispatch.start();
    if (this.#pushers.size > 0) this.#pushers.admit();
    if (this.#room.size < this.#watchers.below) this.#checkWatchers();
  }

  // ---- events, watchers, pull mode ----

  #idleEvent(): void {
    if (this.#room.size === 0 && this.#attempts.running === 0 && this.listens('idle')) this.emitEvent('idle');
  }

  #checkWatchers(): void {
    this.#watchers.check();
    const pull = this.#dispatch.pull;
    if (this.#closed && this.#room.size === 0 && this.#attempts.running === 0 && pull?.open) pull.endAll();
  }

  /** What pull mode may do to this queue (see PullHost). */
  #pullHost(): PullHost {
    return {
      isFinished: () => this.#closed && this.#room.size === 0 && this.#attempts.running === 0,
      startWork: () => this.#startWork(),
    };
  }

  /** A listener was added: a user's makes the queue time its attempts for the events. */
  protected heard(timed: boolean): void {
    this.#attempts.listened = true;
    if (timed) this.#attempts.timed = true;
  }

  /** The queue in a console warning. */
  protected describe(): string {
    return `${PART} '${this.#config.name}'`;
  }
}
