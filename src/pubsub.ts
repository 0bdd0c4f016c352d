import { QueueClosedError } from './errors.js';
import { whenAborted } from './internal/abort.js';
import { Ring } from './internal/ring.js';
import * as v from './internal/validate.js';

const PART = 'PubSub';
const PUBSUB_KEYS = /* @__PURE__ */ v.knownKeys<PubSubOptions>({ replay: true });
const SUBSCRIBE_KEYS = /* @__PURE__ */ v.knownKeys<SubscribeOptions>({ capacity: true, overflow: true, replay: true, signal: true });

/**
 * What a subscriber's full buffer does with a new item: `'block'` makes
 * `publish` wait for room (the slowest such subscriber sets the pace:
 * backpressure); `'drop-oldest'` drops the oldest buffered item to make
 * room, `'drop-newest'` drops the new item (ZeroMQ PUB's high-water mark).
 */
export type PubSubOverflow = 'block' | 'drop-oldest' | 'drop-newest';

/** Options of a {@link PubSub}. */
export interface PubSubOptions {
  /** Items kept for new subscribers that ask for a replay (the newest ones): a non-negative integer. @default 0 */
  readonly replay?: number;
}

/** Options of {@link PubSub.subscribe}. */
export interface SubscribeOptions {
  /** Items the subscription buffers while its reader is busy: a positive integer or `Infinity` (ZeroMQ's high-water mark). @default 1000 */
  readonly capacity?: number;
  /** What a full buffer does with a new item; see {@link PubSubOverflow}. @default 'block' */
  readonly overflow?: PubSubOverflow;
  /** Start with the newest `replay` items the PubSub kept (at most its own `replay`). @default 0 */
  readonly replay?: number;
  /** Unsubscribes when it aborts. */
  readonly signal?: AbortSignal;
}

/**
 * A subscription's counters. Conservation: `received = delivered + dropped +
 * buffered` at every moment, where `received` counts the items published
 * while subscribed, and the replayed ones.
 */
export interface SubscriptionStats {
  /** Items handed to this subscription (published while it was subscribed, and replayed). */
  readonly received: number;
  /** Items its reader took. */
  readonly delivered: number;
  /** Items dropped by its overflow policy, or left unread when it unsubscribed. */
  readonly dropped: number;
  /** Items waiting in its buffer now. */
  readonly buffered: number;
}

/** A reader waiting for the next item. */
type Reader<T> = (result: IteratorResult<T>) => void;

const DONE: IteratorResult<never> = Object.freeze({ value: undefined, done: true }) as IteratorResult<never>;

/**
 * One subscriber of a {@link PubSub}: an async iterator of the items
 * published while it is subscribed, from a bounded buffer of its own.
 * `break` (or `return()`, `unsubscribe()`, its `signal`) unsubscribes; when
 * the PubSub closes, it ends after its buffer.
 */
export class Subscription<T> implements AsyncIterableIterator<T> {
  readonly #owner: PubSub<T>;
  readonly #buffer = new Ring<T>();
  readonly #readers: Reader<T>[] = [];
  /** @internal */
  readonly capacity: number;
  /** @internal */
  readonly blocks: boolean;
  readonly #dropOldest: boolean;
  #received = 0;
  #delivered = 0;
  #dropped = 0;
  /** Unsubscribed (nothing more comes), or ended by the PubSub's close (after its buffer). */
  #left = false;
  #ended = false;
  #forgetSignal: () => void = () => {};

  /** @internal */
  constructor(owner: PubSub<T>, capacity: number, overflow: PubSubOverflow, signal: AbortSignal | undefined) {
    this.#owner = owner;
    this.capacity = capacity;
    this.blocks = overflow === 'block';
    this.#dropOldest = overflow === 'drop-oldest';
    if (signal !== undefined) this.#forgetSignal = whenAborted(signal, () => this.unsubscribe());
  }

  /** Items its reader took. */
  get delivered(): number {
    return this.#delivered;
  }

  /** Items dropped by its overflow policy, or left unread when it unsubscribed. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Items waiting in its buffer. */
  get buffered(): number {
    return this.#buffer.size;
  }

  /** Whether it is subscribed (not unsubscribed, and not ended). */
  get isSubscribed(): boolean {
    return !this.#left && !this.#ended;
  }

