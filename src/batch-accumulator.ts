import { EventEmitter } from 'eventemitter3';
import { type Clock, systemClock } from './clock.js';
import { CountRates, RATES_WINDOW_MS } from './internal/count-rates.js';
import { Histogram, quantilesOf } from './internal/histogram.js';
import type { Quantiles } from './queue-types.js';
import { QueueClosedError } from './errors.js';
import { emitSafely } from './internal/events.js';
import { whenAborted } from './internal/abort.js';
import { closeQuietly } from './internal/iterators.js';
import { MAX_TIMER_MS } from './internal/long-timer.js';
import { MonotonicTime } from './internal/monotonic.js';
import { Ring } from './internal/ring.js';
import { holdShapes } from './internal/shapes.js';
import * as v from './internal/validate.js';

const BATCH_KEYS = /* @__PURE__ */ v.knownKeys<BatchOptions<unknown>>({
  maxItems: true,
  lingerMs: true,
  maxBytes: true,
  sizeOf: true,
  key: true,
  maxPending: true,
  clock: true,
});
const ADD_ALL_KEYS = /* @__PURE__ */ v.knownKeys<{ signal?: AbortSignal }>({ signal: true });

/** A batch key (per-partition batching); `undefined` when the accumulator has no `key` option. */
export type BatchKey = string | number | undefined;

/** Why a batch was sealed. */
export type SealReason = 'size' | 'bytes' | 'linger' | 'flush' | 'close';

/** Options of {@link BatchAccumulator} (and of the `batch()` operator). */
export interface BatchOptions<T> {
  /** A batch is sealed when it holds this many items (Kafka's `batch.size`, counted in items). @default 100 */
  readonly maxItems?: number;
  /**
   * A batch is sealed this many ms after its first item arrived (Kafka's
   * `linger.ms`). `0` seals at the next macrotask, so items added in the same
   * tick share a batch. @default 0
   */
  readonly lingerMs?: number;
  /**
   * A batch is sealed when it reaches this many bytes (a positive number), as
   * measured by `sizeOf`; an item that would push it past is put in the next
   * batch. An item larger than `maxBytes` forms a batch of its own (never
   * dropped), as Kafka's `batch.size`.
   * @default none: batches are sealed by `maxItems` and `lingerMs` only
   */
  readonly maxBytes?: number;
  /** The size of an item in bytes. Required with `maxBytes`. */
  readonly sizeOf?: (item: T) => number;
  /** Separate open batches per key (per-partition batching). */
  readonly key?: (item: T) => string | number;
  /** `add` waits while this many sealed batches are not yet consumed (backpressure). @default 16 */
  readonly maxPending?: number;
  /** Source of time for `lingerMs`. @default systemClock */
  readonly clock?: Clock;
}

/** What {@link BatchAccumulator.metrics} tells, since construction. */
export interface BatchMetrics {
  /** Batches sealed. */
  readonly batches: number;
  /** Items per batch (the quantiles' unit is items, not ms). */
  readonly batchSize: Quantiles;
  /** Batches sealed, by why. */
  readonly bySealReason: Readonly<Record<SealReason, number>>;
  /** The time the rates cover, ms: the last 60 s (to within 15 s), or less while the accumulator is younger or was idle. */
  readonly windowMs: number;
  /** Items added per second over `windowMs`. */
  readonly itemsPerSecond: number;
  /** Batches sealed per second over `windowMs`. */
  readonly batchesPerSecond: number;
}

/** What the `'flush'` event tells about a sealed batch. */
export interface FlushInfo {
  /** Items in the batch. */
  readonly size: number;
  /** Bytes in the batch, by `sizeOf` (0 without it). */
  readonly bytes: number;
  /** The batch's key. */
  readonly key: BatchKey;
  /** Why it was sealed. */
  readonly reason: SealReason;
}

/** The events of a {@link BatchAccumulator}, as eventemitter3 tuples. */
export interface BatchAccumulatorEvents {
  /** A batch was sealed. */
  flush: [info: FlushInfo];
  /** A listener threw. */
  error: [error: unknown];
}

/** What {@link BatchAccumulator.close} resolves with. */
export interface BatchCloseResult<T> {
  /** Sealed batches no consumer took (empty when the consumer took them all). */
  readonly unconsumed: T[][];
}

interface Open<T> {
  readonly key: BatchKey;
  readonly items: T[];
  bytes: number;
  /** When `lingerMs` runs out for this batch (clock ms). */
  readonly deadline: number;
}

