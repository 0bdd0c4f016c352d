/**
 * A worker process of bench/redis-queue.ts: a RedisQueue or a BullMQ Worker
 * with a no-op handler, on its own ioredis connection. Prints `ready` once
 * it can start, starts at the time the parent writes to its stdin (ms,
 * Date.now), and runs until the parent kills it.
 *   queue-worker.ts LIB PORT NAME CONCURRENCY
 */
import { Worker } from 'bullmq';
import Redis from 'ioredis';
import type * as SluiceRedis from '../../src/redis/index.js';

const [lib, port, name, concurrency] = process.argv.slice(2);
let start: () => void;
if (lib === 'sluice') {
  const { RedisQueue } = (await import(new URL('../../dist/redis/index.js', import.meta.url).href)) as typeof SluiceRedis;
  const client = new Redis({ port: Number(port), host: '127.0.0.1' });
  const queue = new RedisQueue({ client, name: name!, concurrency: Number(concurrency), autoStart: false, handler: () => {} });
  start = () => queue.resume();
} else {
  const connection = new Redis({ port: Number(port), host: '127.0.0.1', maxRetriesPerRequest: null });
  const worker = new Worker(name!, async () => {}, {
    connection,
    concurrency: Number(concurrency),
    autorun: false,
    removeOnComplete: { count: 0 },
  });
  await worker.waitUntilReady();
  start = () => void worker.run();
}
process.stdout.write('ready\n');
process.stdin.once('data', (data) => {
  setTimeout(start, Math.max(0, Number(String(data).trim()) - Date.now()));
});
