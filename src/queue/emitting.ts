import { EventEmitter } from 'eventemitter3';
import { describeError, emitSafely } from '../internal/events.js';

/**
 * The listening side of a queue, kept apart from its work: which listeners
 * exist (so that nothing is looked up per item while none do), emitting
 * safely, and reporting the queue's own errors. Adding a user's listener
 * calls {@link Emitting.heard} with `timed` true: the queue then times its
 * attempts for the events; sluice's own listeners (`listenUntimed`) do not.
 * @internal
 */
export abstract class Emitting<M extends object> extends EventEmitter<M> {
  /** Set once any listener is added: until then no event needs a listener lookup per item. */
  #listened = false;
  /** Whether an error with no `'error'` listener was shown on the console (see reportError). */
  #unheardErrorShown = false;

  /** A listener was added: `timed` for a user's (the events then carry timings). */
  protected abstract heard(timed: boolean): void;

  /** The part's name in a console warning: `Queue 'emails'`. */
  protected abstract describe(): string;

  /**
   * Adds a listener, as `EventEmitter.on`.
   * @returns this part.
   */
  override on<E extends EventEmitter.EventNames<M>>(event: E, fn: EventEmitter.EventListener<M, E>, context?: unknown): this {
    this.#hear(true);
    return super.on(event, fn, context);
  }

  /**
   * Adds a listener, as `EventEmitter.addListener` (the same as `on`).
   * @returns this part.
   */
  override addListener<E extends EventEmitter.EventNames<M>>(event: E, fn: EventEmitter.EventListener<M, E>, context?: unknown): this {
    this.#hear(true);
    return super.addListener(event, fn, context);
  }

  /**
   * Adds a listener called at most once, as `EventEmitter.once`.
   * @returns this part.
   */
  override once<E extends EventEmitter.EventNames<M>>(event: E, fn: EventEmitter.EventListener<M, E>, context?: unknown): this {
    this.#hear(true);
    return super.once(event, fn, context);
  }

  /**
   * Adds a listener of sluice's own (TaskQueue's settling of its adds): the
   * part emits to it but does not time its attempts for it, as it does for a
   * user's listener (two clock reads per attempt). Not part of the API.
   * @internal
   */
  listenUntimed<E extends EventEmitter.EventNames<M>>(event: E, fn: EventEmitter.EventListener<M, E>): void {
    this.#hear(false);
    super.on(event, fn);
  }

  #hear(timed: boolean): void {
    this.#listened = true;
    this.heard(timed);
  }

  /** Whether `event` has a listener; one field read per item while nothing listens at all. */
  protected listens(event: EventEmitter.EventNames<M>): boolean {
    return this.#listened && this.listenerCount(event) > 0;
  }

  /** Emits an event of this part's map, safely (see emitSafely). */
  protected emitEvent<E extends keyof M & string>(event: E, ...args: M[E] & unknown[]): void {
    (emitSafely as (emitter: unknown, event: string, ...rest: unknown[]) => void)(this, event, ...args);
  }

  /**
   * Reports an error of the part's own machinery as an `'error'` event. With
   * no `'error'` listener it would vanish, so the first one is shown on the
   * console instead.
   */
  protected reportError(error: unknown): void {
    if (this.listenerCount('error' as EventEmitter.EventNames<M>) > 0) {
      (this.emitEvent as (event: string, ...rest: unknown[]) => void)('error', error);
      return;
    }
    if (this.#unheardErrorShown) return;
    this.#unheardErrorShown = true;
    console.warn(`${this.describe()}: ${describeError(error)} (no 'error' listener; this is shown once, later errors only to listeners)`);
  }
}