  /** Its counters; see {@link SubscriptionStats}. */
  get stats(): SubscriptionStats {
    return { received: this.#received, delivered: this.#delivered, dropped: this.#dropped, buffered: this.#buffer.size };
  }

  /** @internal Whether a `'block'` subscriber has room for one more. */
  hasRoom(): boolean {
    return this.#readers.length > 0 || this.#buffer.size < this.capacity;
  }

  /** @internal An item published to it: handed to a waiting reader, buffered, or dropped by its policy. */
  offer(item: T): void {
    this.#received++;
    const reader = this.#readers.shift();
    if (reader !== undefined) {
      this.#delivered++;
      reader({ value: item, done: false });
      return;
    }
    // A 'block' subscriber is offered an item only when it has room, but for its replay: it keeps them all.
    if (this.#buffer.size < this.capacity || this.blocks) this.#buffer.push(item);
    else if (this.#dropOldest) {
      this.#buffer.shift();
      this.#buffer.push(item);
      this.#dropped++;
    } else this.#dropped++; // drop-newest
  }

  /** @internal The PubSub closed: end after the buffer. */
  end(): void {
    this.#ended = true;
    this.#forgetSignal();
    for (const reader of this.#readers.splice(0)) reader(DONE);
  }

  /** The next item; waits for one. Done once unsubscribed, or once the PubSub closed and the buffer is empty. */
  next(): Promise<IteratorResult<T>> {
    if (this.#buffer.size > 0) {
      const value = this.#buffer.shift() as T;
      this.#delivered++;
      // Room again: publishes waiting on this subscriber may go on.
      if (this.blocks) this.#owner.roomMade();
      return Promise.resolve({ value, done: false });
    }
    if (this.#left || this.#ended) return Promise.resolve(DONE);
    return new Promise<IteratorResult<T>>((resolve) => {
      this.#readers.push(resolve);
      if (this.blocks) this.#owner.roomMade();
    });
  }

  /** Unsubscribes (as `break` in a `for await` does). */
  return(): Promise<IteratorResult<T>> {
    this.unsubscribe();
    return Promise.resolve(DONE);
  }

  /**
   * Leaves the PubSub: nothing more is delivered; what was buffered is
   * dropped (counted in `dropped`); a waiting `next()` ends. Idempotent.
   */
  unsubscribe(): void {
    if (this.#left) return;
    this.#left = true;
    this.#forgetSignal();
    this.#dropped += this.#buffer.size;
    this.#buffer.drain();
    for (const reader of this.#readers.splice(0)) reader(DONE);
    this.#owner.left(this);
  }

  /** The subscription itself: `for await (const item of subscription)`. */
  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}

/** A publish waiting for room in a `'block'` subscriber. */
interface Pending<T> {
  readonly item: T;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

const RESOLVED: Promise<void> = /* @__PURE__ */ Promise.resolve();

/**
 * Publish/subscribe with per-subscriber backpressure (RabbitMQ's fanout
 * exchange, ZeroMQ PUB/SUB with high-water marks, Effect's `PubSub`): every
 * item published goes to every subscriber, each through a bounded buffer of
 * its own. A subscriber with `overflow: 'block'` (the default) makes
 * `publish` wait while its buffer is full — the slowest such subscriber sets
 * the pace; `'drop-oldest'` and `'drop-newest'` subscribers never slow the
 * publisher and count what they drop. Unlike an EventEmitter's fanout,
 * nothing is pushed at a subscriber faster than it reads.
 *
 * Items are published in the order of the `publish` calls (a publish that
 * waits holds the ones after it). A subscriber sees the items published
 * while it is subscribed, in order, after its replay.
 *
 * @example
 * ```ts
 * const events = new PubSub<Event>({ replay: 100 });
 * const audit = events.subscribe(); // 'block': never misses one
 * const live = events.subscribe({ capacity: 10, overflow: 'drop-oldest' });
 * await events.publish(event); // waits while audit's buffer is full
 * for await (const e of audit) log(e);
 * ```
 */
export class PubSub<T> {
  readonly #subscriptions = new Set<Subscription<T>>();
  /** Subscriptions with `overflow: 'block'`: the ones a publish may wait for. */
  readonly #blocking = new Set<Subscription<T>>();
  readonly #pending = new Ring<Pending<T>>();
  readonly #replayCapacity: number;
  readonly #history: Ring<T> | undefined;
  #published = 0;
  #closed = false;

  /**
   * @param options - see {@link PubSubOptions}.
   * @throws TypeError or RangeError for a bad option, named as `PubSub: …`.
   */
  constructor(options?: PubSubOptions) {
    const o = v.options<PubSubOptions>(PART, options, PUBSUB_KEYS);
    this.#replayCapacity = v.number(PART, 'replay', o.replay, 'non-negative-integer', 0);
    this.#history = this.#replayCapacity > 0 ? new Ring<T>(this.#replayCapacity) : undefined;
  }

  /** Subscriptions now. */
  get subscribers(): number {
    return this.#subscriptions.size;
  }

  /** Items published (handed to the subscribers; not the publishes still waiting). */
  get published(): number {
    return this.#published;
  }

  /** Publishes waiting for room in a `'block'` subscriber. */
  get waiting(): number {
    return this.#pending.size;
  }

  /** Whether `close()` was called. */
  get isClosed(): boolean {
    return this.#closed;
  }

  /**
   * Publishes an item to every subscriber; resolves once it is in each one's
   * buffer (or handed to its reader, or dropped by its policy): at once,
   * unless a `'block'` subscriber is full, or earlier publishes wait.
   * @param item - the item.
   * @throws (rejects) `QueueClosedError` after `close()`, or when `close()`
   *   is called while it waits (the item was not published).
   */
  publish(item: T): Promise<void> {
    if (this.#closed) return Promise.reject(new QueueClosedError(`${PART}: closed`));
    if (this.#pending.size === 0 && this.#roomInAll()) {
      this.#deliver(item);
      return RESOLVED;
    }
    return new Promise<void>((resolve, reject) => this.#pending.push({ item, resolve, reject }));
  }

  /**
   * Publishes an item if no `'block'` subscriber is full and no publish
   * waits; otherwise publishes nothing.
   * @param item - the item.
   * @returns whether it was published.
   * @throws QueueClosedError after `close()`.
   */
  tryPublish(item: T): boolean {
    if (this.#closed) throw new QueueClosedError(`${PART}: closed`);
    if (this.#pending.size > 0 || !this.#roomInAll()) return false;
    this.#deliver(item);
    return true;
  }

  /**
   * Subscribes: the subscription gets every item published from now on
   * (after the newest `replay` ones kept, when asked).
   * @param options - see {@link SubscribeOptions}.
   * @returns the subscription, an async iterator (`for await`; `break` unsubscribes).
   * @throws TypeError or RangeError for a bad option; RangeError for a
   *   `replay` above the PubSub's; QueueClosedError after `close()`.
   */
  subscribe(options?: SubscribeOptions): Subscription<T> {
    if (this.#closed) throw new QueueClosedError(`${PART}: closed`);
    const o = v.options<SubscribeOptions>(PART, options, SUBSCRIBE_KEYS);
    const capacity = v.number(PART, 'capacity', o.capacity, 'positive-integer-or-infinity', 1_000);
    const overflow = v.choice(PART, 'overflow', o.overflow, ['block', 'drop-oldest', 'drop-newest'] as const, 'block');
    const replay = v.number(PART, 'replay', o.replay, 'non-negative-integer', 0);
    if (replay > this.#replayCapacity) {
      throw new RangeError(`${PART}: replay must be at most the PubSub's replay (${this.#replayCapacity}), got ${replay}`);
    }
    const signal = v.signal(PART, 'signal', o.signal);
    const subscription = new Subscription<T>(this, capacity, overflow, signal);
    if (signal?.aborted) return subscription;
    if (replay > 0 && this.#history !== undefined) {
      const kept = [...this.#history];
      for (const item of kept.slice(Math.max(kept.length - replay, 0))) subscription.offer(item);
    }
    this.#subscriptions.add(subscription);
    if (subscription.blocks) this.#blocking.add(subscription);
    return subscription;
  }

  /**
   * Closes: no more publishes or subscriptions; each subscription ends once
   * its reader has taken what it holds. Publishes still waiting reject with
   * `QueueClosedError` (their items were not published). Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const pending of this.#pending.drain()) pending.reject(new QueueClosedError(`${PART}: closed while the publish waited`));
    for (const subscription of this.#subscriptions) subscription.end();
    this.#subscriptions.clear();
    this.#blocking.clear();
  }

  /** @internal A `'block'` subscriber made room: publishes that wait go on, in order, while every one has room. */
  roomMade(): void {
    while (this.#pending.size > 0 && this.#roomInAll()) {
      const { item, resolve } = this.#pending.shift()!;
      this.#deliver(item);
      resolve();
    }
  }

  /** @internal A subscription left. */
  left(subscription: Subscription<T>): void {
    this.#subscriptions.delete(subscription);
    if (this.#blocking.delete(subscription)) this.roomMade();
  }

  #roomInAll(): boolean {
    for (const subscription of this.#blocking) if (!subscription.hasRoom()) return false;
    return true;
  }

  #deliver(item: T): void {
    this.#published++;
    if (this.#history !== undefined) {
      if (this.#history.size === this.#replayCapacity) this.#history.shift();
      this.#history.push(item);
    }
    for (const subscription of this.#subscriptions) subscription.offer(item);
  }
}
