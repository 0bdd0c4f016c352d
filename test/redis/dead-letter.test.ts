import { describe, expect, it } from 'vitest';
import { type DeadLetterEntry, Queue, QueueFullError, mapConcurrent, pipe } from '../../src/index.js';
import { RedisDeadLetter } from '../../src/redis/index.js';
import { CLIENTS, redisAvailable, useClient, useRedisServer, warnIfMissing } from './server.js';

warnIfMissing('test/redis/dead-letter.test.ts');

const redis = useRedisServer();

let n = 0;
const fresh = () => `dlq-${process.pid}-${n++}`;
interface Job {
  readonly id: number;
}

describe.runIf(redisAvailable).each(CLIENTS)('RedisDeadLetter on a real redis-server, through %s', (kind) => {
  const conn = useClient(kind, redis);

  it('keeps entries, errors and counters in Redis: any sharer lists, gets and removes them', async () => {
    const key = fresh();
    const a = new RedisDeadLetter<Job>({ client: conn.client, key });
    const b = new RedisDeadLetter<Job>({ client: conn.client, key });
    const entry = await a.add({
      item: { id: 1 },
      reason: 'delivery_limit',
      error: Object.assign(new RangeError('boom'), { code: 'E_BOOM' }),
      attempts: 3,
      source: 'mailer',
    });
    await a.add({ item: { id: 2 }, reason: 'rejected' });
    const listed = await b.entries();
    expect(listed.map((e) => [e.item.id, e.reason, e.attempts])).toEqual([
      [1, 'delivery_limit', 3],
      [2, 'rejected', 0],
    ]);
    expect(listed[0]!.error).toMatchObject({ name: 'RangeError', message: 'boom', code: 'E_BOOM' });
    expect(listed[0]!.deaths).toEqual([{ source: 'mailer', reason: 'delivery_limit', count: 1, time: entry.deadAt }]);
    expect((await b.entries({ reason: 'rejected' })).map((e) => e.item.id)).toEqual([2]);
    expect(await b.get(entry.id)).toEqual(listed[0]);
    expect([await b.remove(entry.id), await b.remove(entry.id)]).toEqual([true, false]);
    expect(await a.stats()).toEqual({ added: 2, evicted: 0, redriven: 0, size: 1 });
    await expect(a.add({ item: { id: 3, big: 10n } as never, reason: 'rejected' })).rejects.toThrow(
      'RedisDeadLetter: entry.item must be JSON-serializable',
    );
  });

  it('at capacity evicts the oldest, or refuses with overflow reject', async () => {
    const evicting = new RedisDeadLetter<Job>({ client: conn.client, key: fresh(), capacity: 2 });
    for (let i = 0; i < 4; i++) await evicting.add({ item: { id: i }, reason: 'rejected' });
    expect((await evicting.entries()).map((e) => e.item.id)).toEqual([2, 3]);
    expect((await evicting.stats()).evicted).toBe(2);
    const refusing = new RedisDeadLetter<Job>({ client: conn.client, key: fresh(), capacity: 1, overflow: 'reject' });
    await refusing.add({ item: { id: 1 }, reason: 'rejected' });
    await expect(refusing.add({ item: { id: 2 }, reason: 'rejected' })).rejects.toBeInstanceOf(QueueFullError);
  });

  it('a Queue dead-letters into it (counted at once, the event once Redis has it); a redrive back into the Queue keeps the death history', async () => {
    const dlq = new RedisDeadLetter<Job>({ client: conn.client, key: fresh() });
    let failing = true;
    const queue = new Queue<Job>({
      name: 'jobs',
      deadLetter: dlq,
      handler: () => {
        if (failing) throw new Error('down');
      },
    });
    const events: DeadLetterEntry<Job>[] = [];
    queue.on('dead-lettered', (e) => events.push(e));
    await queue.push({ id: 1 });
    await queue.onIdle();
    expect(queue.stats.deadLettered).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(events.map((e) => e.item.id)).toEqual([1]);
    // Redrive into the queue while it still fails: the item dies again, its history counting both deaths.
    expect(await dlq.redrive(queue)).toEqual({ redriven: 1, failed: 0 });
    await queue.onIdle();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const [again] = await dlq.entries();
    expect(again!.deaths).toEqual([expect.objectContaining({ source: 'jobs', reason: 'delivery_limit', count: 2 })]);
    failing = false;
    expect(await dlq.redrive(queue)).toEqual({ redriven: 1, failed: 0 });
    await queue.onIdle();
    expect(await dlq.size).toBe(0);
    expect(await dlq.stats()).toMatchObject({ added: 2, redriven: 2 });
  });

  it('two processes’ worth redriving at once never hand one entry over twice', async () => {
    const key = fresh();
    const a = new RedisDeadLetter<Job>({ client: conn.client, key });
    const b = new RedisDeadLetter<Job>({ client: conn.client, key });
    for (let i = 0; i < 50; i++) await a.add({ item: { id: i }, reason: 'rejected' });
    const taken: number[] = [];
    const target = async (job: Job) => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      taken.push(job.id);
    };
    const [ra, rb] = await Promise.all([a.redrive(target), b.redrive(target)]);
    expect(ra.redriven + rb.redriven).toBe(50);
    expect(taken.sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(await a.size).toBe(0);
  });

  it('a refused redrive puts the entry back where it was; mapConcurrent dead-letters into it', async () => {
    const dlq = new RedisDeadLetter<Job>({ client: conn.client, key: fresh() });
    await dlq.add({ item: { id: 1 }, reason: 'rejected' });
    await dlq.add({ item: { id: 2 }, reason: 'rejected' });
    expect(await dlq.redrive(() => Promise.reject(new Error('no')))).toEqual({ redriven: 0, failed: 2 });
    expect((await dlq.entries()).map((e) => e.item.id)).toEqual([1, 2]);
    const out: number[] = [];
    for await (const r of pipe(
      [{ id: 3 }, { id: 4 }],
      mapConcurrent(
        async (job: Job) => {
          if (job.id === 3) throw new Error('bad');
          return job.id;
        },
        { deadLetter: dlq },
      ),
    ))
      out.push(r);
    expect(out).toEqual([4]);
    expect((await dlq.entries()).map((e) => e.item.id)).toEqual([1, 2, 3]);
  });
});
