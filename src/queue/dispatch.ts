import type { Handler } from '../queue-types.js';
import type { Attempts } from './attempts.js';
import type { Flow } from './flow.js';
import { Job, PlainContext, PlainInFlight, READY } from './job.js';
import type { QueueConfig } from './options.js';
import type { PullMode } from './pull.js';
import type { StartGate } from './start-gate.js';
import type { WaitingRoom } from './waiting.js';

/** What starting work needs of its queue. */
export interface DispatchHost {
  /** A worker loop took an item out of the room: waiting pushes may fit, watchers may be met. */
  took(): void;
  /** A worker loop left (nothing to start): watchers may be met. */
  left(): void;
  /** A plain item completed: the queue may be idle. */
  completedPlain(): void;
}

/**
 * Starts attempts, up to `concurrency` at once and not while `paused` or held (`pauseFor`): in
 * push mode, worker loops that each hold one concurrency slot and run ready
 * items one after another; in pull mode, deliveries to the `next()` calls
 * waiting for one. Every start takes the rate-limit gate's token first.
 */
export class Dispatcher<T, R> {
  /** The handler (push mode); `undefined` until one is set, and in pull mode. */
  handler: Handler<T, R> | undefined;
  /** Attempts (or unacked deliveries) at once. */
  concurrency: number;
  paused: boolean;
  /** Worker loops holding a concurrency slot (push mode). */
  workers = 0;
  /** Pull mode, once the queue is iterated. */
  pull: PullMode<T, R> | undefined = undefined;
  /** Each worker loop's plain item in flight (one entry per loop, not per item): where `cancel()` finds a plain item that runs. */
  readonly loops = new Set<PlainInFlight>();

  readonly #room: WaitingRoom<T, R>;
  readonly #attempts: Attempts<T, R>;
  readonly #gate: StartGate | undefined;
  /** Holds every start while `held` (`pauseFor`). */
  readonly #flow: Flow;
  /** Whether the plain lane may be taken at all: attempts cannot lapse and the room keeps no order of its own to update. */
  readonly #lane: boolean;
  readonly #host: DispatchHost;

  constructor(
    config: QueueConfig<T, R>,
    room: WaitingRoom<T, R>,
    attempts: Attempts<T, R>,
    gate: StartGate | undefined,
    flow: Flow,
    host: DispatchHost,
  ) {
    this.#flow = flow;
    this.handler = config.handler;
    this.concurrency = config.concurrency;
    this.paused = !config.autoStart;
    this.#room = room;
    this.#attempts = attempts;
    this.#gate = gate;
    this.#lane = config.visibilityTimeoutMs === undefined && !room.tracksOldest && !config.sampling;
    this.#host = host;
  }

