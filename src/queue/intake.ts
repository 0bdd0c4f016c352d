import type { AsyncDedupeStore } from '../deduper.js';
import { DuplicateError, QueueFullError } from '../errors.js';
import { whenAborted } from '../internal/abort.js';
import { seqId } from '../internal/seq-id.js';
import type { TimerHeap } from '../internal/timer-heap.js';
import type { PushOptions, Receipt } from '../queue-types.js';
import type { Attempts } from './attempts.js';
import type { Dispatcher } from './dispatch.js';
import { Job, type Settler } from './job.js';
import type { LiveKeys } from './live-keys.js';
import { type CheckedPush, checkPush, NO_OPTIONS, PART, type QueueConfig } from './options.js';
import type { WaitingRoom } from './waiting.js';

/**
 * Accepting items, and the count of what comes in: each accepted item gets
 * the next sequence number and enters the waiting room — as it is, in its
 * level's ring, when there is nothing to keep of it but its priority (a
 * plain item, no record), otherwise as a {@link Job}. Duplicates and
 * overflow (`'reject'`, `'drop-newest'`, `'drop-oldest'`) are decided here.
 */
export class Intake<T, R> {
  /** The sequence number the next accepted item gets (its generated id). */
  nextSeq = 1;
  /** Items accepted (see QueueStats). */
  accepted = 0;
  /** Pushes refused as duplicates (see QueueStats). */
  duplicates = 0;

  readonly #config: QueueConfig<T, R>;
  readonly #capacity: number;
  readonly #plainPushes: boolean;
  readonly #timers: TimerHeap;
  readonly #room: WaitingRoom<T, R>;
  readonly #attempts: Attempts<T, R>;
  readonly #dispatch: Dispatcher<T, R>;
  readonly #dedupe: LiveKeys<T, R> | undefined;
  /** Starts what can start, admits waiting pushes, checks watchers (the queue's). */
  readonly #startWork: () => void;

  constructor(
    config: QueueConfig<T, R>,
    timers: TimerHeap,
    room: WaitingRoom<T, R>,
    attempts: Attempts<T, R>,
    dispatch: Dispatcher<T, R>,
    dedupe: LiveKeys<T, R> | undefined,
    startWork: () => void,
  ) {
    this.#config = config;
    this.#capacity = config.capacity;
    this.#plainPushes = config.plainPushes;
    this.#timers = timers;
    this.#room = room;
    this.#attempts = attempts;
    this.#dispatch = dispatch;
    this.#dedupe = dedupe;
    this.#startWork = startWork;
  }

