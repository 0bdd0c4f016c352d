/**
 * The main job across processes (`npm run demo -- --redis URL --workers N`):
 * one receiver, N worker processes (examples/webhooks/redis-worker.ts) that
 * push their share of the deliveries into one RedisQueue and all work it,
 * sharing a deduper, a rate limit and a dead letter through Redis. With
 * `--kill-one`, worker 0 is SIGKILLed a third of the way through: the
 * batches it held come back to the others after the visibility timeout.
 * The books are balanced across all of them: every unique delivery
 * delivered (the receiver's own record) or in the shared dead letter, none
 * in both, and no second of the shared timeline held more requests than the
 * shared rate (each request carries its grant's time).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createClient } from 'redis';
import type { Quantiles } from 'sluice';
import { RedisQueue } from 'sluice/redis';
import type { JobOptions } from './job.js';
import { startReceiver } from './job.js';
import type { ReceiverStats } from './receiver.js';
import type { Delivery } from './deliveries.js';
import { type RedisWorkerMessage, type RedisWorkerOptions, type RedisWorkerReport, sharedParts } from './redis-worker.js';

export interface RedisJobOptions extends JobOptions {
  readonly redisUrl: string;
  readonly workers: number;
  /** SIGKILL worker 0 a third of the way through. */
  readonly killOne: boolean;
}

export interface RedisSummary {
  workers: number;
  read: number;
  /** Redeliveries dropped by the shared deduper, whichever worker saw them. */
  duplicates: number;
  unique: number;
  delivered: number;
  /**
   * Deliveries in the shared dead letter (its entries are batches) and not delivered after all, each once: a killed
   * worker's batch may be dead-lettered in part and then posted again by another worker (at least once).
   */
  deadLettered: number;
  /** Of them, by reason: `rejected` (poison: the same for the same --seed), `delivery_limit` (depends on timing). */
  deadLetteredByReason: Record<string, number>;
  requests: number;
  retries: number;
  status429: number;
  status503: number;
  /** Batches pushed into the shared queue by all workers, and what the queue counted of them (kept in Redis). */
  batches: { pushed: number; accepted: number; completed: number; deadLettered: number; failed: number; retried: number };
  /** Batches a worker took back after the killed worker's visibility timeout lapsed. */
  redelivered: number;
  /** The worker SIGKILLed (`--kill-one`), or null. */
  killed: number | null;
  /**
   * The shared queue's figures: batches settled per second over the run (from the counters in Redis), and Little's
   * law across processes — L measured by the parent, λ the queue's arrivals, W the living workers' mean wait (s).
   */
  metrics: { throughput: number; littlesLaw: { L: number; lambda: number; W: number; lambdaW: number; relativeError: number } };
  /** Per worker; `delivered`, `waitMs` and `runMs` (its batches' quantiles, ms) are null for a killed worker (its report died with it). */
  perWorker: {
    index: number;
    read: number;
    duplicates: number;
    delivered: number | null;
    waitMs: Quantiles | null;
    runMs: Quantiles | null;
  }[];
  receiver: {
    accepted: number;
    duplicates: number;
    matchesDelivered: boolean;
    /** The most requests in any 1 s by their grant times on the shared timeline (every request carries its own). */
    busiestGrantSecond: number;
    /** The same by arrival times: the grants plus the workers' scheduling and network jitter (depends on timing). */
    busiestSecond: number;
  };
  ratePerSecond: number;
  elapsedMs: number;
  balanced: boolean;
}

interface WorkerHandle {
  readonly child: ChildProcess;
  readonly pushed: Promise<Extract<RedisWorkerMessage, { kind: 'pushed' }>>;
  /** The report, or null when the worker was killed. */
  readonly report: Promise<RedisWorkerReport | null>;
  /** Batches it is posting now, as it last told (when asked to tell). */
  running(): number;
}

