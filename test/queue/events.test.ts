import { describe, expect, it, vi } from 'vitest';
import { Queue } from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';

describe('Queue: events', () => {
  it.each(['on', 'addListener', 'once'] as const)('delivers events to a first listener added with %s', async (method) => {
    const queue = new Queue<number, number>({ handler: (n) => n * 2, clock: new TestClock() });
    await queue.push(1); // nothing listens yet
    const seen: [string, unknown][] = [];
    queue[method]('active', (item) => seen.push(['active', item]));
    queue[method]('completed', (_item, result) => seen.push(['completed', result]));
    await queue.push(2);
    await queue.onIdle();
    expect(seen).toEqual([
      ['active', 2],
      ['completed', 4],
    ]);
  });

  it('a listener that throws never breaks the queue; the error reaches error listeners', async () => {
    const queue = new Queue<number, number>({ handler: (n) => n, clock: new TestClock() });
    const boom = new Error('listener bug');
    const errors: unknown[] = [];
    queue.on('completed', () => {
      throw boom;
    });
    queue.on('error', (e) => errors.push(e));
    await expect(queue.submit(1)).resolves.toBe(1);
    await expect(queue.submit(2)).resolves.toBe(2);
    expect(errors).toEqual([boom, boom]);
  });

  it('emits active and completed with typed payloads', async () => {
    const queue = new Queue<string, number>({ handler: (s) => s.length, clock: new TestClock() });
    const active = vi.fn();
    const completed = vi.fn();
    queue.on('active', active);
    queue.on('completed', completed);
    await queue.submit('abc', { id: 'i1' });
    expect(active).toHaveBeenCalledWith('abc', { id: 'i1', attempt: 1 });
    expect(completed).toHaveBeenCalledWith('abc', 3, { id: 'i1', attempt: 1 });
  });

  it('names an item pushed without options by its receipt id in events and in the handler context', async () => {
    const contextIds: string[] = [];
    const queue = new Queue<string, number>({
      handler: (s, { id }) => {
        contextIds.push(id);
        return s.length;
      },
      clock: new TestClock(),
    });
    const seen: unknown[] = [];
    queue.on('active', (item, info) => seen.push(['active', item, info]));
    queue.on('completed', (item, result, info) => seen.push(['completed', item, result, info]));
    const ids = ['a', 'bb'].map((s) => queue.tryPush(s)!.id);
    await queue.onIdle();
    expect(contextIds).toEqual(ids);
    expect(seen).toEqual([
      ['active', 'a', { id: ids[0], attempt: 1 }],
      ['completed', 'a', 1, { id: ids[0], attempt: 1 }],
      ['active', 'bb', { id: ids[1], attempt: 1 }],
      ['completed', 'bb', 2, { id: ids[1], attempt: 1 }],
    ]);
  });
});
