/**
 * One of 4 processes calling a shared limiter through Redis as fast as it can
 * (bench/redis-processes.ts): from START, CALLS calls with 64 callers at
 * once; prints when it finished (Date.now).
 *   load-worker.ts LIB PORT KEY CALLS START
 */
import Bottleneck from 'bottleneck';
import Redis from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import type * as SluiceRedis from '../../src/redis/index.js';

const [lib, port, key, callsText, start] = process.argv.slice(2);
const client = new Redis({ port: Number(port), host: '127.0.0.1' });
let call: () => Promise<unknown>;
let stop = async () => {};
if (lib === 'sluice') {
  const { RedisTokenBucket } = (await import(new URL('../../dist/redis/index.js', import.meta.url).href)) as typeof SluiceRedis;
  const bucket = new RedisTokenBucket({ client, key: key!, ratePerSecond: 1e9, burst: 1e9 });
  call = () => bucket.tryAcquire();
} else if (lib === 'rate-limiter-flexible') {
  const limiter = new RateLimiterRedis({ storeClient: client, points: 1e9, duration: 60, keyPrefix: key });
  call = () => limiter.consume('k');
} else {
  const limiter = new Bottleneck({ datastore: 'ioredis', clientOptions: { host: '127.0.0.1', port: Number(port) }, id: key, Redis });
  await limiter.ready();
  call = () => limiter.schedule(async () => 1);
  stop = () => limiter.disconnect();
}
await new Promise((resolve) => setTimeout(resolve, Math.max(Number(start) - Date.now(), 0)));
const calls = Number(callsText);
let next = 0;
await Promise.all(
  Array.from({ length: 64 }, async () => {
    while (next < calls) {
      next++;
      await call();
    }
  }),
);
const end = Date.now();
await stop();
client.disconnect();
process.stdout.write(`${end}\n`);