  /** Starts what can start now: worker loops for the ready items, or deliveries to waiting `next()` calls. */
  start(): void {
    const handler = this.handler;
    const gate = this.#gate;
    if (handler !== undefined) {
      // Bounded: a worker that finds nothing to start (no token yet) gives its slot straight back.
      for (
        let n = Math.min(this.concurrency - this.workers, this.#room.ready.count);
        n > 0 && !this.paused && !this.#flow.held && !gate?.pending;
        n--
      ) {
        this.workers++;
        this.#work(handler);
      }
    } else if (this.pull !== undefined) {
      const pull = this.pull;
      while (this.#room.ready.count > 0 && this.#attempts.running < this.concurrency && !this.paused && !this.#flow.held && pull.wanted) {
        if (gate !== undefined && !gate.take()) break;
        const job = this.#room.pop();
        if (job === undefined) break;
        const generation = this.#attempts.begin(job);
        pull.deliver(job, generation, job.context!);
      }
    }
  }

  /**
   * A worker loop: holds one concurrency slot and runs ready items one after
   * another. It leaves when nothing is ready, or when its attempt lapsed (the
   * lapse freed its slot). Driven by callbacks on each handler's promise,
   * made once per loop, rather than an `await` loop (see bench/results.md,
   * "Where an item's time goes"); like `await`, it takes one microtask per
   * item, even for a handler that returns a plain value.
   *
   * The plain lane: an entry of level 0 that is not a {@link Job} is an item
   * pushed with no options into a queue without `groupBy`, `dedupe` or
   * `ttlMs` (see QueueConfig.plainPushes). Its first attempt needs none of
   * `Attempts.begin`'s work but the books, and it gets a record only if it
   * fails (`Attempts.failPlain`). The lane is taken only while level 0 is the
   * only level and attempts cannot lapse (no `visibilityTimeoutMs`: a lapse
   * needs a record), and not in a room that keeps its records by push order
   * (`'drop-oldest'`: taking must go through `WaitingRoom.pop`).
   */
  #work(handler: Handler<T, R>): void {
    // The attempt in flight: a plain item (`plain.seq` > 0) or a record.
    let job: Job<T, R> | undefined;
    let item!: T;
    let generation = 0;
    // A push time stored in a closure's variable would box a new number per item; a double field reuses its box.
    const plain = new PlainInFlight();
    const room = this.#room;
    const ready = room.ready;
    const attempts = this.#attempts;
    const host = this.#host;
    const loops = this.loops;
    loops.add(plain);
    const run = (): void => {
      // `ready.count` counts live items only: while it is above 0 there is one to start, so a token
      // taken here is never spent on an item that expired or was dropped while it waited.
      // A loop over `concurrency` (lowered while it ran) leaves rather than start another.
      while (ready.count > 0 && !this.paused && !this.#flow.held && this.workers <= this.concurrency) {
        if (this.#gate !== undefined && !this.#gate.take()) break;
        const ring = ready.level0.ring;
        job = undefined;
        if (ready.onlyLevel0 && this.#lane) {
          // Level 0 is the only level, so the live item is in its ring, behind any tombstones.
          let entry = ring.shift()!;
          while (entry instanceof Job && entry.state !== READY) entry = ring.shift()!;
          if (entry instanceof Job) {
            ready.count--;
            room.size--;
            job = entry;
          } else {
            item = entry;
            plain.seq = ring.shiftedSeq;
            plain.pushedAt = ring.shiftedTime;
          }
        } else {
          job = room.pop();
          if (job === undefined) break;
        }
        let result: R | PromiseLike<R>;
        if (job === undefined) {
          // The plain lane's start.
          ready.count--;
          room.size--;
          const seq = plain.seq;
          attempts.startPlain(item, seq, plain);
          host.took();
          try {
            // The context goes to the handler only (events name the item by seq): where the handler is
            // inlined and ignores its context, V8 need not make one at all.
            result = handler(item, new PlainContext(seq, plain));
          } catch (error) {
            settlePlain(false, error);
            continue;
          }
        } else {
          generation = attempts.begin(job);
          plain.job = job as Job<unknown, unknown>;
          host.took();
          try {
            result = handler(job.item, job.context ?? job);
          } catch (error) {
            if (!attempts.fail(job, generation, error, undefined)) {
              loops.delete(plain);
              return;
            }
            continue;
          }
        }
        Promise.resolve(result).then(done, fail);
        return;
      }
      this.workers--;
      loops.delete(plain);
      host.left();
    };
    /** A plain item's attempt ended: the books, then the loop's holder is ready for the next item. */
    const settlePlain = (ok: boolean, outcome: unknown): void => {
      const seq = plain.seq;
      plain.seq = 0;
      if (plain.controller !== undefined) plain.controller = undefined;
      if (plain.cancelled) {
        plain.cancelled = false;
        const reason = plain.cancelReason;
        plain.cancelReason = undefined;
        attempts.cancelledPlain(item, seq, reason, plain.pushedAt);
      } else if (ok) attempts.completePlain(item, seq, outcome as R, plain);
      else attempts.failPlain(item, seq, plain, outcome);
    };
    const done = (value: R): void => {
      if (job === undefined) {
        settlePlain(true, value);
        host.completedPlain();
      } else if (!attempts.succeed(job, generation, value)) {
        loops.delete(plain); // it lapsed: the lapse freed this loop's slot, and the loop ends here
        return;
      }
      run();
    };
    const fail = (error: unknown): void => {
      if (job === undefined) settlePlain(false, error);
      else if (!attempts.fail(job, generation, error, undefined)) {
        loops.delete(plain);
        return;
      }
      run();
    };
    run();
  }
}
