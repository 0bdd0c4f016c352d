import type { RateLimiter } from '../token-bucket.js';

/**
 * The rate-limit gate in front of every start: each attempt (or delivery)
 * takes one token. A token that is not there at once is acquired in the
 * background — one acquisition at a time — and held for the next start;
 * `onGrant` then asks the queue to start work again.
 */
export class StartGate {
  /** A token acquired in the background, not yet used. */
  #held = false;
  /** Whether an acquisition is under way. */
  pending = false;
  /** Stops the acquisition under way (see {@link StartGate.close}). */
  #abort: AbortController | undefined = undefined;

  constructor(
    readonly limiter: RateLimiter,
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
    if (this.limiter.tryAcquire(1)) return true;
    this.pending = true;
    const abort = new AbortController();
    this.#abort = abort;
    this.limiter.acquire(1, { signal: abort.signal }).then(
      () => {
        this.pending = false;
        this.#abort = undefined;
        this.#held = true;
        this.onGrant();
      },
      (error: unknown) => {
        this.pending = false;
        this.#abort = undefined;
        if (!abort.signal.aborted) this.onError(error);
      },
    );
    return false;
  }

  /** Stops an acquisition under way: a closed queue with nothing left to start must not keep the process alive. */
  close(): void {
    this.#abort?.abort();
  }
}
