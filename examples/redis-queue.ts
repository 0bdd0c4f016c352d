/**
 * A RedisQueue shared by a producer and two workers (each with a client of
 * its own, as separate processes would have) on the main job's input:
 * GitHub webhook deliveries, grouped by repository (FIFO per repository
 * across both workers), security advisories at a higher priority, poison
 * ones dead-lettered at once. One delivery is submitted and its result
 * comes back from whichever worker ran it. Exits non-zero unless the books
 * balance in Redis: accepted = completed + dead-lettered, and each
 * repository's deliveries ran in the order pushed.
 *
 *   npx tsx examples/redis-queue.ts [redis://host:port]
 *
 * Without a URL it starts a redis-server of its own on a free port (Debian's
 * `apt-get install -y redis-server`), and says so and exits 0 where there is none.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';
import { RejectError } from 'sluice';
import { RedisQueue } from 'sluice/redis';
import { type Delivery, deliveries, loadExamples } from './webhooks/deliveries.js';

async function redisUrl(): Promise<{ url: string; stop: () => void } | undefined> {
  if (process.argv[2]) return { url: process.argv[2], stop: () => {} };
  if (!existsSync('/usr/bin/redis-server')) return undefined;
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
  const dir = mkdtempSync(join(tmpdir(), 'sluice-example-'));
  const child = spawn('/usr/bin/redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', ''], {
    stdio: 'ignore',
  });
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    const probe = createClient({ url });
    probe.on('error', () => {});
    if (
      await probe.connect().then(
        () => true,
        () => false,
      )
    ) {
      await probe.quit();
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    url,
    stop: () => {
      child.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const server = await redisUrl();
if (server === undefined) {
  console.log('redis-server is not installed (apt-get install -y redis-server), and no URL was given: nothing to run.');
  process.exit(0);
}
const connect = async () => {
  const client = createClient({ url: server.url });
  client.on('error', () => {});
  return client.connect();
};

const name = `example-${Date.now().toString(36)}`;
const byRepository = (d: Delivery) => d.repository;
const order = new Map<string, number[]>();
const ranBy = new Map<string, number>();
const worker = async (who: string) =>
  new RedisQueue<Delivery & { n: number }, string>({
    client: await connect(),
    name,
    concurrency: 8,
    groupBy: byRepository,
    retry: { maxAttempts: 3, backoff: { initialDelayMs: 10 } },
    handler: async (d, { id }) => {
      if (d.event === 'security_advisory' && d.n % 5 === 0) throw new RejectError(new Error('poison'));
      await new Promise((resolve) => setTimeout(resolve, 1));
      order.set(d.repository, [...(order.get(d.repository) ?? []), d.n]);
      ranBy.set(who, (ranBy.get(who) ?? 0) + 1);
      return `${who} handled ${d.event} (idempotency key ${id})`;
    },
  });

const producer = new RedisQueue<Delivery & { n: number }, string>({ client: await connect(), name, groupBy: byRepository });
const input = [...deliveries(loadExamples(), 1, 0, 7)].map((d, n) => ({ ...d, n }));
const workers = [await worker('worker A'), await worker('worker B')];
for (const d of input) await producer.push(d, d.event === 'security_advisory' ? { priority: 1 } : undefined);
const answer = await producer.submit({ ...input[1]!, n: input.length, repository: 'submitted' });
await producer.onIdle();

const stats = await producer.stats;
const dead = await producer.deadLetter.entries();
const inOrder = [...order.values()].every((ns) => ns.every((n, i) => i === 0 || ns[i - 1]! < n));
console.log(`submitted: ${answer}`);
console.log(`ran by: ${[...ranBy].map(([w, n]) => `${w} ${n}`).join(', ')}`);
console.log(
  `books: accepted ${stats.accepted} = completed ${stats.completed} + dead-lettered ${stats.deadLettered} (${dead.length} in the dead letter)`,
);
console.log(`each repository's deliveries in the order pushed: ${inOrder}`);
await Promise.all([...workers, producer].map((q) => q.close({ drain: false })));
server.stop();
const balanced =
  stats.accepted === input.length + 1 &&
  stats.accepted === stats.completed + stats.deadLettered &&
  dead.length === stats.deadLettered &&
  inOrder &&
  ranBy.size === 2;
if (!balanced) {
  console.log('BOOKS DO NOT BALANCE');
  process.exit(1);
}
process.exit(0);