  /** Accepts an item there is room for (or that overflow handles). Throws QueueFullError for 'reject'. */
  accept(item: T, o: CheckedPush, settler: Settler<R> | undefined): Receipt {
    const key = o.dedupeKey;
    const dedupe = this.#dedupe;
    // A dedupe key is only taken when the queue dedupes (see checkPush).
    if (key !== undefined && dedupe !== undefined) {
      const duplicate = dedupe.refuse(key, o.id, settler, item);
      if (duplicate !== undefined) {
        this.duplicates++;
        return duplicate;
      }
    }
    const overflow = this.#config.overflow;
    if (this.#room.size >= this.#capacity && overflow === 'reject') {
      throw new QueueFullError(this.#capacity, `${PART}: capacity of ${this.#capacity} reached`);
    }
    if (key !== undefined) dedupe!.remember(key);
    // Plain: nothing but a priority to keep. NO_OPTIONS means no push options, no groupBy, no dedupe and no queue ttlMs.
    if (settler === undefined && this.#room.size < this.#capacity) {
      if (o === NO_OPTIONS) return this.acceptPlain(item, 0);
      if (this.#plainPushes && o.onlyPriority) {
        return this.acceptPlain(item, o.priority);
      }
    }
    // Stamped with the turn's time: one clock read for a loop of pushes (see firstSeenAt).
    const job = new Job<T, R>(item, o.id, this.nextSeq++, o.priority, this.#timers.turnNow(), o.groupKey, key);
    if (settler) job.settlers = [settler];
    if (o.history !== undefined) job.history = o.history;
    if (o.timeoutMs !== undefined) job.timeoutMs = o.timeoutMs;
    this.accepted++;
    if (o.id !== undefined) this.#attempts.byId.set(o.id, job);
    const full = this.#room.size >= this.#capacity;
    if (full && overflow === 'drop-newest') {
      this.#attempts.deadLetter(job, 'maxlen', undefined);
      return { id: job.id, duplicate: false, dropped: true, replaced: false };
    }
    if (key !== undefined) dedupe!.hold(key, job);
    const ttlMs = o.ttlMs;
    if (ttlMs !== undefined) job.ttlTimer = this.#timers.add(this.#timers.now() + ttlMs, () => this.#attempts.expire(job, ttlMs));
    this.#room.enter(job, o.delayMs);
    this.#attempts.metrics?.arrived(job.pushedAt, this.#room.size);
    if (this.#attempts.listened) this.#attempts.enqueued(job.item, job.id, job.pushedAt);
    const signal = o.signal;
    if (signal !== undefined) job.detach = whenAborted(signal, () => this.#attempts.cancel(job, signal.reason));
    if (full) {
      // drop-oldest: the new item is in, so listeners of the drop see the books balanced; it is the newest, so never the oldest.
      const oldest = this.#room.takeOldest();
      if (oldest) this.#attempts.deadLetter(oldest, 'maxlen', undefined);
    }
    this.#startWork();
    return { id: job.id, duplicate: false, dropped: false, replaced: false };
  }

  /**
   * Accepts an item into a queue with room when there is nothing to keep of it but its priority (no id, delay, TTL,
   * group, dedupe key or caller awaiting its result): it waits as it is in its level's ring, no record.
   */
  acceptPlain(item: T, priority: number): Receipt {
    const seq = this.nextSeq++;
    this.accepted++;
    // Stamped with the turn's time: one clock read for a loop of pushes (see firstSeenAt).
    const now = this.#timers.turnNow();
    this.#room.enterPlain(item, seq, now, priority);
    this.#attempts.metrics?.arrived(now, this.#room.size);
    if (this.#attempts.listened) this.#attempts.enqueued(item, seqId(seq), now);
    // A push can only start work: it never meets a watcher (they wait for fewer items) or admits a pusher.
    const dispatch = this.#dispatch;
    if (dispatch.workers < dispatch.concurrency || dispatch.handler === undefined) this.#startWork();
    return { id: seqId(seq), duplicate: false, dropped: false, replaced: false };
  }

  /**
   * A push into a queue whose dedupe store answers later (shared by many
   * processes): the store is asked first — its `check` records the key, so
   * the first push of a key anywhere wins — then `offer` accepts the item.
   * A push the queue then refuses (closed, full, dropped, aborted) has its
   * key forgotten again, so a later push of it is not taken for a duplicate.
   */
  async sharedPush(
    item: T,
    options: PushOptions | undefined,
    settler: Settler<R> | undefined,
    offer: () => Receipt | Promise<Receipt>,
  ): Promise<Receipt> {
    const key = checkPush(this.#config, item, options).dedupeKey;
    const store = this.#dedupe!.store as AsyncDedupeStore;
    if (key !== undefined && !(await store.check(key))) {
      this.duplicates++;
      settler?.reject(new DuplicateError(key, `${PART}: duplicate of key ${JSON.stringify(key)}`));
      return { id: options?.id ?? String(key), duplicate: true, dropped: false, replaced: false };
    }
    try {
      const receipt = await offer();
      if (receipt.dropped && key !== undefined) await store.delete(key);
      return receipt;
    } catch (error) {
      if (key !== undefined) await store.delete(key).catch(() => false);
      throw error;
    }
  }
}
