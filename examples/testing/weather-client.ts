/**
 * Application code that uses sluice: a client for a flaky, rate-limited
 * weather API. It paces requests with a TokenBucket and retries 429/503 with
 * backoff. Its tests (weather-client.test.ts) run it in zero real time.
 */
import { type Clock, TokenBucket, retry } from 'sluice';

export interface Forecast {
  readonly city: string;
  readonly celsius: number;
}

/** What the client calls; a test passes a fake. */
export type Fetcher = (city: string, signal: AbortSignal) => Promise<{ status: number; retryAfterSeconds?: number; body?: Forecast }>;

export class WeatherClient {
  readonly #bucket: TokenBucket;
  readonly #fetcher: Fetcher;
  readonly #clock: Clock | undefined;

  /** `clock` is for tests; production code leaves it out. */
  constructor(fetcher: Fetcher, options: { ratePerSecond: number; clock?: Clock }) {
    this.#fetcher = fetcher;
    this.#clock = options.clock;
    this.#bucket = new TokenBucket({ ratePerSecond: options.ratePerSecond, ...(options.clock ? { clock: options.clock } : {}) });
  }

  forecast(city: string): Promise<Forecast> {
    return retry(
      async (_attempt, signal) => {
        await this.#bucket.acquire(1, { signal });
        const res = await this.#fetcher(city, signal);
        if (res.status === 200 && res.body) return res.body;
        throw Object.assign(new Error(`HTTP ${res.status}`), { retryAfterMs: (res.retryAfterSeconds ?? 0) * 1_000 });
      },
      {
        maxAttempts: 4,
        backoff: { initialDelayMs: 500, jitter: 'none' },
        timeoutMs: 10_000,
        ...(this.#clock ? { clock: this.#clock } : {}),
      },
    );
  }
}
