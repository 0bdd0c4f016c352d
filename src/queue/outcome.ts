import type { DeadLetterInput, DeadLetterReason } from '../dead-letter.js';
import { QueueClosedError, QueueFullError, isRejectError } from '../errors.js';
import { type ResolvedRetryPolicy, retryDelay, retryVerdict } from '../internal/retry-policy.js';
import type { Job } from './job.js';
import { PART, type QueueConfig } from './options.js';

/** What becomes of an item whose attempt failed. */
export type FailureOutcome =
  | { readonly action: 'retry'; readonly delayMs: number }
  /** Closing with `drain: false`: an item that would retry is handed back instead. */
  | { readonly action: 'hand-back' }
  | { readonly action: 'dead-letter'; readonly reason: DeadLetterReason; readonly error: unknown };

/**
 * Decides what a failed attempt leads to (pure but for `report`):
 * - a `RejectError` dead-letters at once (`'rejected'`, with its cause when it has one);
 * - `retryIf` saying no dead-letters as `'rejected'`, running out of attempts as `'delivery_limit'`;
 * - otherwise the item retries after `delayOverride` (a nack's `delayMs`) or the backoff,
 *   raised to the error's `retryAfterMs` — unless the queue is closing without drain.
 *
 * A throwing `retryIf` counts as no; a throwing backoff as no wait; either error goes to `report`.
 */
export function decideFailure<T, R>(
  policy: ResolvedRetryPolicy,
  job: Pick<Job<T, R>, 'attempt' | 'previousDelay'>,
  error: unknown,
  delayOverride: number | undefined,
  handingBack: boolean,
  report: (error: unknown) => void,
): FailureOutcome {
  if (isRejectError(error)) {
    return { action: 'dead-letter', reason: 'rejected', error: error.cause !== undefined ? error.cause : error };
  }
  let verdict: 'retry' | 'stop' | 'exhausted';
  try {
    verdict = retryVerdict(policy, error, job.attempt);
  } catch (retryIfError) {
    report(retryIfError);
    verdict = 'stop';
  }
  if (verdict === 'stop') return { action: 'dead-letter', reason: 'rejected', error };
  if (verdict === 'exhausted') return { action: 'dead-letter', reason: 'delivery_limit', error };
  if (handingBack) return { action: 'hand-back' };
  let delayMs: number;
  try {
    delayMs = delayOverride ?? retryDelay(policy, error, job.attempt, job.previousDelay);
  } catch (backoffError) {
    report(backoffError);
    delayMs = 0;
  }
  return { action: 'retry', delayMs };
}

/** The dead-letter entry's input for an item: its errors, attempts and first sighting. */
export function deadLetterInput<T, R>(job: Job<T, R>, reason: DeadLetterReason, error: unknown, source: string): DeadLetterInput<T> {
  return {
    item: job.item,
    reason,
    ...(job.errors !== undefined ? { error, errors: job.errors } : error !== undefined ? { error } : {}),
    attempts: job.attempt,
    source,
    firstSeenAt: job.history?.firstSeenAt ?? job.pushedAt,
    ...(job.history !== undefined ? { deaths: job.history.deaths } : {}),
  };
}

/**
 * What a `submit` of a dead-lettered item rejects with: `QueueFullError` when
 * it was dropped at capacity, otherwise the failure (a `RejectError`'s cause,
 * or the last error). An expired item's TimeoutError, which carries its TTL,
 * is made where it expires.
 */
export function deadLetterError<T, R>(config: QueueConfig<T, R>, job: Job<T, R>, reason: DeadLetterReason, error: unknown): unknown {
  if (reason === 'maxlen') {
    return new QueueFullError(
      config.capacity,
      `${PART}: item ${job.id} dropped at capacity ${config.capacity} (overflow '${config.overflow}')`,
    );
  }
  return error;
}

/** What a `submit` of an item handed back by `close({ drain: false })` or `clear()` rejects with. */
export function handedBackError<T, R>(job: Job<T, R>, by: 'close' | 'clear'): QueueClosedError {
  return by === 'close'
    ? new QueueClosedError(`${PART}: closed; item ${job.id} was handed back by close({ drain: false })`)
    : new QueueClosedError(`${PART}: item ${job.id} was handed back by clear()`);
}
