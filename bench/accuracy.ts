/**
 * Rate accuracy with real timers: saturated sequential demand at 1 000/s for
 * N ms. Reports the achieved rate and its error, the most grants in any
 * sliding 1 s window, the fewest and most in any 100 ms slot, and CPU use.
 */
import Bottleneck from 'bottleneck';
import { TokenBucket as LimiterBucket } from 'limiter';
import PQueue from 'p-queue';
import { TokenBucket, pipe, throttle } from './sluice.js';
import type { Suite } from './harness.js';

const RATE = 1_000;

async function measure(durationMs: number, burst: number, grantOnce: () => Promise<unknown>): Promise<Record<string, number>> {
  const grants: number[] = [];
  const cpu = process.cpuUsage();
  const start = performance.now();
  const end = start + durationMs;
  while (performance.now() < end) {
    await grantOnce();
    grants.push(performance.now());
  }
  const wall = performance.now() - start;
  const used = process.cpuUsage(cpu);
  // The first `burst` grants are the bucket's initial content, not its rate.
  const steady = grants.length - burst;
  const rate = (steady / wall) * 1_000;
  let maxWindow = 0;
  for (let i = 0, j = 0; i < grants.length; i++) {
    while (grants[i]! - grants[j]! >= 1_000) j++;
    maxWindow = Math.max(maxWindow, i - j + 1);
  }
  const slots = new Array<number>(Math.max(1, Math.floor(wall / 100))).fill(0);
  for (const t of grants) {
    const slot = Math.floor((t - start) / 100);
    if (slot < slots.length) slots[slot]!++;
  }
  const steadySlots = slots.slice(1);
  return {
    'rate /s': rate,
    'error %': ((rate - RATE) / RATE) * 100,
    'max in a 1 s window': durationMs >= 1_000 ? maxWindow : Number.NaN,
    'min per 100 ms': Math.min(...(steadySlots.length ? steadySlots : slots)),
    'max per 100 ms': Math.max(...(steadySlots.length ? steadySlots : slots)),
    'CPU %': ((used.user + used.system) / 1_000 / wall) * 100,
  };
}

export const suite: Suite = {
  name: 'accuracy',
  kind: 'metrics',
  title: 'Rate accuracy: saturated demand at 1 000/s, real timers',
  unit: '',
  params: [{ burst: 1 }, { burst: 10 }],
  rows: {
    'sluice TokenBucket': (ms, { burst }) => {
      const bucket = new TokenBucket({ ratePerSecond: RATE, burst: burst! });
      return measure(ms, burst!, () => bucket.acquire());
    },
    'sluice throttle()': async (ms, { burst }) => {
      async function* forever(): AsyncGenerator<number> {
        for (let i = 0; ; i++) yield i;
      }
      const paced = pipe(forever(), throttle<number>({ ratePerSecond: RATE, burst: burst! }))[Symbol.asyncIterator]();
      const result = await measure(ms, burst!, () => paced.next());
      await paced.return?.();
      return result;
    },
    'limiter TokenBucket': (ms, { burst }) => {
      const bucket = new LimiterBucket({ bucketSize: burst!, tokensPerInterval: RATE, interval: 'second' });
      return measure(ms, burst!, () => bucket.removeTokens(1));
    },
    'bottleneck (minTime 1 ms)': async (ms, { burst }) => {
      const limiter = new Bottleneck({ minTime: 1_000 / RATE });
      const result = await measure(ms, burst!, () => limiter.schedule(() => Promise.resolve()));
      await limiter.stop({ dropWaitingJobs: true });
      return result;
    },
    'p-queue (intervalCap / interval)': async (ms, { burst }) => {
      const queue = new PQueue({ intervalCap: burst!, interval: (burst! * 1_000) / RATE });
      const result = await measure(ms, burst!, () => queue.add(() => undefined));
      queue.clear();
      return result;
    },
  },
  ratios: [],
};
