import type { DeadLetterEntry, DeadLetterReason } from '../../dead-letter.js';
import { TimeoutError } from '../../errors.js';
import { retryAfterOf } from '../../internal/retry-policy.js';
import type { TimerHeap } from '../../internal/timer-heap.js';
import type { Classify } from '../../limits/classify.js';
import { Flow } from '../../queue/flow.js';
import { decideFailure } from '../../queue/outcome.js';
import type { Handler, QueueEvents } from '../../queue-types.js';
import { type RedisDeadLetter, storeError } from '../dead-letter.js';
import type { Attempt, Deadlines } from './deadlines.js';
import type { RedisQueueMetrics } from './metrics.js';
import { attemptInfo, type GroupRateLimiter, type Held, PART, type RedisQueueConfig, safeParse } from './options.js';
import { RELEASED } from './pull.js';
import { record, type Settler } from './stream-io.js';

/** What a worker's attempts need of their queue. @internal */
export interface AttemptsHost<T, R> {
  readonly config: RedisQueueConfig<T, R>;
  readonly settler: Settler;
  readonly deadlines: Deadlines<Attempt<T>>;
  readonly deadLetter: RedisDeadLetter<T>;
  /** The concurrency in force changed (the limit followed moved). */
  setConcurrency(n: number): void;
  /** The metrics window, when `metrics` is on. */
  readonly metrics: RedisQueueMetrics | undefined;
  readonly name: string;
  handler(): Handler<T, R>;
  /** Server time minus local time, ms (for TTLs and the events' push times). */
  clockOffset(): number;
  /** Timers on the queue's clock: the `pauseFor` hold; its time is the samples' and the metrics'. */
  readonly timers: TimerHeap;
  listens(event: keyof QueueEvents<T, R> & string): boolean;
  emit<E extends keyof QueueEvents<T, R> & string>(event: E, ...args: QueueEvents<T, R>[E] & unknown[]): void;
  reportError(error: unknown): void;
  /** Asks for a look at the delayed set in `ms` (a retry's backoff ends then). */
  schedule(ms: number): void;
  /** A slot freed: start what can start. */
  pump(): void;
}

/**
 * A worker's attempts in this process: each runs its handler, times out at
 * `visibilityTimeoutMs`, and has its end settled in Redis with the turn's
 * others (done, retried after its backoff, dead-lettered, or released);
 * the concurrency limit and the rate limiters that learn get a sample per
 * attempt, as Queue's.
 * @internal
 */
export class Attempts<T, R> {
  /** Handlers running in this process. */
  running = 0;
  /** Settles under way (close waits for them). */
  readonly settling = new Set<Promise<unknown>>();
  /** A nack's `delayMs` by `id:attempt`, used instead of the backoff. */
  readonly nackDelays = new Map<string, number>();
  /** The concurrency limit followed and the samples it gets, the `pauseFor` hold. */
  readonly flow: Flow;
  readonly #host: AttemptsHost<T, R>;
  /** Resolves `settled()`'s wait once nothing runs. */
  #idle: (() => void) | undefined;

  constructor(host: AttemptsHost<T, R>) {
    this.#host = host;
    this.flow = flowOf(host);
  }

