import { Ring } from '../internal/ring.js';
import type { TimerHeap } from '../internal/timer-heap.js';
import * as v from '../internal/validate.js';
import type { GroupKey } from '../queue-types.js';
import type { RateLimiter } from '../token-bucket.js';
import { GROUP_WAIT, type Job } from './job.js';
import type { ReadyLevels } from './ready.js';
import { StartGate } from './start-gate.js';

/** How message groups are limited: slots per group, and a rate limit per group. */
export interface GroupPolicy {
  /** Slots per group: a number, or a function of the group's key (asked once per group, when it forms). Live. */
  concurrency: number | ((key: GroupKey) => number);
  /** The group's own rate limit (one token per item let into the ready items), when groups have one. */
  readonly rateLimitFor: ((key: GroupKey) => RateLimiter) | undefined;
  readonly timers: TimerHeap;
  /** A group's token came: start work. */
  readonly onGrant: () => void;
  /** A `groupConcurrency` function or a group's limiter failed. */
  readonly onError: (error: unknown) => void;
  /** The part's name, for errors. */
  readonly part: string;
}

/** One message group's state, as SQS FIFO's `MessageGroupId`. */
export interface Group<T, R> {
  readonly key: GroupKey;
  /** Items holding one of the group's slots: ready or in flight. */
  active: number;
  /** Items waiting for a slot, in push order (it may also hold items that left). */
  readonly waiting: Ring<Job<T, R>>;
  /** Live items in `waiting`. */
  waitingLive: number;
  /** Its slots (`groupConcurrency`, or what the function gave for its key). */
  limit: number;
  /** Its rate limit's gate: one token per item let into the ready items. */
  gate: StartGate | undefined;
}

/**
 * Message groups: FIFO per group, at most the group's `limit` items of it
 * holding a slot (ready or in flight) at once, and — with a per-group rate
 * limit — one token per item let into the ready items, so that a limited
 * group waits on its own and never delays another. A group exists while it
 * holds a slot, has items waiting for one, or waits for a token.
 */
export class Groups<T, R> {
  readonly #byKey = new Map<GroupKey, Group<T, R>>();

  constructor(
    readonly policy: GroupPolicy,
    readonly ready: ReadyLevels<T, R>,
  ) {}

  /** Sets the slots per group live: every group takes its new limit, and items waiting take the slots freed. */
  setConcurrency(concurrency: number | ((key: GroupKey) => number)): void {
    this.policy.concurrency = concurrency;
    for (const group of this.#byKey.values()) {
      group.limit = this.#limitOf(group.key);
      this.#fill(group);
    }
  }

  /** The slots of a group with `key`; a function that throws or returns a bad value is reported, and 1 is used. */
  #limitOf(key: GroupKey): number {
    const c = this.policy.concurrency;
    if (typeof c === 'number') return c;
    let n: unknown;
    try {
      n = c(key);
    } catch (error) {
      this.policy.onError(error);
      return 1;
    }
    if (typeof n === 'number' && ((Number.isInteger(n) && n >= 1) || n === Infinity)) return n;
    this.policy.onError(
      new RangeError(
        `${this.policy.part}: groupConcurrency must return a positive integer or Infinity, got ${v.show(n)} for group ${v.show(key)}`,
      ),
    );
    return 1;
  }

  /** Whether a group may let one more item in now: a token from its rate limit, when it has one. */
  #token(group: Group<T, R>): boolean {
    return group.gate === undefined || group.gate.take();
  }

  /** Lets the group's next waiting items take its free slots (ready), while its rate limit grants. */
  #fill(group: Group<T, R>): void {
    while (group.active < group.limit && group.waitingLive > 0) {
      const next = group.waiting.peek();
      if (next === undefined) break;
      if (next.state !== GROUP_WAIT) {
        group.waiting.shift();
        continue;
      }
      if (!this.#token(group)) return; // its token comes later: onGrant fills again
      group.waiting.shift();
      group.waitingLive--;
      group.active++;
      next.holdsSlot = true;
      this.ready.push(next);
    }
    this.#forgetIfDone(group);
  }

  #forgetIfDone(group: Group<T, R>): void {
    if (group.active === 0 && group.waitingLive === 0 && this.#byKey.get(group.key) === group) {
      group.gate?.close();
      this.#byKey.delete(group.key);
    }
  }

  /** Places an item of a group (`job.groupKey` set): ready when its group has a free slot, else waiting behind it (GROUP_WAIT). */
  admit(job: Job<T, R>): void {
    let group = job.group;
    if (group === undefined) {
      const key = job.groupKey!;
      group = this.#byKey.get(key);
      if (group === undefined) {
        group = { key, active: 0, waiting: new Ring(), waitingLive: 0, limit: this.#limitOf(key), gate: undefined };
        const rateLimitFor = this.policy.rateLimitFor;
        if (rateLimitFor !== undefined) group.gate = this.#gateOf(group, rateLimitFor);
        this.#byKey.set(key, group);
      }
      job.group = group;
    }
    if (group.active < group.limit && group.waitingLive === 0 && this.#token(group)) {
      group.active++;
      job.holdsSlot = true;
      this.ready.push(job);
      return;
    }
    job.state = GROUP_WAIT;
    group.waiting.push(job);
    group.waitingLive++;
  }

  /** The gate of a group's rate limit; a limiter that cannot be had is reported and the group goes unlimited. */
  #gateOf(group: Group<T, R>, rateLimitFor: (key: GroupKey) => RateLimiter): StartGate | undefined {
    let limiter: unknown;
    try {
      limiter = rateLimitFor(group.key);
    } catch (error) {
      this.policy.onError(error);
      return undefined;
    }
    if (
      typeof limiter !== 'object' ||
      limiter === null ||
      typeof (limiter as RateLimiter).acquire !== 'function' ||
      typeof (limiter as RateLimiter).tryAcquire !== 'function'
    ) {
      this.policy.onError(
        new TypeError(
          `${this.policy.part}: groupRateLimit must return a RateLimiter, got ${v.show(limiter)} for group ${v.show(group.key)}`,
        ),
      );
      return undefined;
    }
    return new StartGate(
      limiter as RateLimiter,
      this.policy.timers,
      () => {
        this.#fill(group);
        this.policy.onGrant();
      },
      this.policy.onError,
    );
  }

  /** An item waiting for a slot left (the caller marks it). */
  leave(job: Job<T, R>): void {
    const group = job.group!;
    group.waitingLive--;
    this.#forgetIfDone(group);
  }

  /** A finished item gives its slot back: the items next in its group take the free slots (ready). Forgets a group with nothing left. */
  release(job: Job<T, R>): void {
    const group = job.group;
    if (group === undefined) return;
    if (job.holdsSlot) {
      job.holdsSlot = false;
      group.active--;
      this.#fill(group);
      return;
    }
    this.#forgetIfDone(group);
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
