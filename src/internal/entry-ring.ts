/** Entries per chunk once a ring has grown: 2 048 × 24 bytes = 48 KiB a chunk. */
const MAX_CHUNK = 2048;

/** A run of a ring's entries, side by side with their sequence numbers and push times. */
class Chunk<E> {
  readonly entries: (E | undefined)[];
  readonly seqs: Float64Array;
  readonly times: Float64Array;
  /** The first used slot, and one past the last. */
  head: number;
  tail: number;
  next: Chunk<E> | undefined = undefined;

  constructor(
    readonly capacity: number,
    start: number,
  ) {
    this.entries = new Array<E | undefined>(capacity);
    this.seqs = new Float64Array(capacity);
    this.times = new Float64Array(capacity);
    this.head = start;
    this.tail = start;
  }
}

/**
 * The FIFO of a queue's ready items, with each entry's sequence number and
 * push time kept side by side in typed arrays. An entry is an item pushed
 * without options (stored as it is, no wrapper object: 24 bytes a waiting
 * item) or the queue's own record of an item that needs more.
 *
 * Entries live in a list of fixed-size chunks (as Node's own FixedQueue of
 * ticks), so growing never copies what is already queued, and a drained
 * chunk is kept for reuse instead of left to the collector.
 */
export class EntryRing<E> {
  /** The chunk holding the head (never empty while `size > 0`) and the one taking pushes. */
  #first: Chunk<E>;
  #last: Chunk<E>;
  #spare: Chunk<E> | undefined = undefined;
  #size = 0;
  /** The sequence number and push time of the entry `shift` returned last. */
  shiftedSeq = 0;
  shiftedTime = 0;

  /** @param firstChunk - entries in the first chunk (it doubles as the ring grows): 16 keeps an idle queue well under a kilobyte. */
  constructor(firstChunk = 16) {
    this.#first = this.#last = new Chunk<E>(firstChunk, 0);
  }

  get size(): number {
    return this.#size;
  }

  push(entry: E, seq: number, time: number): void {
    let chunk = this.#last;
    if (chunk.tail === chunk.capacity) {
      chunk = this.#newChunk(Math.min(chunk.capacity * 2, MAX_CHUNK), 0);
      this.#last.next = chunk;
      this.#last = chunk;
    }
    const at = chunk.tail++;
    chunk.entries[at] = entry;
    chunk.seqs[at] = seq;
    chunk.times[at] = time;
    this.#size++;
  }

  /** Puts an entry back at the head (a retry that keeps its place). */
  unshift(entry: E, seq: number, time: number): void {
    let chunk = this.#first;
    if (this.#size === 0) chunk.head = chunk.tail = chunk.capacity;
    else if (chunk.head === 0) {
      chunk = this.#newChunk(MAX_CHUNK, MAX_CHUNK);
      chunk.next = this.#first;
      this.#first = chunk;
    }
    const at = --chunk.head;
    chunk.entries[at] = entry;
    chunk.seqs[at] = seq;
    chunk.times[at] = time;
    this.#size++;
  }

  shift(): E | undefined {
    if (this.#size === 0) return undefined;
    const chunk = this.#first;
    const at = chunk.head++;
    const entry = chunk.entries[at];
    chunk.entries[at] = undefined;
    this.shiftedSeq = chunk.seqs[at]!;
    this.shiftedTime = chunk.times[at]!;
    this.#size--;
    if (chunk.head === chunk.tail) {
      const next = chunk.next;
      if (next === undefined) chunk.head = chunk.tail = 0;
      else {
        this.#first = next;
        chunk.next = undefined;
        if (chunk.capacity === MAX_CHUNK) this.#spare = chunk;
      }
    }
    return entry;
  }

  /**
   * Finds the entry with sequence number `seq` (O(n)) and puts what
   * `replace(entry, time)` returns in its place; an `undefined` answer
   * leaves it. Returns whether an entry was replaced.
   */
  replace(seq: number, replace: (entry: E, time: number) => E | undefined): boolean {
    for (let chunk: Chunk<E> | undefined = this.#first; chunk !== undefined; chunk = chunk.next) {
      for (let i = chunk.head; i < chunk.tail; i++) {
        if (chunk.seqs[i] !== seq) continue;
        const replacement = replace(chunk.entries[i]!, chunk.times[i]!);
        if (replacement === undefined) return false;
        chunk.entries[i] = replacement;
        return true;
      }
    }
    return false;
  }

  /** Calls `visit` for every entry, head first. */
  forEach(visit: (entry: E, seq: number, time: number) => void): void {
    if (this.#size === 0) return;
    for (let chunk: Chunk<E> | undefined = this.#first; chunk !== undefined; chunk = chunk.next) {
      for (let i = chunk.head; i < chunk.tail; i++) visit(chunk.entries[i]!, chunk.seqs[i]!, chunk.times[i]!);
    }
  }

  #newChunk(capacity: number, start: number): Chunk<E> {
    const spare = this.#spare;
    if (spare !== undefined && capacity === MAX_CHUNK) {
      this.#spare = undefined;
      spare.head = spare.tail = start;
      return spare;
    }
    return new Chunk<E>(capacity, start);
  }
}
