/**
 * One worker process of the main job with `--redis URL --workers N`: it
 * pushes its share of the deliveries (every N-th, so a delivery and its
 * redelivery often land on different workers) into one RedisQueue that
 * every worker works, its deduper, rate limit and dead letter shared
 * through Redis too:
 *
 *   its deliveries → filter(RedisDeduper: first sight in any worker) → batch(per repository)
 *     → RedisQueue (one for all workers: any worker posts any batch, a repository's
 *       in order and at most four at once; a killed worker's batches come back
 *       after the visibility timeout)
 *     → POST /batch, each request sent once granted by a RedisTokenBucket (one rate
 *       for all workers); retries; dead letter: RedisDeadLetter, one for all workers
 *
 * Poison batches (422) are split until the bad delivery stands alone; it is
 * dead-lettered as `'rejected'`. Reports its counts to the parent over IPC.
 */
import { createClient } from 'redis';
import { batch, filter, isTimeoutError, pipe, type Quantiles, retry } from 'sluice';
import { type RedisClient, RedisDeadLetter, RedisDeduper, RedisQueue, RedisTokenBucket } from 'sluice/redis';
import { batchOptions, type Delivery, deliveries, loadExamples } from './deliveries.js';
import { HttpError, noCounts, postBatch, transient } from './http.js';
import { pathToFileURL } from 'node:url';

/** What the parent gives a worker. */
export interface RedisWorkerOptions {
  readonly redisUrl: string;
  /** Prefix of this run's Redis keys (removed by the parent at the end). */
  readonly key: string;
  readonly index: number;
  readonly workers: number;
  readonly rounds: number;
  readonly redeliveryRate: number;
  readonly seed: number;
  readonly receiverUrl: string;
  /** Requests per second for all workers together. */
  readonly ratePerSecond: number;
  readonly maxItems: number;
  readonly lingerMs: number;
  readonly maxAttempts: number;
  readonly bodyLimit: number;
  readonly concurrency: number;
  /** Tell the parent how many batches it is posting, at each start and end (the worker `--kill-one` kills). */
  readonly tellRunning: boolean;
}

/** What a worker reports. */
export interface RedisWorkerReport {
  readonly index: number;
  readonly read: number;
  readonly duplicates: number;
  /** Batches it pushed into the shared queue, and the deliveries in them. */
  readonly pushedBatches: number;
  readonly pushedDeliveries: number;
  /** Deliveries the receiver took from this worker's requests. */
  readonly delivered: string[];
  readonly requests: number;
  readonly retries: number;
  readonly status429: number;
  readonly status503: number;
  /** Items this worker took back after another worker's visibility timeout lapsed (a killed worker's). */
  readonly redelivered: number;
  /** Its queue's wait and run times (ms) of the batches it posted, from `metrics()`. */
  readonly waitMs: Quantiles;
  readonly runMs: Quantiles;
}

/** What a worker tells the parent over IPC: `pushed` once its share is in the queue, then its report. */
export type RedisWorkerMessage =
  | { readonly kind: 'running'; readonly running: number }
  | {
      readonly kind: 'pushed';
      readonly index: number;
      readonly read: number;
      readonly duplicates: number;
      readonly batches: number;
      readonly deliveries: number;
    }
  | ({ readonly kind: 'report' } & RedisWorkerReport);

/** The Redis parts of a run, as the parent and the workers name them. */
export function sharedParts(client: RedisClient, key: string, ratePerSecond: number) {
  return {
    deduper: new RedisDeduper({ client, key: `${key}:deliveries`, windowMs: 600_000 }),
    bucket: new RedisTokenBucket({ client, key: `${key}:receiver`, ratePerSecond, burst: 1 }),
    deadLetter: new RedisDeadLetter<Delivery[]>({ client, key: `${key}:batches`, capacity: Number.POSITIVE_INFINITY }),
  };
}

/** How long a batch may stay with a worker that stopped answering before another takes it back, ms. */
export const VISIBILITY_TIMEOUT_MS = 3_000;

