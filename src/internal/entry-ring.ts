/**
 * The FIFO of a queue's ready items: a ring of entries with, side by side in
 * typed arrays, each entry's sequence number and push time. An entry is an
 * item pushed without options (stored as it is, no wrapper object: 24 bytes
 * a waiting item) or the queue's own record of an item that needs more.
 */
export class EntryRing<E> {
  #entries: (E | undefined)[];
  #seqs: Float64Array;
  #times: Float64Array;
  #mask: number;
  #head = 0;
  #size = 0;
  /** The sequence number and push time of the entry `shift` returned last. */
  shiftedSeq = 0;
  shiftedTime = 0;

  constructor(initialCapacity = 16) {
    let capacity = 16;
    while (capacity < initialCapacity) capacity *= 2;
    this.#entries = new Array<E | undefined>(capacity);
    this.#seqs = new Float64Array(capacity);
    this.#times = new Float64Array(capacity);
    this.#mask = capacity - 1;
  }

  get size(): number {
    return this.#size;
  }

  push(entry: E, seq: number, time: number): void {
    if (this.#size === this.#entries.length) this.#grow();
    const at = (this.#head + this.#size) & this.#mask;
    this.#entries[at] = entry;
    this.#seqs[at] = seq;
    this.#times[at] = time;
    this.#size++;
  }

  unshift(entry: E, seq: number, time: number): void {
    if (this.#size === this.#entries.length) this.#grow();
    this.#head = (this.#head - 1) & this.#mask;
    this.#entries[this.#head] = entry;
    this.#seqs[this.#head] = seq;
    this.#times[this.#head] = time;
    this.#size++;
  }

  shift(): E | undefined {
    if (this.#size === 0) return undefined;
    const at = this.#head;
    const entry = this.#entries[at];
    this.shiftedSeq = this.#seqs[at]!;
    this.shiftedTime = this.#times[at]!;
    this.#entries[at] = undefined;
    this.#head = (at + 1) & this.#mask;
    this.#size--;
    if (this.#size === 0) this.#head = 0;
    return entry;
  }

  /** The entry at position `i` from the head (0 = next to shift). */
  at(i: number): E {
    return this.#entries[(this.#head + i) & this.#mask]!;
  }

  seqAt(i: number): number {
    return this.#seqs[(this.#head + i) & this.#mask]!;
  }

  #grow(): void {
    const capacity = this.#entries.length * 2;
    const entries = new Array<E | undefined>(capacity);
    const seqs = new Float64Array(capacity);
    const times = new Float64Array(capacity);
    for (let i = 0; i < this.#size; i++) {
      const from = (this.#head + i) & this.#mask;
      entries[i] = this.#entries[from];
      seqs[i] = this.#seqs[from]!;
      times[i] = this.#times[from]!;
    }
    this.#entries = entries;
    this.#seqs = seqs;
    this.#times = times;
    this.#mask = capacity - 1;
    this.#head = 0;
  }
}
