/**
 * The main job: deliver GitHub webhook deliveries to a rate-limited, flaky
 * HTTP receiver through a sluice pipeline, and lose nothing.
 *
 *   deliveries → dedupe(deliveryId) → batch(per repository, under the body limit)
 *     → Queue(POST /batch: a TokenBucket's token per request, retries + DeadLetter,
 *       concurrency following load: Gradient2Limit, a 429's Retry-After holding every call;
 *       metrics() for wait and run quantiles and Little's law)
 *
 * The receiver loses half its workers a third of the way through; the
 * concurrency limit follows it down (unless `--static N` fixes it).
 * Poison batches (422) are split in halves until the bad delivery stands
 * alone; it is dead-lettered as `'rejected'` and its neighbours go through.
 * After the run, batches that ran out of attempts are redriven once.
 */
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import {
  DeadLetter,
  Gradient2Limit,
  Queue,
  TaskQueue,
  balance,
  type BalanceContext,
  TokenBucket,
  batch,
  dedupe,
  pipe,
  retry,
  type LittlesLaw,
  type QueueStats,
  type RetryOptions,
} from 'sluice';
import { batchOptions, type Delivery, deliveries, loadExamples } from './deliveries.js';
import { prng, type ReceiverOptions, type ReceiverStats } from './receiver.js';
import { Fanout, type FanoutSummary } from './fanout.js';
import { HttpError, noCounts, postBatch, transient } from './http.js';
import { type Series, Timeline } from './timeline.js';

export interface JobOptions {
  /** Replays of every example payload. */
  readonly rounds: number;
  /** Share of deliveries sent again (GitHub redeliveries), 0..1. */
  readonly redeliveryRate: number;
  /** POST requests in flight at first: the adaptive limit's initial limit. */
  readonly concurrency: number;
  /** A fixed concurrency instead of the adaptive limit (for comparison). */
  readonly staticConcurrency: number | undefined;
  /** The most requests in flight the adaptive limit may reach. */
  readonly maxConcurrency: number;
  /** The receiver's workers (requests served at once) until it halves. */
  readonly receiverWorkers: number;
  /** The receiver's time per request, ms. */
  readonly receiverServiceMs: number;
  /** Requests that may wait at the receiver; past it, 429. */
  readonly receiverQueue: number;
  /** Requests per second sluice sends (its TokenBucket). */
  readonly ratePerSecond: number;
  /** Requests per second the receiver accepts before answering 429. */
  readonly receiverRatePerSecond: number;
  /** Share of requests the receiver answers 503, 0..1. */
  readonly failRate: number;
  /** The receiver's body limit in bytes; batches are kept under 90 % of it. */
  readonly bodyLimit: number;
  /** Event type the receiver can never accept (poison). */
  readonly poisonEvent: string;
  /** Most deliveries per batch. */
  readonly maxItems: number;
  /** How long a batch waits for more deliveries, in ms. */
  readonly lingerMs: number;
  /** Attempts per request, the first included. */
  readonly maxAttempts: number;
  /** Seed of the redeliveries, the receiver's failures and the backoff jitter. */
  readonly seed: number;
  /** The receiver's JSONL record of accepted delivery ids (with several receivers, one file each: `.1`, `.2`, …). */
  readonly logFile: string;
  /** Receiver processes: 1, or 2 or 3 of different capacities (weights 2, 1 or 4, 2, 1), balanced by weight. */
  readonly receivers: number;
}

/** The weights (and relative capacities) of 1, 2 or 3 receivers. */
const WEIGHTS: Record<number, number[]> = { 1: [1], 2: [2, 1], 3: [4, 2, 1] };

export interface Summary {
  read: number;
  duplicates: number;
  unique: number;
  batches: number;
  requests: number;
  delivered: number;
  deadLettered: { total: number; byReason: Record<string, number> };
  redrive: { redriven: number; failed: number };
  receiver: { accepted: number; duplicates: number; matchesDelivered: boolean };
  /** Each receiver's share (several receivers): batches it was picked for, deliveries it accepted, against its weight. */
  receivers: { name: string; weight: number; workers: number; batches: number; deliveries: number; sharePct: number; weightPct: number }[];
  /** The accepted deliveries' fanout: an audit log ('block') and a live per-minute tally ('drop-oldest'). */
  fanout: FanoutSummary;
  retries: number;
  /** The concurrency limit's path: where it started, its lowest and highest, and where it ended; `static` when fixed. */
  limit: { start: number; lowest: number; highest: number; final: number; changes: number } | { static: number };
  status429: number;
  status503: number;
  status422: number;
  elapsedMs: number;
  throughputPerSec: number;
  latencyMs: { p50: number; p99: number };
  /** From the sending queue's `metrics()`: a batch's wait for its attempt (backoff included) and its request's time, ms. */
  queue: {
    waitMs: { p50: number; p99: number };
    runMs: { p50: number; p99: number };
    /** Batches waiting on average (measured) against arrivals per second × mean wait. */
    littlesLaw: LittlesLaw;
  };
  balanced: boolean;
}

