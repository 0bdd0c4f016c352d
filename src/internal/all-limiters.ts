import type { Clock } from '../clock.js';
import type { AcquireOptions, RateLimiter } from '../token-bucket.js';
import { whenAborted } from './abort.js';
import * as v from './validate.js';

/** A limiter that can say how long until it would grant: what combining needs. */
type Timed = RateLimiter & { waitTime(cost?: number): number };

/**
 * Several rate limits at once (per second and per hour; global and per
 * endpoint): a grant takes `cost` from every one, and only when every one
 * grants now — no token is taken from one while another refuses, as a GCRA
 * reservation checked on each timeline before any is booked. A wait sleeps
 * until the slowest says it would grant, then checks them all again.
 */
export class AllLimiters implements RateLimiter {
  readonly #limiters: readonly Timed[];
  readonly #clock: Clock;

  /**
   * @throws TypeError when a limiter has no `waitTime(cost)` (it could not
   *   say whether it would grant without taking a token).
   */
  constructor(part: string, name: string, limiters: readonly RateLimiter[], clock: Clock) {
    limiters.forEach((limiter, i) => {
      if (typeof (limiter as Partial<Timed>).waitTime !== 'function') {
        throw new TypeError(
          `${part}: ${name}[${i}] cannot be combined with other limits: it has no waitTime(cost) to say whether it would grant (a TokenBucket has), got ${v.show(limiter)}`,
        );
      }
    });
    this.#limiters = limiters as readonly Timed[];
    this.#clock = clock;
  }

  /** The limiters, in the order given. */
  get limiters(): readonly RateLimiter[] {
    return this.#limiters;
  }

  /** The longest any limiter would make `cost` wait, ms. */
  waitTime(cost = 1): number {
    let wait = 0;
    for (const limiter of this.#limiters) {
      const w: unknown = limiter.waitTime(cost);
      if (typeof w !== 'number') {
        // A shared limiter (RedisTokenBucket) answers later: there is no asking every one at once, then taking.
        throw new TypeError(
          `rateLimit: a limiter whose waitTime answers with ${typeof (w as PromiseLike<unknown>)?.then === 'function' ? 'a promise' : String(w)} (a shared one, such as RedisTokenBucket) cannot be combined with others: give it alone`,
        );
      }
      wait = Math.max(wait, w);
    }
    return wait;
  }

  /** Takes `cost` from every limiter when every one grants now; otherwise takes nothing. */
  tryAcquire(cost = 1): boolean {
    if (this.waitTime(cost) > 0) return false;
    for (const limiter of this.#limiters) limiter.tryAcquire(cost);
    return true;
  }

  /** Waits until every limiter grants `cost` at once, and takes it from each. */
  async acquire(cost = 1, options?: AcquireOptions): Promise<void> {
    const signal = options?.signal;
    for (;;) {
      if (signal?.aborted) throw signal.reason;
      if (this.tryAcquire(cost)) return;
      // Never spin: a limiter that says 0 but refuses is asked again after a millisecond.
      const due = this.waitTime(cost);
      const wait = due > 0 ? due : 1;
      await new Promise<void>((resolve, reject) => {
        const timer = this.#clock.setTimeout(() => {
          detach();
          resolve();
        }, wait);
        const detach = whenAborted(signal, () => {
          this.#clock.clearTimeout(timer);
          reject(signal!.reason);
        });
      });
    }
  }
}
