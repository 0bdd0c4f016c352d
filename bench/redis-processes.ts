/**
 * Grants per second from 4 processes at once (64 callers each) through one
 * redis-server, all calling the same limiter: the calls of all four over the
 * time from their common start to the last one's end.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startRedis } from '../test/redis/server.js';
import type { Suite } from './harness.js';
import { available } from './redis.js';

export { available };
const run = promisify(execFile);
const worker = fileURLToPath(new URL('./redis/load-worker.ts', import.meta.url));

const row =
  (lib: string, share = 1) =>
  async (n: number) => {
    const server = await startRedis();
    try {
      const calls = Math.max(1, Math.floor(n / 4 / share));
      const start = Date.now() + 6_000; // four processes start (tsx) and connect first
      const ends = await Promise.all(
        Array.from({ length: 4 }, () =>
          run(process.execPath, ['--import', 'tsx', worker, lib, String(server.port), `${lib}-${start}`, String(calls), String(start)]),
        ),
      );
      const last = Math.max(...ends.map(({ stdout }) => Number(stdout.trim().split('\n').at(-1))));
      return { 'calls/s': (calls * 4) / ((last - start) / 1_000), calls: calls * 4 };
    } finally {
      await server.stop();
      server.remove();
    }
  };

export const suite: Suite = {
  name: 'redis-processes',
  title: 'A shared rate limit on Redis from 4 processes at once (64 callers each): grants per second, all four together',
  kind: 'metrics',
  unit: 'calls/s',
  params: [{}],
  rows: {
    'sluice RedisTokenBucket.tryAcquire': row('sluice'),
    'rate-limiter-flexible RateLimiterRedis.consume': row('rate-limiter-flexible'),
    // About 2 000 jobs/s: a tenth of the calls.
    'bottleneck (ioredis datastore) schedule': row('bottleneck', 10),
  },
  ratios: [],
};
