import { noop, whenAborted } from '../internal/abort.js';
import { LinkedList } from '../internal/linked-list.js';
import type { Receipt } from '../queue-types.js';
import type { Settler } from './job.js';
import type { CheckedPush } from './options.js';

/** What the pushes waiting for room need of their queue. */
export interface PushersHost<T, R> {
  /** Whether a push would be taken now (room, or an overflow that makes room). */
  hasRoom(): boolean;
  /** Accepts a push (throws what `push` rejects with). */
  accept(item: T, options: CheckedPush, settler: Settler<R> | undefined): Receipt;
}

interface Pusher<T, R> {
  readonly item: T;
  readonly options: CheckedPush;
  readonly settler: Settler<R> | undefined;
  readonly resolve: (receipt: Receipt) => void;
  readonly reject: (error: unknown) => void;
  detach: () => void;
}

/**
 * Pushes waiting for room (`overflow: 'block'`), served first come, first
 * served: a push that arrives while others wait queues behind them, even
 * if there is room. An aborted wait leaves the line at once.
 */
export class Pushers<T, R> {
  readonly #host: PushersHost<T, R>;
  readonly #line = new LinkedList<Pusher<T, R>>();

  constructor(host: PushersHost<T, R>) {
    this.#host = host;
  }

  /** Pushes waiting. */
  get size(): number {
    return this.#line.size;
  }

  /** Waits for room; resolves with the receipt once accepted, rejects with `signal.reason` when the wait is aborted. */
  wait(item: T, options: CheckedPush, settler: Settler<R> | undefined): Promise<Receipt> {
    return new Promise<Receipt>((resolve, reject) => {
      const pusher: Pusher<T, R> = { item, options, settler, resolve, reject, detach: noop };
      const node = this.#line.push(pusher);
      const signal = options.signal;
      pusher.detach = whenAborted(signal, () => {
        if (this.#line.remove(node)) reject(signal!.reason);
        // Room may now be there for the pushes behind it.
        this.admit();
      });
    });
  }

  /** Accepts waiting pushes, oldest first, while there is room. */
  admit(): void {
    const host = this.#host;
    while (this.#line.size > 0 && host.hasRoom()) {
      const pusher = this.#line.shift()!;
      pusher.detach();
      try {
        pusher.resolve(host.accept(pusher.item, pusher.options, pusher.settler));
      } catch (error) {
        pusher.reject(error);
      }
    }
  }

  /** Rejects every waiting push with `error` (the queue closed). */
  rejectAll(error: () => unknown): void {
    for (let pusher = this.#line.shift(); pusher; pusher = this.#line.shift()) {
      pusher.detach();
      pusher.reject(error());
    }
  }
}

/** Pushes every item of an iterable, one at a time, waiting for room as `push` does (`Queue.pushAll`); counts those accepted. */
export async function pushEach<T>(
  queue: { tryPush?(item: T): Receipt | undefined; push(item: T): Promise<Receipt> },
  items: Iterable<T> | AsyncIterable<T>,
): Promise<number> {
  let count = 0;
  for await (const item of items) {
    const receipt = queue.tryPush?.(item) ?? (await queue.push(item));
    if (!receipt.duplicate) count++;
  }
  return count;
}
