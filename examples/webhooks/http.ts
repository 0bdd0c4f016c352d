/**
 * POSTing a batch of deliveries to the receiver, for the main job's
 * pipelines (embedded and across processes): the request, the counts of
 * what came back, and the errors a sluice retry policy reads.
 */
import { RejectError } from 'sluice';
import type { Delivery } from './deliveries.js';

/** An HTTP answer other than 200; `retryAfterMs` from a 429's `Retry-After` (sluice's retries honour it). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly retryAfterMs?: number,
  ) {
    super(`HTTP ${status}`);
    this.name = 'HttpError';
  }
}

/** Worth another attempt: 429, 5xx, or anything not an HTTP answer (a reset connection). */
export const transient = (error: unknown): boolean =>
  !(error instanceof HttpError) || error.status === 429 || error.status === 503 || error.status >= 500;

/** Counts of the requests made and of the answers that were not 200. */
export interface HttpCounts {
  requests: number;
  status429: number;
  status503: number;
  status422: number;
}

export const noCounts = (): HttpCounts => ({ requests: 0, status429: 0, status503: 0, status422: 0 });

/**
 * POSTs `items` to `{url}/batch`. Resolves 200 when the receiver took them,
 * or 422/413 when it refused the batch as a whole (a poison delivery, or too
 * large: the caller splits it); throws HttpError for 429 (with Retry-After)
 * and 503 (transient), RejectError for any other answer. `grant`, if given,
 * is awaited once the body is built, right before the request goes: it
 * takes the request's turn from a rate limit and gives the grant's time (ms,
 * on the limit's clock), which goes with the request as `x-grant-time`.
 */
export async function postBatch(
  url: string,
  items: Delivery[],
  signal: AbortSignal,
  counts: HttpCounts,
  grant?: () => Promise<number>,
): Promise<200 | 413 | 422> {
  const body = JSON.stringify(
    items.map(({ deliveryId, event, action, repository, payload }) => ({ deliveryId, event, action, repository, payload })),
  );
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (grant) headers['x-grant-time'] = String(await grant());
  counts.requests++;
  const res = await fetch(`${url}/batch`, { method: 'POST', body, headers, signal });
  await res.arrayBuffer();
  if (res.status === 200 || res.status === 413) return res.status;
  if (res.status === 422) {
    counts.status422++;
    return 422;
  }
  if (res.status === 429) {
    counts.status429++;
    throw new HttpError(429, Number(res.headers.get('retry-after') ?? '1') * 1_000);
  }
  if (res.status === 503) {
    counts.status503++;
    throw new HttpError(503);
  }
  throw new RejectError(new HttpError(res.status));
}
