import type { AsyncDedupeStore, DedupeKey, DedupeStore } from '../deduper.js';
import { DuplicateError } from '../errors.js';
import type { Receipt } from '../queue-types.js';
import { DELAYED, GROUP_WAIT, type Job, READY, type Settler } from './job.js';
import { PART } from './options.js';

/**
 * Deduplication for a queue: a key is a duplicate while an item with it
 * waits or runs (its pushes share that item's outcome), and afterwards for
 * as long as the store remembers it (the dedupe window, as SQS FIFO's).
 */
export class LiveKeys<T, R> {
  /** Items with a dedupe key that are waiting or in flight. */
  readonly #byKey = new Map<DedupeKey, Job<T, R>>();
  /** Pushes whose item took a waiting one's place (`mode: 'replace'`). */
  replaced = 0;

  /** The store answers later (shared by processes): the Queue asked it before the push; nothing is asked here. */
  readonly shared: boolean;

  constructor(
    readonly store: DedupeStore | AsyncDedupeStore,
    readonly mode: 'drop' | 'replace',
  ) {
    this.shared = (store as AsyncDedupeStore).answersLater === true;
  }

  /**
   * Refuses a push of `key` when it is a duplicate — of a live item (whose
   * outcome `settler` then shares) or of one the store remembers (`settler`
   * rejects with DuplicateError) — and returns its receipt; `undefined` when
   * the key is new.
   */
  refuse(key: DedupeKey, id: string | undefined, settler: Settler<R> | undefined, item: T): Receipt | undefined {
    const holder = this.#byKey.get(key);
    if (holder === undefined && (this.shared || !this.#seen(key))) return undefined;
    if (settler !== undefined) {
      if (holder !== undefined) (holder.settlers ??= []).push(settler);
      else settler.reject(new DuplicateError(key, `${PART}: duplicate of key ${JSON.stringify(key)}`));
    }
    if (holder !== undefined && this.mode === 'replace') {
      const state = holder.state;
      if (state === READY || state === GROUP_WAIT || state === DELAYED) {
        // Debounce: the newest item waits in the older one's place (a retry-pending item's place too).
        holder.item = item;
        this.replaced++;
        return { id: holder.id, duplicate: true, dropped: false, replaced: true };
      }
    }
    return { id: id ?? holder?.id ?? String(key), duplicate: true, dropped: false, replaced: false };
  }

  /** Whether the store remembers `key`: a store not marked `answersLater` must answer at once. */
  #seen(key: DedupeKey): boolean {
    const seen: unknown = (this.store as DedupeStore).has(key);
    if (seen === true || seen === false) return seen;
    if (typeof (seen as PromiseLike<unknown>)?.then === 'function') (seen as PromiseLike<unknown>).then(undefined, () => {}); // not awaited
    throw new TypeError(
      `Queue: dedupe store must answer has(key) at once with true or false, got ${typeof (seen as PromiseLike<unknown>)?.then === 'function' ? 'a promise' : String(seen)} (a store that answers later must say so: answersLater: true, as RedisDeduper does)`,
    );
  }

  /** Records the key of an item being accepted in the store: a duplicate from now on, for its window. */
  remember(key: DedupeKey): void {
    if (!this.shared) this.store.check(key);
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
