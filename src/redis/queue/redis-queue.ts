import { QueueClosedError, QueueFullError } from '../../errors.js';
import * as v from '../../internal/validate.js';
import type { ConcurrencyLimit } from '../../limits/limit.js';
import { Emitting } from '../../queue/emitting.js';
import type {
  CloseOptions,
  CloseResult,
  Delivery,
  GroupKey,
  Handler,
  QueueEvents,
  QueueMetrics,
  QueueStats,
  Receipt,
} from '../../queue-types.js';
import type { RedisDeadLetter } from '../dead-letter.js';
import { keyOf, type RedisClient, toSend } from '../send.js';
import { pushEach } from '../../queue/pushers.js';
import {
  PART,
  pushArgs,
  deadLetterOf,
  pushUntilRoom,
  type RedisPushOptions,
  type RedisQueueConfig,
  type RedisQueueOptions,
  resolveOptions,
} from './options.js';
import { Pull } from './pull.js';
import { Results } from './results.js';
import { QueueKeys } from './keys.js';
import { StatsWatch } from './watch.js';
import { QueueWorker, type WorkerHost } from './worker.js';
import { cancelItem, clearWaiting, defaultReason } from './cancels.js';

export type { GroupRateLimiter, RedisPushOptions, RedisQueueDedupeOptions, RedisQueueOptions } from './options.js';

/**
 * Queue's API, counters and guarantees across processes, on Redis Streams:
 * `push` runs one script that `XADD`s the item (capacity, overflow, dedupe
 * and groups decided in it) — an item accepted is in Redis before `push`
 * resolves; every process with a handler reads the stream through one
 * consumer group (`XREADGROUP` in batches, on a connection of its own),
 * acknowledges an item in the script that counts its outcome (`XACK`), and
 * takes back items whose visibility timeout lapsed (`XAUTOCLAIM`). Delays
 * and retry backoffs wait in a sorted set that one script moves back.
 *
 * Delivery is at least once: an item runs again only after a lapse (its
 * process stopped answering for `visibilityTimeoutMs`), and every handler
 * gets the item's id (`context.id`) as its idempotency key.
 *
 * The counters (`await queue.stats`) are kept in Redis: the same numbers
 * whichever process asks, and `accepted = completed + deadLettered +
 * cancelled + returned + waiting + inFlight` at every moment (`returned`
 * counts what `clear()` handed back).
 *
 * Items, results and errors cross processes as JSON (an item that is not
 * JSON-serializable makes `push` reject with a TypeError).
 *
 * Redis keys, under one cluster hash tag `{prefix}{name}`: `:stream` (the
 * ready and in-flight items; consumer group `sluice`), `:stream:p<priority>`
 * and `:stream:levels` (other priorities, and those in use), `:delayed`
 * (sorted set by due time), `:counts` (hash), `:group:<group>` (list: a
 * group's items behind those out — in the stream, running or in a backoff),
 * `:groups` (hash: group → items out), `:dedupe:<key>` (the key's window
 * end and item id, `:` between them while the item is live, `=` once
 * settled), `:replyto` (hash: id → the processes whose duplicate or
 * replacing submits wait for it), `:results:<process>` (for `submit`),
 * `:cancelled` (hash: id → sequence number and reason, until met), with
 * `dedupe.mode: 'replace'` `:data` (hash: id → the latest payload, while
 * live), and the dead letter's.
 *
 * Differences from Queue, by design: `stats`, `size`, `inFlight`,
 * `clear()` and `metrics()` are promises (the numbers live in Redis);
 * there is no `tryPush` (no push can be decided without a round trip);
 * `close()` leaves waiting items in Redis for the other processes
 * (`unprocessed` is empty; `returned` counts only `clear()`); `'block'`
 * asks Redis again every `pollMs` for room; a visibility timeout always applies (30 s by
 * default: a killed worker's items must come back); a TTL is checked when
 * the item would start, against the server's clock as last read (to within
 * `pollMs`); the retry backoff's decorrelated jitter starts afresh each
 * attempt (the previous delay is not kept across processes); `priority`
 * is an integer, each one used a stream of its own that workers read
 * highest first (a worker idle in a blocking read learns of a new level at
 * its next poll); `cancel` returns a promise and cannot say whether a live
 * item had the id (see {@link RedisQueue.cancel}); flow control is each
 * process's own — its `concurrency` (a number or a `ConcurrencyLimit` fed by
 * the attempts it settles), its `pauseFor` hold and `retryAfter: 'queue'`,
 * and a `rateLimit` of local buckets — unless a limiter is shared (a
 * `RedisTokenBucket`); `metrics()`'s rates are the whole queue's, its
 * quantiles this process's (see {@link RedisQueue.metrics}), every attempt
 * timed (no `sampleEvery`); `groupConcurrency` is kept with each item from
 * its push (not settable live); `dedupe` takes key options only — no
 * `Deduper` or store object (the check is in the push script, atomic with
 * the push), no `maxKeys` (a key lives in Redis for its window, not in an
 * LRU).
 */
