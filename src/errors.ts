/** Marks sluice errors so guards work across realms and across the ESM and CJS copies. */
const BRAND: unique symbol = Symbol.for('sluice.error') as never;

/**
 * Every `code` a {@link SluiceError} can carry.
 *
 * - `ERR_QUEUE_FULL` — {@link QueueFullError}
 * - `ERR_QUEUE_CLOSED` — {@link QueueClosedError}
 * - `ERR_TIMEOUT` — {@link TimeoutError}
 * - `ERR_RETRY_EXHAUSTED` — {@link RetryExhaustedError}
 * - `ERR_REJECTED` — {@link RejectError}
 * - `ERR_DUPLICATE` — {@link DuplicateError}
 * - `ERR_STORE_UNAVAILABLE` — {@link StoreUnavailableError}
 */
export type SluiceErrorCode =
  | 'ERR_QUEUE_FULL'
  | 'ERR_QUEUE_CLOSED'
  | 'ERR_TIMEOUT'
  | 'ERR_RETRY_EXHAUSTED'
  | 'ERR_REJECTED'
  | 'ERR_DUPLICATE'
  | 'ERR_STORE_UNAVAILABLE';

/**
 * Base class of every error sluice raises at run time. Bad options are plain
 * `TypeError`/`RangeError` instead (see DESIGN's "Bad options").
 *
 * Test with {@link isSluiceError} rather than `instanceof`: the guard also
 * recognises errors from another copy of the package (ESM next to CJS) or
 * another realm.
 */
export class SluiceError extends Error {
  /** A stable, machine-readable code. */
  readonly code: SluiceErrorCode;
  /** Always `'SluiceError'`. */
  override name = 'SluiceError';
  /** @internal */
  readonly [BRAND] = true;

  /**
   * @param code - the error's {@link SluiceErrorCode}.
   * @param message - a human-readable message.
   * @param options - `cause`, as in the standard `Error` constructor.
   */
  constructor(code: SluiceErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options && 'cause' in options ? { cause: options.cause } : undefined);
    this.code = code;
  }
}

/**
 * A part is at capacity and its overflow strategy is `'reject'`
 * (`Queue` with `overflow: 'reject'`, `DeadLetter` with `overflow: 'reject'`).
 */
export class QueueFullError extends SluiceError {
  declare readonly code: 'ERR_QUEUE_FULL';
  /** Always `'QueueFullError'`. */
  override name = 'QueueFullError';
  /** The capacity that was reached (items). */
  readonly capacity: number;

  /**
   * @param capacity - the capacity that was reached, in items.
   * @param message - overrides the default message.
   */
  constructor(capacity: number, message = `capacity of ${capacity} reached`) {
    super('ERR_QUEUE_FULL', message);
    this.capacity = capacity;
  }
}

/**
 * A shared store did not answer: `sluice/redis`'s parts reject with it when
 * their Redis command fails for want of a connection, or gets no reply
 * within `commandTimeoutMs`. What the command would have done is unknown
 * (it may run once the client reconnects); a part never counts it as done.
 */
export class StoreUnavailableError extends SluiceError {
  declare readonly code: 'ERR_STORE_UNAVAILABLE';
  /** Always `'StoreUnavailableError'`. */
  override name = 'StoreUnavailableError';

  /**
   * @param message - what was asked of the store, and why it failed.
   * @param options - `cause`: the client's own error, when there is one.
   */
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_STORE_UNAVAILABLE', message, options);
  }
}

/** Work was offered to a part after `close()` was called. */
export class QueueClosedError extends SluiceError {
  declare readonly code: 'ERR_QUEUE_CLOSED';
  /** Always `'QueueClosedError'`. */
  override name = 'QueueClosedError';

  /** @param message - overrides the default message. */
  constructor(message = 'closed') {
    super('ERR_QUEUE_CLOSED', message);
  }
}

/**
 * An operation ran past its time limit: an attempt past `timeoutMs` or
 * `visibilityTimeoutMs`, or an `acquire` whose predicted wait exceeds
 * `maxWaitMs`. When a timeout aborts a signal, this error is its `reason`.
 */
export class TimeoutError extends SluiceError {
  declare readonly code: 'ERR_TIMEOUT';
  /** Always `'TimeoutError'`. */
  override name = 'TimeoutError';
  /** The limit that was passed, in ms. */
  readonly timeoutMs: number;

  /**
   * @param timeoutMs - the limit that was passed, in ms.
   * @param message - overrides the default message.
   */
  constructor(timeoutMs: number, message = `timed out after ${timeoutMs} ms`) {
    super('ERR_TIMEOUT', message);
    this.timeoutMs = timeoutMs;
  }
}

/**
 * Every attempt `retry()` was allowed failed.
 * `cause` is the last failure; `errors` holds every failure, oldest first.
 */
export class RetryExhaustedError extends SluiceError {
  declare readonly code: 'ERR_RETRY_EXHAUSTED';
  /** Always `'RetryExhaustedError'`. */
  override name = 'RetryExhaustedError';
  /** How many attempts were made (attempts are numbered from 1). */
  readonly attempts: number;
  /** Every attempt's failure, in attempt order. */
  readonly errors: readonly unknown[];

