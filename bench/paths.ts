/**
 * Paths that were once quadratic: items of distinct priorities, many waiters
 * aborted by one signal, and `'drop-oldest'` over many message groups and
 * delays. Each runs at N and at 4 N (`scale`): a rate that holds as N grows
 * is O(log n) or better per operation; a quadratic path loses 4× per step.
 */
import PQueue from 'p-queue';
import { Queue, retry, TokenBucket } from './sluice.js';
import type { Suite } from './harness.js';

const noop = (): void => {};
/** A permutation of 0..n-1, the same every run (distinct priorities in no order). */
const shuffled = (n: number): number[] => {
  const out = Array.from({ length: n }, (_, i) => i);
  let seed = 12345;
  for (let i = n - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    const j = seed % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
};
const rejected = (promises: Promise<unknown>[]): Promise<unknown> => Promise.allSettled(promises);

/** `'drop-oldest'` (or `'drop-newest'`, which need not find anything) with a group per item, a tenth of them delayed. */
async function dropping(n: number, overflow: 'drop-oldest' | 'drop-newest'): Promise<void> {
  const queue = new Queue<number>({ capacity: Math.max(1, n >> 2), overflow, autoStart: false, groupBy: (i) => i, handler: noop });
  for (let i = 0; i < n; i++) queue.tryPush(i, i % 10 === 0 ? { delayMs: 60_000 } : undefined);
  await queue.close({ drain: false });
}

export const suite: Suite = {
  name: 'paths',
  title: 'Once-quadratic paths: distinct priorities, aborts on one signal, drop-oldest over many groups',
  unit: 'items/s',
  params: [{ scale: 1 }, { scale: 4 }],
  rows: {
    'sluice Queue, distinct priorities': async (n) => {
      const queue = new Queue<number>({ autoStart: false, handler: noop });
      for (const p of shuffled(n)) queue.tryPush(p, { priority: p });
      queue.resume();
      await queue.onIdle();
    },
    'p-queue, distinct priorities': async (n) => {
      const queue = new PQueue({ autoStart: false });
      for (const p of shuffled(n)) void queue.add(noop, { priority: p });
      queue.start();
      await queue.onIdle();
    },
    'sluice TokenBucket, waiters aborted by one signal': async (n) => {
      const bucket = new TokenBucket({ ratePerSecond: 1, burst: 1, initialTokens: 0 });
      const controller = new AbortController();
      const waiters = Array.from({ length: n }, () => bucket.acquire(1, { signal: controller.signal }));
      controller.abort();
      await rejected(waiters);
    },
    'p-queue, waiting adds aborted by one signal': async (n) => {
      const queue = new PQueue({ autoStart: false });
      const controller = new AbortController();
      const adds = Array.from({ length: n }, () => queue.add(noop, { signal: controller.signal }));
      controller.abort();
      await rejected(adds);
    },
    'sluice retry(), calls in backoff aborted by one signal': async (n) => {
      const controller = new AbortController();
      let failed = 0;
      const fail = (): never => {
        failed++;
        throw new Error('down');
      };
      const calls = Array.from({ length: n }, () =>
        retry(fail, { maxAttempts: 2, backoff: { initialDelayMs: 60_000, jitter: 'none' }, signal: controller.signal }),
      );
      while (failed < n) await new Promise((r) => setImmediate(r));
      controller.abort();
      await rejected(calls);
    },
    'sluice Queue drop-oldest, a group per item': (n) => dropping(n, 'drop-oldest'),
    'sluice Queue drop-newest, a group per item': (n) => dropping(n, 'drop-newest'),
  },
  ratios: [
    { ours: 'sluice Queue, distinct priorities', anchor: 'p-queue, distinct priorities' },
    { ours: 'sluice TokenBucket, waiters aborted by one signal', anchor: 'p-queue, waiting adds aborted by one signal' },
    { ours: 'sluice Queue drop-oldest, a group per item', anchor: 'sluice Queue drop-newest, a group per item' },
  ],
};