export class RedisQueue<T, R = unknown> extends Emitting<QueueEvents<T, R>> {
  /** The queue's name. */
  readonly name: string;
  /** Its dead letter, shared by every process. */
  readonly deadLetter: RedisDeadLetter<T>;

  readonly #c: RedisQueueConfig<T, R>;
  readonly #client: RedisClient;
  /** Its keys and scripts. */
  readonly #r: QueueKeys;
  /** This process's name in the consumer group. */
  readonly #consumer = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
  /** This process's worker: reads, runs and settles items (when there is a handler). */
  readonly #w: QueueWorker<T, R>;
  #closed = false;
  #results: Results | undefined;
  /** Pull mode, while iterated. */
  #pull: Pull<T> | undefined;
  /** The watchers' loop (`onIdle`, `onEmpty`, `onSizeBelow`). */
  #watch: StatsWatch | undefined;

  /**
   * @param options - see {@link RedisQueueOptions}.
   * @throws TypeError or RangeError for a bad option, named as `RedisQueue: …`.
   */
  constructor(options: RedisQueueOptions<T, R>) {
    super();
    const c = resolveOptions(options);
    this.#c = c;
    this.name = c.name;
    this.#client = options.client;
    const send = toSend(PART, options.client, c.commandTimeoutMs);
    this.deadLetter = deadLetterOf(options, c);
    this.#r = new QueueKeys(send, keyOf(c.prefix, c.name), this.deadLetter.redisKeys);
    this.#w = new QueueWorker<T, R>({
      config: c,
      client: options.client,
      send,
      keys: this.#r,
      consumer: this.#consumer,
      deadLetter: this.deadLetter,
      stats: () => this.stats,
      listens: (event) => this.listens(event),
      emit: this.emitEvent.bind(this) as WorkerHost<T, R>['emit'],
      reportError: (e) => this.reportError(e),
    });
    if (this.#w.handler !== undefined && !this.#w.paused) this.#w.start();
  }

  /** The counters, kept in Redis: the same numbers whichever process asks (see {@link QueueStats}). */
  get stats(): Promise<QueueStats> {
    return this.#r.stats();
  }

  /** Items waiting in every process's count (delayed included, in flight not). */
  get size(): Promise<number> {
    return this.stats.then((s) => s.waiting);
  }

  /** Items in flight in every process's count (read by a worker and not settled yet). */
  get inFlight(): Promise<number> {
    return this.stats.then((s) => s.inFlight);
  }

  /** Handlers running in this process now. */
  get running(): number {
    return this.#w.attempts.running;
  }

  /** Whether this process's workers are paused. */
  get isPaused(): boolean {
    return this.#w.paused;
  }

  /** Whether `close()` was called (in this process: pushes from here reject). */
  get isClosed(): boolean {
    return this.#closed;
  }

  /**
   * This process's concurrency in force: a positive integer or `Infinity`,
   * the limit object's `limit` when it follows one. Live, as Queue's.
   */
  get concurrency(): number {
    return this.#w.concurrency;
  }

  /**
   * Sets it live: a number (no longer following a limit object), or a
   * {@link ConcurrencyLimit} to follow from now on.
   * @throws TypeError or RangeError for a bad value.
   */
  set concurrency(value: number | ConcurrencyLimit) {
    this.#w.setConcurrency(value);
  }

  /** Items of one message group out at once, across every process (see {@link RedisQueueOptions.groupConcurrency}). */
  get groupConcurrency(): number | ((key: GroupKey) => number) {
    return this.#c.groupConcurrency;
  }

  /** The {@link ConcurrencyLimit} this process's workers follow, or `undefined` for a fixed concurrency. */
  get concurrencyLimit(): ConcurrencyLimit | undefined {
    return this.#w.flow.limit;
  }

  /**
   * Adds an item: one script run decides dedupe, capacity and overflow and
   * stores it (the stream, its group, or the delayed set). Resolves once
   * it is in Redis.
   * @returns the receipt: its id, and whether it was a duplicate or dropped.
   * @throws (rejects) QueueClosedError after `close()`; QueueFullError at
   *   capacity with `'reject'`; TypeError or RangeError for bad options or
   *   an item that is not JSON-serializable; StoreUnavailableError when
   *   Redis does not answer (the item may or may not be in: at least once).
   */
  async push(item: T, options?: RedisPushOptions): Promise<Receipt> {
    return this.#offer(item, options, undefined);
  }

  /**
   * Pushes every item of a (sync or async) iterable, one at a time, each
   * waiting for room as `push` does, as Queue's.
   * @returns how many were accepted (duplicates not counted).
   * @throws (rejects) the first push's error (items before it stay accepted, the source is closed); TypeError for a non-iterable.
   */
  async pushAll(items: Iterable<T> | AsyncIterable<T>): Promise<number> {
    v.iterable(PART, 'pushAll items', items);
    return pushEach(this, items);
  }

  /**
   * Pushes an item and resolves with its handler's result, from whichever
   * process ran it (as JSON), or rejects once it was dead-lettered with its
   * last error (an Error with the stored `name`, `message` and `code`).
   * A duplicate of an item still live (waiting or running, in any process)
   * resolves with that item's outcome, as Queue's.
   * @throws (rejects) as `push`; a DuplicateError when the item is a
   *   duplicate of one already settled (within its window); QueueFullError
   *   when overflow drops it (`'drop-newest'` at once, `'drop-oldest'` when a newer push evicts it).
   */
  async submit(item: T, options?: RedisPushOptions): Promise<R> {
    const key = `${this.#r.base}:results:${this.#consumer}`;
    const results = (this.#results ??= new Results(PART, this.#client, key, this.#c, (e) => this.reportError(e)));
    let pending: Promise<unknown> | undefined;
    const receipt = await this.#offer(item, options, this.#consumer, (id) => void (pending = results.expect(id)));
    // A duplicate of an item still live shares its outcome (as Queue's); of one already settled, nothing to share.
    if (receipt.duplicate && pending === undefined) throw results.duplicate(receipt.id);
    if (receipt.dropped) {
      const { capacity, overflow } = this.#c;
      throw new QueueFullError(capacity, `${PART}: item ${receipt.id} dropped at capacity ${capacity} (overflow '${overflow}')`);
    }
    return pending as Promise<R>;
  }

  /**
   * Starts handling with `handler` in this process (when none was given).
   * @throws TypeError when the queue has a handler already, or for a bad one.
   */
  process(handler: Handler<T, R>, options?: { readonly concurrency?: number }): void {
    const w = this.#w;
    if (w.handler !== undefined) throw new TypeError(`${PART}: process: the queue already has a handler`);
    const fn = v.fn<Handler<T, R>>(PART, 'handler', handler);
    if (fn === undefined) throw new TypeError(`${PART}: handler must be a function, got ${v.show(handler)}`);
    w.handler = fn;
    if (options?.concurrency !== undefined)
      w.concurrency = v.number(PART, 'concurrency', options.concurrency, 'positive-integer-or-infinity', 1);
    if (!w.paused) w.start();
  }

  /**
   * Pull mode: yields deliveries `{ item, id, attempt, signal, key, ack(),
   * nack(error?, { delayMs? }) }` as Queue's, at most `concurrency` unsettled
   * at once; an unsettled delivery past `visibilityTimeoutMs` fails as
   * timed out. Leaving the loop pauses this process's reading; what was
   * read but not yet handed out goes back unseen (its attempt not counted).
   * @throws TypeError when the queue has a handler (a queue has a handler or is iterated, not both).
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<Delivery<T>> {
    const w = this.#w;
    if (w.handler !== undefined && this.#pull === undefined) {
      throw new TypeError(`${PART}: the queue has a handler; a queue has a handler or is iterated, not both`);
    }
    this.#pull?.end();
    const pull = new Pull<T>({ nackDelay: (key, ms) => w.attempts.nackDelays.set(key, ms), pause: () => this.pause() });
    this.#pull = pull;
    w.handler = pull.handler as unknown as Handler<T, R>;
    if (w.paused && w.started) this.resume();
    else if (!w.paused) w.start();
    return pull.iterator();
  }

  /**
   * Cancels item `id` (its push `id`, or the receipt's) in every process:
   * a waiting one leaves when a worker, the delayed set's move or its
   * group's turn meets it; a running one has its handler's `signal` aborted
   * with `reason` (here at once, elsewhere within `pollMs`) and is counted
   * when its attempt settles, whatever the outcome. Counted in
   * `stats.cancelled`; its `submit` rejects with `reason` (as stored); the
   * `'cancelled'` event is told by the process that settles a running one.
   * Items pushed later with the same id are not affected. Unlike Queue's, it
   * cannot say whether a live item has the id (that would take an index of
   * every item): a cancel no item meets stays as a small mark in Redis.
   * An item an idle worker was woken by may still run once.
   * @returns (resolves) true when `id` was not marked cancelled already.
   * @throws (rejects) TypeError when `id` is not a string; StoreUnavailableError when Redis does not answer.
   */
  async cancel(id: string, reason: unknown = defaultReason()): Promise<boolean> {
    if (typeof id !== 'string') throw new TypeError(`${PART}: cancel: id must be a string, got ${v.show(id)}`);
    return cancelItem(this.#r.cancel, [this.#r.counts, this.#r.cancelled], id, reason, this.#w.deadlines.running());
  }

  /**
   * The queue's figures over its metrics window, as Queue's `metrics()`:
   * arrival rate, throughput and failure rate (per second), the number
   * waiting and in flight, and Little's law's L (the time-average of the
   * number waiting) are the whole queue's, from the counters in Redis
   * (tallied at each read and each worker poll, so rates are right to
   * within `pollMs` where this process has a worker); wait and run time
   * quantiles (p50, p90, p99) are those of the attempts run in this
   * process — a sample of the queue's when every worker reads alike — and
   * `concurrencyLimit` is this process's. One round trip.
   * @throws (rejects) TypeError when the queue was made without `metrics`; StoreUnavailableError when Redis does not answer.
   */
  async metrics(): Promise<QueueMetrics> {
    const w = this.#w;
    if (w.metrics === undefined) throw new TypeError(`${PART}: metrics() needs the metrics option (new RedisQueue({ metrics: true, … }))`);
    const s = await this.stats;
    return w.metrics.read(w.timers.now(), s, w.concurrency);
  }

  /**
   * Holds this process's starts for `ms` from now, without pausing, as
   * Queue's: the attempts running go on; starts resume by themselves when
   * the time is up (the longer hold wins). With `retryAfter: 'queue'`, an
   * error carrying `retryAfterMs` calls it. Other processes are not held:
   * a server's Retry-After reaches each worker through its own attempts.
   * @param ms - how long, in ms: a non-negative finite number.
   * @throws TypeError or RangeError for a bad `ms`.
   */
  pauseFor(ms: number): void {
    if (ms === undefined) throw new TypeError(`${PART}: ms must be a non-negative finite number, got undefined`);
    this.#w.flow.pauseFor(v.number(PART, 'ms', ms, 'non-negative', 0));
  }

  /** Stops this process's workers from starting items: those running finish; those read but not started go back unseen. */
  pause(): void {
    this.#w.pause();
  }

  /** Lets this process's workers start items again. */
  resume(): void {
    this.#w.resume();
  }

  /**
   * Hands back every waiting item of the queue — in every process's count:
   * ready, delayed and retry-pending, the rest of each message group — as
   * Queue's `clear()`: counted `returned` (`stats.returned`), dedupe keys
   * released as when an item settles, the `submit` of each rejected with
   * `QueueClosedError` ("handed back by clear()"), wherever it waits.
   * Items a worker has read are in flight (as Queue's attempts): they go
   * on. Runs as a few script runs of at most 1 000 items each, so Redis
   * serves others between them; an item pushed meanwhile may be handed back
   * too. Ready items come first (highest priority first), then the rest of
   * each group whose head runs, then the delayed set by due time.
   * @returns (resolves) the items handed back, parsed from their JSON.
   * @throws (rejects) StoreUnavailableError when Redis does not answer (what was handed back by then stays handed back).
   */
  clear(): Promise<T[]> {
    return clearWaiting(this.#r.clear, this.#r.keys.slice(0, 3), this.#r.base) as Promise<T[]>;
  }

  /** Resolves once nothing waits or runs, in every process's count (asking Redis every `pollMs`, at most 50 ms). */
  onIdle(): Promise<void> {
    return this.#until((s) => s.waiting === 0 && s.inFlight === 0);
  }

  /** Resolves once nothing waits (attempts may still run), in every process's count; asked as `onIdle`. */
  onEmpty(): Promise<void> {
    return this.#until((s) => s.waiting === 0);
  }

  /**
   * Resolves once fewer than `limit` items wait, in every process's count; asked as `onIdle`.
   * @param limit - a non-negative number.
   * @throws RangeError (rejects) for a bad `limit`.
   */
  async onSizeBelow(limit: number): Promise<void> {
    v.number(PART, 'limit', limit, 'non-negative', 0);
    return this.#until((s) => s.waiting < limit);
  }

  /**
   * Stops accepting pushes (`QueueClosedError`). With `drain` (the
   * default) a process with a handler first works until the whole queue is
   * idle; then its workers stop reading and the attempts running here
   * settle. Waiting items stay in Redis for the other processes:
   * `unprocessed` is always empty.
   */
  async close(options?: CloseOptions): Promise<CloseResult<T>> {
    const drain = options?.drain ?? true;
    this.#closed = true;
    const w = this.#w;
    if (drain && w.handler !== undefined && w.started && !w.paused) await this.onIdle();
    this.#pull?.end();
    await w.stop();
    this.#results?.close(new QueueClosedError(`${PART}: closed before the result came back`));
    return { unprocessed: [] };
  }

  /** The part's name in a console warning. */
  protected describe(): string {
    return `${PART} '${this.name}'`;
  }

  /** Events carry no timings of their own yet: nothing to switch on. */
  protected heard(): void {}

  async #offer(item: T, options: RedisPushOptions | undefined, replyTo: string | undefined, onId?: (id: string) => void): Promise<Receipt> {
    if (this.#closed) throw new QueueClosedError(`${PART}: closed`);
    const dl = this.deadLetter;
    const { args, delayMs } = pushArgs(this.#c, item, options, replyTo ?? '', [this.#r.base, this.name, dl.scriptCapacity, dl.overflow]);
    await this.#w.groupMade();
    const [status, id] = await pushUntilRoom(this.#r.push, this.#r.keys, args, this.#c, () => this.#closed);
    if (status === 'ok' || status === 'replaced' || status === 'shared') onId?.(id);
    if (delayMs > 0) this.#w.schedule(delayMs);
    const duplicate = status === 'dup' || status === 'replaced' || status === 'shared';
    return { id, duplicate, dropped: status === 'dropped', replaced: status === 'replaced' };
  }

  /** Resolves once `met` holds of the counters, asked every `pollMs` (at most 50 ms) on one loop for every watcher. */
  #until(met: (s: QueueStats) => boolean): Promise<void> {
    this.#watch ??= new StatsWatch(() => this.stats, Math.min(this.#c.pollMs, 50));
    return this.#watch.until(met);
  }
}
