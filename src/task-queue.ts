import type { DeadLetterStore } from './dead-letter.js';
import type { DedupeStore } from './deduper.js';
import { isRejectError, QueueClosedError } from './errors.js';
import { untilAborted } from './internal/abort.js';
import * as v from './internal/validate.js';
import type { ConcurrencyLimit } from './limits/limit.js';
import { Queue } from './queue.js';
import { constructAs } from './queue/options.js';
import type {
  CloseOptions,
  CloseResult,
  FailedInfo,
  GroupKey,
  HandlerContext,
  PushOptions,
  QueueMetrics,
  QueueOptions,
} from './queue-types.js';

const PART = 'TaskQueue';

/** What a task gets: its attempt's `signal` (aborts on its time limit or `cancel`), the attempt number and the id. */
export type TaskContext = HandlerContext;

/** A task: a function of its {@link TaskContext}, returning its result or a promise of it. */
export type Task<R> = (context: TaskContext) => R | PromiseLike<R>;

/** One added task as its queue holds it: what its dead letter's entries and `close`'s `unprocessed` hold. */
export interface TaskCall {
  /** The function added. */
  readonly task: Task<unknown>;
}

/**
 * Options of a {@link TaskQueue}: a {@link Queue}'s, but for `handler` (each
 * task is its own) and `groupBy` (a task's group is given to `add`); `dedupe`
 * is a store keyed by each add's `id`.
 */
export interface TaskQueueOptions extends Omit<QueueOptions<TaskCall, unknown>, 'handler' | 'groupBy' | 'dedupe'> {
  /** Drops an add whose `id` was seen within the store's window (a `Deduper`). @default none */
  readonly dedupe?: DedupeStore;
}

/** Options of {@link TaskQueue.add}: a push's, and the task's message group. */
export interface AddOptions extends Omit<PushOptions, 'history'> {
  /** The task's message group: FIFO within it, at most `groupConcurrency` running at once. @default none */
  readonly group?: GroupKey;
}

/**
 * An added task. One added with no options runs as the queue's plain item (no
 * record): its `add` is settled by the queue's events (`completed`, `failed`
 * without a retry, `cancelled`) and by `clear`/`close` handing it back, so it
 * holds its own `resolve`/`reject`. One added with options is `submit`ted,
 * and the queue settles its `add` (they stay `undefined`).
 */
class Call implements TaskCall {
  resolve: ((value: unknown) => void) | undefined = undefined;
  reject: ((error: unknown) => void) | undefined = undefined;

  constructor(readonly task: Task<unknown>) {}
}

const CLOSE_KEYS = /* @__PURE__ */ v.knownKeys<CloseOptions>({ drain: true, signal: true });

const ADD_KEYS = /* @__PURE__ */ v.knownKeys<AddOptions>({
  priority: true,
  delayMs: true,
  ttlMs: true,
  id: true,
  timeoutMs: true,
  signal: true,
  group: true,
});

const TASK_QUEUE_KEYS = /* @__PURE__ */ v.knownKeys<TaskQueueOptions>({
  concurrency: true,
  classify: true,
  retryAfter: true,
  capacity: true,
  overflow: true,
  retry: true,
  deadLetter: true,
  visibilityTimeoutMs: true,
  ttlMs: true,
  groupConcurrency: true,
  groupRateLimit: true,
  dedupe: true,
  rateLimit: true,
  autoStart: true,
  metrics: true,
  name: true,
  clock: true,
});

const runCall = (call: TaskCall, context: HandlerContext): unknown => call.task(context);

/** What a task's add rejects with for a failure that ends it: as `submit` (a `RejectError`'s cause). */
const finalError = (error: unknown): unknown => (isRejectError(error) && error.cause !== undefined ? error.cause : error);

/**
 * A queue of functions, as p-queue's: `add(() => fetch(url))` resolves with
 * that call's result, typed per call. It is a {@link Queue} underneath, with
 * all its options and guarantees — concurrency, priorities, delays, per-task
 * `timeoutMs`, retries with backoff, a dead letter, message groups, rate
 * limits, `cancel`, `clear`, `close` — and the same books:
 * `stats.accepted = completed + deadLettered + returned + cancelled + waiting + inFlight`.
 *
 * Differences from p-queue: a task that fails rejects its `add` and is
 * dead-lettered (`taskQueue.deadLetter`), and with `retry` it is retried
 * first; `add` resolves with the result, never `undefined` for a task that
 * was cleared (it rejects with `QueueClosedError`) or cancelled (with the reason).
 *
 * @example
 * ```ts
 * const tasks = new TaskQueue({ concurrency: 4, rateLimit: { ratePerSecond: 10 } });
 * const page = await tasks.add(({ signal }) => fetch(url, { signal }).then((r) => r.text()), { timeoutMs: 5_000 });
 * ```
 */
export class TaskQueue {
  readonly #queue: Queue<TaskCall, unknown>;
  /** Whether an add with no options may run as a plain item (see Call): no TTL, dedupe or dropping overflow. */
  readonly #lane: boolean;

