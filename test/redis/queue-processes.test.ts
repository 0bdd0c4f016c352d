import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { RedisQueue } from '../../src/redis/index.js';
import { connect, redisAvailable, useRedisServer, warnIfMissing } from './server.js';

// Worker processes sharing one RedisQueue through one redis-server (with an append-only file, as production would),
// the test process pushing: kills, restarts and random failures, and the books checked in Redis afterwards.
warnIfMissing('test/redis/queue-processes.test.ts');
const fixture = fileURLToPath(new URL('./fixtures/queue-worker.ts', import.meta.url));
const redis = useRedisServer({ appendonly: true });

interface Worker {
  readonly child: ChildProcess;
  /** Resolves once its queue is reading. */
  readonly ready: Promise<void>;
  readonly exited: Promise<number | null>;
}

function startWorker(args: (string | number)[]): Worker {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, ...args.map(String)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const ready = new Promise<void>((resolve) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('ready')) resolve();
    });
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, ready, exited };
}

/** Starts `n` workers and waits until every one reads (tsx takes seconds to start four at once). */
async function startWorkers(n: number, args: (i: number) => (string | number)[]): Promise<Worker[]> {
  const workers = Array.from({ length: n }, (_, i) => startWorker(args(i)));
  await Promise.all(workers.map((w) => w.ready));
  return workers;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What the workers wrote: `id:attempt:pid` per start and per completion. */
interface Record {
  readonly id: string;
  readonly attempt: number;
  readonly pid: number;
}
const parse = (line: string): Record => {
  const [id, attempt, pid] = line.split(':');
  return { id: id!, attempt: Number(attempt), pid: Number(pid) };
};

async function setup(name: string) {
  const { client, close } = await connect('node-redis', redis.server.port);
  const send = (args: string[]) => (client as { sendCommand(a: string[]): Promise<unknown> }).sendCommand(args);
  const producer = new RedisQueue<{ n: number; g?: string }, void>({ client, name, pollMs: 50, groupBy: (x) => x.g });
  const list = async (key: string) => ((await send(['LRANGE', `${name}:${key}`, '0', '-1'])) as string[]).map(parse);
  return { producer, list, close, send };
}

/** Pushes `items` 100 at a time; the ids the queue gave them, in push order. */
async function pushAll(q: RedisQueue<{ n: number; g?: string }, void>, items: { n: number; g?: string; delayMs?: number }[]) {
  const ids: string[] = [];
  for (let i = 0; i < items.length; i += 100) {
    const receipts = await Promise.all(
      items.slice(i, i + 100).map(({ delayMs, ...item }) => q.push(item, delayMs ? { delayMs } : undefined)),
    );
    ids.push(...receipts.map((r) => r.id));
  }
  return ids;
}

describe.runIf(redisAvailable)('RedisQueue across processes', () => {
  it('4 worker processes × 10 000 items with random failures, delays and groups: conservation, group order, nothing runs twice', async () => {
    const name = `many-${Date.now()}`;
    const { producer, list, close } = await setup(name);
    const total = 10_000;
    const kinds = ['node-redis', 'ioredis', 'node-redis', 'ioredis'];
    const workers = await startWorkers(4, (i) => [redis.server.port, name, 8, 0.15, total, kinds[i]!, 10_000]);
    // A third in 25 groups; a tenth of the others delayed up to 200 ms.
    const items = Array.from({ length: total }, (_, n) =>
      n % 3 === 0 ? { n, g: `g${n % 25}` } : n % 10 === 1 ? { n, delayMs: n % 200 } : { n },
    );
    const ids = await pushAll(producer, items);
    expect(await Promise.all(workers.map((w) => w.exited))).toEqual([0, 0, 0, 0]);

    const s = await producer.stats;
    const done = await list('done');
    const starts = await list('starts');
    const dead = (await producer.deadLetter.entries()).map((e) => (e.item as { n: number }).n);
    const nOf = new Map(ids.map((id, i) => [id, items[i]!.n]));
    const doneN = done.map((d) => nOf.get(d.id)!);
    expect(s).toMatchObject({ accepted: total, waiting: 0, inFlight: 0, completed: done.length, deadLettered: dead.length });
    expect(s.completed + s.deadLettered).toBe(total);
    expect(s.deadLettered).toBeGreaterThan(0); // 0.15³ of the items fail three times
    // Nothing ran twice: each item done once, or dead-lettered, never both.
    expect(new Set(doneN).size).toBe(done.length);
    expect([...doneN, ...dead].sort((a, b) => a - b)).toEqual(items.map((x) => x.n));
    // Every attempt counted: each start is either the last (done or dead-lettered) or a failure.
    expect(starts.length).toBe(s.failed + s.completed);
    expect(s.retried).toBe(s.failed - s.deadLettered);
    // FIFO per group across the four processes: completions of a group in push order.
    for (let g = 0; g < 25; g++) {
      const inGroup = doneN.filter((n) => n % 3 === 0 && n % 25 === g);
      expect(inGroup).toEqual([...inGroup].sort((a, b) => a - b));
    }
    // Every worker took a share.
    const pids = new Set(done.map((d) => d.pid));
    expect(pids.size).toBe(4);
    await close();
  }, 120_000);

  it('SIGKILL a worker mid-batch: every item it held is redelivered (attempt + 1) and completed by another; the books balance', async () => {
    const name = `kill-${Date.now()}`;
    const { producer, list, close } = await setup(name);
    const total = 3_000;
    const workers = await startWorkers(4, (i) => [redis.server.port, name, 16, 0, total, i % 2 ? 'ioredis' : 'node-redis', 1_500, 200]);
    const ids = await pushAll(
      producer,
      Array.from({ length: total }, (_, n) => ({ n })),
    );
    // A third of the way through, while the victim holds items: its attempts take 200 ms, 16 at a time, so the ones it
    // had started and not finished when the lists were read are still running when the kill lands. (At 50 ms a loaded
    // CI machine once took longer than that to read the lists: the victim had finished all it held, and held nothing.)
    const victim = workers[0]!.child.pid!;
    for (;;) {
      const [done, starts] = await Promise.all([list('done'), list('starts')]);
      const running = starts.filter((r) => r.pid === victim).length - done.filter((d) => d.pid === victim).length;
      if (done.length >= total / 3 && running >= 8) {
        workers[0]!.child.kill('SIGKILL');
        break;
      }
      await sleep(10);
    }
    expect(await workers[0]!.exited).toBe(null);
    expect(await Promise.all(workers.slice(1).map((w) => w.exited))).toEqual([0, 0, 0]);

    const s = await producer.stats;
    const done = await list('done');
    const starts = await list('starts');
    expect(s).toMatchObject({ accepted: total, completed: total, deadLettered: 0, waiting: 0, inFlight: 0 });
    // Unique ids completed = accepted − dead-lettered.
    const completed = new Set(done.map((d) => d.id));
    expect(completed.size).toBe(total);
    expect([...completed].sort()).toEqual([...ids].sort());
    // What the killed worker held when it died: started there, never done there; done elsewhere with a later attempt.
    const doneByVictim = new Set(done.filter((d) => d.pid === victim).map((d) => d.id));
    const held = starts.filter((r) => r.pid === victim && !doneByVictim.has(r.id));
    expect(held.length).toBeGreaterThan(0);
    for (const h of held) {
      const after = done.filter((d) => d.id === h.id);
      expect(after.length).toBe(1);
      expect(after[0]!.pid).not.toBe(victim);
      expect(after[0]!.attempt).toBeGreaterThan(h.attempt);
    }
    // Ran twice only after the lapse: a second completion only where the first was the killed worker's.
    const seen = new Map<string, number>();
    for (const d of done) seen.set(d.id, (seen.get(d.id) ?? 0) + 1);
    for (const [id, count] of seen) if (count > 1) expect(done.some((d) => d.id === id && d.pid === victim)).toBe(true);
    await close();
  }, 120_000);

  it('restart redis-server (appendonly yes) mid-run: nothing accepted is lost; the workers reconnect and carry on', async () => {
    const name = `restart-${Date.now()}`;
    const { producer, list, close } = await setup(name);
    const total = 3_000;
    const workers = await startWorkers(2, (i) => [redis.server.port, name, 8, 0, total, i ? 'ioredis' : 'node-redis', 2_000]);
    const ids = await pushAll(
      producer,
      Array.from({ length: total }, (_, n) => ({ n })),
    );
    for (;;) {
      if ((await list('done')).length >= total / 3) break;
      await sleep(20);
    }
    await redis.server.restart();
    expect(await Promise.all(workers.map((w) => w.exited))).toEqual([0, 0]);
    const s = await producer.stats;
    const done = await list('done');
    const dead = await producer.deadLetter.entries();
    expect(s).toMatchObject({ accepted: total, waiting: 0, inFlight: 0 });
    expect(s.completed + s.deadLettered).toBe(total);
    const settled = new Set([...done.map((d) => d.id), ...dead.map((e) => ids[(e.item as { n: number }).n]!)]);
    expect([...settled].sort()).toEqual([...ids].sort());
    await close();
  }, 120_000);
});
