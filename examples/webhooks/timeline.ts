/**
 * The main job's time series, for its HTML report: every `stepMs` of wall-clock
 * time, the deliveries per second, the requests in flight against the
 * concurrency limit, the 429s and 503s seen, and the p99 of the waits of the
 * attempts that started in the step (from the queue's `'active'` events, which
 * carry `waitMs`).
 */
import type { Queue } from 'sluice';
import type { Delivery } from './deliveries.js';

/** Columns of equal length, one row per step; `t` in s since the start. */
export interface Series {
  readonly stepMs: number;
  readonly t: number[];
  readonly deliveriesPerSec: number[];
  readonly inFlight: number[];
  readonly limit: number[];
  readonly waiting: number[];
  readonly status429: number[];
  readonly status503: number[];
  readonly waitP99Ms: (number | null)[];
}

/** Running totals the job keeps; the timeline takes their differences per step. */
export interface Counters {
  readonly delivered: number;
  readonly status429: number;
  readonly status503: number;
}

/** The exact p99 of a step's waits (`null` when no attempt started in it). */
function p99(values: number[]): number | null {
  if (values.length === 0) return null;
  values.sort((a, b) => a - b);
  return Math.round(values[Math.min(values.length - 1, Math.floor(values.length * 0.99))]!);
}

export class Timeline {
  readonly series: Series;
  #waits: number[] = [];
  #last: Counters = { delivered: 0, status429: 0, status503: 0 };
  #lastAt = 0;
  #startedAt = 0;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly queue: Queue<Delivery[], number>,
    private readonly counters: () => Counters,
    stepMs = 250,
  ) {
    this.series = {
      stepMs,
      t: [],
      deliveriesPerSec: [],
      inFlight: [],
      limit: [],
      waiting: [],
      status429: [],
      status503: [],
      waitP99Ms: [],
    };
    queue.on('active', (_item, { waitMs }) => {
      this.#waits.push(waitMs);
    });
  }

  start(now = Date.now()): void {
    this.#startedAt = this.#lastAt = now;
    this.#timer = setInterval(() => this.#sample(Date.now()), this.series.stepMs);
  }

  /** Takes the last (partial) step and stops. */
  stop(): void {
    clearInterval(this.#timer);
    const now = Date.now();
    if (now > this.#lastAt) this.#sample(now);
  }

  #sample(now: number): void {
    const c = this.counters();
    const s = this.series;
    const seconds = (now - this.#lastAt) / 1_000;
    s.t.push(Math.round((now - this.#startedAt) / 10) / 100);
    s.deliveriesPerSec.push(Math.round((c.delivered - this.#last.delivered) / seconds));
    s.inFlight.push(this.queue.inFlight);
    s.limit.push(this.queue.concurrency);
    s.waiting.push(this.queue.size);
    s.status429.push(c.status429 - this.#last.status429);
    s.status503.push(c.status503 - this.#last.status503);
    s.waitP99Ms.push(p99(this.#waits));
    this.#waits = [];
    this.#last = { ...c };
    this.#lastAt = now;
  }
}
