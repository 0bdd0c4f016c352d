import { describe, expect, it } from 'vitest';
import { Queue, QueueFullError } from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';

describe('Queue: feeding', () => {
  it('pushAll feeds an async iterable with backpressure and resolves the number accepted', async () => {
    const clock = new TestClock();
    const seen: number[] = [];
    const queue = new Queue<number>({ capacity: 2, dedupe: { key: (n) => n }, handler: async (n) => void seen.push(n), clock });
    let produced = 0;
    async function* source() {
      for (const n of [1, 2, 3, 3, 4, 5]) {
        produced++;
        yield n;
      }
    }
    await expect(queue.pushAll(source())).resolves.toBe(5);
    await queue.onIdle();
    expect(seen).toEqual([1, 2, 3, 4, 5]);
    expect(produced).toBe(6);
  });

  it('pushAll stops at the first refusal and closes the source', async () => {
    const queue = new Queue<number>({ capacity: 1, overflow: 'reject', autoStart: false, clock: new TestClock() });
    let closed = false;
    function* source() {
      try {
        yield 1;
        yield 2;
        yield 3;
      } finally {
        closed = true;
      }
    }
    await expect(queue.pushAll(source())).rejects.toBeInstanceOf(QueueFullError);
    expect(closed).toBe(true);
    expect(queue.size).toBe(1);
  });

  it('process() sets the handler and concurrency once', async () => {
    const queue = new Queue<number, number>({ clock: new TestClock() });
    queue.tryPush(1);
    queue.process((n) => n + 1, { concurrency: 4 });
    await queue.onIdle();
    expect(queue.stats.completed).toBe(1);
    expect(() => queue.process(() => 0)).toThrow(TypeError);
  });
});
