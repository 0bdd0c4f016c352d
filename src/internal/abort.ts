/**
 * The abort pattern used everywhere: check first, listen `{ once: true }`,
 * always remove the listener when the operation settles, reject with
 * `signal.reason` (the web platform convention).
 */

/** The reason an aborted signal carries (a DOMException `AbortError` when none was given). */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason;
}

/**
 * Calls `onAbort` once if `signal` aborts; returns a function that removes the
 * listener. Does nothing (and returns a no-op) when `signal` is undefined.
 */
export function onAbort(signal: AbortSignal | undefined, handler: () => void): () => void {
  if (signal === undefined) return noop;
  signal.addEventListener('abort', handler, { once: true });
  return () => signal.removeEventListener('abort', handler);
}

/** Does nothing. */
export function noop(): void {}
