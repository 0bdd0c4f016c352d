import type { DeadLetterEntry, DeadLetterReason } from '../../dead-letter.js';
import type { DedupeKey } from '../../deduper.js';
import { QueueClosedError, QueueFullError, TimeoutError } from '../../errors.js';
import { resolveRetryPolicy, type ResolvedRetryPolicy } from '../../internal/retry-policy.js';
import * as v from '../../internal/validate.js';
import { Emitting } from '../../queue/emitting.js';
import { decideFailure } from '../../queue/outcome.js';
import type { CloseOptions, CloseResult, GroupKey, Handler, Overflow, QueueEvents, QueueStats, Receipt } from '../../queue-types.js';
import type { RetryPolicy } from '../../retry.js';
import { RedisDeadLetter, storeError } from '../dead-letter.js';
import { type Connection, duplicateOf, keyOf, type RedisPartOptions, Script, type Send, toSend } from '../send.js';
import { GROUP, PROMOTE, PUSH, SETTLE, STATS } from './scripts.js';

const PART = 'RedisQueue';
const OVERFLOWS: readonly Overflow[] = ['block', 'reject', 'drop-oldest', 'drop-newest'];
const OPTION_KEYS = /* @__PURE__ */ v.knownKeys<RedisQueueOptions<unknown, unknown>>({
  client: true,
  name: true,
  prefix: true,
  handler: true,
  concurrency: true,
  capacity: true,
  overflow: true,
  retry: true,
  deadLetter: true,
  visibilityTimeoutMs: true,
  ttlMs: true,
  groupBy: true,
  dedupe: true,
  autoStart: true,
  pollMs: true,
  commandTimeoutMs: true,
});
const PUSH_KEYS = /* @__PURE__ */ v.knownKeys<RedisPushOptions>({ delayMs: true, ttlMs: true, id: true, group: true, priority: true });
const DEDUPE_KEYS = /* @__PURE__ */ v.knownKeys<RedisQueueDedupeOptions<unknown>>({ key: true, windowMs: true });

/** How long a result waits in Redis for the `submit` that asked for it (its process may have died), ms. */
const RESULT_TTL_MS = 3_600_000;

/** Deduplication of a {@link RedisQueue}, by a key taken from each item (or the push's `id`). */
export interface RedisQueueDedupeOptions<T> {
  /** The item's idempotency key. A push `id`, when given, is used instead. */
  readonly key: (item: T) => DedupeKey;
  /** How long a key stays a duplicate after first sight, ms (and always while its item waits or runs). @default 300000 (SQS FIFO) */
  readonly windowMs?: number;
}