  /**
   * @param attempts - how many attempts were made.
   * @param errors - every attempt's failure, in order; the last one becomes `cause`.
   */
  constructor(attempts: number, errors: readonly unknown[]) {
    const last = errors[errors.length - 1];
    super('ERR_RETRY_EXHAUSTED', `gave up after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${describe(last)}`, {
      cause: last,
    });
    this.attempts = attempts;
    this.errors = errors;
  }
}

/**
 * Thrown by a handler to say "never retry this item": a `Queue` dead-letters
 * it at once with reason `'rejected'` (RabbitMQ's `basic.reject` without
 * requeue), and `retry()` rethrows it without another attempt.
 *
 * @example
 * ```ts
 * queue.process(async (order) => {
 *   if (!order.valid) throw new RejectError(new Error('invalid order'));
 * });
 * ```
 */
export class RejectError extends SluiceError {
  declare readonly code: 'ERR_REJECTED';
  /** Always `'RejectError'`. */
  override name = 'RejectError';

  /**
   * @param cause - why the item is rejected; kept as the dead-letter entry's `error`.
   * @param message - overrides the default message.
   */
  constructor(cause?: unknown, message = cause === undefined ? 'rejected' : `rejected: ${describe(cause)}`) {
    super('ERR_REJECTED', message, cause === undefined ? undefined : { cause });
  }
}

/**
 * `Queue.submit` was given a duplicate (its idempotency key was seen within
 * the dedupe window) whose original is no longer waiting or running, so
 * there is no result to share. A duplicate of an item still waiting or
 * running shares that item's outcome instead.
 */
export class DuplicateError extends SluiceError {
  declare readonly code: 'ERR_DUPLICATE';
  /** Always `'DuplicateError'`. */
  override name = 'DuplicateError';
  /** The idempotency key that was seen before. */
  readonly key: string | number;

  /**
   * @param key - the idempotency key that was seen before.
   * @param message - overrides the default message.
   */
  constructor(key: string | number, message = `duplicate of key ${JSON.stringify(key)}`) {
    super('ERR_DUPLICATE', message);
    this.key = key;
  }
}

/** A thrown value in words; never throws, whatever was thrown (a revoked Proxy, an Error whose `message` getter throws). */
function describe(error: unknown): string {
  try {
    if (error instanceof Error) return error.message || error.name;
    return String(error);
  } catch {
    return 'an error that cannot be read';
  }
}

/** A {@link SluiceError} narrowed to one {@link SluiceErrorCode}. */
export type SluiceErrorWithCode<C extends SluiceErrorCode> = SluiceError & Readonly<Record<'code', C>>;

/** Whether `error` carries sluice's brand (and `code`, when given). A value that cannot be read is no sluice error. */
function hasBrand(error: unknown, code?: SluiceErrorCode): error is SluiceError {
  try {
    if (typeof error !== 'object' || error === null || (error as { [BRAND]?: unknown })[BRAND] !== true) return false;
    const own = (error as { code?: unknown }).code;
    return typeof own === 'string' && (code === undefined || own === code);
  } catch {
    return false;
  }
}

/**
 * True when `error` is a {@link SluiceError} (from any copy of sluice, in any
 * realm), and, when `code` is given, carries that code.
 *
 * @example
 * ```ts
 * if (isSluiceError(e, 'ERR_QUEUE_FULL')) retryLater();
 * ```
 */
export function isSluiceError<C extends SluiceErrorCode>(error: unknown, code?: C): error is SluiceErrorWithCode<C> {
  return hasBrand(error, code);
}

/** True when `error` is a {@link QueueFullError} from any copy of sluice. */
export function isQueueFullError(error: unknown): error is QueueFullError {
  return isSluiceError(error, 'ERR_QUEUE_FULL');
}

/** True when `error` is a {@link QueueClosedError} from any copy of sluice. */
export function isQueueClosedError(error: unknown): error is QueueClosedError {
  return isSluiceError(error, 'ERR_QUEUE_CLOSED');
}

/** True when `error` is a {@link TimeoutError} from any copy of sluice. */
export function isTimeoutError(error: unknown): error is TimeoutError {
  return isSluiceError(error, 'ERR_TIMEOUT');
}

/** True when `error` is a {@link RetryExhaustedError} from any copy of sluice. */
export function isRetryExhaustedError(error: unknown): error is RetryExhaustedError {
  return isSluiceError(error, 'ERR_RETRY_EXHAUSTED');
}

/** True when `error` is a {@link RejectError} from any copy of sluice. */
export function isRejectError(error: unknown): error is RejectError {
  return isSluiceError(error, 'ERR_REJECTED');
}

/** True when `error` is a {@link DuplicateError} from any copy of sluice. */
export function isDuplicateError(error: unknown): error is DuplicateError {
  return isSluiceError(error, 'ERR_DUPLICATE');
}

/** True for a {@link StoreUnavailableError} (from any copy of sluice). */
export function isStoreUnavailableError(error: unknown): error is StoreUnavailableError {
  return isSluiceError(error, 'ERR_STORE_UNAVAILABLE');
}