function startWorker(options: RedisWorkerOptions): WorkerHandle {
  const child = fork(fileURLToPath(new URL('./redis-worker.ts', import.meta.url)), [JSON.stringify(options)], {
    execArgv: process.execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let report: RedisWorkerReport | undefined;
  let pushedResolve: (m: Extract<RedisWorkerMessage, { kind: 'pushed' }>) => void = () => {};
  const pushed = new Promise<Extract<RedisWorkerMessage, { kind: 'pushed' }>>((resolve) => {
    pushedResolve = resolve;
  });
  let running = 0;
  child.on('message', (m: RedisWorkerMessage) => {
    if (m.kind === 'pushed') pushedResolve(m);
    else if (m.kind === 'running') running = m.running;
    else report = m;
  });
  const done = new Promise<RedisWorkerReport | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve(null);
      else if (report && code === 0) resolve(report);
      else reject(new Error(`worker ${options.index} exited with code ${code}`));
    });
  });
  return { child, pushed, report: done, running: () => running };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function runRedisJob(o: RedisJobOptions): Promise<RedisSummary> {
  const receiver = await startReceiver({
    ratePerSecond: o.receiverRatePerSecond,
    workers: o.receiverWorkers,
    serviceMs: o.receiverServiceMs,
    queueLimit: o.receiverQueue,
    halveAfter: 0,
    failRate: o.failRate,
    bodyLimit: o.bodyLimit,
    poisonEvent: o.poisonEvent,
    logFile: o.logFile,
    seed: o.seed,
  });
  const client = createClient({ url: o.redisUrl });
  client.on('error', () => {});
  await client.connect();
  const key = `sluice-demo:${Date.now().toString(36)}`;
  // The parent reads the shared queue's counters (it pushes nothing and runs nothing).
  // The parent only watches (no handler): its queue's counters are every worker's.
  const queue = new RedisQueue<Delivery[]>({ client, name: `${key}:batches`, metrics: { windowMs: 3_600_000 } });
  try {
    const started = Date.now();
    // The parent's metrics window tallies the shared counters each time it looks: every 20 ms from the start, the
    // workers' pushing included (a gap in the looking would count the batches waiting then as none).
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        await queue.metrics();
        await sleep(20);
      }
    })();
    const workers = Array.from({ length: o.workers }, (_, index) =>
      startWorker({
        redisUrl: o.redisUrl,
        key,
        index,
        workers: o.workers,
        rounds: o.rounds,
        redeliveryRate: o.redeliveryRate,
        seed: o.seed,
        receiverUrl: receiver.url,
        ratePerSecond: o.ratePerSecond,
        maxItems: o.maxItems,
        lingerMs: o.lingerMs,
        maxAttempts: o.maxAttempts,
        bodyLimit: o.bodyLimit,
        concurrency: o.concurrency,
        tellRunning: o.killOne && index === 0,
      }),
    );
    const pushed = await Promise.all(workers.map((w) => w.pushed));
    const pushedBatches = pushed.reduce((n, p) => n + p.batches, 0);
    // Every share is in the queue. Wait until it is all settled, killing worker 0 a third of the way if asked.
    let killed: number | null = null;
    for (;;) {
      const s = await queue.stats;
      const settled = s.completed + s.deadLettered;
      // A third of the way, once it is posting a batch (its message groups may leave it idle for a moment).
      if (o.killOne && killed === null && settled >= pushedBatches / 3 && workers[0]!.running() > 0) {
        workers[0]!.child.kill('SIGKILL');
        killed = 0;
      }
      if (s.accepted >= pushedBatches && s.waiting === 0 && s.inFlight === 0) break;
      await sleep(20);
    }
    sampling = false;
    await sampler;
    for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.send('stop');
    const reports = await Promise.all(workers.map((w) => w.report));
    const elapsedMs = Date.now() - started;
    const q = await queue.stats;
    const m = await queue.metrics();
    const { deadLetter } = sharedParts(client, key, o.ratePerSecond);
    const dead = await deadLetter.entries();
    const deadIds = dead.flatMap((e) => e.item.map((d) => d.deliveryId));
    const stats = (await (await fetch(`${receiver.url}/stats`)).json()) as ReceiverStats;
    const recorded = new Set<string>();
    for (const line of readFileSync(o.logFile, 'utf8').split('\n')) {
      if (line) for (const id of JSON.parse(line) as string[]) recorded.add(id);
    }
    // The dead-lettered deliveries that were not delivered after all. A worker killed mid-batch may have dead-lettered
    // part of it (a poison delivery split out, a half out of retries) before the batch came back to another worker,
    // which posts it again (at least once): the same delivery dead-lettered twice, or dead-lettered and then delivered.
    // Without a kill neither may happen, and the books check that.
    const deadOnly = new Map<string, string>();
    for (const e of dead) for (const d of e.item) if (!recorded.has(d.deliveryId)) deadOnly.set(d.deliveryId, e.reason);
    const byReason: Record<string, number> = {};
    for (const reason of deadOnly.values()) byReason[reason] = (byReason[reason] ?? 0) + 1;
    const living = reports.filter((r): r is RedisWorkerReport => r !== null);
    const read = pushed.reduce((n, p) => n + p.read, 0);
    const duplicates = pushed.reduce((n, p) => n + p.duplicates, 0);
    const unique = read - duplicates;
    // What the living workers saw delivered is in the receiver's record (the killed worker's list died with it).
    const matchesDelivered = living.every((r) => r.delivered.every((id) => recorded.has(id)));
    const sum = (k: 'requests' | 'retries' | 'status429' | 'status503' | 'redelivered') => living.reduce((n, r) => n + r[k], 0);
    // Little's law across processes: L measured here (the time-average of the batches waiting in Redis), against λ (the
    // queue's arrivals) × W (the time each batch waited, its retries' waits included, as the living workers timed it).
    const W = q.accepted === 0 ? 0 : living.reduce((n, r) => n + r.waitMs.mean * r.waitMs.count, 0) / q.accepted / 1_000;
    const L = m.littlesLaw.L;
    return {
      workers: o.workers,
      read,
      duplicates,
      unique,
      delivered: recorded.size,
      deadLettered: deadOnly.size,
      deadLetteredByReason: byReason,
      requests: sum('requests'),
      retries: sum('retries'),
      status429: sum('status429'),
      status503: sum('status503'),
      batches: {
        pushed: pushedBatches,
        accepted: q.accepted,
        completed: q.completed,
        deadLettered: q.deadLettered,
        failed: q.failed,
        retried: q.retried,
      },
      redelivered: sum('redelivered'),
      killed,
      metrics: {
        throughput: m.throughput,
        littlesLaw: {
          L,
          lambda: m.arrivalRate,
          W,
          lambdaW: m.arrivalRate * W,
          relativeError: L > 0 ? Math.abs(L - m.arrivalRate * W) / L : 0,
        },
      },
      perWorker: pushed.map((p) => ({
        index: p.index,
        read: p.read,
        duplicates: p.duplicates,
        delivered: reports[p.index]?.delivered.length ?? null,
        waitMs: reports[p.index]?.waitMs ?? null,
        runMs: reports[p.index]?.runMs ?? null,
      })),
      receiver: {
        accepted: stats.accepted,
        duplicates: stats.duplicates,
        matchesDelivered,
        busiestGrantSecond: stats.busiestGrantSecond,
        busiestSecond: stats.busiestSecond,
      },
      ratePerSecond: o.ratePerSecond,
      elapsedMs,
      balanced:
        unique === recorded.size + deadOnly.size &&
        (killed !== null || (deadOnly.size === deadIds.length && deadIds.every((id) => !recorded.has(id)))) &&
        matchesDelivered &&
        stats.accepted === recorded.size &&
        q.accepted === pushedBatches &&
        q.completed + q.deadLettered === q.accepted &&
        // A batch the killed worker had posted but not acknowledged is posted again (at least once): the receiver
        // sees those deliveries twice. Without a kill, never.
        (killed !== null || stats.duplicates === 0) &&
        // The shared rate held, as the receiver sees it: every request it got carries its grant's time on the shared
        // timeline, and no second of them holds more than rate + burst (1). Arrival times add each worker's scheduling
        // jitter (on a small machine, tens of ms: a request sent late joins the next second's count); they are reported,
        // not checked.
        stats.granted === stats.requests &&
        stats.busiestGrantSecond <= o.ratePerSecond + 1,
    };
  } finally {
    await queue.close({ drain: false });
    // This run's keys go: the deduper's, the bucket's, the queue's and the dead letter's.
    for await (const keys of client.scanIterator({ MATCH: `*${key}*`, COUNT: 1_000 })) {
      if (keys.length > 0) await client.del(keys);
    }
    await client.quit();
    receiver.stop();
  }
}
