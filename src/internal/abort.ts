/** Does nothing: the detach of a wait that has no signal to detach from. */
export function noop(): void {}

let never: AbortSignal | undefined;

/** A signal that never aborts, made once and shared. */
export function neverAborted(): AbortSignal {
  return (never ??= new AbortController().signal);
}

/**
 * The waiter-plus-signal pattern: calls `onAbort` once if `signal` aborts, and
 * returns the function that removes the listener. Call that as soon as the
 * wait settles, so that a long-lived signal does not gather listeners.
 */
export function whenAborted(signal: AbortSignal | undefined, onAbort: () => void): () => void {
  if (signal === undefined) return noop;
  signal.addEventListener('abort', onAbort, { once: true });
  return () => signal.removeEventListener('abort', onAbort);
}
