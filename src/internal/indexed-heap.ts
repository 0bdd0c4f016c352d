/** An element of an {@link IndexedHeap}: it knows its place, so it can be removed in O(log n). */
export interface HeapElement {
  /** Position in the heap; -1 while it is not in one. */
  index: number;
}

/**
 * A binary heap whose elements keep their own position: O(log n) push and
 * removal of any element, O(1) peek. `before(a, b)` orders it (true when `a`
 * comes out first). The timer heap and the queue's priority levels use it.
 */
export class IndexedHeap<E extends HeapElement> {
  /** The elements in heap order (`[0]` comes out first). */
  readonly elements: E[] = [];

  constructor(readonly before: (a: E, b: E) => boolean) {}

  get size(): number {
    return this.elements.length;
  }

  /** The element that comes out first, or `undefined`. */
  peek(): E | undefined {
    return this.elements[0];
  }

  push(element: E): void {
    element.index = this.elements.length;
    this.elements.push(element);
    this.#up(element.index);
  }

  /** Takes `element` out (it must be in this heap). */
  remove(element: E): void {
    const heap = this.elements;
    const at = element.index;
    element.index = -1;
    const last = heap.pop()!;
    if (last !== element) {
      heap[at] = last;
      last.index = at;
      this.#down(at);
      this.#up(last.index);
    }
  }

  /** Takes every element out. */
  clear(): void {
    for (const element of this.elements) element.index = -1;
    this.elements.length = 0;
  }

  #up(index: number): void {
    const heap = this.elements;
    const element = heap[index]!;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = heap[parentIndex]!;
      if (!this.before(element, parent)) break;
      heap[index] = parent;
      parent.index = index;
      index = parentIndex;
    }
    heap[index] = element;
    element.index = index;
  }

  #down(index: number): void {
    const heap = this.elements;
    const length = heap.length;
    const element = heap[index]!;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= length) break;
      const right = left + 1;
      const child = right < length && this.before(heap[right]!, heap[left]!) ? right : left;
      if (!this.before(heap[child]!, element)) break;
      heap[index] = heap[child]!;
      heap[index]!.index = index;
      index = child;
    }
    heap[index] = element;
    element.index = index;
  }
}