  /** Runs an attempt of `h` here; its end is settled in Redis with the turn's others. */
  run(h: Held): void {
    const host = this.#host;
    const c = host.config;
    if (h.deadline !== undefined && h.deadline <= Date.now() + host.clockOffset()) {
      const expired = new TimeoutError(h.deadline - h.pushedAt, `${PART}: expired before it started`);
      this.track(this.#deadLetter(h, 'expired', expired, false, safeParse(h.data) as T));
      return;
    }
    let item: T;
    try {
      item = JSON.parse(h.data) as T;
    } catch (error) {
      this.track(this.#deadLetter(h, 'rejected', error, false, h.data as T));
      return;
    }
    let limiter: GroupRateLimiter | undefined;
    try {
      limiter = h.group === undefined ? undefined : c.groupRateLimit?.(h.group);
    } catch (error) {
      // A groupRateLimit function that throws, or gives no limiter: the attempt fails with its error.
      host.reportError(error);
      this.track(this.fail({ h, item, startedAt: 0 }, error));
      return;
    }
    if (limiter === undefined) this.#start(h, item);
    else this.#gate(h, item, limiter);
  }

  /**
   * A group's item, started once its group's limiter grants a token; else
   * deferred in Redis for as long as the limiter says. Holds its slot while
   * the limiter answers.
   */
  #gate(h: Held, item: T, limiter: GroupRateLimiter): void {
    const host = this.#host;
    this.running++;
    const asked = (async () => {
      let granted = false;
      try {
        granted = await limiter.tryAcquire(1);
      } finally {
        this.#ran();
        if (granted) this.#start(h, item);
      }
      if (granted) return;
      // At most an hour at a time: a limiter that says "never" (a burst under one token) is asked again then.
      const delayMs = Math.min(3_600_000, Math.max(1, Math.ceil(Number(await limiter.waitTime(1)) || 1)));
      if (await host.settler.settle(record(h, 'defer', { delayMs }))) host.schedule(delayMs);
    })();
    // A limiter that fails: the item goes back unseen (another try, here or elsewhere), the error reported.
    this.track(
      asked
        .catch(async (error: unknown) => {
          host.reportError(error);
          await host.settler.settle(record(h, 'release', {}));
        })
        .finally(() => host.pump()),
    );
  }

  /** A slot held here was freed: `settled()` may be waiting for none to be held. */
  #ran(): void {
    if (--this.running === 0 && this.#idle !== undefined) {
      this.#idle();
      this.#idle = undefined;
    }
  }

