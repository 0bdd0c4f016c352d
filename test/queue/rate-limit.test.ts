import { describe, expect, it } from 'vitest';
import { Queue, TokenBucket } from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';

describe('Queue: rate limit', () => {
  it('acquires a token before each handler start', async () => {
    const clock = new TestClock();
    const starts: number[] = [];
    const queue = new Queue<number>({
      concurrency: 10,
      rateLimit: new TokenBucket({ ratePerSecond: 10, burst: 2, clock }),
      handler: () => void starts.push(clock.now()),
      clock,
    });
    for (let i = 0; i < 5; i++) queue.tryPush(i);
    await clock.advance(1_000);
    expect(starts).toEqual([0, 0, 100, 200, 300]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('accepts bucket options', async () => {
    const clock = new TestClock();
    const starts: number[] = [];
    const queue = new Queue<number>({ rateLimit: { ratePerSecond: 4 }, handler: () => void starts.push(clock.now()), clock });
    for (let i = 0; i < 3; i++) queue.tryPush(i);
    await clock.advance(1_000);
    expect(starts).toEqual([0, 250, 500]);
  });
});
