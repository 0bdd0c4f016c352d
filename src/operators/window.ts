import { type Clock, systemClock } from '../clock.js';
import type { DeadLetterStore } from '../dead-letter.js';
import { toDeadLetterStore } from '../internal/inputs.js';
import { IndexedHeap } from '../internal/indexed-heap.js';
import { closeQuietly } from '../internal/iterators.js';
import { Ring } from '../internal/ring.js';
import * as v from '../internal/validate.js';
import { type Operator, toAsyncIterator } from './source.js';

const PART = 'window';
const WINDOW_KEYS = /* @__PURE__ */ v.knownKeys<WindowOptions<unknown, unknown>>({
  kind: true,
  sizeMs: true,
  stepMs: true,
  gapMs: true,
  key: true,
  timestamp: true,
  allowedLatenessMs: true,
  initial: true,
  reduce: true,
  onLate: true,
  deadLetter: true,
  clock: true,
});

/** A window's key (the `key` option's result; `undefined` without it). */
export type WindowKey = string | number | undefined;

/**
 * Options of {@link window}. Times are ms: event time from `timestamp`, or
 * processing time (the clock's, when an item arrives) without it.
 */
export interface WindowOptions<T, A> {
  /**
   * `'tumbling'`: fixed windows of `sizeMs`, back to back; `'hopping'`:
   * windows of `sizeMs` starting every `stepMs` (an item is in each window
   * that covers it); `'session'`: a key's items less than `gapMs` apart
   * (Flink's and Kafka Streams' windows). Tumbling and hopping windows are
   * aligned to time 0: `[k × step, k × step + size)`.
   */
  readonly kind: 'tumbling' | 'hopping' | 'session';
  /** Length of a tumbling or hopping window, ms (a positive number). */
  readonly sizeMs?: number;
  /** Advance of a hopping window, ms: positive, at most `sizeMs`. */
  readonly stepMs?: number;
  /** A session ends once no item of its key came for this long, ms (a positive number). */
  readonly gapMs?: number;
  /** The item's key: windows are per key. @default none: one set of windows */
  readonly key?: (item: T) => WindowKey;
  /**
   * The item's event time, ms. With it, windows close as the watermark
   * (the largest event time seen − `allowedLatenessMs`) passes their end,
   * and at the end of the source; without it, as the clock passes their
   * end (one timer for every open window), so a window closes while the
   * source is idle.
   */
  readonly timestamp?: (item: T) => number;
  /** How far behind the largest event time an item may be and still count, ms (event time only). @default 0 */
  readonly allowedLatenessMs?: number;
  /** A window's first accumulator (with `reduce`). @default none: a window collects its items in an array */
  readonly initial?: () => A;
  /** Folds an item into its window's accumulator (with `initial`). */
  readonly reduce?: (accumulator: A, item: T) => A;
  /**
   * Called with an item that came too late: every window it belongs to has
   * closed (its event time is below the watermark's window ends).
   */
  readonly onLate?: (item: T, info: LateInfo) => void;
  /**
   * Where late items go (reason `'expired'`, source `'window'`), with or
   * without `onLate`. Without either, a late item fails the iteration with
   * a RangeError: never silently dropped.
   */
  readonly deadLetter?: DeadLetterStore<T>;
  /** Source of processing time and of the timer. @default systemClock */
  readonly clock?: Clock;
}

/** What {@link WindowOptions.onLate} is told about a late item. */
export interface LateInfo {
  /** The item's key. */
  readonly key: WindowKey;
  /** The item's event time, ms. */
  readonly timestamp: number;
  /** The watermark when it came, ms. */
  readonly watermark: number;
}

/** A closed window, as {@link window} yields it. */
export interface WindowResult<A> {
  /** The key of its items. */
  readonly key: WindowKey;
  /** Its start, ms (inclusive). */
  readonly start: number;
  /** Its end, ms (exclusive; for a session, its last item's time + `gapMs`). */
  readonly end: number;
  /** The accumulator (`reduce`), or the items in arrival order. */
  readonly value: A;
  /** Items in it. */
  readonly count: number;
}

/** An open window. */
interface Win<A, T> {
  index: number;
  readonly key: WindowKey;
  start: number;
  end: number;
  acc: A;
  /** A session's items (reduced when it closes: sessions merge). */
  items: T[] | undefined;
  count: number;
}

