/**
 * A simulated server for flow-control measurements, on any `Clock` (a
 * `TestClock` in tests and in bench/flow.ts, so a 30 s run takes a second
 * and every run is the same): `workers(t)` requests in service at once,
 * each for `serviceMs` ± `jitter` (uniform); requests beyond the workers
 * wait in its queue (latency grows with load); past `queueLimit` waiting it
 * answers 429 (after 1 ms) with a Retry-After of `retryAfterMs`.
 */
import type { Clock } from '../../src/index.js';

export interface ServerOptions {
  readonly clock: Clock;
  /** Workers at time t (ms since the start): the server's capacity is workers / serviceMs. */
  readonly workers: (t: number) => number;
  /** Mean service time, ms. */
  readonly serviceMs: number;
  /** Service time spread: uniform in serviceMs × [1 − jitter, 1 + jitter]. */
  readonly jitter: number;
  /** Requests that may wait beyond the workers; the next one is answered 429. */
  readonly queueLimit: number;
  /** The Retry-After a 429 carries, ms. */
  readonly retryAfterMs: number;
  /** Source of randomness, [0, 1). */
  readonly random: () => number;
}

/** How long a 429 takes to come back, ms. */
const REJECT_MS = 1;

/** What a 429 rejects with: the fields sluice's `defaultClassify` and `retry` read. */
export class TooManyRequests extends Error {
  readonly status = 429;
  constructor(readonly retryAfterMs: number) {
    super('429 Too Many Requests');
  }
}

/** One second (or slot) of the server's life. */
export interface Slot {
  served: number;
  rejected: number;
  /** Latencies of the requests served in the slot, ms (arrival to answer). */
  readonly latencies: number[];
  /** The most requests in the server (in service + waiting) at any arrival in the slot. */
  peakInSystem: number;
}

export class SimServer {
  readonly #o: ServerOptions;
  readonly #start: number;
  #inService = 0;
  readonly #waiting: { arrived: number; resolve: () => void }[] = [];
  #head = 0;
  /** Per `slotMs` of time since the start. */
  readonly slots: Slot[] = [];
  readonly slotMs: number;

  constructor(options: ServerOptions, slotMs = 500) {
    this.#o = options;
    this.#start = options.clock.now();
    this.slotMs = slotMs;
  }

  /** Time since the start, ms. */
  get now(): number {
    return this.#o.clock.now() - this.#start;
  }

  /** The 99th percentile of service time with nothing waiting (uniform spread): the "unloaded p99". */
  get unloadedP99(): number {
    const { serviceMs, jitter } = this.#o;
    return serviceMs * (1 - jitter + 2 * jitter * 0.99);
  }

  #slot(t: number): Slot {
    const i = Math.floor(t / this.slotMs);
    while (this.slots.length <= i) this.slots.push({ served: 0, rejected: 0, latencies: [], peakInSystem: 0 });
    return this.slots[i]!;
  }

  /** One request: resolves when served; rejects with {@link TooManyRequests} when the server's queue is full. */
  request(): Promise<void> {
    const arrived = this.now;
    const slot = this.#slot(arrived);
    const waiting = this.#waiting.length - this.#head;
    slot.peakInSystem = Math.max(slot.peakInSystem, this.#inService + waiting + 1);
    if (waiting === 0 && this.#inService < this.#o.workers(arrived)) {
      return new Promise<void>((resolve) => this.#begin(arrived, resolve));
    }
    if (waiting >= this.#o.queueLimit) {
      slot.rejected++;
      // A 429 takes a network round trip too: the client cannot spin through its backlog in no time.
      return new Promise<void>((_, reject) => {
        this.#o.clock.setTimeout(() => reject(new TooManyRequests(this.#o.retryAfterMs)), REJECT_MS);
      });
    }
    return new Promise<void>((resolve) => {
      this.#waiting.push({ arrived, resolve });
    });
  }

  /** Starts serving a request: its answer comes after its service time. */
  #begin(arrived: number, resolve: () => void): void {
    this.#inService++;
    const { serviceMs, jitter, random, clock } = this.#o;
    const ms = serviceMs * (1 - jitter + 2 * jitter * random());
    clock.setTimeout(() => {
      this.#inService--;
      const done = this.now;
      const slot = this.#slot(done);
      slot.served++;
      slot.latencies.push(done - arrived);
      this.#next();
      resolve();
    }, ms);
  }

  /** Starts waiting requests while workers are free (none when the capacity just fell below those in service). */
  #next(): void {
    while (this.#head < this.#waiting.length && this.#inService < this.#o.workers(this.now)) {
      const next = this.#waiting[this.#head]!;
      this.#waiting[this.#head++] = undefined as never;
      this.#begin(next.arrived, next.resolve);
    }
    if (this.#head > 1024 && this.#head * 2 > this.#waiting.length) {
      this.#waiting.splice(0, this.#head);
      this.#head = 0;
    }
  }

  /** Starts waiting requests when workers were added (call at a capacity change). */
  grow(): void {
    this.#next();
  }
}
