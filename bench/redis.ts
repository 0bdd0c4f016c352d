/**
 * A shared rate limit on a real redis-server (Debian's, started by the row's
 * process on a free port; the suite is skipped where it is missing): calls
 * per second through one process with 64 callers at once, each call a grant
 * decided by Redis, against rate-limiter-flexible's RateLimiterRedis and
 * bottleneck's Redis datastore on the same kind of server and client.
 */
import { existsSync } from 'node:fs';
import Bottleneck from 'bottleneck';
import Redis from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { createClient } from 'redis';
import { type RedisServer, startRedis } from '../test/redis/server.js';
import type { Suite } from './harness.js';

const dist = new URL('../dist/redis/index.js', import.meta.url);
const { RedisTokenBucket } = (await import(dist.href)) as typeof import('../src/redis/index.js');

/** One server per row process, started on the first (untimed) run. */
let server: RedisServer | undefined;
const port = async (): Promise<number> => {
  server ??= await startRedis();
  return server.port;
};
const CALLERS = 64;
let runs = 0;

/** `n` calls of `call`, 64 at a time. */
async function drive(n: number, call: () => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: CALLERS }, async () => {
      while (next < n) {
        next++;
        await call();
      }
    }),
  );
}

export const available = existsSync('/usr/bin/redis-server');

export const suite: Suite = {
  name: 'redis',
  title: 'A shared rate limit on Redis: grants per second, one process, 64 callers at once (a limit never reached)',
  unit: 'calls/s',
  params: [{}],
  rows: {
    'sluice RedisTokenBucket.tryAcquire (ioredis)': async (n) => {
      const client = new Redis({ port: await port(), host: '127.0.0.1' });
      const bucket = new RedisTokenBucket({ client, key: `b${runs++}`, ratePerSecond: 1e9, burst: 1e9 });
      await drive(n, () => bucket.tryAcquire());
      client.disconnect();
    },
    'sluice RedisTokenBucket.tryAcquire (node-redis)': async (n) => {
      const client = await createClient({ url: `redis://127.0.0.1:${await port()}` }).connect();
      const bucket = new RedisTokenBucket({ client, key: `b${runs++}`, ratePerSecond: 1e9, burst: 1e9 });
      await drive(n, () => bucket.tryAcquire());
      client.destroy();
    },
    'rate-limiter-flexible RateLimiterRedis.consume (ioredis)': async (n) => {
      const client = new Redis({ port: await port(), host: '127.0.0.1' });
      const limiter = new RateLimiterRedis({ storeClient: client, points: 1e9, duration: 60, keyPrefix: `r${runs++}` });
      await drive(n, () => limiter.consume('k'));
      client.disconnect();
    },
    'bottleneck (ioredis datastore) schedule': async (n) => {
      const limiter = new Bottleneck({
        datastore: 'ioredis',
        clientOptions: { host: '127.0.0.1', port: await port() },
        id: `bn${runs++}`,
        Redis,
      });
      await limiter.ready();
      await drive(n, () => limiter.schedule(async () => 1));
      await limiter.disconnect();
    },
  },
  ratios: [
    {
      ours: 'sluice RedisTokenBucket.tryAcquire (ioredis)',
      anchor: 'rate-limiter-flexible RateLimiterRedis.consume (ioredis)',
      budget: 1.5,
    },
    { ours: 'sluice RedisTokenBucket.tryAcquire (ioredis)', anchor: 'bottleneck (ioredis datastore) schedule' },
  ],
};

process.once('exit', () => {
  void server?.stop();
  server?.remove();
});
