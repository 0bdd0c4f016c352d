/**
 * Soak: up to 10 million items through every part — dedupe, batch, throttle,
 * mapConcurrent, a Queue with retries, random failures and a DeadLetter — for
 * a bounded time. Samples the heap (after gc) and the live timers every
 * second, reports the heap's slope, and exits non-zero if the heap or the
 * timers grow, or the books do not balance.
 *
 *   npm run soak                       up to 10 000 000 items or 300 s
 *   npm run soak -- --seconds 30       the short form CI runs
 */
import { parseArgs } from 'node:util';
import { DeadLetter, Queue, RejectError, TokenBucket, batch, dedupe, mapConcurrent, pipe, throttle } from '../src/index.js';

const { values } = parseArgs({ options: { seconds: { type: 'string' }, items: { type: 'string' } } });
const seconds = Number(values.seconds ?? 300);
const maxItems = Number(values.items ?? 10_000_000);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

let seed = 12345;
const random = (): number => {
  seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
  return seed / 2_147_483_648;
};

const deadLetter = new DeadLetter<number>({ capacity: 1_000 }); // drop-oldest: bounded memory, evictions counted
const queue = new Queue<number, number>({
  concurrency: 32,
  capacity: 10_000,
  retry: { maxAttempts: 3, backoff: { initialDelayMs: 0, maxDelayMs: 1, jitter: 'full' } },
  deadLetter,
  handler: async (n) => {
    const r = random();
    if (r < 0.002) throw new RejectError(new Error(`poison ${n}`));
    if (r < 0.05) throw new Error(`transient ${n}`);
    return n;
  },
});

let read = 0;
let duplicates = 0;
let stop = false;
async function* source(): AsyncGenerator<number> {
  for (let i = 0; i < maxItems && !stop; i++) {
    // A real source waits on I/O now and then; this one lets timers run every 1 000 items.
    if (i % 1_000 === 0) await new Promise((r) => setImmediate(r));
    read++;
    // About 5 % are redeliveries of a recent item.
    yield random() < 0.05 && i > 100 ? i - 1 - Math.floor(random() * 100) : i;
  }
}

// One long-lived signal goes with every push that has to wait for room: its listeners must not pile up.
const shutdown = new AbortController();
let listeners = 0;
const addListener = shutdown.signal.addEventListener.bind(shutdown.signal);
const removeListener = shutdown.signal.removeEventListener.bind(shutdown.signal);
shutdown.signal.addEventListener = ((type: string, fn: EventListener, options?: AddEventListenerOptions) => {
  listeners++;
  addListener(type, fn, options);
}) as typeof shutdown.signal.addEventListener;
shutdown.signal.removeEventListener = ((type: string, fn: EventListener) => {
  listeners--;
  removeListener(type, fn);
}) as typeof shutdown.signal.removeEventListener;

const samples: { t: number; heap: number; timers: number; listeners: number }[] = [];
const started = Date.now();
const sampler = setInterval(() => {
  gc();
  const timers = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  samples.push({ t: (Date.now() - started) / 1_000, heap: process.memoryUsage().heapUsed, timers, listeners });
  if (Date.now() - started >= seconds * 1_000) stop = true;
}, 1_000);

const bucket = new TokenBucket({ ratePerSecond: 1_000_000, burst: 1_000 });
let pushed = 0;
for await (const n of pipe(
  source(),
  dedupe({ key: (n: number) => n, windowMs: 2_000, maxKeys: 20_000, onDuplicate: () => duplicates++ }),
  batch<number>({ maxItems: 100, lingerMs: 5 }),
  throttle<number[]>(bucket, { cost: 1 }),
  mapConcurrent(
    async (items: number[]) => {
      for (const n of items) {
        if (!queue.tryPush(n)) await queue.push(n, { signal: shutdown.signal });
      }
      return items.length;
    },
    { concurrency: 4 },
  ),
)) {
  pushed += n;
}
await queue.close();
clearInterval(sampler);

const s = queue.stats;
if (samples.length === 0) samples.push({ t: 0, heap: process.memoryUsage().heapUsed, timers: 0, listeners });
const elapsed = (Date.now() - started) / 1_000;
// Heap slope by least squares over the samples after a 20 % warm-up.
const steady = samples.slice(Math.floor(samples.length * 0.2));
const meanT = steady.reduce((a, x) => a + x.t, 0) / steady.length;
const meanH = steady.reduce((a, x) => a + x.heap, 0) / steady.length;
const slope =
  steady.reduce((a, x) => a + (x.t - meanT) * (x.heap - meanH), 0) /
  Math.max(
    1e-9,
    steady.reduce((a, x) => a + (x.t - meanT) ** 2, 0),
  );
const timersMax = Math.max(...samples.map((x) => x.timers));
const timersFirst = samples[0]?.timers ?? 0;

const conservation = s.accepted === s.completed + s.deadLettered + s.returned + s.waiting + s.inFlight;
const books = read === duplicates + pushed && pushed === s.accepted + s.duplicates;
const flat = Math.abs(slope) < 200_000; // bytes per second
const timersFlat = timersMax <= timersFirst + 8;
const listenersMax = Math.max(...samples.map((x) => x.listeners));
// At most one waiting push per mapConcurrent slot holds a listener at a time; none after the run.
const listenersFlat = listenersMax <= 4 && listeners === 0;

console.log(
  JSON.stringify(
    {
      elapsedSeconds: Math.round(elapsed),
      read,
      duplicates,
      pushed,
      perSecond: Math.round(read / elapsed),
      queue: s,
      deadLetter: deadLetter.stats,
      heapMB: { first: +(samples[0]!.heap / 1e6).toFixed(1), last: +(samples.at(-1)!.heap / 1e6).toFixed(1) },
      heapSlopeKBPerSecond: +(slope / 1_000).toFixed(2),
      timers: { first: timersFirst, max: timersMax },
      signalListeners: { max: listenersMax, after: listeners },
      conservation,
      books,
      flat,
      timersFlat,
      listenersFlat,
    },
    null,
    2,
  ),
);
if (!(conservation && books && flat && timersFlat && listenersFlat && s.waiting === 0 && s.inFlight === 0)) {
  console.log('SOAK FAILED');
  process.exitCode = 1;
} else console.log('soak passed: books balance, heap, timers and listeners flat');
