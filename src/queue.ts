import { EventEmitter } from 'eventemitter3';
import type { DeadLetterEntry, DeadLetterReason, DeadLetterStore } from './dead-letter.js';
import { DuplicateError, QueueClosedError, QueueFullError, TimeoutError } from './errors.js';
import { noop, whenAborted } from './internal/abort.js';
import { emitSafely } from './internal/events.js';
import { LinkedList } from './internal/linked-list.js';
import { seqId } from './internal/seq-id.js';
import { holdShapes } from './internal/shapes.js';
import { TimerHeap } from './internal/timer-heap.js';
import * as v from './internal/validate.js';
import { Groups } from './queue/groups.js';
import { AttemptContext, DELAYED, DONE, GROUP_WAIT, Job, PlainContext, PlainInFlight, READY, RUNNING, type Settler } from './queue/job.js';
import { LiveKeys } from './queue/live-keys.js';
import { type CheckedPush, checkPush, NO_OPTIONS, PART, type QueueConfig, resolveOptions } from './queue/options.js';
import { deadLetterError, deadLetterInput, decideFailure, handedBackError } from './queue/outcome.js';
import { type PullHost, PullMode } from './queue/pull.js';
import { ReadyLevels } from './queue/ready.js';
import { StartGate } from './queue/start-gate.js';
import { Watchers } from './queue/watchers.js';
import type {
  CloseOptions,
  CloseResult,
  Delivery,
  Handler,
  PushOptions,
  QueueEvents,
  QueueOptions,
  QueueStats,
  Receipt,
} from './queue-types.js';