/**
 * Groups a stream into time windows — tumbling, hopping or session, keyed,
 * in event time with a watermark or in processing time (Flink, Kafka
 * Streams) — and yields each window when it closes: `{ key, start, end,
 * value, count }`, the value being `reduce`'s accumulator or the items.
 * Windows close in order of their end (then start, then key order of first
 * sight). The source's end closes every open window. A late item (event
 * time: all its windows closed) goes to `onLate` and/or `deadLetter`, or
 * fails the iteration: it is never silently dropped.
 *
 * Import it under another name in browser code, where `window` is a global:
 * `import { window as windowed } from 'sluice'`.
 *
 * @example
 * ```ts
 * // Deliveries per event type per minute, in event time, 5 s of lateness allowed.
 * for await (const w of pipe(deliveries, window({ kind: 'tumbling', sizeMs: 60_000, key: (d) => d.event,
 *   timestamp: (d) => d.at, allowedLatenessMs: 5_000, initial: () => 0, reduce: (n) => n + 1 }))) {
 *   console.log(w.key, new Date(w.start), w.value);
 * }
 * ```
 * @param options - see {@link WindowOptions}.
 * @returns an operator yielding {@link WindowResult}s.
 * @throws TypeError or RangeError for bad options (at the call). Iteration
 *   rejects with a RangeError for a late item with neither `onLate` nor
 *   `deadLetter`, a non-finite timestamp, or the error of `key`,
 *   `timestamp`, `reduce` or `onLate`.
 */
export function window<T, A = T[]>(options: WindowOptions<T, A>): Operator<T, WindowResult<A>> {
  const o = v.options<WindowOptions<T, A>>(PART, options, WINDOW_KEYS);
  if (o.kind === undefined) throw new TypeError(`${PART}: kind must be one of 'tumbling', 'hopping', 'session', got undefined`);
  const kind = v.choice(PART, 'kind', o.kind, ['tumbling', 'hopping', 'session'] as const, 'tumbling');
  const session = kind === 'session';
  const need = (name: 'sizeMs' | 'gapMs', value: unknown): number => {
    if (value === undefined) throw new TypeError(`${PART}: ${name} is required for ${kind} windows, got undefined`);
    return v.number(PART, name, value, 'positive', 1);
  };
  const forbid = (name: string, value: unknown): void => {
    if (value !== undefined) throw new TypeError(`${PART}: ${name} does not apply to ${kind} windows, got ${v.show(value)}`);
  };
  const sizeMs = session ? 0 : need('sizeMs', o.sizeMs);
  const gapMs = session ? need('gapMs', o.gapMs) : 0;
  if (session) forbid('sizeMs', o.sizeMs);
  else forbid('gapMs', o.gapMs);
  let stepMs = sizeMs;
  if (kind === 'hopping') {
    if (o.stepMs === undefined) throw new TypeError(`${PART}: stepMs is required for hopping windows, got undefined`);
    stepMs = v.atMost(PART, 'stepMs', v.number(PART, 'stepMs', o.stepMs, 'positive', 1), sizeMs, 'sizeMs');
  } else forbid('stepMs', o.stepMs);
  const keyOf = v.fn<(item: T) => WindowKey>(PART, 'key', o.key);
  const timestampOf = v.fn<(item: T) => number>(PART, 'timestamp', o.timestamp);
  const lateness = v.number(PART, 'allowedLatenessMs', o.allowedLatenessMs, 'non-negative', 0);
  if (timestampOf === undefined && o.allowedLatenessMs !== undefined) {
    throw new TypeError(`${PART}: allowedLatenessMs needs timestamp (event time), got ${v.show(o.allowedLatenessMs)}`);
  }
  const initial = v.fn<() => A>(PART, 'initial', o.initial);
  const reduce = v.fn<(accumulator: A, item: T) => A>(PART, 'reduce', o.reduce);
  if ((initial === undefined) !== (reduce === undefined)) {
    throw new TypeError(`${PART}: initial and reduce go together, got only ${initial === undefined ? 'reduce' : 'initial'}`);
  }
  const onLate = v.fn<(item: T, info: LateInfo) => void>(PART, 'onLate', o.onLate);
  const deadLetter = toDeadLetterStore<T>(PART, o.deadLetter);
  const clock = v.clock<Clock>(PART, o.clock, systemClock);
  const config: Config<T, A> = { session, sizeMs, stepMs, gapMs, keyOf, timestampOf, lateness, initial, reduce, onLate, deadLetter, clock };
  return (source) => new WindowIterator(source, config);
}