async function work(o: RedisWorkerOptions): Promise<void> {
  const client = createClient({ url: o.redisUrl });
  client.on('error', () => {}); // reconnects are the client's business; a part's call that fails says so
  await client.connect();
  const { deduper, bucket, deadLetter } = sharedParts(client, o.key, o.ratePerSecond);
  const tell = (m: RedisWorkerMessage) => new Promise<void>((resolve) => process.send!(m, () => resolve()));
  const mine = [...deliveries(loadExamples(), o.rounds, o.redeliveryRate, o.seed)].filter((_, i) => i % o.workers === o.index);
  const delivered = new Set<string>();
  let duplicates = 0;
  const counts = noCounts();
  let retries = 0;
  let redelivered = 0;

  const retryPolicy = {
    maxAttempts: o.maxAttempts,
    backoff: { initialDelayMs: 100, maxDelayMs: 2_000, jitter: 'full' as const },
    retryIf: transient,
  };
  // A request takes its turn from the shared bucket once its body is built, right before it goes, and carries the
  // grant's time on the shared timeline (Redis's clock, the same for every worker): the receiver counts requests by it.
  const grant = (signal: AbortSignal) => (): Promise<number> => bucket.acquire(1, { signal });

  async function post(items: Delivery[], signal: AbortSignal): Promise<number> {
    const source = `worker ${o.index}`;
    const status = await postBatch(o.receiverUrl, items, signal, counts, grant(signal));
    if (status === 200) {
      for (const d of items) delivered.add(d.deliveryId);
      return items.length;
    }
    // Bisect until the bad delivery stands alone: it goes to the shared dead letter, its neighbours through.
    if (items.length === 1) {
      await deadLetter.add({ item: items, reason: 'rejected', error: new HttpError(status), attempts: 1, source });
      return 0;
    }
    // Each half on its own retries: once a half went through, nothing may retry the batch as a whole (that would
    // deliver the half twice); a half that fails for good is dead-lettered by itself.
    const mid = items.length >> 1;
    let sent = 0;
    for (const half of [items.slice(0, mid), items.slice(mid)]) {
      try {
        sent += await retry((_attempt, attemptSignal) => post(half, attemptSignal), {
          ...retryPolicy,
          signal,
          timeoutMs: 10_000,
          onRetry: () => retries++,
        });
      } catch (error) {
        if (signal.aborted) throw error;
        await deadLetter.add({ item: half, reason: 'delivery_limit', error, source });
      }
    }
    return sent;
  }

  // One queue for every worker: a batch any worker pushed may be posted by any other; a batch whose worker was killed
  // comes back to another after the visibility timeout, with attempt + 1.
  const queue = new RedisQueue<Delivery[], number>({
    client,
    name: `${o.key}:batches`,
    handler: (items, { signal }) => post(items, signal),
    concurrency: o.concurrency,
    retry: retryPolicy,
    visibilityTimeoutMs: VISIBILITY_TIMEOUT_MS,
    deadLetter,
    pollMs: 100,
    // A repository's batches go out in its order, at most four at once across every worker (a message group each).
    groupBy: (items) => items[0]!.repository,
    groupConcurrency: 4,
    metrics: { windowMs: 3_600_000 },
  });
  if (o.tellRunning) {
    const running = () => void process.send!({ kind: 'running', running: queue.running } satisfies RedisWorkerMessage);
    for (const event of ['active', 'completed', 'failed'] as const) queue.on(event, running);
  }
  queue.on('failed', (_items, error, { willRetry }) => {
    if (isTimeoutError(error) && error.message.includes('lapsed')) redelivered++;
    else if (willRetry) retries++;
  });
  let batches = 0;
  let pushed = 0;
  for await (const items of pipe(
    mine,
    filter(async (d: Delivery) => {
      const first = await deduper.check(d.deliveryId);
      if (!first) duplicates++;
      return first;
    }),
    batch(batchOptions(o)),
  )) {
    await queue.push(items);
    batches++;
    pushed += items.length;
  }
  await tell({ kind: 'pushed', index: o.index, read: mine.length, duplicates, batches, deliveries: pushed });
  // Work until the parent says every worker's share is settled.
  await new Promise<void>((resolve) => process.once('message', () => resolve()));
  const { waitMs, runMs } = await queue.metrics();
  await queue.close({ drain: false });
  await client.quit();
  await tell({
    kind: 'report',
    index: o.index,
    read: mine.length,
    duplicates,
    pushedBatches: batches,
    pushedDeliveries: pushed,
    delivered: [...delivered],
    requests: counts.requests,
    retries,
    status429: counts.status429,
    status503: counts.status503,
    redelivered,
    waitMs,
    runMs,
  });
}

// Run as a child process: options as JSON in argv, the report back over IPC.
if (process.send && process.argv[2] && import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await work(JSON.parse(process.argv[2]) as RedisWorkerOptions);
  process.exit(0);
}