/** A push waiting for room (`overflow: 'block'`). */
interface Pusher<T, R> {
  readonly item: T;
  readonly options: CheckedPush;
  readonly settler: Settler<R> | undefined;
  readonly resolve: (receipt: Receipt) => void;
  readonly reject: (error: unknown) => void;
  detach: () => void;
}

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
  readonly #config: QueueConfig<T, R>;
  readonly #timers: TimerHeap;
  #handler: Handler<T, R> | undefined;
  #concurrency: number;
  // Read on every push or start: kept here rather than behind #config.
  readonly #capacity: number;
  readonly #visibilityTimeoutMs: number | undefined;
  /** Whether a push without options needs no record (see QueueConfig.plainPushes). */
  readonly #plainPushes: boolean;

  // The collaborators: each made once, `undefined` when its feature is not configured.
  readonly #ready = new ReadyLevels<T, R>();
  readonly #groups: Groups<T, R> | undefined;
  readonly #dedupe: LiveKeys<T, R> | undefined;
  readonly #gate: StartGate | undefined;
  #pull: PullMode<T, R> | undefined = undefined;
  readonly #watchers = new Watchers();

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
  /** Set once any listener is added: until then no event needs a listener lookup per item. */
  #listened = false;
  readonly #reportError = (error: unknown): void => this.#emit('error', error);

  // The books: accepted = completed + deadLettered + returned + waiting + running, at every moment a
  // listener or a caller can observe. `#waiting` counts READY, GROUP_WAIT and DELAYED items; it rises
  // only when an item is accepted (#accept, #acceptPlain), retried (#failAttempt) or given back by a
  // puller (giveBack), and falls only when one starts (#begin, and the plain lane of #work) or leaves
  // where it waits (#unlink).
  #nextSeq = 1;
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
    const config = resolveOptions(options);
    this.#config = config;
    this.#timers = new TimerHeap(config.clock);
    this.#handler = config.handler;
    this.#concurrency = config.concurrency;
    this.#capacity = config.capacity;
    this.#visibilityTimeoutMs = config.visibilityTimeoutMs;
    this.#plainPushes = config.plainPushes;
    this.#paused = !config.autoStart;
    this.#groups = config.groupBy === undefined ? undefined : new Groups(config.groupConcurrency, this.#ready);
    this.#dedupe = config.dedupeStore === undefined ? undefined : new LiveKeys(config.dedupeStore);
    this.#gate = config.rateLimit === undefined ? undefined : new StartGate(config.rateLimit, () => this.#startWork(), this.#reportError);
    // Idle instances that keep the hidden classes of a queue and of its records (see internal/shapes.ts).
    holdShapes(Queue, () => [
      new Queue<unknown, unknown>({ handler: noop }),
      Job.plain(undefined, 1, 0.5, 0),
      new PlainContext(1),
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
      return this.#acceptPlain(item, 0); // the common case, without checkPush and #accept's other branches
    }
    const checked = checkPush(this.#config, item, options);
    if (this.#closed) throw new QueueClosedError(`${PART}: closed`);
    if (this.#pushers.size > 0 || (this.#waiting >= this.#capacity && this.#config.overflow === 'block')) return undefined;
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
    v.iterable(PART, 'pushAll items', items);
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
    if (this.#pull !== undefined) throw new TypeError(`${PART}: pull mode is in use; a queue has a handler or is iterated, not both`);
    this.#handler = fn;
    if (concurrency !== undefined) this.#concurrency = concurrency;
    this.#startWork();
  }

  /** Stops starting attempts; running ones go on. */
  pause(): void {
    this.#paused = true;
  }

  /** Starts attempts again (and starts a queue made with `autoStart: false`). */
  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#startWork();
  }

  /** Resolves when nothing waits and nothing is in flight; at once if so already. */
  onIdle(): Promise<void> {
    return this.#watchers.watch(1, () => this.#waiting === 0 && this.#running === 0);
  }

  /** Resolves when nothing waits (attempts may still run); at once if so already. */
  onEmpty(): Promise<void> {
    return this.#watchers.watch(1, () => this.#waiting === 0);
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
    return this.#watchers.watch(limit, () => this.#waiting < limit);
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
      drain = v.boolean(PART, 'drain', o.drain, true);
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
    const finished = this.#watchers.watch(1, () => this.#waiting === 0 && this.#running === 0, signal);
    this.#closing = finished.then(() => {
      this.#timers.clear();
      // Nothing is left to start: a token still on its way would only keep the process alive.
      this.#gate?.close();
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
    return (this.#pull ??= new PullMode(this.#pullHost())).iterator();
  }

  // ---- accepting ----

  #offer(item: T, options: PushOptions | undefined, settler: Settler<R> | undefined): Promise<Receipt> {
    let checked: CheckedPush;
    try {
      checked = checkPush(this.#config, item, options);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#closed) return Promise.reject(new QueueClosedError(`${PART}: closed`));
    if (checked.signal?.aborted) return Promise.reject(checked.signal.reason);
    if (this.#pushers.size === 0 && (this.#waiting < this.#capacity || this.#config.overflow !== 'block')) {
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
      pusher.detach = whenAborted(signal, () => {
        if (this.#pushers.remove(node)) reject(signal!.reason);
        // Room may now be there for the pushes behind it.
        this.#admitPushers();
      });
    });
  }

  /** Accepts an item there is room for (or that overflow handles). Throws QueueFullError for 'reject'. */
  #accept(item: T, o: CheckedPush, settler: Settler<R> | undefined): Receipt {
    const key = o.dedupeKey;
    const dedupe = this.#dedupe;
    // A dedupe key is only taken when the queue dedupes (see checkPush).
    if (key !== undefined && dedupe !== undefined) {
      const holder = dedupe.holder(key);
      if (dedupe.isDuplicate(key, holder)) {
        this.#duplicates++;
        if (settler) {
          if (holder) (holder.settlers ??= []).push(settler);
          else settler.reject(new DuplicateError(key, `${PART}: duplicate of key ${JSON.stringify(key)}`));
        }
        return { id: o.id ?? holder?.id ?? String(key), duplicate: true, dropped: false };
      }
    }
    const overflow = this.#config.overflow;
    if (this.#waiting >= this.#capacity && overflow === 'reject') {
      throw new QueueFullError(this.#capacity, `${PART}: capacity of ${this.#capacity} reached`);
    }
    if (key !== undefined) dedupe!.remember(key);
    // Plain: nothing but a priority to keep. NO_OPTIONS means no push options, no groupBy, no dedupe and no queue ttlMs.
    if (settler === undefined && this.#waiting < this.#capacity) {
      if (o === NO_OPTIONS) return this.#acceptPlain(item, 0);
      if (this.#plainPushes && o.delayMs === 0 && o.ttlMs === undefined && o.id === undefined) return this.#acceptPlain(item, o.priority);
    }
    // Stamped with the turn's time: one clock read for a loop of pushes (see firstSeenAt).
    const job = new Job<T, R>(item, o.id, this.#nextSeq++, o.priority, this.#timers.turnNow(), o.groupKey, key);
    if (settler) job.settlers = [settler];
    this.#accepted++;
    if (this.#waiting >= this.#capacity) {
      if (overflow === 'drop-newest') {
        this.#deadLetterJob(job, 'maxlen', undefined);
        return { id: job.id, duplicate: false, dropped: true };
      }
      // drop-oldest
      const oldest = this.#takeOldest();
      if (oldest) this.#deadLetterJob(oldest, 'maxlen', undefined);
    }
    if (key !== undefined) dedupe!.hold(key, job);
    this.#waiting++;
    if (o.ttlMs !== undefined) job.ttlTimer = this.#timers.add(this.#timers.now() + o.ttlMs, () => this.#expire(job));
    if (o.delayMs > 0) this.#delay(job, this.#timers.now() + o.delayMs);
    else this.#admit(job);
    this.#startWork();
    return { id: job.id, duplicate: false, dropped: false };
  }

  /**
   * Accepts an item into a queue with room when there is nothing to keep of it but its priority (no id, delay, TTL,
   * group, dedupe key or caller awaiting its result): it waits as it is in its level's ring, no record.
   */
  #acceptPlain(item: T, priority: number): Receipt {
    const seq = this.#nextSeq++;
    this.#accepted++;
    this.#waiting++;
    // Stamped with the turn's time: one clock read for a loop of pushes (see firstSeenAt).
    this.#ready.pushPlain(item, seq, this.#timers.turnNow(), priority);
    // A push can only start work: it never meets a watcher (they wait for fewer items) or admits a pusher.
    if (this.#workers < this.#concurrency || this.#handler === undefined) this.#startWork();
    return { id: seqId(seq), duplicate: false, dropped: false };
  }

  #admitPushers(): void {
    while (this.#pushers.size > 0 && (this.#waiting < this.#capacity || this.#config.overflow !== 'block')) {
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

  /** A waiting item becomes available: ready, or behind its group. */
  #admit(job: Job<T, R>): void {
    if (job.groupKey === undefined) this.#ready.push(job);
    else this.#groups!.admit(job);
  }

  /** A retry (or a returned delivery) re-enters: it keeps its group slot. */
  #retryNow(job: Job<T, R>): void {
    if (job.holdsSlot || job.groupKey === undefined) this.#ready.push(job);
    else this.#groups!.admit(job);
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
    this.#startWork();
  }

  #expire(job: Job<T, R>): void {
    job.ttlTimer = undefined;
    if (job.state !== READY && job.state !== GROUP_WAIT && job.state !== DELAYED) return;
    this.#unlink(job);
    this.#deadLetterJob(job, 'expired', undefined);
    this.#startWork();
    this.#idleEvent();
  }

  /** Takes the waiting item pushed first out of the queue (for 'drop-oldest'), READY/GROUP_WAIT/DELAYED → DONE. */
  #takeOldest(): Job<T, R> | undefined {
    const head = this.#ready.oldest();
    let oldest = this.#groups?.oldestWaiting();
    for (const job of this.#delayed) if (oldest === undefined || job.seq < oldest.seq) oldest = job;
    if (head !== undefined && (oldest === undefined || head.seq < oldest.seq)) oldest = this.#ready.shiftHead(head.level);
    if (oldest !== undefined) this.#unlink(oldest);
    return oldest;
  }

  /** Takes a waiting item out of wherever it waits; the caller decides where it goes. */
  #unlink(job: Job<T, R>): void {
    switch (job.state) {
      case READY:
        this.#ready.count--;
        break;
      case GROUP_WAIT:
        this.#groups!.leave(job);
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

  /** Hands back every waiting item (close without drain): ready by priority, then group by group, then delayed by due time. */
  #takeAllWaiting(): T[] {
    const jobs: Job<T, R>[] = [];
    this.#ready.takeAll(jobs);
    this.#groups?.takeAll(jobs);
    const delayed = [...this.#delayed];
    delayed.sort((a, b) => a.timer!.due - b.timer!.due || a.timer!.seq - b.timer!.seq);
    for (const job of delayed) jobs.push(job);
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
  #startWork(): void {
    const handler = this.#handler;
    const gate = this.#gate;
    if (handler !== undefined) {
      // Bounded: a worker that finds nothing to start (no token yet) gives its slot straight back.
      for (let n = Math.min(this.#concurrency - this.#workers, this.#ready.count); n > 0 && !this.#paused && !gate?.pending; n--) {
        this.#workers++;
        this.#work(handler);
      }
    } else if (this.#pull !== undefined) {
      const pull = this.#pull;
      while (this.#ready.count > 0 && this.#running < this.#concurrency && !this.#paused && pull.wanted) {
        if (gate !== undefined && !gate.take()) break;
        const job = this.#ready.pop();
        if (job === undefined) break;
        const generation = this.#begin(job);
        pull.deliver(job, generation, job.context!);
      }
    }
    if (this.#pushers.size > 0) this.#admitPushers();
    if (this.#waiting < this.#watchers.below) this.#checkWatchers();
  }

  /**
   * A worker loop: holds one concurrency slot and runs ready items one after
   * another. It leaves when nothing is ready, or when its attempt lapsed (the
   * lapse freed its slot). Driven by callbacks on each handler's promise,
   * made once per loop, rather than an `await` loop (see bench/results.md,
   * "Where an item's time goes"); like `await`, it takes one microtask per
   * item, even for a handler that returns a plain value.
   *
   * The plain lane: an entry of level 0 that is not a {@link Job} is an item
   * pushed with no options into a queue without `groupBy`, `dedupe` or
   * `ttlMs` (see QueueConfig.plainPushes). Its first attempt needs none of
   * #begin's work but the books, and it gets a record only if it fails
   * (#failPlain). The lane is taken only while level 0 is the only level and
   * attempts cannot lapse (no `visibilityTimeoutMs`: a lapse needs a record).
   */
  #work(handler: Handler<T, R>): void {
    // The attempt in flight: a plain item or a record.
    let job: Job<T, R> | undefined;
    let item!: T;
    let seq = 0;
    let generation = 0;
    // A push time stored in a closure's variable would box a new number per item; a double field reuses its box.
    const plain = new PlainInFlight();
    const ready = this.#ready;
    const run = (): void => {
      while (ready.count > 0 && !this.#paused) {
        if (this.#gate !== undefined && !this.#gate.take()) break;
        const ring = ready.level0.ring;
        job = undefined;
        if (ready.levels.length === 1 && this.#visibilityTimeoutMs === undefined && ring.size > 0) {
          const entry = ring.shift()!;
          if (entry instanceof Job) {
            if (entry.state !== READY) continue; // a tombstone
            ready.count--;
            job = entry;
          } else {
            item = entry;
            seq = ring.shiftedSeq;
            plain.pushedAt = ring.shiftedTime;
          }
        } else {
          job = ready.pop();
          if (job === undefined) break;
        }
        let result: R | PromiseLike<R>;
        if (job === undefined) {
          // The plain lane's start: #begin's books, nothing else.
          ready.count--;
          this.#waiting--;
          this.#running++;
          // The context goes to the handler only (events name the item by seq): where the handler is
          // inlined and ignores its context, V8 need not make one at all.
          const context = new PlainContext(seq);
          if (this.#listens('active')) this.#emit('active', item, { id: seqId(seq), attempt: 1 });
          this.#took();
          try {
            result = handler(item, context);
          } catch (error) {
            this.#failPlain(item, seq, plain.pushedAt, error);
            continue;
          }
        } else {
          generation = this.#begin(job);
          this.#took();
          try {
            result = handler(job.item, job.context ?? job);
          } catch (error) {
            if (!this.#fail(job, generation, error, undefined)) return;
            continue;
          }
        }
        Promise.resolve(result).then(done, fail);
        return;
      }
      this.#workers--;
      if (this.#waiting < this.#watchers.below) this.#checkWatchers();
    };
    const done = (value: R): void => {
      if (job === undefined) {
        this.#running--;
        this.#completed++;
        if (this.#listens('completed')) this.#emit('completed', item, value, { id: seqId(seq), attempt: 1 });
        // Nothing else for a plain completion to do: the loop goes on to the next item, or leaves and checks watchers.
        this.#idleEvent();
      } else if (!this.#succeed(job, generation, value)) return; // it lapsed: the lapse freed this loop's slot
      run();
    };
    const fail = (error: unknown): void => {
      if (job === undefined) this.#failPlain(item, seq, plain.pushedAt, error);
      else if (!this.#fail(job, generation, error, undefined)) return;
      run();
    };
    run();
  }

  /** The first attempt at a plain item failed: it gets its record now, to retry or dead-letter. */
  #failPlain(item: T, seq: number, pushedAt: number, error: unknown): void {
    const job = Job.plain<T, R>(item, seq, pushedAt, 0); // worker loops take plain items only from level 0
    job.state = RUNNING;
    job.attempt = 1;
    job.generation = 1;
    this.#failAttempt(job, error, undefined);
  }

  /**
   * A worker loop took an item: one fewer waits, so waiting pushes may fit
   * and watchers (`onSizeBelow`, `onEmpty`) may be met. (Starts from
   * #startWork are followed by the same checks there.)
   */
  #took(): void {
    if (this.#pushers.size > 0) this.#admitPushers();
    if (this.#waiting < this.#watchers.below) this.#checkWatchers();
  }

  // ---- one attempt's lifecycle: #begin, then #succeed or #fail (or a lapse), then #endAttempt ----

  /** Starts an attempt at a ready item (already taken from its level); returns the attempt's generation. */
  #begin(job: Job<T, R>): number {
    this.#waiting--;
    if (job.ttlTimer !== undefined) {
      this.#timers.cancel(job.ttlTimer);
      job.ttlTimer = undefined;
    }
    job.state = RUNNING;
    this.#running++;
    const attempt = ++job.attempt;
    const generation = ++job.generation;
    if (this.#visibilityTimeoutMs !== undefined || this.#handler === undefined) {
      // Attempts that can time out (and deliveries) get a context of their own, with a signal that can abort.
      job.context = new AttemptContext(job.id, attempt, job.groupKey);
      if (this.#visibilityTimeoutMs !== undefined) {
        job.timer = this.#timers.add(this.#timers.now() + this.#visibilityTimeoutMs, () => this.#lapse(job, generation));
      }
    }
    if (this.#listens('active')) this.#emit('active', job.item, { id: job.id, attempt });
    return generation;
  }

  /** Completes attempt `generation`; false (nothing done) when it is no longer current. */
  #succeed(job: Job<T, R>, generation: number, value: R): boolean {
    if (!job.isCurrent(generation)) return false;
    this.#endAttempt(job);
    job.state = DONE;
    this.#completed++;
    this.#release(job);
    const settlers = job.settlers;
    if (settlers !== undefined) for (const s of settlers) s.resolve(value);
    if (this.#listens('completed')) this.#emit('completed', job.item, value, { id: job.id, attempt: job.attempt });
    this.#startWork();
    this.#idleEvent();
    return true;
  }

  /**
   * Fails attempt `generation`; false (nothing done) when it is no longer current.
   * `delayOverride` is a nack's `delayMs` (or 0 for a lapsed delivery, visible again at once).
   */
  #fail(job: Job<T, R>, generation: number, error: unknown, delayOverride: number | undefined): boolean {
    if (!job.isCurrent(generation)) return false;
    this.#failAttempt(job, error, delayOverride);
    return true;
  }

  #failAttempt(job: Job<T, R>, error: unknown, delayOverride: number | undefined): void {
    this.#endAttempt(job);
    this.#failed++;
    (job.errors ??= []).push(error);
    const outcome = decideFailure(this.#config.policy, job, error, delayOverride, this.#returning !== undefined, this.#reportError);
    if (outcome.action === 'retry') {
      job.previousDelay = outcome.delayMs;
      this.#retried++;
      this.#waiting++;
      this.#emitFailed(job, error, true);
      if (outcome.delayMs > 0) this.#delay(job, this.#timers.now() + outcome.delayMs);
      else this.#retryNow(job);
    } else if (outcome.action === 'hand-back') {
      this.#emitFailed(job, error, false);
      job.state = DONE;
      this.#returning!.push(job.item);
      this.#returnJob(job);
    } else {
      this.#emitFailed(job, error, false);
      this.#deadLetterJob(job, outcome.reason, outcome.error);
    }
    this.#startWork();
    this.#idleEvent();
  }

  /** An attempt passed `visibilityTimeoutMs`: its signal aborts and it fails with a TimeoutError. */
  #lapse(job: Job<T, R>, generation: number): void {
    job.timer = undefined;
    if (!job.isCurrent(generation)) return;
    const ms = this.#visibilityTimeoutMs!;
    const error = new TimeoutError(ms, `${PART}: attempt ${job.attempt} of item ${job.id} passed visibilityTimeoutMs (${ms} ms)`);
    job.context?.abort(error);
    // Its worker stays stuck on the handler's promise: this frees the slot, and the worker leaves once that settles.
    if (this.#handler !== undefined) this.#workers--;
    this.#failAttempt(job, error, this.#handler === undefined ? 0 : undefined);
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

  #emitFailed(job: Job<T, R>, error: unknown, willRetry: boolean): void {
    if (this.#listens('failed')) {
      this.#emit('failed', job.item, error, { id: job.id, attempt: job.attempt, willRetry });
    }
  }

  // ---- where finished items go ----

  /** Releases what a finished item held: its dedupe key, group slot and timers. */
  #release(job: Job<T, R>): void {
    this.#dedupe?.release(job);
    if (job.ttlTimer !== undefined) {
      this.#timers.cancel(job.ttlTimer);
      job.ttlTimer = undefined;
    }
    if (job.timer !== undefined) {
      this.#timers.cancel(job.timer);
      job.timer = undefined;
    }
    if (job.group !== undefined) this.#groups!.release(job);
  }

  #deadLetterJob(job: Job<T, R>, reason: DeadLetterReason, error: unknown): void {
    job.state = DONE;
    this.#deadLettered++;
    this.#release(job);
    let entry: DeadLetterEntry<T> | undefined;
    try {
      entry = this.#config.deadLetter.add(deadLetterInput(job, reason, error, this.#config.name));
    } catch (refused) {
      this.#reportError(refused);
    }
    const settlers = job.settlers;
    if (settlers !== undefined) {
      const failure = deadLetterError(this.#config, job, reason, error);
      for (const s of settlers) s.reject(failure);
    }
    if (entry !== undefined && this.#listens('dead-lettered')) this.#emit('dead-lettered', entry);
  }

  #returnJob(job: Job<T, R>): void {
    this.#returned++;
    this.#release(job);
    const settlers = job.settlers;
    if (settlers !== undefined) {
      const error = handedBackError(job);
      for (const s of settlers) s.reject(error);
    }
  }

  // ---- events, watchers, pull mode ----

  /** Whether `event` has a listener; one field read per item while nothing listens at all. */
  #listens(event: keyof QueueEvents<T, R>): boolean {
    return this.#listened && this.listenerCount(event) > 0;
  }

  #idleEvent(): void {
    if (this.#waiting === 0 && this.#running === 0 && this.#listens('idle')) this.#emit('idle');
  }

  #checkWatchers(): void {
    this.#watchers.check();
    if (this.#closed && this.#waiting === 0 && this.#running === 0 && this.#pull?.open) this.#pull.endAll();
  }

  /** What pull mode may do to this queue (see PullHost). */
  #pullHost(): PullHost<T, R> {
    return {
      isFinished: () => this.#closed && this.#waiting === 0 && this.#running === 0,
      startWork: () => this.#startWork(),
      // A pull-mode queue has no handler, so nothing produces an R: an ack completes the item with
      // `undefined` (what 'completed' listeners and `submit` then get, as QueueEvents documents).
      ack: (job, generation) => this.#succeed(job, generation, undefined as R),
      nack: (job, generation, error, delayMs) => this.#fail(job, generation, error, delayMs),
      giveBack: (job) => {
        this.#endAttempt(job);
        job.attempt--;
        job.generation++;
        this.#waiting++;
        this.#ready.unshift(job);
      },
    };
  }

  /** Emits an event of this part's map, safely (see emitSafely). */
  #emit<E extends keyof QueueEvents<T, R> & string>(event: E, ...args: QueueEvents<T, R>[E]): void {
    emitSafely<QueueEvents<T, R>, E>(this, event, ...args);
  }
}
