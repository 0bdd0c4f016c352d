import { DuplicateError, QueueClosedError, QueueFullError } from '../../errors.js';
import { type Connection, duplicateOf, type RedisClient } from '../send.js';
import { retryPause } from './stream-io.js';

interface Awaiting {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/** An error that crossed processes as `{ name, message, code }`, an Error again. @internal */
export function revive(stored: { name?: string; message?: string; code?: string } | undefined): Error {
  const message = stored?.message ?? 'failed';
  // clear() hands items back, and overflow drops them, with the errors Queue gives their submit.
  if (stored?.name === 'QueueClosedError') return new QueueClosedError(message);
  if (stored?.name === 'QueueFullError') return new QueueFullError(Number((stored as { capacity?: number }).capacity), message);
  const error = new Error(message);
  error.name = stored?.name ?? 'Error';
  if (stored?.code !== undefined) (error as { code?: string }).code = stored.code;
  return error;
}

/**
 * The results of a process's `submit`s: whichever process runs an item
 * pushes its outcome onto this process's results list; a connection of its
 * own waits on it (`BLPOP`) while any submit waits.
 * @internal
 */
export class Results {
  /** The submits waiting per item id (more than one when pushes replaced a waiting item's payload). */
  readonly #awaiting = new Map<string, Awaiting[]>();
  /** Results read before their submit heard its id (the push's reply and the result come on different connections). */
  readonly #early = new Map<string, { v?: unknown; e?: { name?: string; message?: string } }>();
  #reader: Promise<Connection> | undefined;
  #reading = false;
  #closed = false;

  private readonly commandTimeoutMs: number;

  constructor(
    private readonly part: string,
    private readonly client: RedisClient,
    private readonly key: string,
    options: { readonly commandTimeoutMs: number },
    /** Where a failed read is reported (the queue's `'error'` event). */
    private readonly report: (error: unknown) => void,
  ) {
    this.commandTimeoutMs = options.commandTimeoutMs;
  }

  /** The outcome of item `id`, once some process settled it. */
  expect(id: string): Promise<unknown> {
    const early = this.#early.get(id);
    if (early !== undefined) {
      this.#early.delete(id);
      return 'e' in early ? Promise.reject(revive(early.e)) : Promise.resolve(early.v);
    }
    const result = new Promise<unknown>((resolve, reject) => {
      const waiting = this.#awaiting.get(id);
      if (waiting === undefined) this.#awaiting.set(id, [{ resolve, reject }]);
      else waiting.push({ resolve, reject });
    });
    if (!this.#reading) void this.#read();
    return result;
  }

  /** The error of a submit whose item was a duplicate of `id`. */
  duplicate(id: string): DuplicateError {
    return new DuplicateError(id, `${this.part}: duplicate of key ${JSON.stringify(id)}: its result goes to the push that was first`);
  }

  /** Rejects every submit still waiting with `error`, and ends the connection. */
  close(error: unknown): void {
    this.#closed = true;
    for (const [, waiting] of this.#awaiting) for (const w of waiting) w.reject(error);
    this.#awaiting.clear();
    void this.#reader?.then(
      (c) => c.close(),
      () => {},
    );
  }

  async #read(): Promise<void> {
    this.#reading = true;
    let failures = 0;
    try {
      this.#reader ??= duplicateOf(this.part, this.client, this.commandTimeoutMs);
      const reader = await this.#reader;
      const seconds = Math.max(0.01, Math.min(1, this.commandTimeoutMs / 2_000));
      while (!this.#closed && this.#awaiting.size > 0) {
        let reply: unknown;
        try {
          reply = await reader.send(['BLPOP', this.key, seconds]);
          failures = 0;
        } catch (error) {
          if (this.#closed) return;
          this.report(error);
          await new Promise((resolve) => setTimeout(resolve, retryPause(failures++)));
          continue;
        }
        if (!Array.isArray(reply)) continue;
        const result = JSON.parse(String(reply[1])) as { i: string; v?: unknown; e?: { name?: string; message?: string } };
        const waiting = this.#awaiting.get(result.i);
        if (waiting === undefined) {
          if (this.#early.size < 10_000) this.#early.set(result.i, result);
          continue;
        }
        this.#awaiting.delete(result.i);
        for (const w of waiting) {
          if ('e' in result) w.reject(revive(result.e));
          else w.resolve(result.v);
        }
      }
    } catch (error) {
      this.report(error);
    } finally {
      this.#reading = false;
    }
  }
}
