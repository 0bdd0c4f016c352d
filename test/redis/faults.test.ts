import { describe, expect, it } from 'vitest';
import { Queue } from '../../src/index.js';
import { RedisDeadLetter, RedisDeduper, RedisQueue, RedisTokenBucket, StoreUnavailableError } from '../../src/redis/index.js';
import { CLIENTS, redisAvailable, useClient, useRedisServer, warnIfMissing } from './server.js';

// redis-server restarted under the parts (with appendonly yes, as a production Redis would run).
warnIfMissing('test/redis/faults.test.ts');

const redis = useRedisServer({ appendonly: true });

describe.runIf(redisAvailable).each(CLIENTS)('sluice/redis when redis-server restarts, through %s', (kind) => {
  const conn = useClient(kind, redis);

  it('calls under way reject with StoreUnavailableError (no hang); the parts work again once the client reconnects; nothing is granted twice', async () => {
    const key = `restart-${kind}-${Date.now()}`;
    const bucket = new RedisTokenBucket({ client: conn.client, key, ratePerSecond: 0.01, burst: 2, commandTimeoutMs: 500 });
    const deduper = new RedisDeduper({ client: conn.client, key, commandTimeoutMs: 500 });
    const dlq = new RedisDeadLetter<number>({ client: conn.client, key, commandTimeoutMs: 500 });
    expect(await bucket.tryAcquire()).toBe(true);
    expect(await deduper.check('seen')).toBe(true);
    await dlq.add({ item: 1, reason: 'rejected' });

    await redis.server.stop();
    const started = Date.now();
    const outcomes = await Promise.allSettled([
      bucket.tryAcquire(),
      bucket.acquire(),
      deduper.check('other'),
      dlq.add({ item: 2, reason: 'rejected' }),
    ]);
    expect(Date.now() - started).toBeLessThan(2_000);
    for (const o of outcomes) {
      expect(o.status).toBe('rejected');
      expect((o as PromiseRejectedResult).reason).toBeInstanceOf(StoreUnavailableError);
    }

    await redis.server.restart();
    // The client reconnects on its own; the parts need nothing done.
    let back = false;
    for (let i = 0; i < 100 && !back; i++) {
      back = await deduper.has('seen').then(
        () => true,
        () => false,
      );
      if (!back) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(back).toBe(true);
    // The AOF kept every state: the bucket's one token left (burst 2, 1 taken; a call whose reply was lost may have
    // taken the other, never more), the deduper's key, the dead letter's entry.
    const grants = [await bucket.tryAcquire(), await bucket.tryAcquire(), await bucket.tryAcquire()].filter(Boolean).length;
    expect(grants).toBeLessThanOrEqual(1);
    expect(await deduper.check('seen')).toBe(false);
    expect((await dlq.entries()).map((e) => e.item)).toContain(1);
  }, 30_000);
});
describe.runIf(redisAvailable).each(CLIENTS)('RedisQueue when redis-server restarts, through %s', (kind) => {
  const conn = useClient(kind, redis);

  it('a push while Redis is down rejects with StoreUnavailableError (no hang); what was accepted before is there after the restart', async () => {
    const name = `queue-restart-${kind}-${Date.now()}`;
    const producer = new RedisQueue<number>({ client: conn.client, name, commandTimeoutMs: 500 });
    for (const x of [1, 2, 3]) await producer.push(x);
    await redis.server.stop();
    const started = Date.now();
    await expect(producer.push(4)).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(Date.now() - started).toBeLessThan(2_000);
    await redis.server.restart();
    let stats: Awaited<typeof producer.stats> | undefined;
    for (let i = 0; i < 100 && stats === undefined; i++) {
      stats = await producer.stats.catch(() => undefined);
      if (stats === undefined) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // A push whose reply was lost may have got in (at least once); the three before it surely did.
    expect(stats!.accepted).toBeGreaterThanOrEqual(3);
    const ran: number[] = [];
    const worker = new RedisQueue<number>({ client: conn.client, name, handler: (x) => void ran.push(x) });
    await worker.onIdle();
    expect(ran.slice(0, 3)).toEqual([1, 2, 3]);
    expect(await worker.stats).toMatchObject({ completed: stats!.accepted, waiting: 0, inFlight: 0 });
    await worker.close();
    await producer.close();
  });
});

describe('a Queue whose shared dead letter refuses', () => {
  it('counts the item dead-lettered at once, then the refusal (deadLetterRefused) and reports it as an error', async () => {
    const refusing = {
      add: () => Promise.reject(new StoreUnavailableError('RedisDeadLetter: Redis could not be reached for EVALSHA')),
      size: Promise.resolve(0),
    };
    const queue = new Queue<number>({ deadLetter: refusing, handler: () => Promise.reject(new Error('no')) });
    const errors: unknown[] = [];
    queue.on('error', (e) => errors.push(e));
    queue.tryPush(1);
    await queue.onIdle();
    expect(queue.stats.deadLettered).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(queue.stats.deadLetterRefused).toBe(1);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(StoreUnavailableError);
  });
});