  /** Starts the attempt: its handler runs here, its deadline set. */
  #start(h: Held, item: T): void {
    const host = this.#host;
    const c = host.config;
    this.running++;
    const startedAt = Date.now();
    const attempt: Attempt<T> = {
      h,
      item,
      abort: undefined, // made when the handler first reads its signal
      startedAt,
      sampleStart: this.flow.sampling ? host.timers.now() : 0,
      startInFlight: this.running,
      deadline: startedAt + c.visibilityTimeoutMs,
      done: false,
      expire: () => {
        const timeout = new TimeoutError(c.visibilityTimeoutMs, `${PART}: attempt timed out after ${c.visibilityTimeoutMs} ms`);
        (attempt.abort ??= new AbortController()).abort(timeout);
        this.#end(attempt, false, timeout);
      },
    };
    host.deadlines.add(attempt);
    host.metrics?.started(host.timers.now(), attemptInfo(h, startedAt, host.clockOffset()).waitMs);
    if (host.listens('active')) host.emit('active', item, attemptInfo(attempt.h, attempt.startedAt, host.clockOffset()));
    let result: R | PromiseLike<R>;
    try {
      result = host.handler()(item, {
        id: h.id,
        attempt: h.attempt,
        key: h.group,
        get signal() {
          return (attempt.abort ??= new AbortController()).signal;
        },
      });
    } catch (error) {
      this.#end(attempt, false, error);
      return;
    }
    if (result !== null && typeof (result as PromiseLike<R>)?.then === 'function') {
      (result as PromiseLike<R>).then(
        (value) => this.#end(attempt, true, value),
        (error: unknown) => this.#end(attempt, false, error),
      );
    } else this.#end(attempt, true, result);
  }

  /**
   * A failed attempt: retried after its backoff (in Redis) or dead-lettered.
   * An item taken back from a process that stopped answering comes here too (`startedAt` 0).
   */
  async fail(attempt: { h: Held; item: T; startedAt: number }, error: unknown): Promise<void> {
    const host = this.#host;
    const h = attempt.h;
    if (error === RELEASED) {
      await host.settler.settle(record(h, 'release', {}));
      return;
    }
    const nackKey = `${h.id}:${h.attempt}`;
    const delayOverride = this.nackDelays.get(nackKey);
    if (delayOverride !== undefined) this.nackDelays.delete(nackKey);
    const outcome = decideFailure(host.config.policy, { attempt: h.attempt, previousDelay: undefined }, error, delayOverride, false, (e) =>
      host.reportError(e),
    );
    // As Queue: 'failed' first, then 'dead-lettered' when the item dies of it.
    const failed = (): void => {
      if (!host.listens('failed')) return;
      const runMs = attempt.startedAt === 0 ? 0 : Date.now() - attempt.startedAt;
      host.emit('failed', attempt.item, error, {
        ...attemptInfo(attempt.h, attempt.startedAt, host.clockOffset()),
        runMs,
        willRetry: outcome.action === 'retry',
      });
    };
    let counted = false;
    if (outcome.action === 'retry') {
      const delayMs = Math.round(outcome.delayMs);
      counted = await host.settler.settle(record(h, 'retry', { delayMs, failed: true }));
      if (counted && delayMs > 0) host.schedule(delayMs);
    } else if (outcome.action === 'dead-letter') {
      counted = await this.#deadLetter(h, outcome.reason, outcome.error, true, attempt.item, failed);
      return;
    }
    if (counted) failed();
  }

  /** Resolves once no attempt runs here and every end was settled in Redis (close waits for it). */
  async settled(settler: Settler): Promise<void> {
    while (this.running > 0 || this.settling.size > 0 || settler.busy) {
      if (this.running > 0) await new Promise<void>((resolve) => (this.#idle = resolve));
      await Promise.allSettled([...this.settling, settler.drained()]);
    }
  }

  /** Keeps `p` until it settles (close waits for it); its failure is reported. */
  track(p: Promise<unknown>): void {
    const tracked = p.catch((error: unknown) => this.#host.reportError(error)).finally(() => this.settling.delete(tracked));
    this.settling.add(tracked);
  }

  /** An attempt ended (the first end counts: a late handler after its timeout is ignored). */
  #end(attempt: Attempt<T>, ok: boolean, outcome: unknown): void {
    if (attempt.done) return;
    attempt.done = true;
    this.#ran();
    const host = this.#host;
    host.metrics?.ran(host.timers.now(), Date.now() - attempt.startedAt);
    const flow = this.flow;
    if (flow.sampling) {
      flow.settled(
        { startedAt: attempt.sampleStart, startInFlight: attempt.startInFlight },
        ok ? { ok: true, value: outcome } : { ok: false, error: outcome },
      );
    }
    const h = attempt.h;
    if (ok) {
      // A keyed item may have submits waiting from duplicate or replacing pushes, whatever its own push was.
      const reply =
        h.replyTo === undefined && h.key === undefined ? '' : JSON.stringify({ i: h.id, v: outcome === undefined ? null : outcome });
      const done = record(h, 'done', { reply });
      // Nobody listens: no promise of its own (the settler's run reports a failure).
      if (!host.listens('completed')) host.settler.settle(done, (error) => host.reportError(error));
      else
        this.track(
          host.settler.settle(done).then((counted) => {
            if (counted)
              host.emit('completed', attempt.item, outcome as R, {
                ...attemptInfo(attempt.h, attempt.startedAt, host.clockOffset()),
                runMs: Date.now() - attempt.startedAt,
              });
          }),
        );
    } else {
      if (host.config.retryAfter === 'queue') {
        const ms = retryAfterOf(outcome);
        if (ms !== undefined) flow.pauseFor(ms);
      }
      this.track(this.fail(attempt, outcome));
    }
    host.pump();
  }

  /** Dead-letters `h` in the script run that takes it out of the queue; false when it was no longer ours (a lapse). */
  async #deadLetter(
    h: Held,
    reason: DeadLetterReason,
    error: unknown,
    attemptFailed: boolean,
    item: T,
    before?: () => void,
  ): Promise<boolean> {
    const host = this.#host;
    const { entry, json } = host.deadLetter.encode({
      item,
      reason,
      ...(error === undefined ? {} : { error }),
      attempts: attemptFailed ? h.attempt : h.attempt - 1,
      firstSeenAt: h.pushedAt - host.clockOffset(),
      source: host.name,
    });
    const reply =
      h.replyTo === undefined && h.key === undefined
        ? ''
        : JSON.stringify({ i: h.id, e: storeError(error) ?? { name: 'Error', message: reason } });
    const counted = await host.settler.settle(
      record(h, 'dead', { failed: attemptFailed, deadLetterId: entry.id, deadLetterJson: json, reply }),
    );
    if (!counted) return false;
    before?.();
    if (host.listens('dead-lettered')) host.emit('dead-lettered', entry as DeadLetterEntry<T>);
    return true;
  }
}

/**
 * A worker's flow control, as Queue's: the concurrency limit it follows
 * (the host told of each change, and to start work on a change outside a
 * sample's booking or when a `pauseFor` hold ended).
 */
function flowOf<T, R>(host: AttemptsHost<T, R>): Flow {
  const c = host.config;
  return new Flow(PART, c.limit, c.learners, c.classify as Classify<unknown> | undefined, host.timers, {
    setConcurrency: (n, start) => {
      host.setConcurrency(n);
      if (start) host.pump();
    },
    resumed: () => host.pump(),
    reportError: (error) => host.reportError(error),
  });
}