interface Config<T, A> {
  readonly session: boolean;
  readonly sizeMs: number;
  readonly stepMs: number;
  readonly gapMs: number;
  readonly keyOf: ((item: T) => WindowKey) | undefined;
  readonly timestampOf: ((item: T) => number) | undefined;
  readonly lateness: number;
  readonly initial: (() => A) | undefined;
  readonly reduce: ((accumulator: A, item: T) => A) | undefined;
  readonly onLate: ((item: T, info: LateInfo) => void) | undefined;
  readonly deadLetter: DeadLetterStore<T> | undefined;
  readonly clock: Clock;
}

/** The windows of one run of the operator, and how they close. */
class Windows<T, A> {
  /** Open windows by end (then start, then creation). */
  readonly #byEnd: IndexedHeap<Win<A, T> & { seq: number }>;
  /** Open tumbling/hopping windows by key, then start; open sessions by key. */
  readonly #open = new Map<WindowKey, Map<number, Win<A, T>>>();
  readonly #sessions = new Map<WindowKey, (Win<A, T> & { seq: number })[]>();
  readonly closed = new Ring<WindowResult<A>>();
  /** The largest event time seen − allowed lateness (event time), or the clock (processing time). */
  watermark = Number.NEGATIVE_INFINITY;
  #maxTime = Number.NEGATIVE_INFINITY;
  #seq = 0;
  /** Called when a shared dead letter refuses a late item, after the fact. */
  onStoreFailure: (error: unknown) => void = () => {};
  /** The last window an item went to (tumbling): the next item most likely goes there too. */
  #last: Win<A, T> | undefined;

