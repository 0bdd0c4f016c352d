import { describe, expect, it } from 'vitest';
import { QueueClosedError, RejectError } from '../../src/index.js';
import type { QueueStats } from '../../src/queue-types.js';
import { RedisQueue, RedisTokenBucket } from '../../src/redis/index.js';
import { CLIENTS, redisAvailable, useClient, useQueues, useRedisServer, warnIfMissing } from './server.js';

warnIfMissing('test/redis/queue.test.ts');

const redis = useRedisServer();

let n = 0;
const fresh = () => `queue-${process.pid}-${n++}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves once `met()` holds, asking every 10 ms; rejects after 5 s. */
async function until(met: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + 5_000;
  while (!(await met())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(10);
  }
}

/** accepted = completed + deadLettered + cancelled + waiting + inFlight, and the settled part of it. */
function balanced(s: QueueStats): boolean {
  return s.accepted === s.completed + s.deadLettered + s.cancelled + s.waiting + s.inFlight;
}

describe.runIf(redisAvailable).each(CLIENTS)('RedisQueue on a real redis-server, through %s', (kind) => {
  const conn = useClient(kind, redis);
  const queue = useQueues(conn);

  it('runs every item once with its id as the idempotency key; submit gets the result back; the books balance in Redis', async () => {
    const seen: [number, string, number][] = [];
    const q = queue<number, number>({
      name: fresh(),
      concurrency: 4,
      handler: (x, { id, attempt }) => {
        seen.push([x, id, attempt]);
        return x * 2;
      },
    });
    const receipts = await Promise.all([1, 2, 3].map((x) => q.push(x)));
    expect(receipts.map((r) => r.id)).toEqual(['1', '2', '3']);
    expect(await q.submit(21, { id: 'answer' })).toBe(42);
    await q.onIdle();
    expect(seen.sort((a, b) => a[0] - b[0])).toEqual([
      [1, '1', 1],
      [2, '2', 1],
      [3, '3', 1],
      [21, 'answer', 1],
    ]);
    const s = await q.stats;
    expect(s).toMatchObject({ accepted: 4, completed: 4, failed: 0, waiting: 0, inFlight: 0, deadLettered: 0 });
    expect(balanced(s)).toBe(true);
  });

  it('retries with backoff in Redis, then dead-letters with the death history; RejectError at once; submit rejects with the last error', async () => {
    const attempts: number[] = [];
    const q = queue<string, void>({
      name: fresh(),
      retry: { maxAttempts: 3, backoff: { initialDelayMs: 30, jitter: 'none' } },
      handler: (s, { attempt }) => {
        attempts.push(attempt);
        if (s === 'poison') throw new RejectError(new Error('bad payload'));
        throw new Error(`boom ${attempt}`);
      },
    });
    const failed: boolean[] = [];
    q.on('failed', (_item, _error, info) => failed.push(info.willRetry));
    await expect(q.submit('flaky')).rejects.toThrow('boom 3');
    await q.push('poison');
    await q.onIdle();
    expect(attempts).toEqual([1, 2, 3, 1]);
    expect(failed).toEqual([true, true, false, false]);
    const entries = await q.deadLetter.entries();
    expect(entries.map((e) => [e.item, e.reason, e.attempts, (e.error as { message: string }).message])).toEqual([
      ['flaky', 'delivery_limit', 3, 'boom 3'],
      ['poison', 'rejected', 1, 'bad payload'],
    ]);
    expect(entries[0]!.deaths).toEqual([expect.objectContaining({ source: q.name, reason: 'delivery_limit', count: 1 })]);
    const s = await q.stats;
    expect(s).toMatchObject({ accepted: 2, completed: 0, failed: 4, retried: 2, deadLettered: 2, waiting: 0, inFlight: 0 });
    expect(balanced(s)).toBe(true);
  });

  it('shares the work between processes that name it: each item runs once, and every sharer reads the same counters', async () => {
    const name = fresh();
    const ran = new Map<number, string>();
    const worker = (who: string) =>
      queue<number, void>({
        name,
        concurrency: 2,
        handler: async (x) => {
          expect(ran.has(x)).toBe(false);
          ran.set(x, who);
          await sleep(2);
        },
      });
    const a = worker('a');
    const b = worker('b');
    const producer = queue<number, void>({ name });
    await producer.pushAll(Array.from({ length: 60 }, (_, i) => i));
    await producer.onIdle();
    expect(ran.size).toBe(60);
    const by = [...ran.values()];
    expect(by.filter((w) => w === 'a').length).toBeGreaterThan(5);
    expect(by.filter((w) => w === 'b').length).toBeGreaterThan(5);
    const [sa, sb, sp] = await Promise.all([a.stats, b.stats, producer.stats]);
    expect(sa).toEqual(sp);
    expect(sb).toEqual(sp);
    expect(sp).toMatchObject({ accepted: 60, completed: 60 });
  });

  it('message groups: FIFO per group with one in flight per group across processes; other groups go on', async () => {
    const name = fresh();
    const order = new Map<string, number[]>();
    const inFlight = new Map<string, number>();
    let most = 0;
    const handler = async ({ g, i }: { g: string; i: number }) => {
      const now = (inFlight.get(g) ?? 0) + 1;
      inFlight.set(g, now);
      most = Math.max(most, now);
      await sleep(i % 3);
      order.set(g, [...(order.get(g) ?? []), i]);
      inFlight.set(g, now - 1);
    };
    queue({ name, concurrency: 4, handler, groupBy: (x: { g: string }) => x.g });
    queue({ name, concurrency: 4, handler, groupBy: (x: { g: string }) => x.g });
    const producer = queue<{ g: string; i: number }, void>({ name, groupBy: (x) => x.g });
    const items = Array.from({ length: 45 }, (_, i) => ({ g: `g${i % 3}`, i }));
    await producer.pushAll(items);
    await producer.onIdle();
    expect(most).toBe(1);
    for (const g of ['g0', 'g1', 'g2']) expect(order.get(g)).toEqual(items.filter((x) => x.g === g).map((x) => x.i));
  });

  it('dedupe: a key is a duplicate while its item waits or runs and for its window; the receipt names the live item', async () => {
    const q = queue<{ k: string }, void>({ name: fresh(), dedupe: { key: (x) => x.k, windowMs: 150 } });
    const first = await q.push({ k: 'a' });
    expect(await q.push({ k: 'a' })).toEqual({ id: first.id, duplicate: true, dropped: false, replaced: false });
    q.process(() => {});
    await q.onIdle();
    expect((await q.push({ k: 'a' })).duplicate).toBe(true); // the window is still open
    await sleep(200);
    expect((await q.push({ k: 'a' })).duplicate).toBe(false);
    await q.onIdle();
    expect(await q.stats).toMatchObject({ accepted: 2, duplicates: 2, completed: 2 });
  });

  it('capacity counts every process’s waiting items: reject, drop-newest and drop-oldest (dead-lettered maxlen)', async () => {
    const reject = queue<number, void>({ name: fresh(), capacity: 2, overflow: 'reject' });
    await reject.push(1);
    await reject.push(2);
    await expect(reject.push(3)).rejects.toThrow('RedisQueue: capacity of 2 reached');

    const newest = queue<number, void>({ name: fresh(), capacity: 2, overflow: 'drop-newest' });
    await newest.push(1);
    await newest.push(2);
    expect(await newest.push(3)).toMatchObject({ dropped: true });

    const oldest = queue<number, void>({ name: fresh(), capacity: 2, overflow: 'drop-oldest' });
    for (const x of [1, 2, 3]) await oldest.push(x);
    const ran: number[] = [];
    oldest.process((x) => void ran.push(x));
    await oldest.onIdle();
    expect(ran).toEqual([2, 3]);
    expect((await newest.deadLetter.entries()).map((e) => [e.item, e.reason])).toEqual([[3, 'maxlen']]);
    expect((await oldest.deadLetter.entries()).map((e) => [e.item, e.reason])).toEqual([[1, 'maxlen']]);
    for (const q of [reject, newest, oldest]) expect(balanced(await q.stats)).toBe(true);
    expect(await oldest.stats).toMatchObject({ accepted: 3, completed: 2, deadLettered: 1 });
  });

  it('a delayed push waits in Redis, and a TTL past before the first attempt dead-letters it expired', async () => {
    const started: [string, number][] = [];
    const q = queue<string, void>({ name: fresh(), handler: (s) => void started.push([s, Date.now()]) });
    const pushedAt = Date.now();
    await q.push('later', { delayMs: 150 });
    await q.push('now');
    await q.onIdle();
    expect(started.map(([s]) => s)).toEqual(['now', 'later']);
    expect(started[1]![1] - pushedAt).toBeGreaterThanOrEqual(140);

    const paused = queue<string, void>({ name: fresh(), ttlMs: 50 }); // no handler yet: nothing runs
    await paused.push('stale');
    await sleep(80);
    paused.process(() => {
      throw new Error('an expired item must not run');
    });
    await paused.onIdle();
    expect((await paused.deadLetter.entries()).map((e) => [e.item, e.reason, e.attempts])).toEqual([['stale', 'expired', 0]]);
  });

  it('bad options and pushes are refused naming the part, the option and the value; a duplicate submit rejects with DuplicateError', async () => {
    expect(() => new RedisQueue({ client: conn.client, name: '' })).toThrow('RedisQueue: name must be a non-empty string, got ""');
    expect(() => new RedisQueue({ client: conn.client, name: 'x', concurrency: 0 })).toThrow(
      'RedisQueue: concurrency must be a positive integer or Infinity, got 0',
    );
    expect(() => new RedisQueue({ client: conn.client, name: 'x', overflow: 'spill' as never })).toThrow(/RedisQueue: overflow must be/);
    expect(() => new RedisQueue({ client: conn.client, name: 'x', deadLetter: {} as never })).toThrow(
      'RedisQueue: deadLetter must be a RedisDeadLetter',
    );
    expect(() => new RedisQueue({ client: conn.client, name: 'x', colour: 'red' } as never)).toThrow(/RedisQueue: .*colour/);
    const q = queue<unknown, void>({ name: fresh(), dedupe: { key: (x) => String(x) } });
    await expect(q.push(1, { delayMs: -1 })).rejects.toThrow('RedisQueue: options.delayMs must be a non-negative finite number, got -1');
    await expect(q.push(1, { priority: 2.5 })).rejects.toThrow('RedisQueue: options.priority must be an integer, got 2.5');
    await expect(q.push(10n)).rejects.toThrow(/RedisQueue: an item must be JSON-serializable/);
    await q.push('a');
    q.process(() => {});
    await q.onIdle();
    // A duplicate of an item already settled (within its window): nothing to share.
    await expect(q.submit('a')).rejects.toMatchObject({ name: 'DuplicateError', code: 'ERR_DUPLICATE' });
    expect(await q.stats).toMatchObject({ accepted: 1, duplicates: 1 });
  });

  it('has the Queue surface: pushAll, size, running, isPaused, concurrency, process, and its events with the item', async () => {
    const q = queue<number, number>({ name: fresh(), autoStart: false });
    expect(q.isPaused).toBe(true);
    expect(await q.pushAll([1, 2, 3, 4])).toBe(4);
    expect(await q.size).toBe(4);
    const events: string[] = [];
    q.on('active', (x, { attempt }) => events.push(`active ${x}@${attempt}`));
    q.on('completed', (x, r) => events.push(`completed ${x}=${r}`));
    q.on('failed', (x, _e, { willRetry }) => events.push(`failed ${x} ${willRetry}`));
    q.on('dead-lettered', (entry) => events.push(`dead ${entry.item} ${entry.reason}`));
    let most = 0;
    q.process(
      async (x) => {
        most = Math.max(most, q.running);
        await sleep(5);
        if (x === 4) throw new RejectError(new Error('four'));
        return x * 10;
      },
      { concurrency: 2 },
    );
    expect(q.concurrency).toBe(2);
    expect(() => q.process(() => 0)).toThrow('RedisQueue: process: the queue already has a handler');
    expect(() => q[Symbol.asyncIterator]()).toThrow('RedisQueue: the queue has a handler; a queue has a handler or is iterated, not both');
    q.resume();
    expect(q.isPaused).toBe(false);
    await q.onIdle();
    await sleep(20); // the events of the last settle
    expect(most).toBe(2);
    expect(events.filter((e) => e.startsWith('completed')).sort()).toEqual(['completed 1=10', 'completed 2=20', 'completed 3=30']);
    expect(events.filter((e) => !e.startsWith('completed') && !e.startsWith('active'))).toEqual(['failed 4 false', 'dead 4 rejected']); // as Queue's
    expect(events.filter((e) => e.startsWith('active'))).toHaveLength(4);
    expect(await q.size).toBe(0);
  });

  it("'block': a push at capacity waits until any process makes room; one still waiting when the queue closes rejects", async () => {
    const name = fresh();
    const producer = queue<number, void>({ name, capacity: 1 });
    await producer.push(1);
    let second = false;
    const pushing = producer.push(2).then((r) => {
      second = true;
      return r;
    });
    await sleep(60);
    expect(second).toBe(false);
    const ran: number[] = [];
    queue<number, void>({ name, handler: (x) => void ran.push(x) });
    expect((await pushing).dropped).toBe(false);
    await producer.onIdle();
    expect(ran).toEqual([1, 2]);

    const full = queue<number, void>({ name: fresh(), capacity: 1 });
    await full.push(1);
    const stuck = full.push(2);
    await sleep(30);
    await full.close({ drain: false });
    await expect(stuck).rejects.toThrow('RedisQueue: closed while the push waited for room');
  });

  it('pull mode: a nack with no error retries, a bad delayMs is refused by name, a lapsed delivery cannot be acked, close ends the loop', async () => {
    const q = queue<string, void>({
      name: fresh(),
      visibilityTimeoutMs: 60,
      retry: { maxAttempts: 3, backoff: { initialDelayMs: 1, jitter: 'none' } },
    });
    await q.push('x');
    const seen: string[] = [];
    let closed: Promise<unknown> | undefined;
    for await (const d of q[Symbol.asyncIterator]()) {
      seen.push(`${d.item}@${d.attempt}`);
      if (d.attempt === 1) {
        expect(() => d.nack(undefined, { delayMs: -1 })).toThrow(
          'RedisQueue: nack options.delayMs must be a non-negative finite number, got -1',
        );
        expect(d.nack()).toBe(true);
      } else if (d.attempt === 2) {
        await sleep(100); // past its visibility timeout: it lapsed
        expect(d.signal.aborted).toBe(true);
        expect(d.ack()).toBe(false);
      } else {
        expect(d.ack()).toBe(true);
        closed = q.close({ drain: false });
      }
    }
    await closed;
    expect(seen).toEqual(['x@1', 'x@2', 'x@3']);
    expect(await q.stats).toMatchObject({ completed: 1, failed: 2, retried: 2 });
  });

  it('submit rejects with the last error as stored: its name, message and code', async () => {
    const q = queue<string, void>({
      name: fresh(),
      handler: () => {
        throw Object.assign(new RangeError('out of range'), { code: 'E_RANGE' });
      },
    });
    await expect(q.submit('x')).rejects.toMatchObject({ name: 'RangeError', message: 'out of range', code: 'E_RANGE' });
  });

  it('cancel from another process: the running attempt is aborted within pollMs, counted cancelled, its submit rejected', async () => {
    const name = fresh();
    const started: number[] = [];
    const reasons: string[] = [];
    const worker = queue<string, string>({
      name,
      handler: async (_s, { signal }) => {
        started.push(Date.now());
        await new Promise((resolve) => signal.addEventListener('abort', resolve));
        reasons.push(`${(signal.reason as Error).name}: ${(signal.reason as Error).message}`);
        return 'finished anyway';
      },
    });
    const producer = queue<string, string>({ name });
    const cancelled: string[] = [];
    worker.on('cancelled', (item, reason, { id }) => cancelled.push(`${item} ${id} ${(reason as Error).message}`));
    const outcome = producer.submit('job', { id: 'job-1' }).then(
      (r) => r,
      (e: Error) => `${e.name}: ${e.message}`,
    );
    for (let i = 0; i < 100 && started.length === 0; i++) await sleep(5);
    const at = Date.now();
    expect(await producer.cancel('job-1', new RangeError('no longer needed'))).toBe(true);
    expect(await producer.cancel('job-1')).toBe(false); // marked already
    expect(await outcome).toBe('RangeError: no longer needed');
    expect(reasons).toEqual(['RangeError: no longer needed']);
    expect(Date.now() - at).toBeLessThan(500); // the worker's poll (every 20 ms here) saw it
    expect(await producer.stats).toMatchObject({ accepted: 1, completed: 0, cancelled: 1, waiting: 0, inFlight: 0 });
    expect(cancelled).toEqual(['job job-1 no longer needed']); // told by the worker that settled it
    await expect(producer.cancel(7 as never)).rejects.toThrow('RedisQueue: cancel: id must be a string, got 7');
  });

  it('rateLimit: a RedisTokenBucket shared by two workers holds their starts together to its rate; a bad one is refused by name', async () => {
    const name = fresh();
    const bucket = new RedisTokenBucket({ client: conn.client, key: `${name}-rate`, ratePerSecond: 100, burst: 1 });
    const starts: number[] = [];
    for (let w = 0; w < 2; w++)
      queue<number, void>({ name, concurrency: 8, rateLimit: bucket, handler: () => void starts.push(Date.now()) });
    const producer = queue<number, void>({ name });
    for (let i = 0; i < 20; i++) await producer.push(i);
    await producer.onIdle();
    expect(starts).toHaveLength(20);
    // 20 grants at 100/s from a bucket of 1, whichever worker took them, 10 ms apart on the bucket's timeline. A worker
    // holds a grant before it reads, so each of the two may have taken one while the queue was empty and start it with
    // the first items: the starts span at least 20 − 1 − 2 intervals (less 10 ms of timer slack).
    expect(Math.max(...starts) - Math.min(...starts)).toBeGreaterThanOrEqual(17 * 10 - 10);
    expect(() => new RedisQueue({ client: conn.client, name, rateLimit: 5 as never })).toThrow(
      'RedisQueue: rateLimit must be { ratePerSecond, burst }, a TokenBucket, a RedisTokenBucket or have acquire(), got 5',
    );
  });

  it('close rejects the submits still waiting for a result with QueueClosedError', async () => {
    const q = queue<number, number>({ name: fresh() }); // no worker anywhere: the result never comes
    const pending = q.submit(1);
    await sleep(20);
    await q.close({ drain: false });
    await expect(pending).rejects.toMatchObject({ name: 'QueueClosedError' });
    await expect(q.push(2)).rejects.toThrow('RedisQueue: closed');
  });

  it('visibility timeout: an attempt past it aborts and retries; an item held by a process that died comes back with attempt + 1', async () => {
    const name = fresh();
    const attempts: [string, number, boolean][] = [];
    const q = queue<string, void>({
      name,
      visibilityTimeoutMs: 100,
      retry: { maxAttempts: 3, backoff: { initialDelayMs: 1, jitter: 'none' } },
      autoStart: false,
      handler: async (s, { attempt, signal }) => {
        if (s === 'slow' && attempt === 1) await sleep(300);
        attempts.push([s, attempt, signal.aborted]);
      },
    });
    // A worker that took an item and died: it read it through the consumer group and never acknowledged it.
    await q.push('orphan');
    const send = (args: string[]) => ('call' in conn.client ? conn.client.call(args[0]!, ...args.slice(1)) : conn.client.sendCommand(args));
    await send(['XREADGROUP', 'GROUP', 'sluice', 'dead-worker', 'COUNT', '1', 'STREAMS', `sluice:{${name}}:stream`, '>']).catch(
      () => undefined,
    );
    await q.push('slow');
    q.resume();
    await sleep(50);
    await q.onIdle();
    const s = await q.stats;
    expect(
      attempts
        .filter(([, , aborted]) => !aborted)
        .map(([x, a]) => [x, a])
        .sort(),
    ).toEqual([
      ['orphan', 2],
      ['slow', 2],
    ]);
    expect(s).toMatchObject({ accepted: 2, completed: 2, failed: 2, retried: 2, deadLettered: 0 });
  });

  it('clear hands back every waiting item in every process’s count, in run order; in flight goes on; counted returned', async () => {
    const name = fresh();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const ran: string[] = [];
    const worker = queue<string, void>({
      name,
      retry: { maxAttempts: 3, backoff: { initialDelayMs: 30_000, jitter: 'none' } },
      handler: async (x) => {
        ran.push(x);
        if (x === 'r') throw new Error('again later');
        if (x === 'g2-1') await gate;
      },
    });
    await worker.push('r'); // fails once: its retry waits 30 s in the delayed set
    await until(async () => (await worker.stats).retried === 1);
    await worker.push('g2-1', { group: 'g2' }); // runs, held: the rest of its group waits
    await worker.push('g2-2', { group: 'g2' });
    await until(async () => ran.includes('g2-1'));
    const producer = queue<string, string>({ name, dedupe: { key: (x) => x, windowMs: 0 } });
    await producer.push('hi', { priority: 5 });
    await producer.push('a');
    for (const x of ['g1-1', 'g1-2', 'g1-3']) await producer.push(x, { group: 'g1' });
    await producer.push('b');
    const submitted = producer.submit('s').then(
      () => 'resolved',
      (error: unknown) => error,
    );
    await until(async () => (await producer.stats).accepted === 10);
    await producer.push('c', { id: 'c' });
    expect(await producer.cancel('c')).toBe(true);
    await producer.push('later', { delayMs: 60_000 });

    // A group's next comes in behind what was pushed before it: g1-2 and g1-3 after s.
    expect(await producer.clear()).toEqual(['hi', 'a', 'g1-1', 'b', 's', 'g1-2', 'g1-3', 'g2-2', 'r', 'later']);
    expect(await submitted).toBeInstanceOf(QueueClosedError);
    const s = await producer.stats;
    expect(s).toMatchObject({ accepted: 12, returned: 10, cancelled: 1, completed: 0, inFlight: 1, waiting: 0 });
    expect(s.accepted).toBe(s.completed + s.deadLettered + s.cancelled + s.returned + s.waiting + s.inFlight);
    expect(await producer.clear()).toEqual([]);
    // The keys were released (a window of 0): the same item is accepted again.
    expect((await producer.push('a')).duplicate).toBe(false);
    // The running head settles and its group goes on with what comes next.
    release();
    await producer.push('g2-3', { group: 'g2' });
    await worker.onIdle();
    expect(ran).toEqual(['r', 'g2-1', 'a', 'g2-3']);
  });

  it("dedupe mode 'replace' across processes: a worker that read the item outside a script (blocking read, a lapse) runs the latest payload; the data is gone after", async () => {
    const name = fresh();
    const ran: [string, number][] = [];
    const options = { name, visibilityTimeoutMs: 100, dedupe: { key: (s: string) => s[0]!, mode: 'replace' as const } };
    const producer = queue<string, void>(options);
    // A worker that read 'a1' and died; 'a2' replaces it while it is still unread by any live worker's script.
    await producer.push('a1');
    const send = (args: string[]) => ('call' in conn.client ? conn.client.call(args[0]!, ...args.slice(1)) : conn.client.sendCommand(args));
    await send(['XREADGROUP', 'GROUP', 'sluice', 'dead-worker', 'COUNT', '1', 'STREAMS', `sluice:{${name}}:stream`, '>']).catch(
      () => undefined,
    );
    expect(await producer.push('a2')).toMatchObject({ replaced: true });
    const worker = queue<string, void>({
      ...options,
      retry: { maxAttempts: 2, backoff: { initialDelayMs: 1, jitter: 'none' } },
      handler: (s, { attempt }) => void ran.push([s, attempt]),
    });
    await worker.onIdle();
    expect(ran).toEqual([['a2', 2]]); // taken back after the lapse, with its latest payload
    // An idle worker woken by a blocking read: the payload replaced before it was read is the one that runs.
    await producer.push('b1', { delayMs: 80 });
    expect(await producer.push('b2')).toMatchObject({ replaced: true });
    await worker.onIdle();
    expect(ran).toEqual([
      ['a2', 2],
      ['b2', 1],
    ]);
    expect(await send(['HLEN', `sluice:{${name}}:data`])).toBe(0);
    expect(await producer.stats).toMatchObject({ accepted: 2, completed: 2, replaced: 2, duplicates: 2 });
  });
});
