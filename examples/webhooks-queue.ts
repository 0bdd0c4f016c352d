/**
 * The main job's other form: the same deliveries through a `Queue` instead
 * of a pipeline. One delivery per request; the queue dedupes by delivery id,
 * holds one token of a shared bucket per start, retries 429/503 with
 * backoff (honouring Retry-After), and dead-letters poison deliveries at once.
 *
 *   npx tsx examples/webhooks-queue.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Queue, RejectError, TokenBucket } from 'sluice';
import { type Delivery, deliveries, loadExamples } from './webhooks/deliveries.js';
import { startReceiver } from './webhooks/receiver.js';

const logFile = join(mkdtempSync(join(tmpdir(), 'sluice-queue-')), 'accepted.jsonl');
const receiver = await startReceiver({
  ratePerSecond: 200,
  workers: 16,
  serviceMs: 2,
  queueLimit: 64,
  halveAfter: 0,
  failRate: 0.05,
  bodyLimit: 1_000_000,
  poisonEvent: 'security_advisory',
  logFile,
  seed: 7,
});
const url = `http://127.0.0.1:${receiver.port}/batch`;

const queue = new Queue<Delivery, void>({
  concurrency: 8,
  dedupe: { key: (d) => d.deliveryId },
  rateLimit: new TokenBucket({ ratePerSecond: 150, burst: 8 }),
  retry: { maxAttempts: 5, backoff: { initialDelayMs: 50, maxDelayMs: 2_000, jitter: 'full' } },
  visibilityTimeoutMs: 10_000,
  name: 'webhooks',
  handler: async (d, { signal }) => {
    const res = await fetch(url, { method: 'POST', body: JSON.stringify([d]), headers: { 'content-type': 'application/json' }, signal });
    await res.arrayBuffer();
    if (res.ok) return;
    const error = Object.assign(new Error(`HTTP ${res.status}`), { retryAfterMs: Number(res.headers.get('retry-after') ?? 0) * 1_000 });
    if (res.status === 429 || res.status >= 500) throw error; // transient: retried with backoff
    throw new RejectError(error); // 4xx: never going to work
  },
});

const accepted = await queue.pushAll(deliveries(loadExamples(), 1, 0.1, 7));
const { unprocessed } = await queue.close();
await receiver.close();
rmSync(dirname(logFile), { recursive: true, force: true });

const s = queue.stats;
console.log(
  `accepted ${accepted}, duplicates ${s.duplicates}, completed ${s.completed}, dead-lettered ${s.deadLettered}, retried ${s.retried}`,
);
console.log(
  `conservation: ${s.accepted} = ${s.completed} + ${s.deadLettered} + ${s.returned} + ${s.waiting} + ${s.inFlight} (${unprocessed.length} handed back)`,
);
const balanced = s.accepted === s.completed + s.deadLettered + s.returned + s.waiting + s.inFlight;
process.exitCode = balanced ? 0 : 1;
