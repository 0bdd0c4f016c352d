import { IndexedHeap } from '../internal/indexed-heap.js';
import type { TimerHeap } from '../internal/timer-heap.js';
import { type GroupPolicy, Groups } from './groups.js';
import type { GroupKey } from '../queue-types.js';
import { DELAYED, DONE, GROUP_WAIT, type Job, READY } from './job.js';
import { ReadyLevels } from './ready.js';

/**
 * Where a queue's waiting items are: ready by priority, behind their message
 * group, or delayed (`delayMs`, a retry's backoff). It owns the count of
 * them, `size`: it rises when an item enters (accepted, retried, given back)
 * and falls when one is taken to start ({@link WaitingRoom.pop}, or the
 * worker loop's plain lane, which takes from `ready.level0` itself) or
 * leaves early ({@link WaitingRoom.unlink}).
 *
 * A bounded `'drop-oldest'` queue's room also keeps every waiting record in a
 * min-heap by push order (`seq`), wherever it waits, so the oldest is found
 * and taken in O(log n) however many priorities, groups and delays there are.
 * Such a queue makes a record for every item (no plain entries) and its
 * worker loops take through {@link WaitingRoom.pop}.
 */
export class WaitingRoom<T, R> {
  readonly ready = new ReadyLevels<T, R>();
  /** Message groups; made when the first item with a group arrives. */
  groups: Groups<T, R> | undefined;
  readonly #groupPolicy: GroupPolicy;
  /** Items waiting for `delayMs` or a retry backoff. */
  readonly #delayed = new Set<Job<T, R>>();
  /** Every waiting record by push order, when the queue drops its oldest. */
  readonly #bySeq: IndexedHeap<Job<T, R>> | undefined;
  readonly #timers: TimerHeap;
  /** Called when a delayed item becomes available. */
  readonly #onDue: () => void;
  /** Items waiting, ready, grouped and delayed. */
  size = 0;

  /**
   * @param timers - the queue's timers, for delays.
   * @param groupPolicy - slots and rate limits per message group.
   * @param tracksOldest - keep the waiting records by push order, for {@link WaitingRoom.takeOldest}.
   * @param onDue - called after a delayed item became available.
   */
  constructor(timers: TimerHeap, groupPolicy: GroupPolicy, tracksOldest: boolean, onDue: () => void) {
    this.#timers = timers;
    this.#groupPolicy = groupPolicy;
    this.#bySeq = tracksOldest ? new IndexedHeap<Job<T, R>>((a, b) => a.seq < b.seq) : undefined;
    this.#onDue = onDue;
  }

  /** Sets the slots per message group live (`queue.groupConcurrency`). */
  setGroupConcurrency(concurrency: number | ((key: GroupKey) => number)): void {
    if (this.groups !== undefined) this.groups.setConcurrency(concurrency);
    else this.#groupPolicy.concurrency = concurrency;
  }

  /** Whether every waiting item has a record kept by push order (worker loops then take through {@link WaitingRoom.pop}). */
  get tracksOldest(): boolean {
    return this.#bySeq !== undefined;
  }

  /** An item pushed with nothing to keep but its priority enters, with no record. */
  enterPlain(item: T, seq: number, pushedAt: number, priority: number): void {
    this.size++;
    this.ready.pushPlain(item, seq, pushedAt, priority);
  }

  /** An accepted item enters: delayed by `delayMs`, or available now (ready, or behind its group). */
  enter(job: Job<T, R>, delayMs: number): void {
    this.size++;
    this.#bySeq?.push(job);
    if (delayMs > 0) this.#delay(job, delayMs);
    else this.#admit(job);
  }

  /** A failed item waits for its retry; it keeps its group slot. */
  retry(job: Job<T, R>, delayMs: number): void {
    this.size++;
    this.#bySeq?.push(job);
    if (delayMs > 0) this.#delay(job, delayMs);
    else this.#readmit(job);
  }

  /** An unacked delivery waits again, at the front of its priority (it keeps its group slot). */
  giveBack(job: Job<T, R>): void {
    this.size++;
    this.#bySeq?.push(job);
    this.ready.unshift(job);
  }

  /** Takes the next ready item to start, or `undefined`. */
  pop(): Job<T, R> | undefined {
    const job = this.ready.pop();
    if (job !== undefined) {
      this.size--;
      if (job.index >= 0) this.#bySeq!.remove(job);
    }
    return job;
  }

  /** The waiting record of item `id`, wherever it waits, or `undefined` (O(n): `cancel()`). */
  findRecord(id: string): Job<T, R> | undefined {
    const found = this.ready.findRecord(id) ?? this.groups?.findWaiting(id);
    if (found !== undefined) return found;
    for (const job of this.#delayed) if (job.id === id) return job;
    return undefined;
  }

  /** Takes out the ready plain item of sequence number `seq` (see ReadyLevels.takePlain); its record, or `undefined`. */
  takePlain(seq: number): Job<T, R> | undefined {
    const job = this.ready.takePlain(seq);
    if (job !== undefined) this.size--;
    return job;
  }

  /** Takes a waiting item out of wherever it waits (READY/GROUP_WAIT/DELAYED → DONE); false when it was not waiting. */
  unlink(job: Job<T, R>): boolean {
    switch (job.state) {
      case READY:
        this.ready.count--;
        break;
      case GROUP_WAIT:
        this.groups!.leave(job);
        break;
      case DELAYED:
        if (job.timer) this.#timers.cancel(job.timer);
        job.timer = undefined;
        this.#delayed.delete(job);
        break;
      default:
        return false;
    }
    job.state = DONE; // a tombstone where it sat in a ring
    this.size--;
    if (job.index >= 0) this.#bySeq!.remove(job);
    return true;
  }

  /**
   * Takes out the waiting item pushed first (lowest `seq`: a retried item
   * keeps its place), wherever it waits, or `undefined` when none waits.
   * O(log n); only in a room that tracks the oldest.
   */
  takeOldest(): Job<T, R> | undefined {
    const oldest = this.#bySeq!.peek();
    if (oldest !== undefined) this.unlink(oldest);
    return oldest;
  }

  /** Takes out every waiting item: ready by priority, then group by group, then delayed by due time. */
  takeAll(): Job<T, R>[] {
    const jobs: Job<T, R>[] = [];
    this.ready.takeAll(jobs);
    this.groups?.takeAll(jobs);
    const delayed = [...this.#delayed];
    delayed.sort((a, b) => a.timer!.due - b.timer!.due || a.timer!.seq - b.timer!.seq);
    for (const job of delayed) jobs.push(job);
    for (const job of jobs) this.unlink(job);
    return jobs;
  }

  /** Available now: ready, or behind its group. */
  #admit(job: Job<T, R>): void {
    if (job.groupKey === undefined) this.ready.push(job);
    else (this.groups ??= new Groups(this.#groupPolicy, this.ready)).admit(job);
  }

  /** Available again after a failure or a delay: an item holding its group slot goes straight back to ready. */
  #readmit(job: Job<T, R>): void {
    if (job.holdsSlot || job.groupKey === undefined) this.ready.push(job);
    else (this.groups ??= new Groups(this.#groupPolicy, this.ready)).admit(job);
  }

  #delay(job: Job<T, R>, delayMs: number): void {
    job.state = DELAYED;
    this.#delayed.add(job);
    job.timer = this.#timers.add(this.#timers.now() + delayMs, () => this.#due(job));
  }

  #due(job: Job<T, R>): void {
    job.timer = undefined;
    if (job.state !== DELAYED) return;
    this.#delayed.delete(job);
    this.#readmit(job);
    this.#onDue();
  }
}
