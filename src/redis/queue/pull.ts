import type { Delivery, HandlerContext, NackOptions } from '../../queue-types.js';
import * as v from '../../internal/validate.js';
import { PART } from './options.js';

/** What a pulled delivery reports back to its queue. @internal */
export interface PullHost {
  /** Remembers a nack's `delayMs` for the attempt `id:attempt` (used instead of the backoff). */
  nackDelay(key: string, delayMs: number): void;
  /** Stops taking items (the consumer left). */
  pause(): void;
}

/** The reason a delivery handed back unseen carries (its attempt does not count). @internal */
export const RELEASED: unique symbol = Symbol('released');

const NACK_KEYS = /* @__PURE__ */ v.knownKeys<NackOptions>({ delayMs: true });

/**
 * Pull mode: the queue's handler hands each attempt to the consumer as a
 * {@link Delivery} and settles when it is acked or nacked, so retries, the
 * dead letter, the visibility timeout and the counters work as with a
 * handler; the queue's concurrency bounds the deliveries out at once.
 * @internal
 */
export class Pull<T> {
  readonly #host: PullHost;
  readonly #buffer: { delivery: Delivery<T>; release: () => void }[] = [];
  #waiting: ((result: IteratorResult<Delivery<T>>) => void) | undefined;
  #done = false;

  constructor(host: PullHost) {
    this.#host = host;
  }

  /** The queue's handler in pull mode. */
  readonly handler = (item: T, context: HandlerContext): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (): boolean => {
        if (settled || context.signal.aborted) return false;
        settled = true;
        return true;
      };
      const delivery: Delivery<T> = {
        item,
        id: context.id,
        attempt: context.attempt,
        signal: context.signal,
        key: context.key,
        ack: () => {
          if (!settle()) return false;
          resolve();
          return true;
        },
        nack: (error?: unknown, options?: NackOptions) => {
          const o = v.options<NackOptions>(PART, options, NACK_KEYS, 'nack options');
          const delayMs = v.number(PART, 'nack options.delayMs', o.delayMs, 'non-negative', -1);
          if (!settle()) return false;
          if (delayMs >= 0) this.#host.nackDelay(`${context.id}:${context.attempt}`, delayMs);
          reject(error ?? new Error(`${PART}: nacked`));
          return true;
        },
      };
      const release = () => {
        if (settle()) reject(RELEASED);
      };
      if (this.#waiting !== undefined) {
        const waiting = this.#waiting;
        this.#waiting = undefined;
        waiting({ value: delivery, done: false });
      } else if (this.#done) release();
      else this.#buffer.push({ delivery, release });
    });

  /** Ends the iteration (the queue closed, or the consumer left): what was not handed out goes back unseen. */
  end(): void {
    if (this.#done) return;
    this.#done = true;
    for (const { release } of this.#buffer.splice(0)) release();
    this.#waiting?.({ value: undefined, done: true });
    this.#waiting = undefined;
  }

  iterator(): AsyncIterableIterator<Delivery<T>> {
    const it: AsyncIterableIterator<Delivery<T>> = {
      next: () => {
        const next = this.#buffer.shift();
        if (next !== undefined) return Promise.resolve({ value: next.delivery, done: false });
        if (this.#done) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          this.#waiting = resolve;
        });
      },
      return: () => {
        this.#host.pause();
        this.end();
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]: () => it,
    };
    return it;
  }
}
