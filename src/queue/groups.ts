import { Ring } from '../internal/ring.js';
import type { GroupKey } from '../queue-types.js';
import { GROUP_WAIT, type Job } from './job.js';
import type { ReadyLevels } from './ready.js';

/** One message group's state, as SQS FIFO's `MessageGroupId`. */
export interface Group<T, R> {
  readonly key: GroupKey;
  /** Items holding one of the group's slots: ready or in flight. */
  active: number;
  /** Items waiting for a slot, in push order (it may also hold items that left). */
  readonly waiting: Ring<Job<T, R>>;
  /** Live items in `waiting`. */
  waitingLive: number;
}

/**
 * Message groups: FIFO per group, at most `concurrency` items of a group
 * holding a slot (ready or in flight) at once. A group exists while it holds
 * a slot or has items waiting for one.
 */
export class Groups<T, R> {
  readonly #byKey = new Map<GroupKey, Group<T, R>>();

  constructor(
    readonly concurrency: number,
    readonly ready: ReadyLevels<T, R>,
  ) {}

  /** Places an item of a group (`job.groupKey` set): ready when its group has a free slot, else waiting behind it (GROUP_WAIT). */
  admit(job: Job<T, R>): void {
    let group = job.group;
    if (group === undefined) {
      const key = job.groupKey!;
      group = this.#byKey.get(key);
      if (group === undefined) {
        group = { key, active: 0, waiting: new Ring(), waitingLive: 0 };
        this.#byKey.set(key, group);
      }
      job.group = group;
    }
    if (group.active < this.concurrency) {
      group.active++;
      job.holdsSlot = true;
      this.ready.push(job);
      return;
    }
    job.state = GROUP_WAIT;
    group.waiting.push(job);
    group.waitingLive++;
  }

  /** An item waiting for a slot left (the caller marks it). */
  leave(job: Job<T, R>): void {
    job.group!.waitingLive--;
  }

  /** A finished item gives its slot back: the items next in its group take the free slots (ready). Forgets a group with nothing left. */
  release(job: Job<T, R>): void {
    const group = job.group;
    if (group === undefined) return;
    if (job.holdsSlot) {
      job.holdsSlot = false;
      group.active--;
      while (group.active < this.concurrency && group.waitingLive > 0) {
        const next = group.waiting.shift()!;
        if (next.state !== GROUP_WAIT) continue;
        group.waitingLive--;
        group.active++;
        next.holdsSlot = true;
        this.ready.push(next);
      }
    }
    if (group.active === 0 && group.waitingLive === 0) this.#byKey.delete(group.key);
  }

  /** The item of id `id` waiting for a slot, or `undefined` (O(n)). */
  findWaiting(id: string): Job<T, R> | undefined {
    for (const group of this.#byKey.values()) for (const job of group.waiting) if (job.state === GROUP_WAIT && job.id === id) return job;
    return undefined;
  }

  /** Appends every item waiting for a slot to `into`, group by group in push order. */
  takeAll(into: Job<T, R>[]): void {
    for (const group of this.#byKey.values()) for (const job of group.waiting) if (job.state === GROUP_WAIT) into.push(job);
  }
}
