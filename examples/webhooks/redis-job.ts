/**
 * The main job across processes (`npm run demo -- --redis URL --workers N`):
 * one receiver, N worker processes (examples/webhooks/redis-worker.ts) that
 * share a deduper, a rate limit and a dead letter through Redis. The books
 * are balanced across all of them: every unique delivery delivered (the
 * receiver's own record) or in the shared dead letter, none twice, and the
 * receiver never got more requests in a second of the shared timeline than
 * the shared rate (each request carries its grant's time).
 */
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createClient } from 'redis';
import type { JobOptions } from './job.js';
import { startReceiver } from './job.js';
import type { ReceiverStats } from './receiver.js';
import { type RedisWorkerOptions, type RedisWorkerReport, sharedParts } from './redis-worker.js';

export interface RedisJobOptions extends JobOptions {
  readonly redisUrl: string;
  readonly workers: number;
}

export interface RedisSummary {
  workers: number;
  read: number;
  /** Redeliveries dropped by the shared deduper, whichever worker saw them. */
  duplicates: number;
  unique: number;
  delivered: number;
  /** Deliveries in the shared dead letter (its entries are batches). */
  deadLettered: number;
  /** Of them, by reason: `rejected` (poison: the same for the same --seed), `delivery_limit` (depends on timing). */
  deadLetteredByReason: Record<string, number>;
  requests: number;
  retries: number;
  status429: number;
  status503: number;
  perWorker: { index: number; read: number; duplicates: number; delivered: number }[];
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

function runWorker(options: RedisWorkerOptions): Promise<RedisWorkerReport> {
  const child = fork(fileURLToPath(new URL('./redis-worker.ts', import.meta.url)), [JSON.stringify(options)], {
    execArgv: process.execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    let report: RedisWorkerReport | undefined;
    child.once('message', (m) => {
      report = m as RedisWorkerReport;
    });
    child.once('error', reject);
    child.once('exit', (code) =>
      report && code === 0 ? resolve(report) : reject(new Error(`worker ${options.index} exited with code ${code}`)),
    );
  });
}

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
  try {
    const started = Date.now();
    const reports = await Promise.all(
      Array.from({ length: o.workers }, (_, index) =>
        runWorker({
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
        }),
      ),
    );
    const elapsedMs = Date.now() - started;
    const { deadLetter } = sharedParts(client, key, o.ratePerSecond);
    const dead = await deadLetter.entries();
    const deadIds = dead.flatMap((e) => e.item.map((d) => d.deliveryId));
    const byReason: Record<string, number> = {};
    for (const e of dead) byReason[e.reason] = (byReason[e.reason] ?? 0) + e.item.length;
    const stats = (await (await fetch(`${receiver.url}/stats`)).json()) as ReceiverStats;
    const recorded = new Set<string>();
    for (const line of readFileSync(o.logFile, 'utf8').split('\n')) {
      if (line) for (const id of JSON.parse(line) as string[]) recorded.add(id);
    }
    const delivered = new Set(reports.flatMap((r) => r.delivered));
    const read = reports.reduce((n, r) => n + r.read, 0);
    const duplicates = reports.reduce((n, r) => n + r.duplicates, 0);
    const unique = read - duplicates;
    const matchesDelivered = recorded.size === delivered.size && [...delivered].every((id) => recorded.has(id));
    const sum = (k: 'requests' | 'retries' | 'status429' | 'status503') => reports.reduce((n, r) => n + r[k], 0);
    return {
      workers: o.workers,
      read,
      duplicates,
      unique,
      delivered: delivered.size,
      deadLettered: deadIds.length,
      deadLetteredByReason: byReason,
      requests: sum('requests'),
      retries: sum('retries'),
      status429: sum('status429'),
      status503: sum('status503'),
      perWorker: reports.map((r) => ({ index: r.index, read: r.read, duplicates: r.duplicates, delivered: r.delivered.length })),
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
        unique === delivered.size + deadIds.length &&
        new Set(deadIds).size === deadIds.length &&
        deadIds.every((id) => !delivered.has(id)) &&
        matchesDelivered &&
        stats.accepted === delivered.size &&
        stats.duplicates === 0 &&
        // The shared rate held, as the receiver sees it: every request it got carries its grant's time on the shared
        // timeline, and no second of them holds more than rate + burst (1). Arrival times add each worker's scheduling
        // jitter (on a small machine, tens of ms: a request sent late joins the next second's count); they are reported,
        // not checked.
        stats.granted === stats.requests &&
        stats.busiestGrantSecond <= o.ratePerSecond + 1,
    };
  } finally {
    // This run's keys go: the deduper's, the bucket's and the dead letter's.
    for await (const keys of client.scanIterator({ MATCH: `*${key}*`, COUNT: 1_000 })) {
      if (keys.length > 0) await client.del(keys);
    }
    await client.quit();
    receiver.stop();
  }
}
