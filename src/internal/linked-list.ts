/** A node of {@link LinkedList}; callers keep it to remove in O(1). */
export interface ListNode<V> {
  value: V;
  prev: ListNode<V> | undefined;
  next: ListNode<V> | undefined;
  /** False once removed, so a second removal is a no-op. */
  linked: boolean;
}

/** A doubly linked FIFO with O(1) push, shift and removal of any node (waiter lists). */
export class LinkedList<V> {
  head: ListNode<V> | undefined;
  tail: ListNode<V> | undefined;
  size = 0;

  push(value: V): ListNode<V> {
    const node: ListNode<V> = { value, prev: this.tail, next: undefined, linked: true };
    if (this.tail) this.tail.next = node;
    else this.head = node;
    this.tail = node;
    this.size++;
    return node;
  }

  shift(): V | undefined {
    const node = this.head;
    if (!node) return undefined;
    this.remove(node);
    return node.value;
  }

  remove(node: ListNode<V>): boolean {
    if (!node.linked) return false;
    node.linked = false;
    if (node.prev) node.prev.next = node.next;
    else this.head = node.next;
    if (node.next) node.next.prev = node.prev;
    else this.tail = node.prev;
    node.prev = node.next = undefined;
    this.size--;
    return true;
  }
}
