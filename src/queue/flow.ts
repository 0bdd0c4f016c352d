import type { TimerEntry, TimerHeap } from '../internal/timer-heap.js';
import * as v from '../internal/validate.js';
import { type AttemptOutcome, type Classify, defaultClassify } from '../limits/classify.js';
import type { GroupPolicy } from './groups.js';
import { QueueRecorder } from './metrics.js';
import type { QueueConfig } from './options.js';
import { StartGate } from './start-gate.js';
import type { ConcurrencyLimit, LimitChange, LimitSample } from '../limits/limit.js';

/** A rate limiter that learns from samples too (an `AdaptiveTokenBucket`). */
export interface SampledLimiter {
  onSample(sample: LimitSample): void;
}

/** What following load needs of its queue. */
export interface FlowHost {
  /**
   * The concurrency in force changed; `start`: start what can start now (false while an attempt's outcome is
   * being booked — the queue starts work once its books are done).
   */
  setConcurrency(n: number, start: boolean): void;
  /** Starts may go on again (a `pauseFor` ran out). */
  resumed(): void;
  /** Reports an error of the queue's own machinery (`classify`, a limit that threw). */
  reportError(error: unknown): void;
}

/**
 * Flow control that follows load, for one queue: the samples a settled
 * attempt gives its {@link ConcurrencyLimit} and its sampled rate limiters
 * (classified by `classify`), the limit it follows live, and the hold that
 * `pauseFor` (or a Retry-After, with `retryAfter: 'queue'`) puts on every
 * start.
 */
export class Flow {
  /** Whether settled attempts are sampled at all (a limit object, or a limiter that learns). */
  readonly sampling: boolean;
  /** Whether starts are held (`pauseFor`). */
  held = false;
  #heldUntil = -Infinity;
  #holdTimer: TimerEntry | undefined = undefined;
  #limit: ConcurrencyLimit | undefined;
  readonly #limiters: readonly SampledLimiter[];
  readonly #classify: Classify<unknown>;
  readonly #part: string;
  readonly #timers: TimerHeap;
  readonly #host: FlowHost;
  readonly #onLimit = (change: LimitChange): void => this.#follow(change?.to);
  /** Set while a settled attempt's sample is given: a limit that moves then must not start work in the middle of the queue's books. */
  #inSample = false;

  constructor(
    part: string,
    limit: ConcurrencyLimit | undefined,
    limiters: readonly SampledLimiter[],
    classify: Classify<unknown> | undefined,
    timers: TimerHeap,
    host: FlowHost,
  ) {
    this.#part = part;
    this.#limiters = limiters;
    this.#classify = classify ?? defaultClassify;
    this.#timers = timers;
    this.#host = host;
    this.#limit = undefined;
    this.sampling = limit !== undefined || limiters.length > 0;
    if (limit !== undefined) this.attach(limit);
  }

  /** The limit object followed, if any. */
  get limit(): ConcurrencyLimit | undefined {
    return this.#limit;
  }

  /** Follows `limit` from now on (`undefined`: a fixed concurrency). */
  attach(limit: ConcurrencyLimit | undefined): void {
    this.#limit?.off?.('limit', this.#onLimit);
    this.#limit = limit;
    limit?.on?.('limit', this.#onLimit);
  }

  /** Lets go of a shared limit (the queue closed). */
  detach(): void {
    this.#limit?.off?.('limit', this.#onLimit);
  }

  /**
   * An attempt settled with `outcome`: classified, then a sample for the limit and the limiters that learn.
   * A concurrency it changes is set, not acted on: the queue starts work when it has booked the outcome.
   */
  settled(job: { startedAt: number; startInFlight: number }, outcome: AttemptOutcome<unknown>): void {
    let classification: string;
    try {
      classification = this.#classify(outcome);
    } catch (error) {
      this.#host.reportError(error);
      return;
    }
    if (classification !== 'success' && classification !== 'dropped') return;
    const sample: LimitSample = {
      startedAt: job.startedAt,
      rttMs: Math.max(0, this.#timers.now() - job.startedAt),
      inFlight: job.startInFlight,
      dropped: classification === 'dropped',
    };
    const limit = this.#limit;
    this.#inSample = true;
    try {
      if (limit !== undefined) {
        try {
          limit.onSample(sample);
        } catch (error) {
          this.#host.reportError(error);
        }
        this.#follow(limit.limit);
      }
      for (const limiter of this.#limiters) {
        try {
          limiter.onSample(sample);
        } catch (error) {
          this.#host.reportError(error);
        }
      }
    } finally {
      this.#inSample = false;
    }
  }

  /** Holds every start for `ms` from now (the longer hold wins when one is already on). */
  pauseFor(ms: number): void {
    const until = this.#timers.now() + ms;
    if (until <= this.#heldUntil) return;
    this.#heldUntil = until;
    if (ms <= 0) return;
    this.held = true;
    if (this.#holdTimer !== undefined) this.#timers.cancel(this.#holdTimer);
    this.#holdTimer = this.#timers.add(until, () => {
      this.#holdTimer = undefined;
      this.held = false;
      this.#host.resumed();
    });
  }

  /** Ends a hold at once (the queue closes without drain). */
  release(): void {
    if (this.#holdTimer !== undefined) this.#timers.cancel(this.#holdTimer);
    this.#holdTimer = undefined;
    this.held = false;
  }

  #follow(n: unknown): void {
    if (typeof n === 'number' && ((Number.isInteger(n) && n >= 1) || n === Infinity)) {
      this.#host.setConcurrency(n, !this.#inSample);
      return;
    }
    this.#host.reportError(new RangeError(`${this.#part}: concurrency limit must be a positive integer, got ${v.show(n)}`));
  }
}

/** What a queue's flow control needs of it. */
export interface FlowControlHooks {
  /** Start what can start now (a group's token came, a hold ended, the rate limiter granted). */
  startWork(): void;
  reportError(error: unknown): void;
  /** The concurrency in force changed (see {@link FlowHost.setConcurrency}). */
  setConcurrency(n: number, start: boolean): void;
}

/**
 * A queue's flow control, made from its options: the message groups' slots
 * and rate limits, the {@link Flow} (limit, samples, hold), the metrics
 * recorder when `metrics` is on, and the rate-limit gate in front of every start.
 */
export function flowControl<T, R>(
  config: QueueConfig<T, R>,
  timers: TimerHeap,
  hooks: FlowControlHooks,
): { groupPolicy: GroupPolicy; flow: Flow; metrics: QueueRecorder | undefined; gate: StartGate | undefined } {
  const startWork = (): void => hooks.startWork();
  const reportError = (error: unknown): void => hooks.reportError(error);
  const groupPolicy: GroupPolicy = {
    concurrency: config.groupConcurrency,
    rateLimitFor: config.groupRateLimit,
    timers,
    onGrant: startWork,
    onError: reportError,
    part: config.part,
  };
  const flow = new Flow(config.part, config.limit, config.learners, config.classify as Classify<unknown> | undefined, timers, {
    setConcurrency: (n, start) => hooks.setConcurrency(n, start),
    resumed: startWork,
    reportError,
  });
  const metrics =
    config.metricsWindowMs === undefined ? undefined : new QueueRecorder(config.metricsWindowMs, config.metricsSampleEvery, timers.now());
  const gate = config.rateLimit === undefined ? undefined : new StartGate(config.rateLimit, timers, startWork, reportError);
  return { groupPolicy, flow, metrics, gate };
}
