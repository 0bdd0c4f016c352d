import { describe, expect, it } from 'vitest';
import { Queue, QueueClosedError } from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';
import { balanced, deferred, track } from '../helpers.js';

describe('Queue: clear()', () => {
  it('hands back every waiting item — ready, delayed, behind a group, waiting to retry — without closing', async () => {
    const clock = new TestClock();
    const gate = deferred();
    let failedOnce = false;
    const queue = new Queue<string>({
      concurrency: 2,
      groupBy: (s) => (s.startsWith('g') ? 'g' : s),
      retry: { maxAttempts: 2, backoff: { initialDelayMs: 1_000, jitter: 'none' } },
      handler: (s) => {
        if (s === 'flaky' && !failedOnce) {
          failedOnce = true;
          throw new Error('once');
        }
        if (s === 'g1') return gate.promise; // holds group g's slot
      },
      clock,
    });
    const submits = ['flaky', 'g1'].map((s) => track(queue.submit(s)));
    await clock.advance(0); // 'flaky' failed and waits 1 s; 'g1' runs
    const waiting = ['g2', 'later', 'plain'].map((s, i) => track(queue.submit(s, i === 1 ? { delayMs: 5_000 } : undefined)));
    await clock.advance(0);
    expect(queue.size).toBe(3); // flaky (retry), g2 (behind g1), later (delayed); 'plain' ran
    const events: string[] = [];
    queue.on('idle', () => events.push('idle'));

    const handedBack = queue.clear();
    expect(handedBack.sort()).toEqual(['flaky', 'g2', 'later']);
    expect(queue.size).toBe(0);
    expect(queue.isClosed).toBe(false);
    expect(queue.stats).toMatchObject({ returned: 3, inFlight: 1 });
    expect(balanced(queue.stats)).toBe(true);
    await clock.advance(0);
    for (const t of [submits[0]!, waiting[0]!, waiting[1]!]) {
      expect(t.error).toBeInstanceOf(QueueClosedError);
      expect((t.error as Error).message).toMatch(/handed back by clear\(\)/);
    }
    expect(waiting[2]!.settled).toBe(true); // 'plain' had run: nothing to hand back
    await expect(queue.onEmpty()).resolves.toBeUndefined();

    // Running attempts go on; the queue takes new items as before.
    await queue.push('after');
    gate.resolve();
    await clock.advance(10_000);
    await queue.onIdle();
    expect(queue.stats).toMatchObject({ accepted: 6, completed: 3, returned: 3 });
    expect(balanced(queue.stats)).toBe(true);
    expect(events).toContain('idle');
    expect(clock.pendingTimers).toBe(0); // the cleared items' delay and retry timers went with them
  });

  it('makes room: pushes waiting for it are admitted', async () => {
    const queue = new Queue<number>({ capacity: 1, autoStart: false, handler: () => {}, clock: new TestClock() });
    await queue.push(1);
    const blocked = track(queue.push(2));
    await Promise.resolve();
    expect(blocked.settled).toBe(false);
    expect(queue.clear()).toEqual([1]);
    await Promise.resolve();
    expect(blocked.settled).toBe(true);
    expect(queue.size).toBe(1);
  });

  it('on an empty queue hands back nothing and changes nothing', () => {
    const queue = new Queue<number>({ clock: new TestClock() });
    expect(queue.clear()).toEqual([]);
    expect(queue.stats.returned).toBe(0);
  });
});
