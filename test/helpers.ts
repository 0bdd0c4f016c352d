/** Shared test helpers. */
import type { QueueStats } from '../src/index.js';

/** Watches a promise without awaiting it: `settled`, and `value` or `error` once it has. */
export function track<V>(promise: Promise<V>) {
  const state = { settled: false, value: undefined as V | undefined, error: undefined as unknown };
  promise.then(
    (value) => Object.assign(state, { settled: true, value }),
    (error: unknown) => Object.assign(state, { settled: true, error }),
  );
  return state;
}

/** A promise with its resolve and reject at hand. */
export function deferred<V = void>() {
  let resolve!: (value: V) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<V>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** The conservation law: `accepted = completed + deadLettered + returned + cancelled + waiting + inFlight`. */
export function balanced(s: QueueStats): boolean {
  return s.accepted === s.completed + s.deadLettered + s.returned + s.cancelled + s.waiting + s.inFlight;
}
