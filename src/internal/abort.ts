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
  let fired = false;
  const listener = (): void => {
    fired = true;
    onAbort();
  };
  signal.addEventListener('abort', listener, { once: true });
  // A `once` listener is gone when it fires. Removing it again from inside the abort dispatch (a waiter that
  // settles by rejecting) would search every listener still on the signal: quadratic for many waiters.
  return () => {
    if (!fired) signal.removeEventListener('abort', listener);
  };
}
