import { describe, expect, it, vi } from 'vitest';
import { Deduper, DuplicateError, Queue } from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';
import { deferred } from '../helpers.js';

describe('Queue: dedupe', () => {
  it('a key is a duplicate while its item waits or runs, and within its window', async () => {
    const clock = new TestClock();
    const handler = vi.fn();
    const queue = new Queue<{ id: string }>({
      dedupe: { key: (x) => x.id, windowMs: 1_000 },
      autoStart: false,
      handler,
      clock,
    });
    expect((await queue.push({ id: 'a' })).duplicate).toBe(false);
    expect((await queue.push({ id: 'a' })).duplicate).toBe(true);
    queue.resume();
    await queue.onIdle();
    expect((await queue.push({ id: 'a' })).duplicate).toBe(true); // window still open
    await clock.advance(1_000);
    expect((await queue.push({ id: 'a' })).duplicate).toBe(false);
    await queue.onIdle();
    expect(handler).toHaveBeenCalledTimes(2);
    expect(queue.stats).toMatchObject({ accepted: 2, duplicates: 2 });
  });

  it('stays a duplicate while the item runs even after the window closed', async () => {
    const clock = new TestClock();
    const gate = deferred();
    const queue = new Queue<string>({ dedupe: { key: (s) => s, windowMs: 10 }, handler: () => gate.promise, clock });
    await queue.push('k');
    await clock.advance(50);
    expect((await queue.push('k')).duplicate).toBe(true);
    gate.resolve();
    await queue.onIdle();
    expect((await queue.push('k')).duplicate).toBe(false);
  });

  it('uses the push id as the key when given, and a shared Deduper', async () => {
    const deduper = new Deduper({ clock: new TestClock() });
    const queue = new Queue<string>({ dedupe: deduper, autoStart: false, clock: new TestClock() });
    expect((await queue.push('x', { id: 'k1' })).duplicate).toBe(false);
    expect((await queue.push('y', { id: 'k1' })).duplicate).toBe(true);
    expect((await queue.push('z')).duplicate).toBe(false); // no id: not checked
    expect((await queue.push('z')).duplicate).toBe(false);
    expect(deduper.has('k1')).toBe(true);
  });

  it('submit of a duplicate shares the original’s outcome while it is live, else rejects DuplicateError', async () => {
    const clock = new TestClock();
    const queue = new Queue<string, string>({ dedupe: { key: (s) => s }, autoStart: false, handler: (s) => `${s}!`, clock });
    const first = queue.submit('a');
    const second = queue.submit('a');
    queue.resume();
    await expect(first).resolves.toBe('a!');
    await expect(second).resolves.toBe('a!');
    await expect(queue.submit('a')).rejects.toBeInstanceOf(DuplicateError);
  });

  it('refuses an item whose key function throws, at push', async () => {
    const boom = new Error('no key');
    const queue = new Queue<number>({
      dedupe: {
        key: () => {
          throw boom;
        },
      },
      clock: new TestClock(),
    });
    await expect(queue.push(1)).rejects.toBe(boom);
    expect(() => queue.tryPush(1)).toThrow(boom);
    expect(queue.stats.accepted).toBe(0);
  });
});
