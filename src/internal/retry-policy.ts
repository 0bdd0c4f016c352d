import { type BackoffFn, backoff as makeBackoff } from '../backoff.js';
import { isRejectError } from '../errors.js';
import type { RetryPolicy } from '../retry.js';
import * as v from './validate.js';

/** A {@link RetryPolicy} checked and resolved to its defaults. */
export interface ResolvedRetryPolicy {
  readonly maxAttempts: number;
  readonly backoff: BackoffFn;
  readonly retryIf: ((error: unknown, attempt: number) => boolean) | undefined;
}

const POLICY_KEYS = /* @__PURE__ */ v.knownKeys<RetryPolicy>({ maxAttempts: true, backoff: true, retryIf: true, random: true });

/**
 * Checks a {@link RetryPolicy} and fills its defaults.
 * @param path - where the policy sits in the part's options (`'retry'`: it is
 *   checked as a bag of its own and errors say `retry.maxAttempts`), or
 *   `null` when it is the call's own options, already checked (`retry()`'s).
 */
export function resolveRetryPolicy(
  part: string,
  policy: RetryPolicy | undefined,
  defaultAttempts = 3,
  path: string | null = 'retry',
): ResolvedRetryPolicy {
  const o = path === null ? (policy ?? {}) : v.options<RetryPolicy>(part, policy, POLICY_KEYS, path);
  const name = (key: string): string => (path === null ? key : `${path}.${key}`);
  const maxAttempts = v.number(part, name('maxAttempts'), o.maxAttempts, 'positive-integer-or-infinity', defaultAttempts);
  const random = v.fn<() => number>(part, name('random'), o.random);
  let backoff: BackoffFn;
  if (typeof o.backoff === 'function') backoff = o.backoff;
  else if (o.backoff === undefined || (typeof o.backoff === 'object' && o.backoff !== null)) {
    const options = o.backoff;
    backoff = v.within(part, name('backoff'), () =>
      makeBackoff(random && options?.random === undefined ? { ...options, random } : options),
    );
  } else {
    throw new TypeError(`${part}: ${name('backoff')} must be a function or backoff options, got ${v.show(o.backoff)}`);
  }
  const retryIf = v.fn<(error: unknown, attempt: number) => boolean>(part, name('retryIf'), o.retryIf);
  return { maxAttempts, backoff, retryIf };
}

/**
 * The wait before the attempt after `attempt`: the backoff's delay, raised
 * to the error's `retryAfterMs` when it carries one (HTTP 429 `Retry-After`;
 * not capped by `maxDelayMs`).
 */
export function retryDelay(policy: ResolvedRetryPolicy, error: unknown, attempt: number, previousDelayMs: number | undefined): number {
  let delay = policy.backoff(attempt, previousDelayMs);
  if (!(delay >= 0)) delay = 0;
  const after = retryAfterOf(error);
  return after !== undefined && after > delay ? after : delay;
}

/** An error's numeric `retryAfterMs`, when it has a usable one. */
export function retryAfterOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  let after: unknown;
  try {
    after = (error as { retryAfterMs?: unknown }).retryAfterMs;
  } catch {
    return undefined; // a value that cannot be read asks for no particular wait
  }
  return typeof after === 'number' && after >= 0 && Number.isFinite(after) ? after : undefined;
}

/**
 * Whether a failure may be retried under `policy` after `attempt`.
 * `'stop'` passes the error on unchanged; `'exhausted'` means out of attempts.
 * Without `retryIf`, a `TypeError` that is not a network error is a bug, not
 * a passing fault, and is not retried (p-retry's rule).
 */
export function retryVerdict(policy: ResolvedRetryPolicy, error: unknown, attempt: number): 'retry' | 'stop' | 'exhausted' {
  if (isRejectError(error)) return 'stop';
  if (policy.retryIf ? !policy.retryIf(error, attempt) : isProgrammingError(error)) return 'stop';
  return attempt >= policy.maxAttempts ? 'exhausted' : 'retry';
}

/** What `fetch` rejects with when the network failed (is-network-error's list: Chrome, Firefox, Safari, undici, cross-fetch). */
const NETWORK_MESSAGES = new Set([
  'network error',
  'Failed to fetch',
  'NetworkError when attempting to fetch resource.',
  'The Internet connection appears to be offline.',
  'Load failed',
  'Network request failed',
  'fetch failed',
  'terminated',
]);

/** System error codes of a connection that failed (Node's `code`, on the error or its `cause`). */
const NETWORK_CODE = /^(ECONNRESET|ECONNREFUSED|ECONNABORTED|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN|ENETUNREACH|EHOSTUNREACH|UND_ERR_\w+)$/;

/** Whether `error` is a TypeError that no network fault explains. Never throws (a value that cannot be read is not one). */
export function isProgrammingError(error: unknown): boolean {
  try {
    if (!(error instanceof TypeError)) return false;
    if (NETWORK_MESSAGES.has(error.message)) return false;
    const cause = (error as { cause?: unknown }).cause;
    for (const e of [error, cause]) {
      const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
      if (typeof code === 'string' && NETWORK_CODE.test(code)) return false;
    }
    return true;
  } catch {
    return false;
  }
}
