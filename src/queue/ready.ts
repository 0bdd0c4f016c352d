import { EntryRing } from '../internal/entry-ring.js';
import { IndexedHeap } from '../internal/indexed-heap.js';
import { DONE, Job, READY } from './job.js';

/**
 * The ready items of one priority, in push order: an item pushed with nothing
 * to keep but its priority as it is (no record), any other as its {@link Job}.
 * A Job whose state is no longer READY is a tombstone (it left while it
 * waited) and is skipped when reached.
 */
export class Level<T, R> {
  ring: EntryRing<T | Job<T, R>>;
  /** Its place in the heap of levels; -1 while it is not in it. */
  index = -1;

  constructor(readonly priority: number) {
    // Level 0 takes the common case's traffic; a level per distinct priority starts small.
    this.ring = new EntryRing(priority === 0 ? 16 : 2);
  }
}

/**
 * The ready items of a queue, by priority (highest first, FIFO among equals),
 * as a binary max-heap of levels: a new priority, the next level and a
 * level that ran dry each cost O(log L) for L priorities in use, so items of
 * distinct priorities queue in O(log n) each. Level 0 is kept at hand; other
 * levels are made when first needed and forgotten once they run dry. A level
 * may sit in the heap empty until the heap reaches it (lazily removed).
 * `count` is the number of live ready items: the rings may also hold tombstones.
 */
export class ReadyLevels<T, R> {
  readonly level0 = new Level<T, R>(0);
  /** Levels holding (or lately holding) ready items, as a max-heap by priority. */
  readonly #heap = new IndexedHeap<Level<T, R>>((a, b) => a.priority > b.priority);
  readonly #byPriority = new Map<number, Level<T, R>>();
  /** Live ready items. */
  count = 0;

  /**
   * Whether level 0 is the only level in use, so that every ready item is in
   * its ring (the worker loop's plain lane takes from there directly).
   */
  get onlyLevel0(): boolean {
    const size = this.#heap.size;
    return size === 0 || (size === 1 && this.level0.index === 0);
  }

  /** The level of `priority`, in the heap, made when first needed. */
  level(priority: number): Level<T, R> {
    let level: Level<T, R> | undefined;
    if (priority === 0) level = this.level0;
    else {
      level = this.#byPriority.get(priority);
      if (level === undefined) {
        level = new Level(priority);
        this.#byPriority.set(priority, level);
      }
    }
    if (level.index < 0) this.#heap.push(level);
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
    const level = priority === 0 && this.level0.index >= 0 ? this.level0 : this.level(priority);
    level.ring.push(item, seq, pushedAt);
    this.count++;
  }

  /** Takes the next ready item (a plain one gets its record now), or `undefined`. */
  pop(): Job<T, R> | undefined {
    for (let top = this.#heap.peek(); top !== undefined; top = this.#heap.peek()) {
      const ring = top.ring;
      while (ring.size > 0) {
        const entry = ring.shift()!;
        if (entry instanceof Job) {
          if (entry.state !== READY) continue; // a tombstone
          this.count--;
          return entry;
        }
        this.count--;
        return Job.plain<T, R>(entry, ring.shiftedSeq, ring.shiftedTime, top.priority);
      }
      this.#remove(top); // ran dry (or held only tombstones)
    }
    return undefined;
  }

  /** The ready record of item `id`, or `undefined` (O(n)). */
  findRecord(id: string): Job<T, R> | undefined {
    let found: Job<T, R> | undefined;
    for (const level of this.#heap.elements) {
      level.ring.forEach((entry) => {
        if (found === undefined && entry instanceof Job && entry.state === READY && entry.id === id) found = entry;
      });
      if (found !== undefined) return found;
    }
    return undefined;
  }

  /**
   * Takes out the plain item (one with no record) of sequence number `seq`,
   * if it is ready: a tombstone takes its place. Returns its record, made
   * now (state DONE), or `undefined`. O(n): `cancel()` of a plain item.
   */
  takePlain(seq: number): Job<T, R> | undefined {
    let taken: Job<T, R> | undefined;
    for (const level of this.#heap.elements) {
      const found = level.ring.replace(seq, (entry, time) => {
        if (entry instanceof Job) return undefined; // a record is found by its id, not here
        taken = Job.plain<T, R>(entry, seq, time, level.priority);
        taken.state = DONE; // the tombstone where it sat
        return taken;
      });
      if (found) {
        this.count--;
        return taken;
      }
    }
    return undefined;
  }

  /** Appends every ready item to `into` as a record, in priority then push order, and empties the levels (still counted). */
  takeAll(into: Job<T, R>[]): void {
    const levels = [...this.#heap.elements].sort((a, b) => b.priority - a.priority);
    for (const level of levels) {
      level.ring.forEach((entry, seq, time) => {
        if (!(entry instanceof Job)) into.push(Job.plain<T, R>(entry, seq, time, level.priority));
        else if (entry.state === READY) into.push(entry);
      });
      level.ring = new EntryRing(level === this.level0 ? 16 : 2);
      this.#remove(level);
    }
  }

  /** Takes a level out of the heap; a level other than 0 is forgotten (its priority may come back as a new one). */
  #remove(level: Level<T, R>): void {
    this.#heap.remove(level);
    if (level !== this.level0) this.#byPriority.delete(level.priority);
  }
}
