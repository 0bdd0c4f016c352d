/**
 * Scale: the cost per item stays flat from 1e4 to 1e6 items, and 100 000
 * waiters on one bucket hold one timer. (N is ignored; sizes are fixed.)
 */
import { Queue, TokenBucket, type Clock } from './sluice.js';
import type { Suite } from './harness.js';

const work = async (x: number): Promise<number> => x;

async function nsPerItem(n: number): Promise<number> {
  const queue = new Queue<number, number>({ handler: work, concurrency: 16 });
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) queue.tryPush(i);
  await queue.onIdle();
  return Number(process.hrtime.bigint() - start) / n;
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[sorted.length >> 1]!;
}

export const suite: Suite = {
  name: 'scale',
  kind: 'metrics',
  title: 'Scale: cost per item from 1e4 to 1e6; timers held by 100 000 waiters',
  unit: '',
  params: [{}],
  rows: {
    'Queue tryPush, concurrency 16': async (quickRun) => {
      const big = quickRun === 0 ? 100_000 : 1_000_000;
      // Both sizes measured in optimized code: a first 1e4 run is mostly the JIT's work, which says
      // nothing about how the cost grows. Medians of repeated runs, small and large interleaved.
      for (let i = 0; i < 20; i++) await nsPerItem(10_000);
      await nsPerItem(big);
      const small: number[] = [];
      const large: number[] = [];
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < 7; i++) small.push(await nsPerItem(10_000));
        large.push(await nsPerItem(big));
      }
      const s = median(small);
      const l = median(large);
      return { 'ns/item at 1e4': s, [`ns/item at ${big === 1_000_000 ? '1e6' : '1e5'}`]: l, 'large ÷ small': l / s };
    },
    'TokenBucket, 100 000 waiters': async () => {
      let live = 0;
      let most = 0;
      const handles = new Set<unknown>();
      const counting: Clock = {
        now: () => Date.now(),
        setTimeout: (cb, ms) => {
          const handle = setTimeout(() => {
            handles.delete(handle);
            live--;
            cb();
          }, ms);
          handles.add(handle);
          most = Math.max(most, ++live);
          return handle;
        },
        clearTimeout: (handle) => {
          if (handles.delete(handle)) live--;
          clearTimeout(handle as ReturnType<typeof setTimeout>);
        },
      };
      const bucket = new TokenBucket({ ratePerSecond: 1_000_000, burst: 1, initialTokens: 0, clock: counting });
      const waiters = Array.from({ length: 100_000 }, () => bucket.acquire());
      const pending = bucket.pending;
      await Promise.all(waiters);
      return { waiters: pending, 'most timers armed at once': most, 'timers left after': live };
    },
  },
  ratios: [],
};
