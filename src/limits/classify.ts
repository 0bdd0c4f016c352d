import { isRejectError } from '../errors.js';

/**
 * How an attempt's outcome counts for a concurrency limit or an adaptive
 * rate: `'success'` (a latency sample), `'dropped'` (the server shed it: back
 * off) or `'ignore'` (no sample at all), as Netflix concurrency-limits'
 * `onSuccess` / `onDropped` / `onIgnore`.
 */
export type Classification = 'success' | 'dropped' | 'ignore';

/** A settled attempt: its value, or the error it threw or rejected with. */
export type AttemptOutcome<R = unknown> =
  | {
      /** Fulfilled. */
      readonly ok: true;
      /** What it returned. */
      readonly value: R;
    }
  | {
      /** Failed. */
      readonly ok: false;
      /** What it threw or rejected with. */
      readonly error: unknown;
    };

/** A function that classifies outcomes (the `classify` option). It must not throw; one that does counts as `'ignore'`. */
export type Classify<R = unknown> = (outcome: AttemptOutcome<R>) => Classification;

/**
 * The default `classify`: a fulfilled attempt is `'success'`. A rejection is
 * `'dropped'` when the error says the server shed load — it has a numeric
 * `retryAfterMs` (HTTP `Retry-After`), a `status` or `statusCode` of 429 or
 * 503, or is a timeout (sluice's `TimeoutError`, or any error named
 * `'TimeoutError'`, the DOMException a timed-out fetch rejects with). A `RejectError` (the
 * handler's "do not retry this item") and every other error are `'ignore'`:
 * a bug or a bad item says nothing about load.
 *
 * @example
 * ```ts
 * // Count 502s as drops too, and keep the rest of the default.
 * const classify: Classify = (o) =>
 *   !o.ok && (o.error as { status?: number }).status === 502 ? 'dropped' : defaultClassify(o);
 * ```
 */
export function defaultClassify(outcome: AttemptOutcome): Classification {
  if (outcome.ok) return 'success';
  const error = outcome.error;
  if (typeof error !== 'object' || error === null) return 'ignore';
  if (isRejectError(error)) return 'ignore';
  const e = error as { retryAfterMs?: unknown; status?: unknown; statusCode?: unknown; name?: unknown };
  if (typeof e.retryAfterMs === 'number' && e.retryAfterMs >= 0) return 'dropped';
  const status = e.status ?? e.statusCode;
  if (status === 429 || status === 503) return 'dropped';
  if (e.name === 'TimeoutError') return 'dropped';
  return 'ignore';
}
