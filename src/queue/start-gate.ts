import type { TimerHeap } from '../internal/timer-heap.js';
import type { RateLimiter } from '../token-bucket.js';

/** The first wait before acquiring again after a limiter failed, in ms; doubled per failure in a row. */
const RETRY_FIRST_MS = 100;
/** The longest wait before acquiring again after a limiter failed, in ms. */
const RETRY_MAX_MS = 30_000;

/**
 * The rate-limit gate in front of every start: each attempt (or delivery)
 * takes one token. A token that is not there at once is acquired in the
 * background — one acquisition at a time — and held for the next start;
 * `onGrant` then asks the queue to start work again.
 *
 * A limiter whose `acquire` rejects (a shared limiter that lost its
 * backend, say) must not stall the queue: the error goes to `onError`, and
 * the gate asks again after a backoff — 100 ms, doubling per failure in a
 * row up to 30 s, as the AWS SDK's retry backoff — until a token comes.
 */
export class StartGate {
  /** A token acquired in the background, not yet used. */
  #held = false;
  /** Whether an acquisition (or the wait before the next try) is under way. */
  pending = false;
  /** Stops the acquisition under way (see {@link StartGate.close}). */
  #abort: AbortController | undefined = undefined;
  /** Acquisitions that failed in a row. */
  #failures = 0;
  #retry: ReturnType<TimerHeap['add']> | undefined = undefined;

  constructor(
    readonly limiter: RateLimiter,
    readonly timers: TimerHeap,
    readonly onGrant: () => void,
    readonly onError: (error: unknown) => void,
  ) {}

  /** Takes a token for one start: true when there is one now; false when one is on its way (`onGrant` follows). */
  take(): boolean {
    if (this.#held) {
      this.#held = false;
      return true;
    }
    if (this.pending) return false;
    let now: boolean | PromiseLike<boolean>;
    try {
      now = this.limiter.tryAcquire(1) as boolean | PromiseLike<boolean>;
    } catch (error) {
      this.#failed(error);
      return false;
    }
    if (now === true) return true;
    this.pending = true;
    const abort = new AbortController();
    this.#abort = abort;
    const wait = (): Promise<void> => Promise.resolve(this.limiter.acquire(1, { signal: abort.signal }));
    let acquiring: Promise<void>;
    try {
      // A shared limiter (RedisTokenBucket) answers tryAcquire later: its answer decides, then acquire if it said no.
      acquiring = now === false ? wait() : Promise.resolve(now).then((granted) => (granted === true ? undefined : wait()));
    } catch (error) {
      acquiring = Promise.reject(error);
    }
    acquiring.then(
      () => {
        this.pending = false;
        this.#abort = undefined;
        this.#failures = 0;
        this.#held = true;
        this.onGrant();
      },
      (error: unknown) => {
        this.pending = false;
        this.#abort = undefined;
        if (!abort.signal.aborted) this.#failed(error);
      },
    );
    return false;
  }

  /** Stops an acquisition under way: a closed queue with nothing left to start must not keep the process alive. */
  close(): void {
    this.#abort?.abort();
    if (this.#retry !== undefined) this.timers.cancel(this.#retry);
    this.#retry = undefined;
  }

  /** The limiter failed: report it, and try again after the backoff. */
  #failed(error: unknown): void {
    this.onError(error);
    const delay = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** this.#failures);
    this.#failures++;
    this.pending = true;
    this.#retry = this.timers.add(this.timers.now() + delay, () => {
      this.#retry = undefined;
      this.pending = false;
      this.onGrant();
    });
  }
}