  constructor(readonly c: Config<T, A>) {
    this.#byEnd = new IndexedHeap(
      (a, b) => a.end < b.end || (a.end === b.end && (a.start < b.start || (a.start === b.start && a.seq < b.seq))),
    );
  }

  /** The end of the window that closes first, or `undefined` when none is open. */
  get nextEnd(): number | undefined {
    return this.#byEnd.peek()?.end;
  }

  /** Takes an item: into its windows, or reported late. `now`: processing time (ignored in event time). */
  add(item: T, now: number): void {
    const c = this.c;
    const key = c.keyOf === undefined ? undefined : c.keyOf(item);
    let time: number;
    if (c.timestampOf !== undefined) {
      time = c.timestampOf(item);
      if (typeof time !== 'number' || !Number.isFinite(time)) {
        throw new RangeError(`${PART}: timestamp must give a finite number of ms, got ${v.show(time)}`);
      }
      if (time > this.#maxTime) this.#maxTime = time;
    } else time = now;
    if (c.session) this.#addToSession(item, key, time);
    else this.#addToWindows(item, key, time);
    if (c.timestampOf !== undefined) this.advance(this.#maxTime - c.lateness);
  }

  /** The watermark is `to`: every window that ends by then closes. */
  advance(to: number): void {
    if (to > this.watermark) this.watermark = to;
    for (let w = this.#byEnd.peek(); w !== undefined && w.end <= this.watermark; w = this.#byEnd.peek()) this.#close(w);
  }

  /** Closes every open window (the source ended). */
  flush(): void {
    for (let w = this.#byEnd.peek(); w !== undefined; w = this.#byEnd.peek()) this.#close(w);
  }

  #late(item: T, key: WindowKey, time: number): void {
    const c = this.c;
    const info: LateInfo = { key, timestamp: time, watermark: this.watermark };
    if (c.onLate === undefined && c.deadLetter === undefined) {
      throw new RangeError(
        `${PART}: an item came late (event time ${time}, watermark ${this.watermark}): give onLate or deadLetter to take late items, or a larger allowedLatenessMs`,
      );
    }
    c.onLate?.(item, info);
    if (c.deadLetter !== undefined) {
      // A store that refuses (now, or later for a shared one) fails the iteration: the item is stored nowhere.
      const stored = c.deadLetter.add({
        item,
        reason: 'expired',
        source: PART,
        error: new RangeError(`${PART}: late by ${this.watermark - time} ms`),
      });
      if (typeof (stored as PromiseLike<unknown>).then === 'function')
        (stored as PromiseLike<unknown>).then(undefined, this.onStoreFailure);
    }
  }

  #addToWindows(item: T, key: WindowKey, time: number): void {
    const { sizeMs, stepMs } = this.c;
    const last = this.#last;
    // The common case: the same window as the item before.
    if (last !== undefined && sizeMs === stepMs && last.key === key && time >= last.start && time < last.end && last.index >= 0) {
      this.#fold(last, item);
      return;
    }
    // Windows [k × step, k × step + size) that hold `time`: k from ⌊(time − size) / step⌋ + 1 to ⌊time / step⌋.
    const lastK = Math.floor(time / stepMs);
    const firstK = Math.floor((time - sizeMs) / stepMs) + 1;
    let placed = false;
    for (let k = firstK; k <= lastK; k++) {
      const start = k * stepMs;
      const end = start + sizeMs;
      if (end <= this.watermark) continue; // closed already
      let byStart = this.#open.get(key);
      if (byStart === undefined) {
        byStart = new Map();
        this.#open.set(key, byStart);
      }
      let w = byStart.get(start);
      if (w === undefined) {
        const made = { index: -1, key, start, end, acc: this.#initial(), items: undefined, count: 0, seq: this.#seq++ };
        byStart.set(start, made);
        this.#byEnd.push(made);
        w = made;
      }
      this.#fold(w, item);
      this.#last = w;
      placed = true;
    }
    if (!placed) this.#late(item, key, time);
  }

  #addToSession(item: T, key: WindowKey, time: number): void {
    const gap = this.c.gapMs;
    if (time + gap <= this.watermark) {
      this.#late(item, key, time);
      return;
    }
    let sessions = this.#sessions.get(key);
    if (sessions === undefined) {
      sessions = [];
      this.#sessions.set(key, sessions);
    }
    // Every open session of the key that [time, time + gap) touches merges with it.
    let start = time;
    let end = time + gap;
    let items: T[] = [item];
    let count = 1;
    let seq = this.#seq++;
    for (let i = sessions.length - 1; i >= 0; i--) {
      const s = sessions[i]!;
      if (s.start < end && time < s.end) {
        start = Math.min(start, s.start);
        end = Math.max(end, s.end);
        items = s.items!.concat(items);
        count += s.count;
        seq = Math.min(seq, s.seq);
        this.#byEnd.remove(s);
        sessions.splice(i, 1);
      }
    }
    const merged = { index: -1, key, start, end, acc: undefined as A, items, count, seq };
    sessions.push(merged);
    this.#byEnd.push(merged);
  }

  #initial(): A {
    return (this.c.initial === undefined ? [] : this.c.initial()) as A;
  }

  #fold(w: Win<A, T>, item: T): void {
    w.count++;
    const reduce = this.c.reduce;
    if (reduce === undefined) (w.acc as T[]).push(item);
    else w.acc = reduce(w.acc, item);
  }

  #close(w: Win<A, T> & { seq: number }): void {
    this.#byEnd.remove(w);
    let value = w.acc;
    if (this.c.session) {
      const sessions = this.#sessions.get(w.key)!;
      sessions.splice(sessions.indexOf(w), 1);
      if (sessions.length === 0) this.#sessions.delete(w.key);
      const { initial, reduce } = this.c;
      value = (reduce === undefined ? w.items : w.items!.reduce(reduce, initial!())) as A;
    } else {
      const byStart = this.#open.get(w.key)!;
      byStart.delete(w.start);
      if (byStart.size === 0) this.#open.delete(w.key);
    }
    this.closed.push({ key: w.key, start: w.start, end: w.end, value, count: w.count });
  }
}

/**
 * The iterator `window()` returns. It reads the source only while its
 * consumer waits for a window (one read at a time, each through a callback
 * made once: no promise per item but the source's own), and in processing
 * time one timer, for the window that closes first, hands the consumer the
 * windows that close while the source has nothing to give.
 */