  /**
   * @param options - see {@link TaskQueueOptions}; all optional.
   * @throws TypeError or RangeError for a bad option, named as `TaskQueue: …`.
   */
  constructor(options?: TaskQueueOptions) {
    const o = v.options<TaskQueueOptions>(PART, options, TASK_QUEUE_KEYS);
    const queue = constructAs(PART, () => new Queue<TaskCall, unknown>({ ...o, handler: runCall }));
    this.#queue = queue;
    this.#lane =
      o.ttlMs === undefined && o.dedupe === undefined && (o.overflow === undefined || o.overflow === 'block' || o.overflow === 'reject');
    if (this.#lane) {
      // sluice's own listeners: they do not make the queue time every task (a user's would).
      queue.listenUntimed('completed', (call: TaskCall, result: unknown) => (call as Call).resolve?.(result));
      queue.listenUntimed('failed', (call: TaskCall, error: unknown, info: FailedInfo) => {
        if (!info.willRetry) (call as Call).reject?.(finalError(error));
      });
      queue.listenUntimed('cancelled', (call: TaskCall, reason: unknown) => (call as Call).reject?.(reason));
    }
  }

  /**
   * Adds a task; resolves with its result.
   * @param task - called with its {@link TaskContext} when its turn comes (again, if it is retried).
   * @param options - see {@link AddOptions}.
   * @returns the task's result.
   * @throws (rejects) the task's error once it is dead-lettered (after its retries; a `RejectError`'s
   *   cause); the `cancel` reason or `signal.reason` when cancelled; `QueueClosedError` after `close()`
   *   or when handed back by `clear()`; `QueueFullError` (`overflow: 'reject'` or a drop);
   *   `TimeoutError` when its `ttlMs` ran out before it started; TypeError or RangeError for bad arguments.
   */
  add<R>(task: Task<R>, options?: AddOptions): Promise<R> {
    let push: PushOptions | undefined;
    try {
      v.requiredFn(PART, 'task', task);
      if (options !== undefined) push = v.options<AddOptions>(PART, options, ADD_KEYS);
    } catch (error) {
      return Promise.reject(error);
    }
    const call = new Call(task as Task<unknown>);
    if (push !== undefined || !this.#lane) return this.#queue.submit(call, push) as Promise<R>;
    return new Promise<R>((resolve, reject) => {
      call.resolve = resolve as (value: unknown) => void;
      call.reject = reject;
      try {
        if (this.#queue.tryPush(call) === undefined) this.#queue.push(call).catch(reject); // no room yet: wait for it
      } catch (error) {
        reject(error); // closed, or full with overflow 'reject'
      }
    });
  }

  /**
   * Adds every task (all at once, as p-queue's `addAll`); resolves with their results in order.
   * @param tasks - the tasks.
   * @param options - applied to each.
   * @returns the results, in the tasks' order.
   * @throws (rejects) the first failure, as `Promise.all`; the other tasks still run to their end.
   */
  addAll<R>(tasks: Iterable<Task<R>>, options?: AddOptions): Promise<R[]> {
    try {
      v.iterable(PART, 'tasks', tasks);
    } catch (error) {
      return Promise.reject(error);
    }
    return Promise.all(Array.from(tasks as Iterable<Task<R>>, (task) => this.add(task, options)));
  }

  /**
   * The Queue underneath, for `sluice/otel`'s `instrument` (a method with a
   * plain name: a computed key would be a side effect of the class, and keep
   * TaskQueue in every bundle).
   * @internal
   */
  queueUnderneath(): Queue<TaskCall, unknown> {
    return this.#queue;
  }

  /** Tasks waiting (delayed and retry-pending included), as p-queue's `size`. */
  get size(): number {
    return this.#queue.size;
  }

  /** Tasks running, as p-queue's `pending`. */
  get pending(): number {
    return this.#queue.inFlight;
  }

  /** Tasks at once (live, as p-queue's): see {@link Queue.concurrency}. */
  get concurrency(): number {
    return this.#queue.concurrency;
  }

  /** Sets it (live): a number, or a {@link ConcurrencyLimit} to follow; see {@link Queue.concurrency}. @throws TypeError or RangeError for a bad value. */
  set concurrency(value: number | ConcurrencyLimit) {
    try {
      this.#queue.concurrency = value;
    } catch (error) {
      throw rename(error);
    }
  }

  /** The figures over the metrics window, as {@link Queue.metrics} (a task's wait and run times). @throws TypeError without the `metrics` option. */
  metrics(): QueueMetrics {
    try {
      return this.#queue.metrics();
    } catch (error) {
      throw rename(error);
    }
  }

  /** Holds every start for `ms`, as {@link Queue.pauseFor}. @throws TypeError or RangeError for a bad `ms`. */
  pauseFor(ms: number): void {
    try {
      this.#queue.pauseFor(ms);
    } catch (error) {
      throw rename(error);
    }
  }

  /** The counters, as {@link Queue.stats}. */
  get stats() {
    return this.#queue.stats;
  }

  /** Where tasks that failed for good went, with why (the queue's own unless one was given). */
  get deadLetter(): DeadLetterStore<TaskCall> {
    return this.#queue.deadLetter;
  }

  /** Whether it is paused (`pause()`, or `autoStart: false` before `resume()`). */
  get isPaused(): boolean {
    return this.#queue.isPaused;
  }

  /** Stops starting tasks; running ones go on (p-queue's `pause`). */
  pause(): void {
    this.#queue.pause();
  }

  /** Starts tasks again (p-queue's `start`). */
  resume(): void {
    this.#queue.resume();
  }

  /** Cancels a task by its `id` (the add's `id` option): see {@link Queue.cancel}. */
  cancel(id: string, reason?: unknown): boolean {
    try {
      return this.#queue.cancel(id, reason);
    } catch (error) {
      throw rename(error);
    }
  }

  /** Hands back every waiting task without closing (their `add`s reject with `QueueClosedError`): see {@link Queue.clear}. */
  clear(): void {
    for (const call of this.#queue.clear()) (call as Call).reject?.(new QueueClosedError(`${PART}: task was handed back by clear()`));
  }

  /** Resolves when nothing waits and nothing runs (p-queue's `onIdle`). */
  onIdle(): Promise<void> {
    return this.#queue.onIdle();
  }

  /** Resolves when nothing waits; tasks may still run (p-queue's `onEmpty`). */
  onEmpty(): Promise<void> {
    return this.#queue.onEmpty();
  }

  /** Resolves when fewer than `limit` tasks wait (p-queue's `onSizeLessThan`). */
  onSizeBelow(limit: number): Promise<void> {
    return this.#queue.onSizeBelow(limit).catch((error: unknown) => Promise.reject(rename(error)));
  }

  /**
   * Stops taking tasks; with `drain` (the default) resolves once every task
   * ended, otherwise hands back the waiting ones: see {@link Queue.close}.
   */
  close(options?: CloseOptions): Promise<CloseResult<TaskCall>> {
    let signal: AbortSignal | undefined;
    let rest: CloseOptions;
    try {
      const o = v.options<CloseOptions>(PART, options, CLOSE_KEYS);
      signal = v.signal(PART, 'signal', o.signal);
      rest = o.drain === undefined ? {} : { drain: o.drain };
    } catch (error) {
      return Promise.reject(error);
    }
    // The close goes on to its end whatever `signal` does, so every task handed back settles its add.
    const closing = this.#queue.close(rest).then(
      (result) => {
        for (const call of result.unprocessed) {
          (call as Call).reject?.(new QueueClosedError(`${PART}: closed; task was handed back by close({ drain: false })`));
        }
        return result;
      },
      (error: unknown) => Promise.reject(rename(error)),
    );
    return untilAborted(closing, signal);
  }
}

/** A Queue's own validation error (`Queue: …`), named for the TaskQueue the user called; anything else as it is. */
function rename(error: unknown): unknown {
  if (!(error instanceof TypeError || error instanceof RangeError) || !error.message.startsWith('Queue: ')) return error;
  const message = `${PART}: ${error.message.slice('Queue: '.length)}`;
  return error instanceof RangeError ? new RangeError(message) : new TypeError(message);
}

/** What {@link wrap} returns: the limited function, and the queue its calls run in. */
export type Wrapped<A extends unknown[], R> = ((...args: A) => Promise<Awaited<R>>) & {
  /** The TaskQueue the calls run in (for `onIdle`, `stats`, `concurrency`). */
  readonly queue: TaskQueue;
};

/**
 * Makes a limited function: each call runs `fn` as a task of a queue, so at
 * most `concurrency` run at once, at the rate limit, retried as configured
 * (bottleneck's `wrap`, p-limit's `limit(fn)`).
 * @param fn - the function to limit.
 * @param queue - the {@link TaskQueue} to run calls in, or options for a new one.
 * @returns a function with `fn`'s parameters, resolving with its result; its
 *   `queue` property is the TaskQueue (for `onIdle`, `stats`, `concurrency`).
 * @throws TypeError or RangeError for bad arguments.
 * @example
 * ```ts
 * const fetchLimited = wrap((url: string) => fetch(url), { concurrency: 2 });
 * const responses = await Promise.all(urls.map((u) => fetchLimited(u)));
 * ```
 */
export function wrap<A extends unknown[], R>(fn: (...args: A) => R | PromiseLike<R>, queue?: TaskQueue | TaskQueueOptions): Wrapped<A, R> {
  v.requiredFn('wrap', 'fn', fn);
  const tasks = queue instanceof TaskQueue ? queue : new TaskQueue(queue);
  const limited = (...args: A): Promise<Awaited<R>> => tasks.add(() => fn(...args)) as Promise<Awaited<R>>;
  return Object.assign(limited, { queue: tasks });
}
