import { describe, expect, it } from 'vitest';
import type { QueueStats } from '../../src/queue-types.js';
import { StatsWatch } from '../../src/redis/queue/watch.js';

const stats = (waiting: number): QueueStats => ({
  accepted: waiting,
  duplicates: 0,
  replaced: 0,
  completed: 0,
  failed: 0,
  retried: 0,
  deadLettered: 0,
  deadLetterRefused: 0,
  deadLetterEvicted: 0,
  returned: 0,
  cancelled: 0,
  waiting,
  inFlight: 0,
});

describe("RedisQueue's watchers (one loop reading the counters)", () => {
  it('watchers met by the same reading resolve together, in the order they were made; reads stop when none waits', async () => {
    const readings = [5, 4, 0];
    let reads = 0;
    const watch = new StatsWatch(async () => stats(readings[Math.min(reads++, readings.length - 1)]!), 1);
    const order: string[] = [];
    const below = watch.until((s) => s.waiting < 3).then(() => order.push('below 3'));
    const empty = watch.until((s) => s.waiting === 0).then(() => order.push('empty'));
    await Promise.all([below, empty]);
    expect(order).toEqual(['below 3', 'empty']);
    expect(reads).toBe(3);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(reads).toBe(3);
  });

  it('a reading that fails rejects every watcher; the next watcher starts the loop again', async () => {
    let fail = true;
    const watch = new StatsWatch(async () => {
      if (fail) throw new Error('Redis is away');
      return stats(0);
    }, 1);
    const a = watch.until((s) => s.waiting === 0);
    const b = watch.until(() => false);
    await expect(a).rejects.toThrow('Redis is away');
    await expect(b).rejects.toThrow('Redis is away');
    fail = false;
    await expect(watch.until((s) => s.waiting === 0)).resolves.toBeUndefined();
  });
});