class WindowIterator<T, A> implements AsyncIterableIterator<WindowResult<A>> {
  readonly #source: AsyncIterator<T>;
  readonly #windows: Windows<T, A>;
  readonly #c: Config<T, A>;
  readonly #processingTime: boolean;
  /** The consumer's waiting `next()`. */
  #resolve: ((result: IteratorResult<WindowResult<A>>) => void) | undefined;
  #reject: ((error: unknown) => void) | undefined;
  /** A source read is under way. */
  #reading = false;
  /** The source ended (every window flushed), failed, or the consumer stopped. */
  #finished = false;
  #failure: { error: unknown } | undefined;
  #timer: unknown;
  #timerDue = Number.POSITIVE_INFINITY;
  readonly #onItem = (result: IteratorResult<T>): void => this.#item(result);
  readonly #onError = (error: unknown): void => this.#fail(error);

  constructor(source: AsyncIterable<T> | Iterable<T>, c: Config<T, A>) {
    this.#source = toAsyncIterator(source);
    this.#windows = new Windows<T, A>(c);
    this.#c = c;
    this.#processingTime = c.timestampOf === undefined;
    this.#windows.onStoreFailure = (error) => this.#fail(error);
  }

  next(): Promise<IteratorResult<WindowResult<A>>> {
    const closed = this.#windows.closed;
    if (closed.size > 0) return Promise.resolve({ value: closed.shift()!, done: false });
    if (this.#failure !== undefined) {
      const { error } = this.#failure;
      this.#failure = undefined;
      return Promise.reject(error);
    }
    if (this.#finished) return Promise.resolve({ value: undefined, done: true });
    return new Promise<IteratorResult<WindowResult<A>>>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
      this.#read();
    });
  }

  return(): Promise<IteratorResult<WindowResult<A>>> {
    this.#stop();
    this.#windows.closed.drain();
    closeQuietly(this.#source);
    this.#answer();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<WindowResult<A>> {
    return this;
  }

  /** Reads the next item, unless a read is under way. */
  #read(): void {
    if (this.#reading || this.#finished) return;
    this.#reading = true;
    let next: Promise<IteratorResult<T>>;
    try {
      next = this.#source.next();
    } catch (error) {
      this.#reading = false;
      this.#fail(error);
      return;
    }
    next.then(this.#onItem, this.#onError);
  }

  #item(result: IteratorResult<T>): void {
    this.#reading = false;
    if (this.#finished) return;
    const windows = this.#windows;
    try {
      if (result.done) {
        this.#stop();
        windows.flush();
      } else if (this.#processingTime) {
        const now = this.#c.clock.now();
        windows.advance(now);
        windows.add(result.value, now);
        this.#arm(now);
      } else windows.add(result.value, 0);
    } catch (error) {
      this.#fail(error);
      return;
    }
    if (windows.closed.size > 0 || this.#finished) this.#answer();
    else if (this.#resolve !== undefined) this.#read();
  }

  #fail(error: unknown): void {
    this.#reading = false;
    if (this.#finished) return;
    this.#stop();
    closeQuietly(this.#source);
    // Windows that closed before the failure go first, then the error.
    this.#failure = { error };
    this.#answer();
  }

  /** Answers the consumer's waiting `next()`, if any, with what there is. */
  #answer(): void {
    const resolve = this.#resolve;
    const reject = this.#reject!;
    if (resolve === undefined) return;
    this.#resolve = undefined;
    this.#reject = undefined;
    const closed = this.#windows.closed;
    if (closed.size > 0) resolve({ value: closed.shift()!, done: false });
    else if (this.#failure !== undefined) {
      const { error } = this.#failure;
      this.#failure = undefined;
      reject(error);
    } else resolve({ value: undefined, done: true });
  }

  /** Processing time: one timer, for the window that closes first. */
  #arm(now: number): void {
    const due = this.#windows.nextEnd;
    if (due === undefined || due === this.#timerDue) return;
    const clock = this.#c.clock;
    if (this.#timer !== undefined) clock.clearTimeout(this.#timer);
    this.#timerDue = due;
    this.#timer = clock.setTimeout(() => this.#fire(), Math.max(due - now, 0));
  }

  #fire(): void {
    this.#timer = undefined;
    this.#timerDue = Number.POSITIVE_INFINITY;
    if (this.#finished) return;
    const now = this.#c.clock.now();
    this.#windows.advance(now);
    this.#arm(now);
    if (this.#windows.closed.size > 0) this.#answer();
  }

  #stop(): void {
    this.#finished = true;
    if (this.#timer !== undefined) this.#c.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