/** Options of a {@link RedisQueue}: Queue's, and where it lives. */
export interface RedisQueueOptions<T, R> extends RedisPartOptions {
  /** The queue's name: every process naming it (with the same prefix) shares its items and counters. */
  readonly name: string;
  /** Prefix of its Redis keys. @default 'sluice:' */
  readonly prefix?: string;
  /** Handles an item in this process; without it (and until `process`), this process only pushes. */
  readonly handler?: Handler<T, R>;
  /** Attempts this process runs at once (a positive integer). @default 1 */
  readonly concurrency?: number;
  /** The most items waiting, in every process's count (delayed included, in flight not): a positive integer or `Infinity`. @default Infinity */
  readonly capacity?: number;
  /**
   * At capacity: `'block'` (push waits for room, asking Redis again every
   * `pollMs`), `'reject'` (`QueueFullError`), `'drop-newest'`, `'drop-oldest'`
   * (dead-lettered `'maxlen'`; the oldest ready item, else the first delayed one).
   * @default 'block'
   */
  readonly overflow?: Overflow;
  /** Retries with backoff, as Queue's; the backoff waits in Redis (any process's worker takes the retry). */
  readonly retry?: RetryPolicy;
  /**
   * Where items go that cannot be handled: a {@link RedisDeadLetter}, shared
   * by every process. In Redis Cluster it must share the queue's hash tag
   * (its `key` the queue's `name`), as the default does: an item leaves the
   * queue and enters the dead letter in one script run.
   * @default a RedisDeadLetter with the queue's name and prefix (capacity 10 000, evicting the oldest)
   */
  readonly deadLetter?: RedisDeadLetter<T>;
  /**
   * An attempt's time limit, ms, as SQS's visibility timeout: past it the
   * handler's `signal` aborts and the attempt fails with `TimeoutError`; an
   * item held by a process that stopped answering (killed, frozen, cut off)
   * for this long plus `pollMs` is taken back by another process's worker
   * (`XAUTOCLAIM`) and counts a failed attempt: it runs again with
   * `attempt + 1`, or is dead-lettered `'delivery_limit'` past `maxAttempts`.
   * @default 30000 (SQS's default): unlike Queue's, never unlimited — a
   *   killed worker's items must come back.
   */
  readonly visibilityTimeoutMs?: number;
  /** Time to live, ms, from `push` until the first attempt starts; past it the item is dead-lettered `'expired'`. @default none */
  readonly ttlMs?: number;
  /** Message groups: FIFO per group with one item in flight per group, across every process (SQS FIFO's `MessageGroupId`). */
  readonly groupBy?: (item: T) => GroupKey | undefined;
  /** Deduplication: a key is a duplicate while its item waits or runs, and for `windowMs` from first sight. */
  readonly dedupe?: RedisQueueDedupeOptions<T>;
  /** Start handling at once (when there is a handler). @default true */
  readonly autoStart?: boolean;
  /**
   * How often a worker process looks for delays and backoffs that are over
   * and for items whose visibility timeout lapsed, ms (it also looks when
   * the next delay it knows of is due). @default 250
   */
  readonly pollMs?: number;
}

/** Options of {@link RedisQueue.push}. */
export interface RedisPushOptions {
  /** Wait this long before the item may start, ms (in Redis: any process's worker starts it). @default 0 */
  readonly delayMs?: number;
  /** This item's time to live, ms (overrides the queue's `ttlMs`). */
  readonly ttlMs?: number;
  /** The item's id (and dedupe key): a string. @default the next number of the queue's sequence, as a string */
  readonly id?: string;
  /** Its message group (overrides `groupBy`). */
  readonly group?: GroupKey;
  /** Not supported yet: a RedisQueue is FIFO (per group with groups). Anything but 0 throws. */
  readonly priority?: number;
}

/** An item read from the stream, as this process runs it. */
interface Held {
  /** Its stream entry's id (what XACK takes). */
  readonly entry: string;
  readonly id: string;
  readonly data: string;
  readonly attempt: number;
  readonly pushedAt: number;
  readonly group: string | undefined;
  readonly deadline: number | undefined;
  readonly replyTo: string | undefined;
}

