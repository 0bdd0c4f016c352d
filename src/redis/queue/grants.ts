import { retryPause } from './stream-io.js';

/**
 * A rate limiter as a RedisQueue takes it (`rateLimit`): a `TokenBucket`
 * (this process's own rate), a `RedisTokenBucket` (one rate for every
 * process that shares it), or anything with `acquire`.
 */
export interface QueueRateLimiter {
  /** Resolves once `cost` tokens were granted. */
  acquire(cost?: number, options?: { signal?: AbortSignal }): PromiseLike<unknown>;
}

/**
 * The grants of a worker's rate limit, taken ahead of reading: an item is
 * read only with a grant held for it, so it starts as soon as it is read
 * and never waits for a token while its visibility timeout runs (another
 * worker would take it back). One grant is asked for at a time; a grant
 * held when the queue runs dry is spent on nothing (the rate runs under,
 * never over).
 * @internal
 */
export class Grants {
  #held = 0;
  #asking = false;
  #failures = 0;
  readonly #abort = new AbortController();

  constructor(
    private readonly limiter: QueueRateLimiter | undefined,
    /** Told when a grant came: the worker may read. */
    private readonly granted: () => void,
    private readonly report: (error: unknown) => void,
  ) {}

  /** How many items may be read now, of `slots` free (`ready` read and not started yet); asks for a grant when short. */
  readable(slots: number, ready: number): number {
    if (this.limiter === undefined) return slots;
    const n = Math.min(slots, this.#held - ready);
    if (n <= 0 && slots > 0) this.#ask();
    return Math.max(0, n);
  }

  /** Takes the grant of an item about to start: false (and a grant asked for) when none is held. */
  take(): boolean {
    if (this.limiter === undefined) return true;
    if (this.#held > 0) {
      this.#held--;
      return true;
    }
    this.#ask();
    return false;
  }

  /** Stops asking (the queue closed): a grant on its way is given up. */
  stop(): void {
    this.#abort.abort();
  }

  #ask(): void {
    if (this.#asking || this.#abort.signal.aborted) return;
    this.#asking = true;
    Promise.resolve(this.limiter!.acquire(1, { signal: this.#abort.signal })).then(
      () => {
        this.#asking = false;
        this.#failures = 0;
        this.#held++;
        this.granted();
      },
      (error: unknown) => {
        this.#asking = false;
        if (this.#abort.signal.aborted) return;
        this.report(error);
        setTimeout(() => this.#ask(), retryPause(this.#failures++));
      },
    );
  }
}
