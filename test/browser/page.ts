// Runs in real Chromium, bundled from the built package (dist/) by test/browser.test.ts.
import { DeadLetter, Queue, RejectError, batch, dedupe, mapConcurrent, pipe, throttle } from 'sluice';

async function pipeline() {
  const deadLetter = new DeadLetter<number[]>();
  const events = [1, 2, 3, 2, 4, 5, 6, 1, 7, 8, 9, 10, 13, 11, 12];
  const attempts = new Map<string, number>();
  const sent: number[][] = [];
  for await (const b of pipe(
    events,
    dedupe({ key: (n: number) => n }),
    batch<number>({ maxItems: 4, lingerMs: 5 }),
    throttle<number[]>({ ratePerSecond: 200, burst: 2 }),
    mapConcurrent(
      async (b: number[]) => {
        const key = b.join(',');
        attempts.set(key, (attempts.get(key) ?? 0) + 1);
        if (b.includes(13)) throw new Error('poison');
        if (attempts.get(key) === 1 && b.includes(5)) throw new Error('flaky once');
        return b;
      },
      { concurrency: 2, retry: { maxAttempts: 3, backoff: { initialDelayMs: 5, jitter: 'none' } }, deadLetter },
    ),
  )) {
    sent.push(b);
  }
  return { sent, dead: deadLetter.entries().map((e) => ({ item: e.item, reason: e.reason, attempts: e.attempts })) };
}

async function queue() {
  const q = new Queue<number, number>({
    concurrency: 3,
    retry: { maxAttempts: 3, backoff: { initialDelayMs: 5, jitter: 'equal' } },
    handler: async (n, { attempt }) => {
      await new Promise((r) => setTimeout(r, 1));
      if (n === 4) throw new RejectError(new Error('never'));
      if (n % 3 === 0 && attempt < 2) throw new Error('retry me');
      return n * n;
    },
  });
  const results = await Promise.allSettled([1, 2, 3, 4, 5, 6].map((n) => q.submit(n)));
  await q.close();
  return {
    results: results.map((r) => (r.status === 'fulfilled' ? r.value : `rejected: ${(r.reason as Error).message}`)),
    stats: q.stats,
  };
}

const w = window as unknown as { __results?: unknown; __error?: string };
Promise.all([pipeline(), queue()]).then(
  ([p, q]) => {
    w.__results = { pipeline: p, queue: q, userAgent: navigator.userAgent };
  },
  (error: unknown) => {
    w.__error = String(error instanceof Error ? error.stack : error);
  },
);