/** A `submit` waiting for its result. */
interface Awaiting {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

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
 * cancelled + waiting + inFlight` at every moment.
 *
 * Items, results and errors cross processes as JSON (an item that is not
 * JSON-serializable makes `push` reject with a TypeError).
 *
 * Redis keys, under one cluster hash tag `{prefix}{name}`: `:stream` (the
 * ready and in-flight items; consumer group `sluice`), `:delayed` (sorted
 * set by due time), `:counts` (hash), `:group:<group>` (a group's items,
 * its head in the stream), `:dedupe:<key>` (the end of the key's window
 * and its item's id), `:results:<process>` (results for `submit`), and the
 * dead letter's (see {@link RedisDeadLetter}).
 *
 * Differences from Queue, by design: `stats` and `size` are promises;
 * there is no `tryPush` (no push can be decided without a round trip);
 * `close()` leaves waiting items in Redis for the other processes
 * (`unprocessed` is empty, `returned` stays 0); `'block'` asks Redis again
 * every `pollMs` for room. Not built yet: `priority`, pull mode, `cancel`,
 * `rateLimit`, adaptive concurrency, `metrics()`.
 */
export class RedisQueue<T, R = unknown> extends Emitting<QueueEvents<T, R>> {
  /** The queue's name. */
  readonly name: string;
  /** Its dead letter, shared by every process. */
  readonly deadLetter: RedisDeadLetter<T>;

  readonly #client: RedisPartOptions['client'];
  readonly #send: Send;
  readonly #commandTimeoutMs: number;
  readonly #base: string;
  readonly #keys: readonly string[];
  readonly #push: Script;
  readonly #settle: Script;
  readonly #promote: Script;
  readonly #stats: Script;
  readonly #capacity: number;
  readonly #overflow: Overflow;
  readonly #policy: ResolvedRetryPolicy;
  readonly #visibilityTimeoutMs: number;
  readonly #ttlMs: number;
  readonly #groupBy: ((item: T) => GroupKey | undefined) | undefined;
  readonly #dedupe: { key: (item: T) => DedupeKey; windowMs: number } | undefined;
  readonly #pollMs: number;
  /** This process's name in the consumer group. */
  readonly #consumer = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
  #handler: Handler<T, R> | undefined;
  #concurrency: number;
  #paused: boolean;
  #closed = false;
  /** Set once the workers stop (close): no read, poll or start after it. */
  #stopped = false;
  #started = false;
  #reader: Connection | undefined;
  #resultReader: Connection | undefined;
  readonly #awaiting = new Map<string, Awaiting>();
  /** Attempts running in this process. */
  #running = 0;
  /** Wakes the read loop (a slot freed, resumed, closing). */
  #wake: (() => void) | undefined;
  #pollTimer: ReturnType<typeof setTimeout> | undefined;
  /** Server time minus local time, ms, from the last poll (for TTL deadlines). */
  #clockOffset = 0;
  /** Settles of this process's attempts under way (close waits for them). */
  readonly #settling = new Set<Promise<unknown>>();

  /**
   * @param options - see {@link RedisQueueOptions}.
   * @throws TypeError or RangeError for a bad option, named as `RedisQueue: …`.
   */
  constructor(options: RedisQueueOptions<T, R>) {
    super();
    const o = v.options<RedisQueueOptions<T, R>>(PART, options, OPTION_KEYS);
    const name = v.string(PART, 'name', o.name);
    if (name === undefined || name === '') throw new TypeError(`${PART}: name must be a non-empty string, got ${v.show(o.name)}`);
    this.name = name;
    const prefix = v.string(PART, 'prefix', o.prefix, 'sluice:');
    this.#handler = v.fn<Handler<T, R>>(PART, 'handler', o.handler);
    this.#concurrency = v.number(PART, 'concurrency', o.concurrency, 'positive-integer', 1);
    this.#capacity = v.number(PART, 'capacity', o.capacity, 'positive-integer-or-infinity', Number.POSITIVE_INFINITY);
    this.#overflow = v.choice(PART, 'overflow', o.overflow, OVERFLOWS, 'block');
    this.#policy = resolveRetryPolicy(PART, o.retry, o.retry === undefined ? 1 : 3);
    this.#visibilityTimeoutMs = v.number(PART, 'visibilityTimeoutMs', o.visibilityTimeoutMs, 'positive', 30_000);
    this.#ttlMs = v.number(PART, 'ttlMs', o.ttlMs, 'positive', 0);
    this.#groupBy = v.fn<(item: T) => GroupKey | undefined>(PART, 'groupBy', o.groupBy);
    if (o.dedupe !== undefined) {
      const d = v.options<RedisQueueDedupeOptions<T>>(PART, o.dedupe, DEDUPE_KEYS, 'dedupe');
      const key = v.fn<(item: T) => DedupeKey>(PART, 'dedupe.key', d.key);
      if (key === undefined) throw new TypeError(`${PART}: dedupe.key must be a function, got ${v.show(d.key)}`);
      this.#dedupe = { key, windowMs: v.number(PART, 'dedupe.windowMs', d.windowMs, 'non-negative', 300_000) };
    }
    this.#paused = !v.boolean(PART, 'autoStart', o.autoStart, true);
    this.#pollMs = v.number(PART, 'pollMs', o.pollMs, 'positive', 250);
    this.#commandTimeoutMs = v.number(PART, 'commandTimeoutMs', o.commandTimeoutMs, 'positive', 5_000);
    this.#client = o.client;
    this.#send = toSend(PART, o.client, this.#commandTimeoutMs);
    if (o.deadLetter !== undefined && !(o.deadLetter instanceof RedisDeadLetter)) {
      throw new TypeError(`${PART}: deadLetter must be a RedisDeadLetter, got ${v.show(o.deadLetter)}`);
    }
    this.deadLetter =
      o.deadLetter ?? new RedisDeadLetter<T>({ client: o.client, key: name, prefix, commandTimeoutMs: this.#commandTimeoutMs });
    this.#base = keyOf(prefix, name);
    const dl = this.deadLetter.redisKeys;
    this.#keys = [`${this.#base}:stream`, `${this.#base}:delayed`, `${this.#base}:counts`, dl.entries, dl.order, dl.stats];
    this.#push = new Script(this.#send, PUSH);
    this.#settle = new Script(this.#send, SETTLE);
    this.#promote = new Script(this.#send, PROMOTE);
    this.#stats = new Script(this.#send, STATS);
    if (this.#handler !== undefined && !this.#paused) this.#start();
  }

  /** The counters, kept in Redis: the same numbers whichever process asks (see {@link QueueStats}). */
  get stats(): Promise<QueueStats> {
    return this.#stats.run([this.#keys[0]!, this.#keys[2]!], []).then((reply) => {
      const flat = reply as (string | number)[];
      const c: Record<string, number> = {};
      for (let i = 0; i < flat.length; i += 2) c[String(flat[i])] = Number(flat[i + 1]);
      const n = (k: string): number => c[k] ?? 0;
      const inFlight = n('inFlight');
      return {
        accepted: n('accepted'),
        duplicates: n('duplicates'),
        replaced: 0,
        completed: n('completed'),
        failed: n('failed'),
        retried: n('retried'),
        deadLettered: n('deadLettered'),
        deadLetterRefused: n('deadLetterRefused'),
        deadLetterEvicted: n('deadLetterEvicted'),
        returned: 0,
        cancelled: n('cancelled'),
        waiting: n('accepted') - n('completed') - n('deadLettered') - n('cancelled') - inFlight,
        inFlight,
      };
    });
  }

  /** Items waiting in every process's count (delayed included, in flight not). */
  get size(): Promise<number> {
    return this.stats.then((s) => s.waiting);
  }

  /** Attempts running in this process now. */
  get running(): number {
    return this.#running;
  }

  /** Whether this process's workers are paused. */
  get isPaused(): boolean {
    return this.#paused;
  }

  /** This process's concurrency. */
  get concurrency(): number {
    return this.#concurrency;
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
    return (await this.#offer(item, options, undefined)).receipt;
  }

  /**
   * Pushes every item of `source`, one at a time (each waits for room
   * under `'block'`).
   * @returns how many were pushed.
   */
  async pushAll(source: Iterable<T> | AsyncIterable<T>): Promise<number> {
    let n = 0;
    for await (const item of source) {
      await this.push(item);
      n++;
    }
    return n;
  }

  /**
   * Pushes an item and resolves with its handler's result, from whichever
   * process ran it (as JSON), or rejects with its last error (as a
   * {@link StoredError}-shaped Error) once it was dead-lettered.
   * @throws (rejects) as `push`; DuplicateError-like rejection for a duplicate: its result goes to the first push.
   */
  async submit(item: T, options?: RedisPushOptions): Promise<R> {
    const reader = await this.#results();
    void reader;
    let awaiting: Awaiting | undefined;
    const result = new Promise<R>((resolve, reject) => {
      awaiting = { resolve: resolve as (value: unknown) => void, reject };
    });
    const { receipt, key } = await this.#offer(item, options, this.#consumer, (id) => this.#awaiting.set(id, awaiting!));
    if (receipt.duplicate) {
      this.#awaiting.delete(key);
      throw new TypeError(`${PART}: submit of a duplicate (the live item ${receipt.id} has the key): its result goes to the first push`);
    }
    return result;
  }

  /** Starts handling with `handler` in this process (when none was given). */
  process(handler: Handler<T, R>, options?: { readonly concurrency?: number }): void {
    if (this.#handler !== undefined) throw new TypeError(`${PART}: process: the queue already has a handler`);
    const fn = v.fn<Handler<T, R>>(PART, 'handler', handler);
    if (fn === undefined) throw new TypeError(`${PART}: handler must be a function, got ${v.show(handler)}`);
    this.#handler = fn;
    if (options?.concurrency !== undefined) this.#concurrency = v.number(PART, 'concurrency', options.concurrency, 'positive-integer', 1);
    if (!this.#paused) this.#start();
  }

  /** Stops this process's workers from starting items (those running finish). */
  pause(): void {
    this.#paused = true;
  }

  /** Lets this process's workers start items again. */
  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    if (this.#handler !== undefined) this.#start();
    this.#wake?.();
  }

  /** Resolves once nothing waits or runs, in every process's count (asking Redis every `pollMs`). */
  async onIdle(): Promise<void> {
    for (;;) {
      const s = await this.stats;
      if (s.waiting === 0 && s.inFlight === 0) return;
      await sleep(Math.min(this.#pollMs, 50));
    }
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
    if (drain && this.#handler !== undefined && this.#started) await this.onIdle();
    this.#stopped = true;
    clearTimeout(this.#pollTimer);
    this.#wake?.();
    this.#reader?.close();
    while (this.#settling.size > 0) await Promise.allSettled([...this.#settling]);
    this.#resultReader?.close();
    for (const [, waiting] of this.#awaiting) waiting.reject(new QueueClosedError(`${PART}: closed before the result came back`));
    this.#awaiting.clear();
    return { unprocessed: [] };
  }

  /** The part's name in a console warning. */
  protected describe(): string {
    return `${PART} '${this.name}'`;
  }

  /** Events carry no timings yet: nothing to switch on. */
  protected heard(): void {}

  async #offer(
    item: T,
    options: RedisPushOptions | undefined,
    replyTo: string | undefined,
    onId?: (id: string) => void,
  ): Promise<{ receipt: Receipt; key: string }> {
    if (this.#closed) throw new QueueClosedError(`${PART}: closed`);
    this.#groupReady ??= this.#ensureGroup().catch((error: unknown) => {
      this.#groupReady = undefined;
      throw error;
    });
    await this.#groupReady;
    const o = v.options<RedisPushOptions>(PART, options, PUSH_KEYS, 'options');
    const priority = o.priority ?? 0;
    if (priority !== 0) throw new RangeError(`${PART}: options.priority is not supported (a RedisQueue is FIFO), got ${priority}`);
    const delayMs = v.number(PART, 'options.delayMs', o.delayMs, 'non-negative', 0);
    const ttlMs = v.number(PART, 'options.ttlMs', o.ttlMs, 'positive', this.#ttlMs);
    const id = v.string(PART, 'options.id', o.id);
    const group = o.group ?? this.#groupBy?.(item);
    let data: string | undefined;
    try {
      data = JSON.stringify(item);
    } catch (error) {
      throw new TypeError(`${PART}: an item must be JSON-serializable, got ${v.show(item)} (${(error as Error).message})`);
    }
    if (data === undefined) throw new TypeError(`${PART}: an item must be JSON-serializable, got ${v.show(item)}`);
    const key = this.#dedupe === undefined ? '' : String(id ?? this.#dedupe.key(item));
    const args = [
      data,
      id ?? '',
      delayMs,
      this.#capacity === Number.POSITIVE_INFINITY ? -1 : this.#capacity,
      this.#overflow,
      key,
      this.#dedupe?.windowMs ?? 0,
      group === undefined ? '' : String(group),
      ttlMs,
      replyTo ?? '',
      this.#base,
      this.name,
      this.deadLetter.scriptCapacity,
      this.deadLetter.overflow,
    ];
    for (;;) {
      const [status, itemId] = (await this.#push.run(this.#keys, args)) as [string, string];
      if (status === 'full') {
        if (this.#overflow === 'reject') throw new QueueFullError(this.#capacity, `${PART}: capacity of ${this.#capacity} reached`);
        await sleep(this.#pollMs);
        if (this.#closed) throw new QueueClosedError(`${PART}: closed while the push waited for room`);
        continue;
      }
      if (status === 'ok') onId?.(itemId);
      if (delayMs > 0) this.#schedulePoll(delayMs);
      return {
        receipt: { id: itemId, duplicate: status === 'dup', dropped: status === 'dropped', replaced: false },
        key: itemId,
      };
    }
  }

  /** Starts this process's workers: the read loop and the poll of delays and lapses. */
  #start(): void {
    if (this.#started || this.#stopped) return;
    this.#started = true;
    void this.#readLoop();
    this.#schedulePoll(0);
  }

  async #readLoop(): Promise<void> {
    let failures = 0;
    while (!this.#stopped) {
      if (this.#paused || this.#running >= this.#concurrency) {
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
        this.#wake = undefined;
        continue;
      }
      let reply: unknown;
      try {
        this.#reader ??= await duplicateOf(PART, this.#client, this.#commandTimeoutMs);
        const blockMs = Math.max(1, Math.min(1_000, this.#commandTimeoutMs / 2));
        reply = await this.#reader.send([
          'XREADGROUP',
          'GROUP',
          GROUP,
          this.#consumer,
          'COUNT',
          this.#concurrency - this.#running,
          'BLOCK',
          Math.floor(blockMs),
          'STREAMS',
          this.#keys[0]!,
          '>',
        ]);
        failures = 0;
      } catch (error) {
        if (this.#stopped) return;
        if (String((error as Error)?.message).startsWith('NOGROUP')) {
          await this.#ensureGroup();
          continue;
        }
        this.reportError(error);
        await sleep(Math.min(100 * 2 ** failures++, 5_000));
        continue;
      }
      if (this.#stopped) return; // read but not started: back after the visibility timeout, as from a killed process
      for (const [entry, fields] of entriesOf(reply)) this.#run(held(entry, fields));
    }
  }

  async #ensureGroup(): Promise<void> {
    try {
      await this.#send(['XGROUP', 'CREATE', this.#keys[0]!, GROUP, '0', 'MKSTREAM']);
    } catch (error) {
      if (!String((error as Error)?.message).startsWith('BUSYGROUP')) throw error;
    }
  }

  /** Runs an attempt of `h` here and settles it in Redis. */
  #run(h: Held): void {
    if (h.deadline !== undefined && h.deadline <= Date.now() + this.#clockOffset) {
      this.#track(this.#deadLetter(h, 'expired', new TimeoutError(h.deadline - h.pushedAt, `${PART}: expired before it started`), false));
      return;
    }
    let item: T;
    try {
      item = JSON.parse(h.data) as T;
    } catch (error) {
      this.#track(this.#deadLetter(h, 'rejected', error, false));
      return;
    }
    this.#running++;
    const abort = new AbortController();
    const timer = setTimeout(
      () => abort.abort(new TimeoutError(this.#visibilityTimeoutMs, `${PART}: attempt timed out after ${this.#visibilityTimeoutMs} ms`)),
      this.#visibilityTimeoutMs,
    );
    const startedAt = Date.now();
    const info = { id: h.id, attempt: h.attempt, enqueuedAt: h.pushedAt - this.#clockOffset, startedAt, waitMs: 0 };
    if (this.listens('active')) this.emitEvent('active', item, info);
    const settled = (async () => {
      let outcome: { ok: true; value: R } | { ok: false; error: unknown };
      try {
        const running = Promise.resolve(this.#handler!(item, { id: h.id, attempt: h.attempt, signal: abort.signal, key: h.group }));
        const value = await Promise.race([running, aborted(abort.signal)]);
        outcome = { ok: true, value: value as R };
      } catch (error) {
        outcome = { ok: false, error };
      } finally {
        clearTimeout(timer);
      }
      const runMs = Date.now() - startedAt;
      if (outcome.ok) {
        let reply = '';
        if (h.replyTo !== undefined) reply = JSON.stringify({ i: h.id, v: outcome.value === undefined ? null : outcome.value });
        const counted = await this.#settleRun(h, 'done', ['', '', reply]);
        if (counted && this.listens('completed')) this.emitEvent('completed', item, outcome.value, { ...info, runMs });
        return;
      }
      await this.#fail(h, item, outcome.error, { ...info, runMs });
    })()
      .catch((error: unknown) => this.reportError(error))
      .finally(() => {
        this.#running--;
        this.#wake?.();
      });
    this.#track(settled);
  }

  /** A failed attempt: retried after its backoff (in Redis) or dead-lettered. */
  async #fail(
    h: Held,
    item: T,
    error: unknown,
    info: { id: string; attempt: number; enqueuedAt: number; startedAt: number; waitMs: number; runMs: number },
  ): Promise<void> {
    const outcome = decideFailure(this.#policy, { attempt: h.attempt, previousDelay: undefined }, error, undefined, false, (e) =>
      this.reportError(e),
    );
    if (outcome.action === 'retry') {
      const counted = await this.#settle.run(this.#keys, [h.entry, 'retry', this.#base, Math.round(outcome.delayMs), h.attempt, '1']);
      if (Number(counted) === 1) {
        if (this.listens('failed')) this.emitEvent('failed', item, error, { ...info, willRetry: true });
        if (outcome.delayMs > 0) this.#schedulePoll(outcome.delayMs);
      }
      return;
    }
    if (outcome.action !== 'dead-letter') return;
    const counted = await this.#deadLetter(h, outcome.reason, outcome.error, true, item);
    if (counted && this.listens('failed')) this.emitEvent('failed', item, error, { ...info, willRetry: false });
  }

  /** Dead-letters `h` in the script that takes it out of the queue; false when it was no longer ours (a lapse). */
  async #deadLetter(h: Held, reason: DeadLetterReason, error: unknown, attemptFailed: boolean, parsed?: T): Promise<boolean> {
    const item = parsed ?? (safeParse(h.data) as T);
    const { entry, json } = this.deadLetter.encode({
      item,
      reason,
      ...(error === undefined ? {} : { error }),
      attempts: attemptFailed ? h.attempt : h.attempt - 1,
      firstSeenAt: h.pushedAt - this.#clockOffset,
      source: this.name,
    });
    const reply = h.replyTo === undefined ? '' : JSON.stringify({ i: h.id, e: storeError(error) ?? { name: 'Error', message: reason } });
    const counted = await this.#settleRun(h, 'dead', [entry.id, json, reply], attemptFailed);
    if (counted && this.listens('dead-lettered')) this.emitEvent('dead-lettered', entry as DeadLetterEntry<T>);
    return counted;
  }

  async #settleRun(h: Held, outcome: 'done' | 'dead', [dlId, dlJson, reply]: [string, string, string], failed = false): Promise<boolean> {
    const counted = await this.#settle.run(this.#keys, [
      h.entry,
      outcome,
      this.#base,
      0,
      h.attempt,
      failed ? '1' : '0',
      dlId,
      dlJson,
      this.deadLetter.scriptCapacity,
      this.deadLetter.overflow,
      reply,
      RESULT_TTL_MS,
    ]);
    return Number(counted) === 1;
  }

  #track(p: Promise<unknown>): void {
    const tracked = p.catch((error: unknown) => this.reportError(error)).finally(() => this.#settling.delete(tracked));
    this.#settling.add(tracked);
  }

  /** Looks for due delays and lapsed items in `ms` (sooner wins). */
  #schedulePoll(ms: number): void {
    if (!this.#started || this.#stopped) return;
    const at = Date.now() + ms;
    if (this.#pollTimer !== undefined && this.#pollAt <= at) return;
    clearTimeout(this.#pollTimer);
    this.#pollAt = at;
    this.#pollTimer = setTimeout(() => {
      this.#pollTimer = undefined;
      this.#pollAt = Number.POSITIVE_INFINITY;
      void this.#poll();
    }, ms);
  }

  #pollAt = Number.POSITIVE_INFINITY;
  /** The stream and its consumer group made (once per instance: XGROUP CREATE … MKSTREAM). */
  #groupReady: Promise<void> | undefined;

  async #poll(): Promise<void> {
    let next = this.#pollMs;
    try {
      const [, due, now] = (await this.#promote.run([this.#keys[0]!, this.#keys[1]!], [this.#base, 1_000])) as number[];
      this.#clockOffset = Number(now) - Date.now();
      if (Number(due) >= 0) next = Math.max(0, Math.min(next, Number(due) - Number(now)));
      await this.#reclaim();
    } catch (error) {
      if (!this.#stopped) this.reportError(error);
    }
    this.#schedulePoll(next);
  }

  /** Takes back items whose holder stopped answering: each counts a failed (timed-out) attempt. */
  async #reclaim(): Promise<void> {
    const minIdle = this.#visibilityTimeoutMs + this.#pollMs;
    let cursor = '0-0';
    do {
      const reply = (await this.#send(['XAUTOCLAIM', this.#keys[0]!, GROUP, this.#consumer, minIdle, cursor, 'COUNT', 100])) as unknown[];
      cursor = String(reply[0]);
      for (const [entry, fields] of (reply[1] as [string, string[] | null][]) ?? []) {
        if (fields === null) continue;
        const h = held(entry, fields);
        const error = new TimeoutError(
          this.#visibilityTimeoutMs,
          `${PART}: visibility timeout lapsed (the process running it stopped answering)`,
        );
        const item = safeParse(h.data) as T;
        const info = { id: h.id, attempt: h.attempt, enqueuedAt: h.pushedAt, startedAt: 0, waitMs: 0, runMs: 0 };
        this.#track(this.#fail(h, item, error, info));
      }
    } while (cursor !== '0-0' && !this.#stopped);
  }

  /** The connection that reads this process's `submit` results, reading. */
  async #results(): Promise<Connection> {
    if (this.#resultReader !== undefined) return this.#resultReader;
    const reader = await duplicateOf(PART, this.#client, this.#commandTimeoutMs);
    this.#resultReader = reader;
    void (async () => {
      const key = `${this.#base}:results:${this.#consumer}`;
      while (!this.#stopped || this.#awaiting.size > 0) {
        if (this.#awaiting.size === 0) {
          await sleep(10);
          continue;
        }
        let reply: unknown;
        try {
          reply = await reader.send(['BLPOP', key, Math.max(0.01, Math.min(1, this.#commandTimeoutMs / 2_000))]);
        } catch (error) {
          if (this.#stopped) return;
          this.reportError(error);
          await sleep(100);
          continue;
        }
        if (!Array.isArray(reply)) continue;
        const result = JSON.parse(String(reply[1])) as { i: string; v?: unknown; e?: { name?: string; message?: string } };
        const waiting = this.#awaiting.get(result.i);
        if (waiting === undefined) continue;
        this.#awaiting.delete(result.i);
        if ('e' in result) waiting.reject(revive(result.e));
        else waiting.resolve(result.v);
      }
    })();
    return reader;
  }
}

/**
 * The entries of an XREADGROUP reply for one stream, in the shapes the
 * clients give it: `[[stream, entries]]` (RESP2), `[stream, entries]`, or
 * `{ stream: entries }` (node-redis 5).
 */
function entriesOf(reply: unknown): [string, string[]][] {
  if (reply === null || typeof reply !== 'object') return [];
  if (!Array.isArray(reply)) return (Object.values(reply)[0] as [string, string[]][] | undefined) ?? [];
  if (reply.length === 0) return [];
  if (typeof reply[0] === 'string') return (reply[1] as [string, string[]][]) ?? [];
  return ((reply[0] as [string, [string, string[]][]])[1] as [string, string[]][]) ?? [];
}

function held(entry: string, fields: readonly string[]): Held {
  const t: Record<string, string> = {};
  for (let i = 0; i < fields.length; i += 2) t[fields[i]!] = fields[i + 1]!;
  return {
    entry,
    id: t.i!,
    data: t.d!,
    attempt: Number(t.a) + 1,
    pushedAt: Number(t.e),
    group: t.g,
    deadline: t.x === undefined ? undefined : Number(t.x),
    replyTo: t.r,
  };
}

const safeParse = (data: string): unknown => {
  try {
    return JSON.parse(data);
  } catch {
    return data;
  }
};

/** An error that crossed processes as `{ name, message, code }`, as an Error again. */
function revive(stored: { name?: string; message?: string; code?: string } | undefined): Error {
  const error = new Error(stored?.message ?? 'failed');
  error.name = stored?.name ?? 'Error';
  if (stored?.code !== undefined) (error as { code?: string }).code = stored.code;
  return error;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Rejects with the signal's reason once it aborts. */
function aborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}
