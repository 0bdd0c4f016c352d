/**
 * How well a shared limit holds from 4 processes: 1 000/s through one
 * redis-server, 8 callers per process, for N ms. The error of the total
 * against the rate, and the most grants in any 1 s (a limit of 1 000/s
 * with a burst of 1 should never pass 1 001).
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startRedis } from '../test/redis/server.js';
import type { Suite } from './harness.js';
import { available } from './redis.js';

export { available };
const run = promisify(execFile);
const worker = fileURLToPath(new URL('./redis/accuracy-worker.ts', import.meta.url));
const RATE = 1_000;

const row = (lib: string) => async (ms: number) => {
  const server = await startRedis();
  try {
    const start = Date.now() + 6_000; // four processes start (tsx) and connect first
    const deadline = start + ms;
    const key = `${lib}-${start}`;
    const outs = await Promise.all(
      Array.from({ length: 4 }, () =>
        run(process.execPath, ['--import', 'tsx', worker, lib, String(server.port), key, String(RATE), String(start), String(deadline)], {
          maxBuffer: 64 * 1024 * 1024,
        }),
      ),
    );
    const grants = outs.flatMap(({ stdout }) => JSON.parse(stdout.trim().split('\n').at(-1)!) as number[]).sort((a, b) => a - b);
    let worst = 0;
    for (let i = 0, j = 0; i < grants.length; i++) {
      while (grants[j]! <= grants[i]! - 1_000) j++;
      worst = Math.max(worst, i - j + 1);
    }
    const expected = (RATE * ms) / 1_000;
    return { 'error %': ((grants.length - expected) / expected) * 100, 'most in any 1 s': worst, grants: grants.length };
  } finally {
    await server.stop();
    server.remove();
  }
};

export const suite: Suite = {
  name: 'redis-accuracy',
  title: 'A shared 1 000/s limit from 4 processes on one redis-server: error of the total, most grants in any 1 s',
  kind: 'metrics',
  unit: '',
  params: [{}],
  rows: {
    'sluice RedisTokenBucket (burst 1)': row('sluice'),
    'rate-limiter-flexible RateLimiterRedis (1 000 points per 1 s)': row('rate-limiter-flexible'),
    'bottleneck, ioredis datastore (minTime 1 ms)': row('bottleneck'),
  },
  ratios: [],
};