interface Sealed<T> {
  readonly items: T[];
}

interface AddWaiter<T> {
  readonly item: T;
  readonly key: BatchKey;
  readonly size: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

const PART = 'BatchAccumulator';
const NO_KEY = Symbol('no key');

/**
 * Groups items into batches, as Kafka's producer does: a batch is sealed at
 * `maxItems` items, at `maxBytes` bytes, or `lingerMs` after its first item,
 * whichever comes first. Sealed batches are read by iterating the
 * accumulator, in sealing order.
 *
 * `add` resolves once the item is accepted, and waits while `maxPending`
 * sealed batches are unconsumed, so a slow consumer slows the producer
 * instead of growing memory.
 *
 * @typeParam T - the item type.
 *
 * @example
 * ```ts
 * const acc = new BatchAccumulator<Event>({ maxItems: 500, lingerMs: 50, key: (e) => e.tenant });
 * void (async () => {
 *   for await (const batch of acc) await sink.write(batch);
 * })();
 * for (const event of events) await acc.add(event);
 * await acc.close();
 * ```
 */
export class BatchAccumulator<T> extends EventEmitter<BatchAccumulatorEvents> {
  readonly #maxItems: number;
  readonly #lingerMs: number;
  readonly #maxBytes: number | undefined;
  readonly #sizeOf: ((item: T) => number) | undefined;
  readonly #key: ((item: T) => string | number) | undefined;
  readonly #maxPending: number;
  readonly #clock: Clock;
  /** The clock's time, made monotonic: a clock set back neither holds back nor hurries lingering. */
  readonly #time: MonotonicTime;
  readonly #open = new Map<string | number | symbol, Open<T>>();
  /** The open batch of items without a key, also in `#open`: kept at hand for the per-item path. */
  #unkeyed: Open<T> | undefined = undefined;
  readonly #sealed = new Ring<Sealed<T>>();
  readonly #adders = new Ring<AddWaiter<T>>();
  readonly #readers = new Ring<(result: IteratorResult<T[]>) => void>();
  /** The linger timer, armed while a batch may be open (at most one). */
  #timer: unknown = undefined;
  /** `addAll` loops running. */
  #feeding = 0;
  #closed = false;
  /** `'none'` until a consumer calls `next()`, `'gone'` after it returned. */
  #consumer: 'none' | 'active' | 'gone' = 'none';
  #closing: Promise<BatchCloseResult<T>> | undefined = undefined;
  #resolveClose: ((result: BatchCloseResult<T>) => void) | undefined = undefined;

  /**
   * @param options - see {@link BatchOptions}.
   * @throws TypeError for an option of the wrong type, or `maxBytes` without `sizeOf`.
   * @throws RangeError for a bad `maxItems`, `lingerMs`, `maxBytes` or `maxPending`.
   */
  constructor(options?: BatchOptions<T>) {
    super();
    const o = v.options<BatchOptions<T>>(PART, options, BATCH_KEYS);
    this.#maxItems = v.number(PART, 'maxItems', o.maxItems, 'positive-integer', 100);
    this.#lingerMs = v.number(PART, 'lingerMs', o.lingerMs, 'non-negative', 0);
    this.#maxBytes = v.number(PART, 'maxBytes', o.maxBytes, 'positive');
    this.#sizeOf = v.fn<(item: T) => number>(PART, 'sizeOf', o.sizeOf);
    if (this.#maxBytes !== undefined && this.#sizeOf === undefined) {
      throw new TypeError(`${PART}: sizeOf must be a function when maxBytes is set, got undefined`);
    }
    this.#key = v.fn<(item: T) => string | number>(PART, 'key', o.key);
    this.#maxPending = v.number(PART, 'maxPending', o.maxPending, 'positive-integer', 16);
    this.#clock = v.clock(PART, o.clock, systemClock);
    this.#time = new MonotonicTime(this.#clock);
    this.#rates = new CountRates(RATES_WINDOW_MS, this.#time.now(), [0, 0]);
    // An idle instance that keeps the hidden classes of an accumulator and its rings (see internal/shapes.ts).
    holdShapes(BatchAccumulator, () => [new BatchAccumulator<unknown>()]);
  }

  /** Sealed batches not yet consumed. */
  get pending(): number {
    return this.#sealed.size;
  }

