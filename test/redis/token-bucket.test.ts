import { describe, expect, it } from 'vitest';
import { KeyedRedisTokenBucket, RedisTokenBucket, StoreUnavailableError } from '../../src/redis/index.js';
import { CLIENTS, redisAvailable, useClient, useRedisServer, warnIfMissing } from './server.js';

warnIfMissing('test/redis/token-bucket.test.ts');

const redis = useRedisServer();

let n = 0;
const fresh = () => `bucket-${process.pid}-${n++}`;

describe.runIf(redisAvailable).each(CLIENTS)('RedisTokenBucket on a real redis-server, through %s', (kind) => {
  const conn = useClient(kind, redis);

  it('tryAcquire grants the burst at once, then refuses until a token accrues', async () => {
    const bucket = new RedisTokenBucket({ client: conn.client, key: fresh(), ratePerSecond: 10, burst: 3 });
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await bucket.tryAcquire());
    expect(answers).toEqual([true, true, true, false]);
    const wait = await bucket.waitTime();
    expect(wait).toBeGreaterThan(50);
    expect(wait).toBeLessThanOrEqual(100);
    await new Promise((resolve) => setTimeout(resolve, wait + 5));
    expect(await bucket.tryAcquire()).toBe(true);
  });

  it('acquire reserves on the shared timeline and waits locally: 20 grants at 100/s, burst 1, take ~190 ms, in order', async () => {
    const bucket = new RedisTokenBucket({ client: conn.client, key: fresh(), ratePerSecond: 100, burst: 1 });
    const start = Date.now();
    const order: number[] = [];
    await Promise.all(Array.from({ length: 20 }, (_, i) => bucket.acquire().then(() => order.push(i))));
    const took = Date.now() - start;
    expect(took).toBeGreaterThanOrEqual(180);
    expect(took).toBeLessThan(600);
    expect(order).toEqual([...order].sort((a, b) => a - b));
  });

  it('two buckets of the same key (two processes’ worth) share the tokens', async () => {
    const key = fresh();
    const a = new RedisTokenBucket({ client: conn.client, key, ratePerSecond: 1, burst: 2 });
    const b = new RedisTokenBucket({ client: conn.client, key, ratePerSecond: 1, burst: 2 });
    expect([await a.tryAcquire(), await b.tryAcquire(), await a.tryAcquire(), await b.tryAcquire()]).toEqual([true, true, false, false]);
  });

  it('pauseFor holds every sharer; tokens do not accrue during the pause', async () => {
    const key = fresh();
    const a = new RedisTokenBucket({ client: conn.client, key, ratePerSecond: 50, burst: 1 });
    const b = new RedisTokenBucket({ client: conn.client, key, ratePerSecond: 50, burst: 1 });
    await a.pauseFor(200);
    expect(await b.tryAcquire()).toBe(false);
    const wait = await b.waitTime();
    expect(wait).toBeGreaterThan(150);
    expect(wait).toBeLessThanOrEqual(200);
    const start = Date.now();
    await b.acquire();
    expect(Date.now() - start).toBeGreaterThanOrEqual(150);
    expect(await a.tryAcquire()).toBe(false); // the one token (kept through the pause) went to b
  });

  it('an aborted acquire rejects with the signal’s reason; bad costs are RangeErrors', async () => {
    const bucket = new RedisTokenBucket({ client: conn.client, key: fresh(), ratePerSecond: 1, burst: 1 });
    await bucket.acquire();
    const controller = new AbortController();
    const waiting = bucket.acquire(1, { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('stop')), 20);
    await expect(waiting).rejects.toThrow('stop');
    await expect(bucket.tryAcquire(2)).rejects.toThrow('RedisTokenBucket: cost must be at most burst (1), got 2');
    await expect(bucket.acquire(0)).rejects.toThrow('RedisTokenBucket: cost must be a positive finite number, got 0');
  });

  it('keeps its state under its prefix and a cluster hash tag, expiring once the bucket is full again', async () => {
    const key = fresh();
    const bucket = new RedisTokenBucket({ client: conn.client, key, prefix: 'app:', ratePerSecond: 10, burst: 1 });
    expect(bucket.redisKey).toBe(`app:{${key}}:bucket`);
    await bucket.tryAcquire();
    const send = (args: string[]) =>
      'call' in conn.client
        ? (conn.client as { call: (...a: string[]) => Promise<unknown> }).call(...args)
        : (conn.client as { sendCommand: (a: string[]) => Promise<unknown> }).sendCommand(args);
    const ttl = Number(await send(['PTTL', bucket.redisKey]));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(1_100);
  });

  it('KeyedRedisTokenBucket: a bucket per key', async () => {
    const keyed = new KeyedRedisTokenBucket({ client: conn.client, name: fresh(), ratePerSecond: 1, burst: 1 });
    expect([await keyed.tryAcquire('a'), await keyed.tryAcquire('a'), await keyed.tryAcquire('b')]).toEqual([true, false, true]);
    expect(keyed.limiterFor('a')).toBe(keyed.limiterFor('a'));
  });

  it('reloads its script after SCRIPT FLUSH (NOSCRIPT)', async () => {
    const bucket = new RedisTokenBucket({ client: conn.client, key: fresh(), ratePerSecond: 10, burst: 5 });
    expect(await bucket.tryAcquire()).toBe(true);
    const send = (args: string[]) =>
      'call' in conn.client
        ? (conn.client as { call: (...a: string[]) => Promise<unknown> }).call(...args)
        : (conn.client as { sendCommand: (a: string[]) => Promise<unknown> }).sendCommand(args);
    await send(['SCRIPT', 'FLUSH']);
    expect(await bucket.tryAcquire()).toBe(true);
  });
});

describe('RedisTokenBucket without a server', () => {
  it('refuses a client that is neither node-redis nor ioredis, and bad options, naming them', () => {
    expect(() => new RedisTokenBucket({ client: {} as never, key: 'k', ratePerSecond: 1 })).toThrow(
      'RedisTokenBucket: client must be a node-redis client (sendCommand) or an ioredis client (call)',
    );
    const client = { sendCommand: async () => null };
    expect(() => new RedisTokenBucket({ client, key: '', ratePerSecond: 1 })).toThrow('RedisTokenBucket: key must be a non-empty string');
    expect(() => new RedisTokenBucket({ client, key: 'k', ratePerSecond: 0 })).toThrow(
      'RedisTokenBucket: ratePerSecond must be a positive',
    );
    expect(() => new RedisTokenBucket({ client, key: 'k', ratePerSecond: 1, brust: 2 } as never)).toThrow(
      "unknown option 'brust' (did you mean 'burst'?)",
    );
  });

  it('a client that never answers: the call rejects with StoreUnavailableError after commandTimeoutMs, no hang', async () => {
    const client = { sendCommand: () => new Promise<unknown>(() => {}) };
    const bucket = new RedisTokenBucket({ client, key: 'k', ratePerSecond: 1, commandTimeoutMs: 50 });
    const start = Date.now();
    await expect(bucket.tryAcquire()).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(Date.now() - start).toBeLessThan(1_000);
    const broken = { sendCommand: () => Promise.reject(new Error('The client is closed')) };
    await expect(new RedisTokenBucket({ client: broken, key: 'k', ratePerSecond: 1 }).acquire()).rejects.toThrow(
      'RedisTokenBucket: Redis could not be reached for SCRIPT: The client is closed',
    );
  });
});
