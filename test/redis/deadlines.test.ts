import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Deadlines, type Timed } from '../../src/redis/queue/deadlines.js';

// A RedisQueue worker's attempt time limits on one timer (a FIFO: every attempt gets the same limit).
describe('Deadlines', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const attempt = (deadline: number, expired: number[]): Timed & { done: boolean } => {
    const a = {
      deadline,
      done: false,
      expire: () => {
        expired.push(deadline);
      },
    };
    return a;
  };

  it('expires exactly the attempts still running at their deadline, in order, on one timer', async () => {
    const d = new Deadlines();
    const expired: number[] = [];
    const all = Array.from({ length: 3_000 }, (_, i) => {
      vi.setSystemTime(i);
      const a = attempt(i + 100, expired);
      d.add(a);
      return a;
    });
    // Most settle in time, in the order they started (the head is dropped as new ones come); every 500th does not.
    for (const [i, a] of all.entries()) if (i % 500 !== 0) a.done = true;
    d.add(attempt(3_100, expired)); // prunes the settled head
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(3_200);
    expect(expired).toEqual([100, 600, 1_100, 1_600, 2_100, 2_600, 3_100]);
    expect(vi.getTimerCount()).toBe(0); // nothing left: no timer
  });

  it('holds no timer once cleared, and arms again for the next attempt', async () => {
    const d = new Deadlines();
    const expired: number[] = [];
    d.add(attempt(50, expired));
    d.clear();
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(100);
    expect(expired).toEqual([]);
    d.add(attempt(200, expired));
    await vi.advanceTimersByTimeAsync(150);
    expect(expired).toEqual([200]);
  });

  it('a limit past 2^31 − 1 ms (about 24.8 days) waits it out, not 1 ms as a plain setTimeout would', async () => {
    const d = new Deadlines();
    const expired: number[] = [];
    const month = 30 * 24 * 3_600_000;
    d.add(attempt(month, expired));
    await vi.advanceTimersByTimeAsync(25 * 24 * 3_600_000);
    expect(expired).toEqual([]);
    await vi.advanceTimersByTimeAsync(5 * 24 * 3_600_000);
    expect(expired).toEqual([month]);
  });
});
