/**
 * A small job: send 200 events (with redeliveries) to a flaky, rate-limited
 * in-process "API", retrying with backoff, deduplicating by id and
 * dead-lettering what cannot be delivered. Prints a summary and exits
 * non-zero unless every unique event was delivered or dead-lettered.
 */
import { DeadLetter, Deduper, RejectError, TokenBucket, isRetryExhaustedError, retry } from '../src/index.js';

interface Event {
  readonly id: string;
  readonly body: string;
}

const events: Event[] = [];
for (let i = 0; i < 200; i++) {
  events.push({ id: `evt-${i}`, body: i % 50 === 7 ? 'poison' : `payload ${i}` });
  if (i % 10 === 3) events.push({ id: `evt-${i}`, body: `payload ${i}` }); // a redelivery
}

let seed = 42;
const random = (): number => {
  seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
  return seed / 2 ** 31;
};

const received = new Set<string>();
async function flakyApi(event: Event): Promise<void> {
  await new Promise((r) => setTimeout(r, 1));
  if (event.body === 'poison') throw new RejectError(new Error(`422: cannot accept ${event.id}`));
  if (random() < 0.2) throw Object.assign(new Error('503 Service Unavailable'), { retryAfterMs: 5 });
  received.add(event.id);
}

const bucket = new TokenBucket({ ratePerSecond: 2_000, burst: 20 });
const seen = new Deduper({ windowMs: 60_000 });
const deadLetter = new DeadLetter<Event>();
let duplicates = 0;
let retries = 0;
let delivered = 0;

const started = Date.now();
await Promise.all(
  events.map(async (event) => {
    if (!seen.check(event.id)) {
      duplicates++;
      return;
    }
    await bucket.acquire();
    try {
      await retry(() => flakyApi(event), {
        maxAttempts: 4,
        backoff: { initialDelayMs: 2, maxDelayMs: 50 },
        onRetry: () => retries++,
      });
      delivered++;
    } catch (error) {
      const exhausted = isRetryExhaustedError(error);
      deadLetter.add({
        item: event,
        reason: exhausted ? 'delivery_limit' : 'rejected',
        error: exhausted ? error.cause : error,
        errors: exhausted ? error.errors : [error],
        source: 'demo',
      });
    }
  }),
);

const unique = events.length - duplicates;
const rows: [string, number | string][] = [
  ['events read', events.length],
  ['duplicates dropped', duplicates],
  ['unique', unique],
  ['delivered', delivered],
  ['retries', retries],
  ['dead-lettered: rejected', deadLetter.entries({ reason: 'rejected' }).length],
  ['dead-lettered: delivery_limit', deadLetter.entries({ reason: 'delivery_limit' }).length],
  ['receiver count', received.size],
  ['elapsed ms', Date.now() - started],
];
for (const [label, value] of rows) console.log(`${label.padEnd(32)}${String(value).padStart(8)}`);

const balanced = unique === delivered + deadLetter.size && received.size === delivered;
console.log(balanced ? 'books balance: every unique event delivered or dead-lettered' : 'BOOKS DO NOT BALANCE');
process.exitCode = balanced ? 0 : 1;
