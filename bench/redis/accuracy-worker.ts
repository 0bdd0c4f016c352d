/**
 * One of 4 processes sharing a 1 000/s limit through Redis (bench/redis-accuracy.ts):
 * 8 callers take grants from START until DEADLINE as fast as the limiter lets them;
 * prints the times (Date.now) of the grants.
 *   accuracy-worker.ts LIB PORT KEY RATE START DEADLINE
 */
import Bottleneck from 'bottleneck';
import Redis from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import type * as SluiceRedis from '../../src/redis/index.js';

const [lib, port, key, rateText, start, deadline] = process.argv.slice(2);
const rate = Number(rateText);
const client = new Redis({ port: Number(port), host: '127.0.0.1' });
const grants: number[] = [];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let take: () => Promise<void>;
let stop = async () => {};
if (lib === 'sluice') {
  const { RedisTokenBucket } = (await import(new URL('../../dist/redis/index.js', import.meta.url).href)) as typeof SluiceRedis;
  const bucket = new RedisTokenBucket({ client, key: key!, ratePerSecond: rate, burst: 1 });
  take = async () => {
    await bucket.acquire();
  };
} else if (lib === 'rate-limiter-flexible') {
  const limiter = new RateLimiterRedis({ storeClient: client, points: rate, duration: 1, keyPrefix: key });
  take = async () => {
    for (;;) {
      try {
        await limiter.consume('k');
        return;
      } catch (res) {
        await sleep((res as { msBeforeNext: number }).msBeforeNext);
      }
    }
  };
} else {
  const limiter = new Bottleneck({
    datastore: 'ioredis',
    clientOptions: { host: '127.0.0.1', port: Number(port) },
    id: key,
    minTime: 1_000 / rate,
    Redis,
  });
  await limiter.ready();
  take = () => limiter.schedule(async () => {});
  stop = () => limiter.disconnect();
}
await sleep(Math.max(Number(start) - Date.now(), 0));
await Promise.all(
  Array.from({ length: 8 }, async () => {
    while (Date.now() < Number(deadline)) {
      await take();
      const at = Date.now();
      if (at < Number(deadline)) grants.push(at);
    }
  }),
);
await stop();
client.disconnect();
process.stdout.write(`${JSON.stringify(grants)}\n`);
