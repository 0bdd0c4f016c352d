import type { EventEmitter } from 'eventemitter3';

/** An event map of tuples, as eventemitter3 takes (`{ completed: [item: T, result: R] }`). */
type EventMap<M> = { [K in keyof M]: unknown[] };

/**
 * Emits an event so that a throwing listener never breaks the part that emits.
 * A listener's error goes to the emitter's `'error'` listeners; with none (or
 * when an `'error'` listener throws too) it is reported the platform's way:
 * `globalThis.reportError` where it exists (browsers), otherwise rethrown in a
 * microtask (Node's `uncaughtException`, as an unhandled `'error'` event would be).
 * Checked against the event map `M` (name and arguments): a part passes itself
 * as `EventEmitter<M>`, since TypeScript does not infer `M` through a subclass.
 */
export function emitSafely<M extends EventMap<M>, E extends keyof M & string>(emitter: EventEmitter<M>, event: E, ...args: M[E]): void {
  const untyped = emitter as unknown as EventEmitter;
  if (untyped.listenerCount(event) === 0) return;
  try {
    untyped.emit(event, ...args);
  } catch (error) {
    if (event !== 'error' && untyped.listenerCount('error') > 0) {
      try {
        untyped.emit('error', error);
        return;
      } catch (inner) {
        report(inner);
        return;
      }
    }
    report(error);
  }
}

/** A thrown value in words, for a message; never throws, whatever was thrown (a revoked Proxy, a throwing getter). */
export function describeError(error: unknown): string {
  try {
    if (error instanceof Error) return `${error.name}: ${error.message}`;
    return String(error);
  } catch {
    return 'an error that cannot be read';
  }
}

function report(error: unknown): void {
  const reportError = (globalThis as { reportError?: (e: unknown) => void }).reportError;
  if (typeof reportError === 'function') {
    reportError(error);
    return;
  }
  queueMicrotask(() => {
    throw error;
  });
}
