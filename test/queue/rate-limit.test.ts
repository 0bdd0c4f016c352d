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
  it.each([
    ['expired', { ttlMs: 100 }],
    ['dropped as the oldest', {}],
  ] as const)('spends no token on an item that %s while it waited', async (_how, options) => {
    const clock = new TestClock();
    const starts: [string, number][] = [];
    const queue = new Queue<string>({
      rateLimit: { ratePerSecond: 1, burst: 1 },
      capacity: 2,
      overflow: 'drop-oldest',
      autoStart: false,
      handler: (item) => void starts.push([item, clock.now()]),
      clock,
    });
    await queue.push('stale', { ...options, priority: 0 });
    await queue.push('fresh');
    if (!('ttlMs' in options)) await queue.push('fresher'); // drops 'stale'
    await clock.advance(200);
    queue.resume();
    await clock.advance(0);
    expect(starts[0]).toEqual(['fresh', 200]); // the one token goes to a live item, at once
    expect(queue.stats.deadLettered).toBe(1);
  });
});
