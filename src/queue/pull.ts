import { LinkedList } from '../internal/linked-list.js';
import * as v from '../internal/validate.js';
import type { Delivery, NackOptions } from '../queue-types.js';
import type { Attempts } from './attempts.js';
import type { AttemptContext, Job } from './job.js';
import { PART } from './options.js';

const NACK_KEYS = /* @__PURE__ */ v.knownKeys<NackOptions>({ delayMs: true });

/** One `for await` over a pull-mode queue. */
export interface PullIterator<T, R> {
  done: boolean;
  /** Its deliveries not yet acked, nacked or lapsed. */
  readonly unacked: Set<Job<T, R>>;
  /** Its `next()` calls waiting for a delivery, in order. */
  readonly pending: ((result: IteratorResult<Delivery<T>>) => void)[];
}

/** What pull mode needs of its queue. */
export interface PullHost {
  /** Whether the queue is closed with nothing waiting or in flight: iteration is over. */
  isFinished(): boolean;
  /** Starts what can start: deliveries to waiting `next()` calls (see {@link PullMode.deliver}). */
  startWork(): void;
}

const DONE: IteratorResult<never> = Object.freeze({ value: undefined, done: true }) as IteratorResult<never>;

/**
 * Pull mode: the queue lends deliveries to `for await` loops, to be `ack`ed
 * or `nack`ed, as SQS's ReceiveMessage/DeleteMessage. Made when a queue is
 * first iterated; it owns the iterators and the `next()` calls waiting for
 * a delivery, and works on the queue only through {@link PullHost}.
 */
export class PullMode<T, R> {
  readonly #host: PullHost;
  /** Where a delivery's ack, nack or giving back is booked. */
  readonly #attempts: Attempts<T, R>;
  readonly #iterators = new Set<PullIterator<T, R>>();

  /** The unacked delivery of item `id`, or `undefined` (O(unacked): `cancel()`). */
  findUnacked(id: string): Job<T, R> | undefined {
    for (const state of this.#iterators) for (const job of state.unacked) if (job.id === id) return job;
    return undefined;
  }
  /** One entry per waiting `next()` call, in call order. */
  readonly #pullers = new LinkedList<PullIterator<T, R>>();

  constructor(host: PullHost, attempts: Attempts<T, R>) {
    this.#host = host;
    this.#attempts = attempts;
  }

  // A pull-mode queue has no handler, so nothing produces an R: an ack completes the item with `undefined` (what
  // 'completed' listeners and `submit` then get, as QueueEvents documents). A cancelled delivery is settled by its
  // ack or nack too (counted cancelled), but neither completed nor failed it.
  /** Completes the attempt `generation` of `job`; false when it is no longer current (or it was cancelled). */
  #ack(job: Job<T, R>, generation: number): boolean {
    const cancelled = job.cancelled;
    return this.#attempts.succeed(job, generation, undefined as R) && !cancelled;
  }

  /** Fails the attempt `generation` of `job` (`delayMs` instead of the backoff); false when no longer current (or cancelled). */
  #nack(job: Job<T, R>, generation: number, error: unknown, delayMs: number | undefined): boolean {
    const cancelled = job.cancelled;
    return this.#attempts.fail(job, generation, error, delayMs) && !cancelled;
  }

  /** Whether a `next()` call waits for a delivery. */
  get wanted(): boolean {
    return this.#pullers.size > 0;
  }

  /** Whether any iteration is still open. */
  get open(): boolean {
    return this.#iterators.size > 0;
  }

  /** A new iteration over the queue's deliveries. */
  iterator(): AsyncIterableIterator<Delivery<T>> {
    const state: PullIterator<T, R> = { done: false, unacked: new Set(), pending: [] };
    this.#iterators.add(state);
    const iterator: AsyncIterableIterator<Delivery<T>> = {
      next: () => {
        if (state.done) return Promise.resolve(DONE);
        if (this.#host.isFinished()) {
          this.end(state);
          return Promise.resolve(DONE);
        }
        return new Promise<IteratorResult<Delivery<T>>>((resolve) => {
          state.pending.push(resolve);
          this.#pullers.push(state);
          this.#host.startWork();
        });
      },
      return: () => {
        this.end(state);
        return Promise.resolve(DONE);
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  /** Hands a started attempt to the `next()` call that has waited longest (there must be one: see `wanted`). */
  deliver(job: Job<T, R>, generation: number, context: AttemptContext): void {
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
      ack: () => this.#ack(job, generation),
      nack: (error?: unknown, options?: NackOptions) => {
        const o = v.options<NackOptions>(PART, options, NACK_KEYS);
        const delayMs = v.number(PART, 'delayMs', o.delayMs, 'non-negative');
        const failure = error === undefined ? new Error(`${PART}: delivery of item ${job.id} was nacked`) : error;
        return this.#nack(job, generation, failure, delayMs);
      },
    };
    resolve({ value: delivery, done: false });
  }

  /** Ends one iteration (`break`, or the queue finished): its waiting calls end, its unacked deliveries are given back. */
  end(state: PullIterator<T, R>): void {
    if (state.done) return;
    state.done = true;
    this.#iterators.delete(state);
    this.#forget(state);
    // Given back newest first, each to the front: they wait again in the order they were delivered.
    const jobs = [...state.unacked].reverse();
    for (const job of jobs) this.#attempts.giveBack(job); // back to waiting, at the front, without using an attempt
    this.#host.startWork();
  }

  /**
   * The queue finished (closed and empty): every iteration's waiting calls end.
   * An iteration with deliveries still unacked stays open until they settle.
   */
  endAll(): void {
    for (const state of [...this.#iterators]) {
      if (state.unacked.size === 0) this.end(state);
      else this.#forget(state);
    }
  }

  /** Ends an iteration's waiting `next()` calls and takes them off the line. */
  #forget(state: PullIterator<T, R>): void {
    for (let node = this.#pullers.head; node; ) {
      const next = node.next;
      if (node.value === state) this.#pullers.remove(node);
      node = next;
    }
    for (const resolve of state.pending.splice(0)) resolve(DONE);
  }
}
