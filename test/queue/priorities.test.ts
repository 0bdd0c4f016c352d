import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Queue } from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';

const runs = Number(process.env.SLUICE_PROPERTY_RUNS ?? 100);

describe('Queue: priorities', () => {
  it('runs higher priorities first and equal ones in push order, for any mix of priorities (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ priority: fc.integer({ min: -5, max: 5 }), withId: fc.boolean() }), { maxLength: 60 }),
        fc.array(fc.integer({ min: -5, max: 5 }), { maxLength: 20 }),
        async (first, later) => {
          const ran: number[] = [];
          const queue = new Queue<number>({ autoStart: false, handler: (n) => void ran.push(n), clock: new TestClock() });
          const pushed: { n: number; priority: number }[] = [];
          first.forEach(({ priority, withId }, n) => {
            queue.tryPush(n, withId ? { priority, id: `item-${n}` } : { priority });
            pushed.push({ n, priority });
          });
          queue.resume();
          await queue.onIdle();
          // A second round into levels that ran dry and were forgotten.
          queue.pause();
          later.forEach((priority, i) => {
            const n = first.length + i;
            queue.tryPush(n, { priority });
            pushed.push({ n, priority });
          });
          queue.resume();
          await queue.onIdle();
          const byPriority = (xs: typeof pushed) => [...xs].sort((a, b) => b.priority - a.priority || a.n - b.n).map((x) => x.n);
          expect(ran).toEqual([...byPriority(pushed.slice(0, first.length)), ...byPriority(pushed.slice(first.length))]);
        },
      ),
      { numRuns: runs },
    );
  });

  it('keeps 20 000 distinct priorities in order (a heap of levels, not an array spliced per push)', async () => {
    const ran: number[] = [];
    const queue = new Queue<number>({ autoStart: false, handler: (n) => void ran.push(n), clock: new TestClock() });
    const priorities = Array.from({ length: 20_000 }, (_, i) => (i * 7_919) % 20_000); // a permutation
    for (const p of priorities) queue.tryPush(p, { priority: p });
    queue.resume();
    await queue.onIdle();
    expect(ran).toEqual(Array.from({ length: 20_000 }, (_, i) => 19_999 - i));
  });
});
