import type { DedupeStore } from './deduper.js';
import * as v from './internal/validate.js';
import { Queue } from './queue.js';
import { constructAs } from './queue/options.js';
import type { CloseOptions, CloseResult, GroupKey, HandlerContext, PushOptions, QueueOptions } from './queue-types.js';

const PART = 'TaskQueue';

/** What a task gets: its attempt's `signal` (aborts on its time limit or `cancel`), the attempt number and the id. */
export type TaskContext = HandlerContext;

/** A task: a function of its {@link TaskContext}, returning its result or a promise of it. */
export type Task<R> = (context: TaskContext) => R | PromiseLike<R>;

/**
 * Options of a {@link TaskQueue}: a {@link Queue}'s, but for `handler` (each
 * task is its own) and `groupBy` (a task's group is given to `add`); `dedupe`
 * is a store keyed by each add's `id`.
 */
export interface TaskQueueOptions extends Omit<QueueOptions<Task<unknown>, unknown>, 'handler' | 'groupBy' | 'dedupe'> {
  /** Drops an add whose `id` was seen within the store's window (a `Deduper`). @default none */
  readonly dedupe?: DedupeStore;
}

/** Options of {@link TaskQueue.add}: a push's, and the task's message group. */
export interface AddOptions extends Omit<PushOptions, 'history'> {
  /** The task's message group: FIFO within it, at most `groupConcurrency` running at once. @default none */
  readonly group?: GroupKey;
}

/** Where a grouped task carries its group: the queue holds the task itself (its dead letter too), so a task added with a group is a function of its own that calls it. */
const GROUP = Symbol('sluice.group');

type Grouped = Task<unknown> & { readonly [GROUP]?: GroupKey };

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
  capacity: true,
  overflow: true,
  retry: true,
  deadLetter: true,
  visibilityTimeoutMs: true,
  ttlMs: true,
  groupConcurrency: true,
  dedupe: true,
  rateLimit: true,
  autoStart: true,
  name: true,
  clock: true,
});

const runTask = (task: Task<unknown>, context: HandlerContext): unknown => task(context);
const groupOf = (task: Grouped): GroupKey | undefined => task[GROUP];

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
  readonly #queue: Queue<Task<unknown>, unknown>;

  /**
   * @param options - see {@link TaskQueueOptions}; all optional.
   * @throws TypeError or RangeError for a bad option, named as `TaskQueue: …`.
   */
  constructor(options?: TaskQueueOptions) {
    const o = v.options<TaskQueueOptions>(PART, options, TASK_QUEUE_KEYS);
    this.#queue = constructAs(PART, () => new Queue<Task<unknown>, unknown>({ ...o, handler: runTask, groupBy: groupOf }));
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
    let item: Task<unknown> = task as Task<unknown>;
    let push: PushOptions | undefined;
    try {
      v.requiredFn(PART, 'task', task);
      if (options !== undefined) {
        const { group, ...rest } = v.options<AddOptions>(PART, options, ADD_KEYS);
        if (group !== undefined) {
          v.key(PART, 'group', group, false);
          item = Object.assign((context: TaskContext) => task(context), { [GROUP]: group });
        }
        push = rest;
      }
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#queue.submit(item, push) as Promise<R>;
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

  /** Sets it (live): see {@link Queue.concurrency}. @throws TypeError or RangeError for a bad value. */
  set concurrency(value: number) {
    try {
      this.#queue.concurrency = value;
    } catch (error) {
      throw rename(error);
    }
  }

  /** The counters, as {@link Queue.stats}. */
  get stats() {
    return this.#queue.stats;
  }

  /** Where tasks that failed for good went, with why (the queue's own unless one was given). */
  get deadLetter() {
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
    this.#queue.clear();
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
  close(options?: CloseOptions): Promise<CloseResult<Task<unknown>>> {
    return this.#queue.close(options).catch((error: unknown) => Promise.reject(rename(error)));
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