/** What a run gives: its summary, and its time series for the report. */
export interface JobResult {
  readonly summary: Summary;
  readonly series: Series;
}

/** Progress as the job runs: deliveries settled (delivered, dead-lettered or dropped as duplicates) of those read. */
export type Progress = (settled: number, total: number) => void;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export async function startReceiver(options: ReceiverOptions): Promise<{ url: string; stop: () => void }> {
  const child = fork(fileURLToPath(new URL('./receiver.ts', import.meta.url)), [JSON.stringify(options)], {
    execArgv: process.execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { port: number }).port));
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`receiver exited with code ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}`, stop: () => child.disconnect() };
}

export async function runJob(o: JobOptions, progress: Progress = () => {}): Promise<JobResult> {
  // A third of the way through, by deliveries accepted (an estimate before dedupe: a third of those read).
  const total = [...deliveries(loadExamples(), o.rounds, o.redeliveryRate, o.seed)].length;
  const weights = WEIGHTS[o.receivers]!;
  const heaviest = Math.max(...weights);
  const weightSum = weights.reduce((a, b) => a + b, 0);
  const workersOf = (w: number): number => Math.max(1, Math.round((o.receiverWorkers * w) / heaviest));
  const receivers = await Promise.all(
    weights.map((w, i) =>
      startReceiver({
        ratePerSecond: o.receiverRatePerSecond,
        workers: workersOf(w),
        serviceMs: o.receiverServiceMs,
        queueLimit: Math.max(1, Math.round((o.receiverQueue * w) / heaviest)),
        halveAfter: Math.floor(((total / 3) * w) / weightSum),
        failRate: o.failRate,
        bodyLimit: o.bodyLimit,
        poisonEvent: o.poisonEvent,
        logFile: `${o.logFile}.${i + 1}`,
        seed: o.seed + i,
      }),
    ),
  );
  try {
    const all = [...deliveries(loadExamples(), o.rounds, o.redeliveryRate, o.seed)];
    const readAt = new Map<string, number>();
    const delivered = new Map<string, number>(); // deliveryId → latency ms
    const batchDeadLetter = new DeadLetter<Delivery[]>({ capacity: Infinity });
    const deliveryDeadLetter = new DeadLetter<Delivery>({ capacity: Infinity });
    let duplicates = 0;
    let batches = 0;
    const counts = noCounts();
    let retries = 0;
    const deadCount = (): number => deliveryDeadLetter.size + batchDeadLetter.entries().reduce((n, e) => n + e.item.length, 0);
    const report = (): void => progress(delivered.size + deadCount() + duplicates, all.length);

    // Jitter from the seed too, so a run can be replayed (timing still differs: see the demo's --help).
    const random = prng(o.seed ^ 0x5eed);
    const retryOptions: RetryOptions = {
      maxAttempts: o.maxAttempts,
      backoff: { initialDelayMs: 100, maxDelayMs: 2_000, jitter: 'full' },
      retryIf: transient,
      random,
      timeoutMs: 10_000,
      onRetry: () => retries++,
    };

    const fanout = new Fanout(join(dirname(o.logFile), 'audit.jsonl'));

    /** POSTs a batch to a receiver; throws HttpError for 429/503 (with Retry-After); splits a poison or oversize batch. */
    async function post(url: string, items: Delivery[], signal: AbortSignal): Promise<number> {
      const status = await postBatch(url, items, signal, counts);
      if (status !== 200) return split(url, items, status, signal);
      const now = Date.now();
      for (const d of items) {
        if (delivered.has(d.deliveryId)) continue;
        delivered.set(d.deliveryId, now - readAt.get(d.deliveryId)!);
        await fanout.publish(d); // waits only while the audit log is behind
      }
      report();
      return items.length;
    }

    /** Bisects a batch the receiver refused until the bad delivery stands alone. */
    async function split(url: string, items: Delivery[], status: number, signal: AbortSignal): Promise<number> {
      if (items.length === 1) {
        deliveryDeadLetter.add({ item: items[0]!, reason: 'rejected', error: new HttpError(status), attempts: 1, source: 'receiver' });
        report();
        return 0;
      }
      const mid = items.length >> 1;
      let sent = 0;
      for (const half of [items.slice(0, mid), items.slice(mid)]) {
        try {
          sent += await retry((_attempt, attemptSignal) => post(url, half, attemptSignal), { ...retryOptions, signal });
        } catch (error) {
          if (signal.aborted) throw error;
          batchDeadLetter.add({ item: half, reason: 'delivery_limit', error, source: 'receiver' });
          report();
        }
      }
      return sent;
    }

    async function* read(): AsyncGenerator<Delivery> {
      for (const d of all) {
        if (!readAt.has(d.deliveryId)) readAt.set(d.deliveryId, Date.now());
        yield d;
      }
    }

    // Concurrency that follows the receiver: Netflix's Gradient2 backs off as latency grows, before 429s.
    const limit =
      o.staticConcurrency === undefined ? new Gradient2Limit({ initialLimit: o.concurrency, maxLimit: o.maxConcurrency }) : undefined;
    const path = { start: limit?.limit ?? 0, lowest: limit?.limit ?? 0, highest: limit?.limit ?? 0, changes: 0 };
    limit?.on('limit', ({ to }) => {
      path.changes++;
      path.lowest = Math.min(path.lowest, to);
      path.highest = Math.max(path.highest, to);
    });

    // Several receivers: batches balanced by weight (nginx's smooth weighted round robin), a retry sent to another one.
    const balanced =
      receivers.length === 1
        ? undefined
        : balance<Delivery[], number>(
            receivers.map((r, i) => ({
              name: `receiver ${i + 1}`,
              weight: weights[i]!,
              handler: (items: Delivery[], ctx: BalanceContext) => post(r.url, items, ctx.signal!),
            })),
          );
    const send = (items: Delivery[], ctx: BalanceContext & { signal: AbortSignal }): Promise<number> =>
      balanced === undefined ? post(receivers[0]!.url, items, ctx.signal) : balanced(items, ctx);

    // The receiver's stage: a Queue of batches. Its rate limit holds one token per request, retries included; its
    // concurrency follows the receiver; its metrics() give the summary's wait and run quantiles and Little's law.
    const sender = new Queue<Delivery[], number>({
      name: 'receiver',
      handler: (items, context) => {
        if (context.attempt === 1) batches++;
        return send(items, context);
      },
      concurrency: limit ?? o.staticConcurrency!,
      // This receiver's 503s are random faults, not load: only its 429s tell the limit to back off.
      classify: (outcome) =>
        outcome.ok ? 'success' : outcome.error instanceof HttpError && outcome.error.status === 429 ? 'dropped' : 'ignore',
      retryAfter: 'queue',
      rateLimit: new TokenBucket({ ratePerSecond: o.ratePerSecond, burst: o.concurrency }),
      retry: { maxAttempts: o.maxAttempts, backoff: retryOptions.backoff!, retryIf: transient, random },
      visibilityTimeoutMs: 10_000,
      deadLetter: batchDeadLetter,
      // A batch waits here for a slot; while 8 wait, the pipeline upstream waits (pushAll blocks: overflow 'block').
      capacity: 8,
      // One window for the whole run: the summary's figures.
      metrics: { windowMs: 3_600_000 },
    });
    sender.on('failed', (_items, _error, { willRetry }) => {
      if (willRetry) retries++;
    });
    const timeline = new Timeline(sender, () => ({ delivered: delivered.size, status429: counts.status429, status503: counts.status503 }));

    const started = Date.now();
    timeline.start(started);
    await sender.pushAll(
      pipe(
        read(),
        dedupe({
          key: (d: Delivery) => d.deliveryId,
          onDuplicate: () => {
            duplicates++;
            report();
          },
        }),
        batch(batchOptions(o)),
      ),
    );
    await sender.close();
    const metrics = sender.metrics();
    timeline.stop();
    const senderStats = sender.stats;

    // Redrive, once, what ran out of attempts (the downstream may have recovered): each batch is a task of a
    // TaskQueue, under the same rate limit and with the same retries as the pipeline.
    const redriveTasks = new TaskQueue({
      concurrency: o.concurrency,
      rateLimit: { ratePerSecond: o.ratePerSecond, burst: o.concurrency },
      retry: { maxAttempts: o.maxAttempts, backoff: retryOptions.backoff!, retryIf: transient, random },
    });
    const redrive = await batchDeadLetter.redrive((items) => redriveTasks.add((context) => send(items, context), { timeoutMs: 10_000 }), {
      filter: (e) => e.reason === 'delivery_limit',
    });
    await redriveTasks.close();
    const redriveStats: QueueStats = redriveTasks.stats;
    const redriveBalanced =
      redriveStats.accepted === redriveStats.completed + redriveStats.deadLettered && redriveStats.completed === redrive.redriven;
    const elapsedMs = Date.now() - started;

    const fanned = await fanout.close();
    const each = await Promise.all(receivers.map(async (r) => (await (await fetch(`${r.url}/stats`)).json()) as ReceiverStats));
    // Every receiver's log: an id in two of them (a batch retried elsewhere after it had gone through) is a duplicate too.
    const recorded = new Set<string>();
    let acrossReceivers = 0;
    for (const i of receivers.keys()) {
      for (const line of readFileSync(`${o.logFile}.${i + 1}`, 'utf8').split('\n')) {
        if (!line) continue;
        for (const id of JSON.parse(line) as string[]) {
          if (recorded.has(id)) acrossReceivers++;
          recorded.add(id);
        }
      }
    }
    const stats = {
      accepted: each.reduce((n, s) => n + s.accepted, 0),
      duplicates: each.reduce((n, s) => n + s.duplicates, 0) + acrossReceivers,
    };
    const matchesDelivered = recorded.size === delivered.size && [...delivered.keys()].every((id) => recorded.has(id));
    const picks = balanced?.stats;
    const shares = receivers.map((_, i) => ({
      name: `receiver ${i + 1}`,
      weight: weights[i]!,
      workers: workersOf(weights[i]!),
      batches: picks?.[i]?.picks ?? batches,
      deliveries: each[i]!.accepted,
      sharePct: Number(((each[i]!.accepted / Math.max(stats.accepted, 1)) * 100).toFixed(1)),
      weightPct: Number(((weights[i]! / weightSum) * 100).toFixed(1)),
    }));

    const byReason: Record<string, number> = {};
    for (const e of deliveryDeadLetter.entries()) byReason[e.reason] = (byReason[e.reason] ?? 0) + 1;
    for (const e of batchDeadLetter.entries()) byReason[e.reason] = (byReason[e.reason] ?? 0) + e.item.length;
    const deadLettered = deadCount();
    const unique = all.length - duplicates;
    const latencies = [...delivered.values()].sort((a, b) => a - b);
    // The sending queue's own books: every batch it accepted completed or was dead-lettered.
    const senderBalanced =
      senderStats.accepted === senderStats.completed + senderStats.deadLettered && senderStats.waiting + senderStats.inFlight === 0;
    const round = (n: number, digits = 0): number => Number(n.toFixed(digits));
    const summary: Summary = {
      read: all.length,
      duplicates,
      unique,
      batches,
      requests: counts.requests,
      delivered: delivered.size,
      deadLettered: { total: deadLettered, byReason },
      redrive,
      receiver: { accepted: stats.accepted, duplicates: stats.duplicates, matchesDelivered },
      receivers: shares,
      fanout: fanned,
      retries,
      limit: limit ? { ...path, final: limit.limit } : { static: o.staticConcurrency! },
      status429: counts.status429,
      status503: counts.status503,
      status422: counts.status422,
      elapsedMs,
      throughputPerSec: Math.round((delivered.size / elapsedMs) * 1_000),
      latencyMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99) },
      queue: {
        waitMs: { p50: round(metrics.waitMs.p50), p99: round(metrics.waitMs.p99) },
        runMs: { p50: round(metrics.runMs.p50), p99: round(metrics.runMs.p99) },
        littlesLaw: {
          L: round(metrics.littlesLaw.L, 2),
          lambda: round(metrics.littlesLaw.lambda, 1),
          W: round(metrics.littlesLaw.W, 3),
          lambdaW: round(metrics.littlesLaw.lambdaW, 2),
          relativeError: round(metrics.littlesLaw.relativeError, 3),
        },
      },
      balanced:
        unique === delivered.size + deadLettered &&
        matchesDelivered &&
        stats.accepted === delivered.size &&
        senderBalanced &&
        redriveBalanced &&
        fanned.balanced &&
        fanned.published === delivered.size,
    };
    return { summary, series: timeline.series };
  } finally {
    for (const r of receivers) r.stop();
  }
}
