/**
 * A growable ring buffer: O(1) push and shift, no `Array#shift`, no per-item
 * allocation. The FIFO under every queue.
 */
export class Ring<V> {
  #buffer: (V | undefined)[];
  #mask: number;
  #head = 0;
  #size = 0;

  constructor(initialCapacity = 16) {
    let capacity = 16;
    while (capacity < initialCapacity) capacity *= 2;
    this.#buffer = new Array<V | undefined>(capacity);
    this.#mask = capacity - 1;
  }

  get size(): number {
    return this.#size;
  }

  push(value: V): void {
    if (this.#size === this.#buffer.length) this.#grow();
    this.#buffer[(this.#head + this.#size) & this.#mask] = value;
    this.#size++;
  }

  /** The first value, left in place. */
  peek(): V | undefined {
    return this.#size === 0 ? undefined : this.#buffer[this.#head];
  }

  shift(): V | undefined {
    if (this.#size === 0) return undefined;
    const value = this.#buffer[this.#head];
    this.#buffer[this.#head] = undefined;
    this.#head = (this.#head + 1) & this.#mask;
    this.#size--;
    if (this.#size === 0) this.#head = 0;
    return value;
  }

  /** Removes everything and returns it in order. */
  drain(): V[] {
    const out = new Array<V>(this.#size);
    for (let i = 0; i < out.length; i++) out[i] = this.shift()!;
    return out;
  }

  *[Symbol.iterator](): IterableIterator<V> {
    for (let i = 0; i < this.#size; i++) yield this.#buffer[(this.#head + i) & this.#mask]!;
  }

  #grow(): void {
    const old = this.#buffer;
    const next = new Array<V | undefined>(old.length * 2);
    for (let i = 0; i < this.#size; i++) next[i] = old[(this.#head + i) & this.#mask];
    this.#buffer = next;
    this.#mask = next.length - 1;
    this.#head = 0;
  }
}