  /** Items in open (not yet sealed) batches. */
  get buffered(): number {
    let n = 0;
    for (const open of this.#open.values()) n += open.items.length;
    return n;
  }

  /** Whether `close()` was called. */
  get isClosed(): boolean {
    return this.#closed;
  }

  /**
   * Adds an item to its open batch. `key` and `sizeOf` are called here, so an
   * item they throw for is refused now, never lost later.
   * @param item - the item (`0`, `''`, `null` and `undefined` included).
   * @returns a promise that resolves once the item is accepted.
   * @throws QueueClosedError (rejects) after `close()`, also for adds still waiting for room then.
   * @throws (rejects) whatever `key` or `sizeOf` throws; TypeError or RangeError when `sizeOf`
   *   returns something other than a non-negative finite number.
   */
  add(item: T): Promise<void> {
    if (this.#closed) return Promise.reject(new QueueClosedError(`${PART}: closed`));
    let key: BatchKey;
    let size: number;
    try {
      key = this.#keyOf(item);
      size = this.#sizeOfItem(item);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#sealed.size < this.#maxPending && this.#adders.size === 0) {
      this.#place(item, key, size);
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => this.#adders.push({ item, key, size, resolve, reject }));
  }

  /**
   * Adds an item if that needs no waiting (fewer than `maxPending` sealed
   * batches unconsumed, no earlier add waiting).
   * @param item - the item.
   * @returns true when the item was accepted; false when `add` would have had to wait (nothing happened).
   * @throws QueueClosedError after `close()`; whatever `key` or `sizeOf` throws (as `add` rejects).
   */
  tryAdd(item: T): boolean {
    if (this.#closed) throw new QueueClosedError(`${PART}: closed`);
    if (this.#sealed.size >= this.#maxPending || this.#adders.size > 0) return false;
    this.#place(item, this.#keyOf(item), this.#sizeOfItem(item));
    return true;
  }

  /** Seals every open batch now (reason `'flush'`). */
  flush(): void {
    this.#flushAll('flush');
  }

  /**
   * Seals the open batches (reason `'close'`) and ends iteration once the
   * consumer has taken every sealed batch. Adds after it (and adds still
   * waiting for room) reject with `QueueClosedError`.
   * @returns `{ unconsumed }`: empty once the consumer took every batch; the
   *   batches left when no consumer ever called `next()` or the consumer has
   *   gone (`break`) — handed back, not lost. A second call returns the same promise.
   */
  close(): Promise<BatchCloseResult<T>> {
    if (this.#closing) return this.#closing;
    this.#flushAll('close');
    this.#clearLinger();
    this.#closed = true;
    for (let adder = this.#adders.shift(); adder; adder = this.#adders.shift()) {
      adder.reject(new QueueClosedError(`${PART}: closed`));
    }
    this.#closing = new Promise((resolve) => (this.#resolveClose = resolve));
    this.#settleClose();
    return this.#closing;
  }

  #flushAll(reason: SealReason): void {
    for (const open of [...this.#open.values()]) this.#seal(open, reason);
  }

  /**
   * Yields sealed batches in sealing order; ends after `close()` once every
   * sealed batch was yielded. Several pending `next()` calls are served in order.
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<T[]> {
    const iterator: AsyncIterableIterator<T[]> = {
      next: () => {
        if (this.#consumer === 'gone') return Promise.resolve({ value: undefined, done: true });
        this.#consumer = 'active';
        const sealed = this.#sealed.shift();
        if (sealed) {
          this.#admitAdders();
          this.#settleClose();
          return Promise.resolve({ value: sealed.items, done: false });
        }
        if (this.#closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => this.#readers.push(resolve));
      },
      return: () => {
        this.#consumer = 'gone';
        for (let reader = this.#readers.shift(); reader; reader = this.#readers.shift()) {
          reader({ value: undefined, done: true });
        }
        this.#settleClose();
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  /**
   * Adds every item of a (sync or async) iterable, one at a time, waiting for
   * room as `add` does (backpressure), as `Queue.pushAll`; what the `batch()`
   * operator runs.
   * @param items - the items.
   * @param options - `signal`: aborting stops taking items from the source
   *   and rejects with `signal.reason` (an item already waiting for room is
   *   still added when room comes, as its `add` would be).
   * @returns how many were added.
   * @throws TypeError (rejects) when `items` is not iterable, or for bad options.
   * @throws (rejects) the first error of the source or of `add` (`QueueClosedError`
   *   after `close()`, what `key` or `sizeOf` throws); items before it stay
   *   added. The source is closed (`return()`) on an error or an abort.
   */
  addAll(items: Iterable<T> | AsyncIterable<T>, options?: { readonly signal?: AbortSignal }): Promise<number> {
    let iterator: AsyncIterator<T> | Iterator<T>;
    let signal: AbortSignal | undefined;
    try {
      const source = v.iterable<T>(PART, 'items', items);
      signal = v.signal(PART, 'signal', v.options<{ signal?: AbortSignal }>(PART, options, ADD_ALL_KEYS).signal);
      if (signal?.aborted) return Promise.reject(signal.reason);
      iterator =
        typeof (source as AsyncIterable<T>)[Symbol.asyncIterator] === 'function'
          ? (source as AsyncIterable<T>)[Symbol.asyncIterator]()
          : (source as Iterable<T>)[Symbol.iterator]();
    } catch (error) {
      return Promise.reject(error);
    }
    const stop = { stopped: false };
    return new Promise<number>((resolve, reject) => {
      const detach = whenAborted(signal, () => {
        stop.stopped = true;
        closeQuietly(iterator);
        reject(signal!.reason);
      });
      this.#feeding++;
      const ended = (): void => {
        detach();
        if (--this.#feeding === 0 && this.#open.size === 0) this.#clearLinger();
      };
      this.#feed(iterator, stop).then(
        (added) => {
          ended();
          resolve(added);
        },
        (error: unknown) => {
          ended();
          closeQuietly(iterator);
          reject(error);
        },
      );
    });
  }

  /**
   * Feeds an iterator into this accumulator until it ends or `stop.stopped`
   * is set. Resolves with how many items were added; rejects with what the
   * iterator or `add` rejects with.
   */
  #feed(source: AsyncIterator<T> | Iterator<T>, stop: { readonly stopped: boolean }): Promise<number> {
    // Items without key or size go straight into the open batch: no call per item, so the loop
    // stays fast even where V8 declines to inline the general path.
    const plain = this.#key === undefined && this.#maxBytes === undefined;
    // Callbacks on `next()`'s promise, not an `await` loop: resuming an async function per item
    // costs more than a promise reaction (see bench/results.md, "Where an item's time goes").
    let added = 0;
    return new Promise<number>((resolve, reject) => {
      const pull = (): void => {
        try {
          Promise.resolve(source.next()).then(take, reject);
        } catch (error) {
          reject(error);
        }
      };
      const take = (next: IteratorResult<T>): void => {
        try {
          if (next.done === true || stop.stopped) {
            resolve(added);
            return;
          }
          added++;
          const item = next.value;
          const open = this.#unkeyed;
          // An open batch implies an open accumulator with room and no add waiting (sealing clears it);
          // the checks cost nothing and keep this path right if that ever changes.
          if (plain && open !== undefined && !this.#closed && this.#adders.size === 0 && this.#sealed.size < this.#maxPending) {
            const items = open.items;
            items.push(item);
            if (items.length >= this.#maxItems) this.#seal(open, 'size');
          } else if (!this.tryAdd(item)) {
            this.add(item).then(pull, reject);
            return;
          }
        } catch (error) {
          reject(error);
          return;
        }
        pull();
      };
      pull();
    });
  }

  #keyOf(item: T): BatchKey {
    if (this.#key === undefined) return undefined;
    return v.key(PART, 'key', this.#key(item), true);
  }

  #sizeOfItem(item: T): number {
    if (this.#sizeOf === undefined || this.#maxBytes === undefined) return 0;
    const size = this.#sizeOf(item);
    if (typeof size !== 'number') throw new TypeError(`${PART}: sizeOf must return a non-negative finite number, got ${v.show(size)}`);
    if (!(size >= 0) || !Number.isFinite(size)) {
      throw new RangeError(`${PART}: sizeOf must return a non-negative finite number, got ${v.show(size)}`);
    }
    return size;
  }

  #place(item: T, key: BatchKey, size: number): void {
    const mapKey = key === undefined ? NO_KEY : key;
    let open = key === undefined ? this.#unkeyed : this.#open.get(mapKey);
    const maxBytes = this.#maxBytes;
    if (open !== undefined && maxBytes !== undefined && open.bytes + size > maxBytes && open.items.length > 0) {
      this.#seal(open, 'bytes');
      open = undefined;
    }
    if (open === undefined) {
      const now = this.#time.now();
      if (now >= this.#rates.next) this.#rates.snap(now, [this.#itemCount, this.#batchSizes.count]);
      open = { key, items: [], bytes: 0, deadline: now + this.#lingerMs };
      this.#open.set(mapKey, open);
      if (key === undefined) this.#unkeyed = open;
      // One timer serves every open batch: a batch opened later lingers until a later deadline.
      if (this.#timer === undefined) this.#armLinger(open.deadline, now);
    }
    open.items.push(item);
    open.bytes += size;
    this.#itemCount++;
    if (open.items.length >= this.#maxItems) this.#seal(open, 'size');
    else if (maxBytes !== undefined && open.bytes >= maxBytes) this.#seal(open, 'bytes');
  }

  #seal(open: Open<T>, reason: SealReason): void {
    const mapKey = open.key === undefined ? NO_KEY : open.key;
    if (this.#open.get(mapKey) !== open) return;
    this.#open.delete(mapKey);
    if (open === this.#unkeyed) this.#unkeyed = undefined;
    // No timer without an open batch: an idle accumulator must not keep a process alive for lingerMs.
    // While addAll feeds it the next batch opens at once, so the timer is kept for it (cleared when the feed ends).
    if (this.#open.size === 0 && this.#feeding === 0) this.#clearLinger();
    if (open.items.length === 0) return;
    this.#batchSizes.record(open.items.length);
    this.#sealReasons[reason]++;
    this.#emit('flush', { size: open.items.length, bytes: open.bytes, key: open.key, reason });
    const reader = this.#readers.shift();
    if (reader) reader({ value: open.items, done: false });
    else this.#sealed.push({ items: open.items });
  }

  // For metrics(): since construction, and rates over the last minute (snapshots as a batch opens).
  readonly #batchSizes = new Histogram();
  readonly #sealReasons: Record<SealReason, number> = { size: 0, bytes: 0, linger: 0, flush: 0, close: 0 };
  #itemCount = 0;
  readonly #rates: CountRates;

  /**
   * Batches sealed since construction, their sizes in items (p50, p90, p99
   * from a log-linear histogram, within 1/32; max and mean exact), and why
   * they sealed (Kafka's batch-size and linger figures); items added and
   * batches sealed per second over the last minute (a sliding window of
   * four 15 s slots).
   */
  metrics(): BatchMetrics {
    const sizes = quantilesOf(this.#batchSizes);
    const rates = this.#rates.read(this.#time.now(), [this.#itemCount, sizes.count]);
    return {
      batches: sizes.count,
      batchSize: sizes,
      bySealReason: { ...this.#sealReasons },
      windowMs: rates.windowMs,
      itemsPerSecond: rates.perSecond[0]!,
      batchesPerSecond: rates.perSecond[1]!,
    };
  }

  /** Arms the linger timer for time `due` (the time now is `now`). */
  #armLinger(due: number, now: number): void {
    // At most MAX_TIMER_MS at a time (a longer delay would fire at once); #onLinger arms again for the rest.
    const wait = Math.min(due - now, MAX_TIMER_MS);
    this.#timer = this.#clock.setTimeout(() => this.#onLinger(now + wait), wait);
  }

  /** Seals the batches whose linger ran out; re-arms for the earliest one left. */
  #onLinger(until: number): void {
    this.#timer = undefined;
    // The timer firing proves its time has come, whatever the clock reads (see MonotonicTime.reach).
    const now = this.#time.reach(until);
    let next = Infinity;
    for (const open of [...this.#open.values()]) {
      if (open.deadline <= now) this.#seal(open, 'linger');
      else if (open.deadline < next) next = open.deadline;
    }
    if (next !== Infinity) this.#armLinger(next, now);
  }

  #clearLinger(): void {
    if (this.#timer === undefined) return;
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #admitAdders(): void {
    while (this.#adders.size > 0 && this.#sealed.size < this.#maxPending && !this.#closed) {
      const adder = this.#adders.shift()!;
      this.#place(adder.item, adder.key, adder.size);
      adder.resolve();
    }
  }

  #settleClose(): void {
    const resolve = this.#resolveClose;
    if (resolve === undefined) return;
    if (this.#consumer === 'active' && this.#sealed.size > 0) return;
    this.#resolveClose = undefined;
    for (let reader = this.#readers.shift(); reader; reader = this.#readers.shift()) {
      reader({ value: undefined, done: true });
    }
    resolve({ unconsumed: this.#sealed.drain().map((s) => s.items) });
  }

  /** Emits an event of this part's map, safely (see emitSafely). */
  #emit<E extends keyof BatchAccumulatorEvents & string>(event: E, ...args: BatchAccumulatorEvents[E]): void {
    emitSafely<BatchAccumulatorEvents, E>(this, event, ...args);
  }
}
