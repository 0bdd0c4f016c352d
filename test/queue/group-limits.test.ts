import { describe, expect, it } from 'vitest';
import { KeyedTokenBucket, Queue, TokenBucket } from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';
import { balanced } from '../helpers.js';

type Item = { g: string; n: number };
const sleep = (clock: TestClock, ms: number) => new Promise<void>((resolve) => clock.setTimeout(resolve, ms));

/** A queue of items that each take `ms`, logging `g n @ start time`; most in flight per group. */
function grouped(clock: TestClock, options: Partial<ConstructorParameters<typeof Queue<Item>>[0]>, ms = 10) {
  const starts: string[] = [];
  const running = new Map<string, number>();
  const most = new Map<string, number>();
  const queue = new Queue<Item>({
    concurrency: 100,
    groupBy: (x) => x.g,
    clock,
    ...options,
    handler: async (x) => {
      starts.push(`${x.g}${x.n}@${clock.now()}`);
      const now = (running.get(x.g) ?? 0) + 1;
      running.set(x.g, now);
      most.set(x.g, Math.max(most.get(x.g) ?? 0, now));
      await sleep(clock, ms);
      running.set(x.g, running.get(x.g)! - 1);
    },
  });
  return { queue, starts, most };
}

describe('Queue: per-group limits', () => {
  it('takes groupConcurrency as a function of the group key (per-tenant limits)', async () => {
    const clock = new TestClock();
    const { queue, most } = grouped(clock, { groupConcurrency: (key) => (key === 'big' ? 3 : 1) });
    for (let n = 0; n < 6; n++) {
      queue.tryPush({ g: 'big', n });
      queue.tryPush({ g: 'small', n });
    }
    await clock.runAll();
    expect(most.get('big')).toBe(3);
    expect(most.get('small')).toBe(1);
    expect(queue.stats.completed).toBe(12);
  });

  it('changes groupConcurrency live: raising it starts waiting items of every group at once', async () => {
    const clock = new TestClock();
    const { queue, starts } = grouped(clock, { groupConcurrency: 1 }, 100);
    for (let n = 0; n < 3; n++) queue.tryPush({ g: 'a', n });
    await clock.advance(0);
    expect(starts).toEqual(['a0@0']);
    queue.groupConcurrency = 3;
    expect(queue.groupConcurrency).toBe(3);
    await clock.advance(0);
    expect(starts).toEqual(['a0@0', 'a1@0', 'a2@0']);
    expect(() => {
      queue.groupConcurrency = 0;
    }).toThrow('Queue: groupConcurrency must be a positive integer or Infinity, got 0');
    await clock.runAll();
  });

  it('reports a groupConcurrency function that throws or returns a bad value, and gives that group one slot', async () => {
    const clock = new TestClock();
    const errors: unknown[] = [];
    const { queue, most } = grouped(clock, {
      groupConcurrency: (key) => {
        if (key === 'x') throw new Error('no such tenant');
        return key === 'y' ? -1 : 2;
      },
    });
    queue.on('error', (e) => errors.push(e));
    for (let n = 0; n < 3; n++) for (const g of ['x', 'y', 'z']) queue.tryPush({ g, n });
    await clock.runAll();
    expect([most.get('x'), most.get('y'), most.get('z')]).toEqual([1, 1, 2]);
    expect(errors.map(String)).toEqual([
      'Error: no such tenant',
      'RangeError: Queue: groupConcurrency must return a positive integer or Infinity, got -1 for group "y"',
    ]);
  });

  it('gives each group its own rate limit: a group out of tokens waits on its own and never delays another', async () => {
    const clock = new TestClock();
    const { queue, starts } = grouped(clock, { groupConcurrency: 10, groupRateLimit: { ratePerSecond: 10, burst: 1 } }, 1);
    for (let n = 0; n < 3; n++) queue.tryPush({ g: 'slow', n });
    for (let n = 0; n < 3; n++) queue.tryPush({ g: 'other', n });
    queue.tryPush({ g: 'third', n: 0 });
    await clock.runAll();
    expect(starts).toEqual(['slow0@0', 'other0@0', 'third0@0', 'slow1@100', 'other1@100', 'slow2@200', 'other2@200']);
    expect(balanced(queue.stats)).toBe(true);
    expect(clock.pendingTimers).toBe(0);
  });

  it('takes groupRateLimit as a function giving each group its limiter, and items without a group are not limited by it', async () => {
    const clock = new TestClock();
    const perTenant = new KeyedTokenBucket({ ratePerSecond: 1, clock });
    const vip = new TokenBucket({ ratePerSecond: 100, clock });
    const starts: string[] = [];
    const queue = new Queue<Item>({
      concurrency: 10,
      groupBy: (x) => (x.g === '-' ? undefined : x.g),
      groupConcurrency: 10,
      groupRateLimit: (key) => (key === 'vip' ? vip : perTenant.limiterFor(key)),
      clock,
      handler: (x) => void starts.push(`${x.g}${x.n}@${clock.now()}`),
    });
    for (let n = 0; n < 2; n++) for (const g of ['t1', 'vip', '-']) queue.tryPush({ g, n });
    await clock.runAll();
    expect(starts.sort()).toEqual(['-0@0', '-1@0', 't10@0', 't11@1000', 'vip0@0', 'vip1@10'].sort());
  });

  it('rejects a bad groupRateLimit', () => {
    expect(() => new Queue({ groupRateLimit: 5 as never })).toThrow(
      "Queue: groupRateLimit must be { ratePerSecond, burst } or a function of the group's key, got 5",
    );
    expect(() => new Queue({ groupRateLimit: { ratePerSecond: 0 } })).toThrow(
      'Queue: groupRateLimit.ratePerSecond must be a positive finite number, got 0',
    );
    expect(() => new Queue({ groupRateLimit: { ratePerSecond: 1, brust: 2 } as never })).toThrow(
      "Queue: unknown option 'groupRateLimit.brust' (did you mean 'groupRateLimit.burst'?)",
    );
  });
});
