/** Does nothing: the detach of a wait that has no signal to detach from. */
export function noop(): void {}

let never: AbortSignal | undefined;

/** A signal that never aborts, made once and shared. */
export function neverAborted(): AbortSignal {
  return (never ??= new AbortController().signal);
}

/** The waits on one signal: one `'abort'` listener calls them all. */
interface Waits {
  readonly callbacks: Set<() => void>;
  readonly listener: () => void;
}

const waitsOf = new WeakMap<AbortSignal, Waits>();

/**
 * The waiter-plus-signal pattern: calls `onAbort` once if `signal` aborts, and
 * returns the function that removes it. Call that as soon as the wait
 * settles, so that a long-lived signal does not gather callbacks.
 *
 * Every wait on one signal shares a single `'abort'` listener: Node's
 * `EventTarget` looks through every listener already on a signal when one is
 * added or removed, so a listener per wait made n waits on one signal cost
 * O(n²) (80 000 waits: 10 s to add their listeners), and more than ten of them
 * raised `MaxListenersExceededWarning`. Here a wait costs O(1) to add and to
 * remove, and the waits run in the order they began. A callback that throws
 * is reported as an uncaught error, as `EventTarget` does, and the others
 * still run.
 */
export function whenAborted(signal: AbortSignal | undefined, onAbort: () => void): () => void {
  if (signal === undefined) return noop;
  const waits = waitsOf.get(signal) ?? listen(signal);
  // A wait of its own: the same `onAbort` may wait twice.
  const wait = (): void => onAbort();
  waits.callbacks.add(wait);
  return () => {
    if (!waits.callbacks.delete(wait) || waits.callbacks.size > 0 || waitsOf.get(signal) !== waits) return;
    // The last wait left: take the listener off too.
    waitsOf.delete(signal);
    signal.removeEventListener('abort', waits.listener);
  };
}

/** Puts the one listener on `signal` that runs its waits. */
function listen(signal: AbortSignal): Waits {
  const callbacks = new Set<() => void>();
  const listener = (): void => {
    if (waitsOf.get(signal) === waits) waitsOf.delete(signal);
    for (const callback of callbacks) {
      try {
        callback();
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
    callbacks.clear();
  };
  const waits: Waits = { callbacks, listener };
  waitsOf.set(signal, waits);
  signal.addEventListener('abort', listener, { once: true });
  return waits;
}

/**
 * `promise`, but rejecting with `signal.reason` as soon as `signal` aborts
 * (at once when it already has); the work behind `promise` goes on either
 * way. `signal` `undefined`: `promise` itself.
 */
export function untilAborted<V>(promise: Promise<V>, signal: AbortSignal | undefined): Promise<V> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<V>((resolve, reject) => {
    const detach = whenAborted(signal, () => reject(signal.reason));
    promise.then(
      (value) => {
        detach();
        resolve(value);
      },
      (error: unknown) => {
        detach();
        reject(error);
      },
    );
  });
}
