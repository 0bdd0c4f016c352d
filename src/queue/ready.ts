import { EntryRing } from '../internal/entry-ring.js';
import { Job, READY } from './job.js';

/**
 * The ready items of one priority, in push order: an item pushed with nothing
 * to keep but its priority as it is (no record), any other as its {@link Job}.
 * A Job whose state is no longer READY is a tombstone (it left while it
 * waited) and is skipped when reached.
 */
export class Level<T, R> {
  ring = new EntryRing<T | Job<T, R>>();
  constructor(readonly priority: number) {}
}

/**
 * The ready items of a queue, by priority (highest first, FIFO among equals).
 * Level 0 always exists and is kept at hand; other levels exist while they
 * hold entries. `count` is the number of live ready items: the rings may
 * also hold tombstones.
 */
export class ReadyLevels<T, R> {
  readonly level0 = new Level<T, R>(0);
  /** Every level, highest priority first. */
  levels: Level<T, R>[] = [this.level0];
  readonly #byPriority = new Map<number, Level<T, R>>([[0, this.level0]]);
  /** Live ready items. */
  count = 0;

  /** The level of `priority`, made when first needed. */
  level(priority: number): Level<T, R> {
    if (priority === 0) return this.level0;
    let level = this.#byPriority.get(priority);
    if (level === undefined) {
      level = new Level(priority);
      this.#byPriority.set(priority, level);
      const levels = this.levels;
      let i = 0;
      while (i < levels.length && levels[i]!.priority > priority) i++;
      levels.splice(i, 0, level);
    }
    return level;
  }

  /** Makes a record ready, behind the items of its priority. */
  push(job: Job<T, R>): void {
    job.state = READY;
    this.level(job.priority).ring.push(job, job.seq, job.pushedAt);
    this.count++;
  }

  /** Makes a record ready ahead of the items of its priority (a delivery given back). */
  unshift(job: Job<T, R>): void {
    job.state = READY;
    this.level(job.priority).ring.unshift(job, job.seq, job.pushedAt);
    this.count++;
  }

  /** Makes an item pushed without options ready, with no record. */
  pushPlain(item: T, seq: number, pushedAt: number, priority: number): void {
    (priority === 0 ? this.level0 : this.level(priority)).ring.push(item, seq, pushedAt);
    this.count++;
  }

  /** Takes the next ready item (a plain one gets its record now), or `undefined`. */
  pop(): Job<T, R> | undefined {
    for (let i = 0; i < this.levels.length; ) {
      const level = this.levels[i]!;
      const ring = level.ring;
      while (ring.size > 0) {
        const entry = ring.shift()!;
        if (entry instanceof Job) {
          if (entry.state !== READY) continue; // a tombstone
          this.count--;
          if (ring.size === 0 && level !== this.level0) this.#drop(level);
          return entry;
        }
        this.count--;
        return Job.plain<T, R>(entry, ring.shiftedSeq, ring.shiftedTime, level.priority);
      }
      // Only tombstones were left at this level.
      if (level === this.level0) i++;
      else this.#drop(level);
    }
    return undefined;
  }

  /**
   * The level whose head was pushed first, and that head's sequence number
   * (tombstones at the heads are dropped on the way); `undefined` when none is ready.
   */
  oldest(): { readonly level: Level<T, R>; readonly seq: number } | undefined {
    let oldest: Level<T, R> | undefined;
    let oldestSeq = Infinity;
    for (const level of this.levels) {
      const ring = level.ring;
      while (ring.size > 0) {
        const head = ring.peek();
        if (!(head instanceof Job) || head.state === READY) break;
        ring.shift();
      }
      if (ring.size > 0 && ring.peekSeq() < oldestSeq) {
        oldestSeq = ring.peekSeq();
        oldest = level;
      }
    }
    return oldest === undefined ? undefined : { level: oldest, seq: oldestSeq };
  }

  /** Takes the head of `level` as a record, still counted as ready (the caller unlinks it). */
  shiftHead(level: Level<T, R>): Job<T, R> {
    const ring = level.ring;
    const entry = ring.shift()!;
    const job = entry instanceof Job ? entry : Job.plain<T, R>(entry, ring.shiftedSeq, ring.shiftedTime, level.priority);
    job.state = READY;
    return job;
  }

  /** Appends every ready item to `into` as a record, in priority then push order, and empties the rings (still counted). */
  takeAll(into: Job<T, R>[]): void {
    for (const level of this.levels) {
      level.ring.forEach((entry, seq, time) => {
        if (!(entry instanceof Job)) into.push(Job.plain<T, R>(entry, seq, time, level.priority));
        else if (entry.state === READY) into.push(entry);
      });
      level.ring = new EntryRing();
    }
  }

  #drop(level: Level<T, R>): void {
    this.#byPriority.delete(level.priority);
    this.levels = this.levels.filter((l) => l !== level);
  }
}
