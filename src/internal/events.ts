import type { EventEmitter } from 'eventemitter3';

/**
 * Emits an event so that a throwing listener never breaks the part that emits.
 * A listener's error goes to the emitter's `'error'` listeners; with none (or
 * when an `'error'` listener throws too) it is reported the platform's way:
 * `globalThis.reportError` where it exists (browsers), otherwise rethrown in a
 * microtask (Node's `uncaughtException`, as an unhandled `'error'` event would be).
 */
export function emitSafely(emitter: EventEmitter<any>, event: string, ...args: unknown[]): void {
  if (emitter.listenerCount(event) === 0) return;
  try {
    emitter.emit(event, ...args);
  } catch (error) {
    if (event !== 'error' && emitter.listenerCount('error') > 0) {
      try {
        emitter.emit('error', error);
        return;
      } catch (inner) {
        report(inner);
        return;
      }
    }
    report(error);
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
