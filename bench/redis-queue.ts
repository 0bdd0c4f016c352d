/**
 * RedisQueue against BullMQ on the same redis-server (Debian's, a fresh one
 * per row; the suite is skipped where it is missing): one producer fills the
 * queue with N jobs, then 1 or 4 worker processes (no-op handlers, each with
 * the given concurrency) drain it; jobs/s from their common start until the
 * queue reads empty (polled every 5 ms). Also: the producer's pushes per
 * second (64 at once), and the Redis bytes per waiting job (`MEMORY USAGE`
 * of every key the queue holds, over N).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Queue as BullQueue } from 'bullmq';
import Redis from 'ioredis';
import { startRedis } from '../test/redis/server.js';
import type { Suite } from './harness.js';
import { available } from './redis.js';

export { available };
const dist = new URL('../dist/redis/index.js', import.meta.url);
const { RedisQueue } = (await import(dist.href)) as typeof import('../src/redis/index.js');
const worker = fileURLToPath(new URL('./redis/queue-worker.ts', import.meta.url));

/** `n` calls of `call`, 64 at a time. */
async function drive(n: number, call: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < n) await call(next++);
    }),
  );
}

/** Bytes Redis holds for every key matching `pattern` (exact: every element sampled). */
async function bytes(client: Redis, pattern: string): Promise<number> {
  let total = 0;
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1_000);
    cursor = next;
    for (const key of keys) total += Number(await client.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'));
  } while (cursor !== '0');
  return total;
}

const row = (lib: 'sluice' | 'bullmq') => async (n: number, params: Record<string, number>) => {
  const server = await startRedis();
  const client = new Redis({ port: server.port, host: '127.0.0.1', maxRetriesPerRequest: null });
  const name = `bench-${lib}`;
  const children: ChildProcess[] = [];
  try {
    // Fill.
    let idle: () => Promise<boolean>;
    let pattern: string;
    const pushStart = Date.now();
    if (lib === 'sluice') {
      const q = new RedisQueue<{ i: number }>({ client, name });
      await drive(n, (i) => q.push({ i }));
      idle = async () => {
        const s = await q.stats;
        return s.waiting === 0 && s.inFlight === 0;
      };
      pattern = `sluice:{${name}}*`;
    } else {
      const q = new BullQueue(name, { connection: client });
      await drive(n, (i) => q.add('job', { i }, { removeOnComplete: true }));
      idle = async () => {
        const c = await q.getJobCounts('wait', 'active', 'delayed', 'prioritized');
        return c.wait + c.active + c.delayed + c.prioritized === 0;
      };
      pattern = `bull:${name}:*`;
    }
    const pushSeconds = (Date.now() - pushStart) / 1_000;
    const perJob = (await bytes(client, pattern)) / n;
    // Drain.
    const ready: Promise<void>[] = [];
    for (let w = 0; w < params.workers!; w++) {
      const child = spawn(process.execPath, ['--import', 'tsx', worker, lib, String(server.port), name, String(params.concurrency)], {
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      children.push(child);
      ready.push(new Promise((resolve) => child.stdout!.once('data', () => resolve())));
    }
    await Promise.all(ready);
    const start = Date.now() + 200;
    for (const child of children) child.stdin!.write(`${start}\n`);
    await new Promise((resolve) => setTimeout(resolve, start - Date.now()));
    while (!(await idle())) await new Promise((resolve) => setTimeout(resolve, 5));
    const seconds = (Date.now() - start) / 1_000;
    return { 'jobs/s': n / seconds, 'pushes/s': n / pushSeconds, 'bytes/job': perJob };
  } finally {
    for (const child of children) child.kill('SIGKILL');
    client.disconnect();
    await server.stop();
    server.remove();
  }
};

export const suite: Suite = {
  name: 'redis-queue',
  title: 'RedisQueue vs BullMQ on one redis-server: N jobs pushed (64 at once), then drained by worker processes with no-op handlers',
  kind: 'metrics',
  unit: 'jobs/s',
  params: [
    { workers: 1, concurrency: 1 },
    { workers: 1, concurrency: 64 },
    { workers: 4, concurrency: 1 },
    { workers: 4, concurrency: 64 },
  ],
  rows: {
    'sluice RedisQueue': row('sluice'),
    'BullMQ Queue + Worker': row('bullmq'),
  },
  ratios: [{ ours: 'sluice RedisQueue', anchor: 'BullMQ Queue + Worker' }],
};
