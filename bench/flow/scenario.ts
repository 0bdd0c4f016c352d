/**
 * The flow-control scenario: a client saturates the {@link SimServer}, whose
 * capacity halves a third of the way through the run and doubles back at two
 * thirds. Runs on a `TestClock` (simulated time: deterministic, and a 30 s
 * run takes about a second), and measures what the issue asks: goodput as a
 * fraction of the server's capacity, 429s per 1 000 requests and p50/p99
 * latency once converged (the last half of each phase), the time to converge
 * after each capacity change, and the overshoot.
 */
import type { Clock } from '../../src/index.js';
import { prng as seeded } from '../../examples/webhooks/receiver.js';
import { SimServer, type Slot } from './server.js';

/** The server's shape: 40 workers × 20 ms ± 20 % = 2 000 requests/s, then 1 000/s, then 2 000/s again. */
export const WORKERS = 40;
export const SERVICE_MS = 20;
export const JITTER = 0.2;
/** Requests that may wait at the server beyond its workers (two per worker): past it, 429. */
export const QUEUE_LIMIT = 2 * WORKERS;
export const RETRY_AFTER_MS = 1_000;

/** What a client under test gets: a request to the server and the clock. */
export interface Client {
  readonly request: () => Promise<void>;
  readonly clock: Clock;
}

/** A client: starts sending when called; `stop` ends it (nothing after it is measured). */
export type Driver = (client: Client) => { stop(): void } | undefined;

const quantile = (sorted: number[], q: number): number =>
  sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

/** The figures the bench table shows (see the module's comment). */
export interface ScenarioResult {
  /** Served ÷ capacity over the converged halves of the phases, %. */
  readonly goodputPct: number;
  readonly per1000: number;
  readonly p50: number;
  readonly p99: number;
  /** Seconds after the capacity halved (then doubled) until a 1 s window meets the budget; NaN when none in the phase did. */
  readonly convergeDown: number;
  readonly convergeUp: number;
  /** The most requests at the server beyond its workers, after each phase's first second, as % of its workers. */
  readonly overshootPct: number;
  /** The server's p99 with nothing waiting, ms. */
  readonly unloadedP99: number;
  /** Served ÷ capacity over the whole run, %. */
  readonly goodputAllPct: number;
  /** 429s per 1 000 requests over the whole run. */
  readonly per1000All: number;
}

/** A clock whose time the scenario moves: sluice's `TestClock`. */
export type SimClock = Clock & { advance(ms: number): Promise<void> };

/** Runs `drive` against the server for `durationMs` of simulated time on `clock` (a new `TestClock`). */
export async function runScenario(clock: SimClock, drive: Driver, durationMs = 30_000, seed = 1): Promise<ScenarioResult> {
  const phase = durationMs / 3;
  const workers = (t: number): number => (t >= phase && t < 2 * phase ? WORKERS / 2 : WORKERS);
  const server = new SimServer({
    clock,
    workers,
    serviceMs: SERVICE_MS,
    jitter: JITTER,
    queueLimit: QUEUE_LIMIT,
    retryAfterMs: RETRY_AFTER_MS,
    random: seeded(seed),
  });
  clock.setTimeout(() => server.grow(), 2 * phase);
  const client = drive({ request: () => server.request(), clock });
  await clock.advance(durationMs);
  client?.stop();
  return measure(server, durationMs, workers);
}

function measure(server: SimServer, durationMs: number, workers: (t: number) => number): ScenarioResult {
  const slotMs = server.slotMs;
  const phase = durationMs / 3;
  const slots = server.slots.slice(0, Math.floor(durationMs / slotMs));
  const capacityPerSlot = (i: number): number => (workers(i * slotMs) / SERVICE_MS) * slotMs;
  const unloadedP99 = server.unloadedP99;
  const sum = (from: number, to: number) => {
    let served = 0;
    let rejected = 0;
    let capacity = 0;
    const latencies: number[] = [];
    for (let i = from; i < to && i < slots.length; i++) {
      const s: Slot = slots[i]!;
      served += s.served;
      rejected += s.rejected;
      capacity += capacityPerSlot(i);
      for (const l of s.latencies) latencies.push(l);
    }
    latencies.sort((a, b) => a - b);
    return { served, rejected, capacity, latencies };
  };
  // Converged: the last half of each phase.
  const steady = [0, 1, 2].map((p) => sum(Math.floor(((p + 0.5) * phase) / slotMs), Math.floor(((p + 1) * phase) / slotMs)));
  const served = steady.reduce((a, s) => a + s.served, 0);
  const rejected = steady.reduce((a, s) => a + s.rejected, 0);
  const capacity = steady.reduce((a, s) => a + s.capacity, 0);
  const latencies = steady.flatMap((s) => s.latencies).sort((a, b) => a - b);
  const perWindow = Math.round(1_000 / slotMs);
  const converge = (change: number): number => {
    const first = Math.floor(change / slotMs);
    const last = Math.floor((change + phase) / slotMs) - perWindow;
    for (let i = first; i <= last; i++) {
      const w = sum(i, i + perWindow);
      const ok =
        w.served >= 0.9 * w.capacity && w.rejected <= 0.01 * (w.served + w.rejected) && quantile(w.latencies, 0.99) <= 2 * unloadedP99;
      if (ok) return ((i - first) * slotMs) / 1_000;
    }
    return Number.NaN;
  };
  let overshoot = 0;
  for (let i = 0; i < slots.length; i++) {
    const t = i * slotMs;
    if (t % phase < 1_000) continue; // each phase's first second: the change itself
    overshoot = Math.max(overshoot, (slots[i]!.peakInSystem - workers(t)) / workers(t));
  }
  const all = sum(0, slots.length);
  return {
    goodputPct: (served / capacity) * 100,
    per1000: (rejected / Math.max(1, served + rejected)) * 1_000,
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    convergeDown: converge(phase),
    convergeUp: converge(2 * phase),
    overshootPct: overshoot * 100,
    unloadedP99,
    goodputAllPct: (all.served / all.capacity) * 100,
    per1000All: (all.rejected / Math.max(1, all.served + all.rejected)) * 1_000,
  };
}
