/**
 * A webhook consumer with limits, run as a child process by the demo: a real
 * `node:http` server on 127.0.0.1 that accepts `POST /batch` (a JSON array of
 * deliveries) and misbehaves the way real downstreams do:
 *
 * - it serves `workers` requests at once, each taking `serviceMs`; more wait
 *   in its queue (latency grows with load), and past `queueLimit` waiting it
 *   answers `429` with `Retry-After: 1`; its workers halve once it has
 *   accepted `halveAfter` deliveries (a downstream losing capacity mid-run);
 * - `429` with `Retry-After` past its own rate limit (fixed one-second windows);
 * - `503` for a share of requests (`failRate`);
 * - `413` when a body exceeds `bodyLimit` bytes;
 * - `422` when a batch holds a payload it can never accept (`poisonEvent`),
 *   listing the offending delivery ids.
 *
 * Every accepted `deliveryId` is appended to a JSONL file; a delivery seen
 * again is counted as a duplicate. `GET /stats` reports the counts.
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { pathToFileURL } from 'node:url';

export interface ReceiverOptions {
  /** Requests per second it accepts before answering 429. */
  readonly ratePerSecond: number;
  /** Requests it serves at once. */
  readonly workers: number;
  /** How long a request takes to serve, ms. */
  readonly serviceMs: number;
  /** Requests that may wait for a worker; the next one is answered 429. */
  readonly queueLimit: number;
  /** Its workers halve once it has accepted this many deliveries (0: never). */
  readonly halveAfter: number;
  /** Share of requests answered 503, 0..1. */
  readonly failRate: number;
  /** The largest body it accepts, in bytes. */
  readonly bodyLimit: number;
  /** Deliveries of this event type are refused with 422. */
  readonly poisonEvent: string;
  /** Where accepted delivery ids are appended, one JSON line per batch. */
  readonly logFile: string;
  /** Seed of its random failures. */
  readonly seed: number;
}

export interface ReceiverStats {
  readonly requests: number;
  /** The most requests that arrived in any 1 s (a sliding window over their arrival times). */
  readonly busiestSecond: number;
  /**
   * The most requests in any 1 s counted by the grant time they carry (`x-grant-time`, ms: when the sender's rate limit
   * let them go, on the limit's clock), over the requests that carried one; 0 if none did. Unlike the arrival times, these
   * are free of the senders' scheduling jitter.
   */
  readonly busiestGrantSecond: number;
  /** Requests that carried a grant time. */
  readonly granted: number;
  /** Its workers now (halved after `halveAfter` deliveries). */
  readonly workers: number;
  readonly accepted: number;
  readonly duplicates: number;
  readonly status: Record<string, number>;
}

/** A small seeded PRNG (mulberry32), so a run can be replayed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** The most of `times` (ms, ascending) in any 1 s: a sliding window. */
function busiest(times: readonly number[]): number {
  let most = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[j]! <= times[i]! - 1_000) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

export function startReceiver(options: ReceiverOptions): Promise<{ port: number; close: () => Promise<void> }> {
  const random = prng(options.seed);
  const accepted = new Set<string>();
  const status: Record<string, number> = {};
  let requests = 0;
  const arrivals: number[] = [];
  const grants: number[] = [];
  let duplicates = 0;
  let windowStart = Date.now();
  let inWindow = 0;
  let workers = options.workers;
  let busy = 0;
  const waiting: (() => void)[] = [];
  /** Serves a request when a worker is free: after serviceMs, `handle` answers it; then the next waiting one goes. */
  const serve = (handle: () => void): void => {
    busy++;
    setTimeout(() => {
      handle();
      busy--;
      while (busy < workers && waiting.length > 0) serve(waiting.shift()!);
    }, options.serviceMs);
  };
  writeFileSync(options.logFile, '');

  const server = createServer((req, res) => {
    const reply = (code: number, body: unknown, headers: Record<string, string> = {}): void => {
      status[code] = (status[code] ?? 0) + 1;
      res.writeHead(code, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'GET' && req.url === '/stats') {
      const stats: ReceiverStats = {
        requests,
        busiestSecond: busiest(arrivals),
        busiestGrantSecond: busiest(grants.sort((a, b) => a - b)),
        granted: grants.length,
        workers,
        accepted: accepted.size,
        duplicates,
        status,
      };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(stats));
      return;
    }
    if (req.method !== 'POST' || req.url !== '/batch') {
      reply(404, { error: 'not found' });
      return;
    }
    requests++;
    arrivals.push(Date.now());
    const grantTime = Number(req.headers['x-grant-time']);
    if (Number.isFinite(grantTime) && grantTime > 0) grants.push(grantTime);
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > options.bodyLimit) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => {
      if (tooLarge) return reply(413, { error: `body over ${options.bodyLimit} bytes` });
      const now = Date.now();
      if (now - windowStart >= 1_000) {
        windowStart = now;
        inWindow = 0;
      }
      if (++inWindow > options.ratePerSecond) {
        const seconds = Math.max(1, Math.ceil((windowStart + 1_000 - now) / 1_000));
        return reply(429, { error: 'rate limited' }, { 'retry-after': String(seconds) });
      }
      const handle = () => {
        if (random() < options.failRate) return reply(503, { error: 'unavailable' });
        let batch: { deliveryId: string; event: string }[];
        try {
          batch = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          if (!Array.isArray(batch)) throw new Error('not an array');
        } catch {
          return reply(400, { error: 'body must be a JSON array' });
        }
        const poison = batch.filter((d) => d.event === options.poisonEvent).map((d) => d.deliveryId);
        if (poison.length > 0) return reply(422, { error: `cannot accept ${options.poisonEvent} events`, poison });
        const ids: string[] = [];
        for (const d of batch) {
          if (accepted.has(d.deliveryId)) duplicates++;
          else accepted.add(d.deliveryId);
          ids.push(d.deliveryId);
        }
        appendFileSync(options.logFile, `${JSON.stringify(ids)}\n`);
        if (options.halveAfter > 0 && accepted.size >= options.halveAfter && workers === options.workers) {
          workers = Math.max(1, Math.floor(options.workers / 2));
        }
        reply(200, { accepted: ids.length });
      };
      if (busy < workers && waiting.length === 0) return serve(handle);
      if (waiting.length >= options.queueLimit) return reply(429, { error: 'overloaded' }, { 'retry-after': '1' });
      waiting.push(handle);
    });
  });

  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      resolve({ port, close: () => new Promise<void>((done) => server.close(() => done())) });
    });
  });
}

// Run as a child process: options arrive as JSON in argv, the port goes back over IPC.
if (process.send && process.argv[2] && import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const options = JSON.parse(process.argv[2]) as ReceiverOptions;
  const { port } = await startReceiver(options);
  process.send({ port });
  process.on('disconnect', () => process.exit(0));
}
