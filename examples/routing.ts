/**
 * Routing and streams on the main job's input (GitHub webhook deliveries):
 * a PubSub fans them out to an audit subscriber ('block': sees every one)
 * and a live one ('drop-oldest', read slowly: counts what it drops); the
 * audit stream is windowed per minute of event time by event type; batches
 * are balanced over three receivers of different capacities (weights 4, 2,
 * 1). Exits non-zero unless every book balances.
 *
 *   npx tsx examples/routing.ts
 */
import { PubSub, balance, batch, mapConcurrent, pipe, window } from 'sluice';
import { type Delivery, deliveries, loadExamples } from './webhooks/deliveries.js';

interface Stamped extends Delivery {
  /** Event time, ms: a delivery every 7 ms from 0, so a few minutes of traffic. */
  readonly at: number;
}

const input: Stamped[] = [...deliveries(loadExamples(), 2, 0, 3)].map((d, i) => ({ ...d, at: i * 7 }));
const bus = new PubSub<Stamped>();
const audit = bus.subscribe({ capacity: 256 });
const live = bus.subscribe({ capacity: 64, overflow: 'drop-oldest' });

// Three receivers: each takes 1 ms per batch, at most its concurrency at once; the balancer's weights follow their size.
const received = new Map<string, number>();
const receiver = (name: string) => async (items: Stamped[]) => {
  await new Promise((resolve) => setTimeout(resolve, 1));
  received.set(name, (received.get(name) ?? 0) + items.length);
  return items.length;
};
const send = balance([
  { name: 'big', weight: 4, concurrency: 8, handler: receiver('big') },
  { name: 'mid', weight: 2, concurrency: 4, handler: receiver('mid') },
  { name: 'small', weight: 1, concurrency: 2, handler: receiver('small') },
]);

// The audit stream: per-minute windows by event type, and the same items batched and balanced over the receivers.
const perMinute = new Map<string, number>();
let windowed = 0;
let sent = 0;
const auditing = (async () => {
  const tee = new PubSub<Stamped>();
  const toWindows = tee.subscribe();
  const toReceivers = tee.subscribe();
  const counting = (async () => {
    for await (const w of pipe(
      toWindows,
      window({
        kind: 'tumbling',
        sizeMs: 60_000,
        key: (d: Stamped) => d.event,
        timestamp: (d) => d.at,
        initial: () => 0,
        reduce: (n) => n + 1,
      }),
    )) {
      perMinute.set(`${w.key} @ minute ${w.start / 60_000}`, w.value);
      windowed += w.value;
    }
  })();
  const sending = (async () => {
    for await (const n of pipe(toReceivers, batch<Stamped>({ maxItems: 20 }), mapConcurrent(send, { concurrency: 14 }))) sent += n;
  })();
  for await (const d of audit) await tee.publish(d);
  tee.close();
  await Promise.all([counting, sending]);
})();
// The live view reads slowly: it keeps the newest and drops the rest, never holding the publisher.
let seenLive = 0;
const watching = (async () => {
  for await (const _ of live) {
    seenLive++;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
})();

for (const d of input) await bus.publish(d);
bus.close();
await Promise.all([auditing, watching]);

const shares = send.stats.map((s) => `${s.name} (weight ${s.weight}): ${s.picks} batches, ${received.get(s.name) ?? 0} deliveries`);
console.log(`published ${bus.published}; audit ${audit.stats.delivered}; live ${live.stats.delivered} read, ${live.stats.dropped} dropped`);
console.log(`windows: ${perMinute.size} (event type × minute), ${windowed} deliveries in them`);
console.log(`balanced: ${shares.join('; ')}`);
const picks = send.stats.reduce((n, s) => n + s.picks, 0);
const balanced =
  audit.stats.delivered === input.length &&
  audit.stats.dropped === 0 &&
  live.stats.received === live.stats.delivered + live.stats.dropped + live.stats.buffered &&
  live.stats.delivered === seenLive &&
  windowed === input.length &&
  sent === input.length &&
  [...received.values()].reduce((a, b) => a + b, 0) === input.length &&
  send.stats.every((s) => s.completed === s.picks && s.failed === 0) &&
  picks > 0;
console.log(balanced ? 'books balance' : 'BOOKS DO NOT BALANCE');
process.exitCode = balanced ? 0 : 1;
