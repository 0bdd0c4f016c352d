import type { DedupeKey, DedupeStore } from '../deduper.js';
import type { Job } from './job.js';

/**
 * Deduplication for a queue: a key is a duplicate while an item with it
 * waits or runs (its pushes share that item's outcome), and afterwards for
 * as long as the store remembers it (the dedupe window, as SQS FIFO's).
 */
export class LiveKeys<T, R> {
  /** Items with a dedupe key that are waiting or in flight. */
  readonly #byKey = new Map<DedupeKey, Job<T, R>>();

  constructor(readonly store: DedupeStore) {}

  /** The waiting or running item with `key`, if any. */
  holder(key: DedupeKey): Job<T, R> | undefined {
    return this.#byKey.get(key);
  }

  /** Whether `key` is a duplicate: held by a live item, or remembered by the store. */
  isDuplicate(key: DedupeKey, holder: Job<T, R> | undefined): boolean {
    return holder !== undefined || this.store.has(key);
  }

  /** Records the key of an item being accepted in the store: a duplicate from now on, for its window. */
  remember(key: DedupeKey): void {
    this.store.check(key);
  }

  /** The accepted item with `key` waits or runs: later pushes of the key share its outcome. */
  hold(key: DedupeKey, job: Job<T, R>): void {
    this.#byKey.set(key, job);
  }

  /** A finished item's key is no longer live (the store still remembers it). */
  release(job: Job<T, R>): void {
    const key = job.dedupeKey;
    if (key !== undefined && this.#byKey.get(key) === job) this.#byKey.delete(key);
  }
}
