import { noop } from './abort.js';

/** Asks a source to stop (runs its `finally`), without waiting on it or letting it throw. */
export function closeQuietly(iterator: AsyncIterator<unknown> | Iterator<unknown>): void {
  try {
    const done: unknown = iterator.return?.();
    if (typeof done === 'object' && done !== null && typeof (done as PromiseLike<unknown>).then === 'function') {
      (done as PromiseLike<unknown>).then(undefined, noop);
    }
  } catch {
    // A source that throws on return has nothing more to give.
  }
}
