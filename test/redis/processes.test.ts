import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { redisAvailable, useRedisServer, warnIfMissing } from './server.js';

// Separate Node processes sharing one part through one redis-server, as an app's replicas would.
warnIfMissing('test/redis/processes.test.ts');
const run = promisify(execFile);
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const spawnWorker = async <R = number[]>(name: string, args: (string | number)[]): Promise<R> => {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', fixture(name), ...args.map(String)], { timeout: 60_000 });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as R;
};
/** The most of `times` (sorted) in any 1 s. */
const busiestSecond = (times: number[]): number => {
  let worst = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[j]! <= times[i]! - 1_000) j++;
    worst = Math.max(worst, i - j + 1);
  }
  return worst;
};

const redis = useRedisServer();

describe.runIf(redisAvailable)('sluice/redis across processes', () => {
  it('4 processes share one RedisTokenBucket at 200/s for 5 s: the union within 1 % of the rate, never above rate + burst in any 1 s on the shared timeline', async () => {
    const rate = 200;
    const burst = 5;
    const seconds = 5;
    // Start together, after every process has started and connected (tsx takes seconds with four at once).
    const startAt = Date.now() + 8_000;
    const deadline = startAt + seconds * 1_000;
    const kinds = ['node-redis', 'ioredis', 'node-redis', 'ioredis'];
    const outs = await Promise.all(
      kinds.map((kind) =>
        spawnWorker<{ grants: number[]; timeline: number[] }>('bucket-worker.ts', [
          redis.server.port,
          `shared-${startAt}`,
          rate,
          burst,
          startAt,
          deadline,
          kind,
        ]),
      ),
    );
    const all = outs.flatMap((o) => o.grants).sort((a, b) => a - b);
    const timeline = outs.flatMap((o) => o.timeline).sort((a, b) => a - b);
    // Every process starts at startAt (a full bucket: burst at once), then the rate.
    expect(all[0]!).toBeGreaterThanOrEqual(startAt);
    const expected = rate * seconds + burst;
    expect(Math.abs(all.length - expected) / expected).toBeLessThanOrEqual(0.01);
    // On the shared timeline (each grant's time on Redis's clock): never above rate + burst in any 1 s, exactly.
    expect(busiestSecond(timeline)).toBeLessThanOrEqual(rate + burst);
    // As the callers saw them: a grant is seen when its local timer fires, late (never early) by a few ms under load,
    // so one due at the end of a second can be seen in the next. 1 % of slack.
    expect(busiestSecond(all)).toBeLessThanOrEqual(Math.floor((rate + burst) * 1.01));
  }, 90_000);

  it('4 processes deduping the same 10 000 keys let each through exactly once', async () => {
    const count = 10_000;
    const name = `keys-${Date.now()}`;
    const kinds = ['node-redis', 'ioredis', 'node-redis', 'ioredis'];
    const through = (
      await Promise.all(kinds.map((kind) => spawnWorker('dedupe-worker.ts', [redis.server.port, name, count, kind])))
    ).flat();
    expect(through).toHaveLength(count);
    expect(new Set(through).size).toBe(count);
  }, 60_000);
});
