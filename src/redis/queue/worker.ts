import { TimeoutError } from '../../errors.js';
import { toConcurrency } from '../../internal/inputs.js';
import { TimerHeap } from '../../internal/timer-heap.js';
import type { ConcurrencyLimit } from '../../limits/limit.js';
import type { Flow } from '../../queue/flow.js';
import type { Handler, QueueEvents, QueueStats } from '../../queue-types.js';
import type { RedisDeadLetter } from '../dead-letter.js';
import { type Connection, duplicateOf, type RedisClient, type Send } from '../send.js';
import { Attempts, type AttemptsHost } from './attempts.js';
import { abortCancelled } from './cancels.js';
import { type Attempt, Deadlines, Poller } from './deadlines.js';
import { Grants } from './grants.js';
import type { QueueKeys } from './keys.js';
import { metricsOf, type RedisQueueMetrics } from './metrics.js';
import { enterByPriority, type Held, held, PART, type RedisQueueConfig, RESULT_TTL_MS, safeParse } from './options.js';
import { revive } from './results.js';
import { blockingRead, claimLapsed, levelStreams, makeGroup, readLoop, record, Settler } from './stream-io.js';

/** What a worker needs of its queue. @internal */
export interface WorkerHost<T, R> {
  readonly config: RedisQueueConfig<T, R>;
  readonly client: RedisClient;
  readonly send: Send;
  readonly keys: QueueKeys;
  /** This process's name in the consumer group. */
  readonly consumer: string;
  readonly deadLetter: RedisDeadLetter<T>;
  /** The counters (for the metrics' tallies). */
  stats(): Promise<QueueStats>;
  listens(event: keyof QueueEvents<T, R> & string): boolean;
  emit: AttemptsHost<T, R>['emit'];
  reportError(error: unknown): void;
}

/**
 * A RedisQueue's worker in this process: it reads the queue's streams
 * through the consumer group (a scripted take while busy, a blocking read
 * only to be woken), keeps what it read until a slot is free, starts
 * attempts within its concurrency, rate limit and `pauseFor` hold, and
 * polls every `pollMs` for due delays, cancels made elsewhere, new priority
 * levels and lapsed items.
 * @internal
 */
export class QueueWorker<T, R> {
  handler: Handler<T, R> | undefined;
  concurrency: number;
  paused: boolean;
  started = false;
  /** Set once it stops (close): nothing is read, polled or started after it. */
  stopped = false;
  readonly deadlines = new Deadlines<Attempt<T>>();
  readonly attempts: Attempts<T, R>;
  /** The concurrency limit followed and the samples it gets, the `pauseFor` hold. */
  readonly flow: Flow;
  /** Timers on the queue's `clock`: the `pauseFor` hold. */
  readonly timers: TimerHeap;
  /** The metrics window, when `metrics` is on. */
  readonly metrics: RedisQueueMetrics | undefined;
  readonly #host: WorkerHost<T, R>;
  readonly #settler: Settler;
  readonly #grants: Grants;
  /** Items read for this process that wait for a free slot. */
  readonly #ready: Held[] = [];
  /** Wakes the read loop (a slot freed, resumed, closing). */
  #wake: (() => void) | undefined;
  #reader: Connection | undefined;
  /** The next look for due delays and lapses (the sooner of those asked for). */
  readonly #poller: Poller;
  /** The stream and its consumer group made (once per instance: XGROUP CREATE … MKSTREAM). */
  #groupReady: Promise<void> | undefined;
  /** Server time minus local time, ms, from the last poll (for TTL deadlines). */
  #clockOffset = 0;
  /** The streams it reads, highest priority first: the queue's (priority 0) and each level's in use. */
  #streams: string[];

  constructor(host: WorkerHost<T, R>) {
    this.#host = host;
    const c = host.config;
    const r = host.keys;
    const report = (error: unknown): void => host.reportError(error);
    this.handler = c.handler;
    this.concurrency = c.concurrency;
    this.paused = !c.autoStart;
    this.#streams = [r.stream];
    const dl = host.deadLetter;
    this.#settler = new Settler(
      r.settle,
      r.keys,
      [r.base, dl.scriptCapacity, dl.overflow, RESULT_TTL_MS, host.consumer, c.dedupe?.mode === 'replace' ? 1 : 0],
      () => (this.paused || this.stopped ? 0 : this.#readable()),
      (entries) => this.#take(entries),
      ({ held: h }, reason) =>
        host.listens('cancelled') &&
        host.emit('cancelled', safeParse(h.data) as T, revive(JSON.parse(reason)), {
          id: h.id,
          attempt: h.attempt,
          enqueuedAt: h.pushedAt - this.#clockOffset,
        }),
    );
    this.#grants = new Grants(c.rateLimit, () => this.pump(), report);
    this.#poller = new Poller(
      () => c.pollMs,
      () => this.started && !this.stopped,
      () => this.#tick(),
      (error) => this.stopped || report(error),
    );
    this.timers = new TimerHeap(c.clock);
    this.metrics = metricsOf(c.metricsWindowMs, this.timers, () => host.stats(), report);
    this.attempts = new Attempts<T, R>({
      config: c,
      settler: this.#settler,
      deadlines: this.deadlines,
      deadLetter: dl,
      metrics: this.metrics,
      setConcurrency: (n) => void (this.concurrency = n),
      name: c.name,
      handler: () => this.handler!,
      clockOffset: () => this.#clockOffset,
      timers: this.timers,
      listens: (event) => host.listens(event),
      emit: host.emit,
      reportError: report,
      schedule: (ms) => this.#poller.schedule(ms),
      pump: () => this.pump(),
    });
    this.flow = this.attempts.flow;
  }

  /** Sets the concurrency live: a number, or a limit object to follow. @throws TypeError or RangeError for a bad value. */
  setConcurrency(value: number | ConcurrencyLimit): void {
    const { concurrency, limit } = toConcurrency(PART, 'concurrency', value, 1);
    this.flow.attach(limit);
    this.concurrency = concurrency;
    this.pump();
  }

  /** Asks for a poll in `ms` (a delay pushed from here ends then). */
  schedule(ms: number): void {
    this.#poller.schedule(ms);
  }

  /** The stream and its consumer group, made once per instance (again after a failure). */
  groupMade(): Promise<void> {
    this.#groupReady ??= makeGroup(this.#host.send, this.#host.keys.stream).catch((error: unknown) => {
      this.#groupReady = undefined;
      throw error;
    });
    return this.#groupReady;
  }

  /** Starts reading and polling (once, and not after it stopped). */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    const host = this.#host;
    const c = host.config;
    // The priority levels in use first: a worker reads the highest from its first read.
    void levelStreams(host.send, host.keys.stream)
      .then(
        (streams) => void (this.#streams = streams),
        (error: unknown) => host.reportError(error),
      )
      .then(() =>
        readLoop({
          stopped: () => this.stopped,
          free: () => (this.paused ? 0 : this.#readable()),
          slotFreed: () => new Promise<void>((resolve) => void (this.#wake = resolve)),
          takeReady: () => this.#settler.take(),
          read: async (count) => {
            this.#reader ??= await duplicateOf(PART, host.client, c.commandTimeoutMs);
            return this.#reader.send(blockingRead(host.consumer, count, c.commandTimeoutMs, this.#streams));
          },
          ensureGroup: () => makeGroup(host.send, host.keys.stream),
          take: (entries) => this.#takeRead(entries),
          report: (error) => host.reportError(error),
        }),
      );
    this.#poller.schedule(0);
  }

  /** Starts nothing more; what was read and not started goes back unseen. */
  pause(): void {
    this.paused = true;
    for (const h of this.#ready.splice(0)) this.#settler.settle(record(h, 'release', {}), (e) => this.#host.reportError(e));
  }

  /** Starts again (reading too, once there is a handler). */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (this.handler !== undefined) this.start();
    this.pump();
  }

  /** Stops reading, polling and starting; resolves once the attempts running here settled in Redis. */
  async stop(): Promise<void> {
    // What was read and not started goes back unseen at once, not after its visibility timeout.
    for (const h of this.#ready.splice(0)) this.#settler.settle(record(h, 'release', {}), (e) => this.#host.reportError(e));
    this.#grants.stop();
    this.flow.detach();
    this.flow.release();
    this.timers.clear();
    this.stopped = true;
    this.#poller.clear();
    this.#wakeReader();
    this.#reader?.close();
    await this.attempts.settled(this.#settler);
    this.deadlines.clear();
  }

  /** Starts what may start now; wakes the read loop when there is room for more. */
  pump(): void {
    const attempts = this.attempts;
    const flow = this.flow;
    while (
      !this.paused &&
      !this.stopped &&
      !flow.held &&
      attempts.running < this.concurrency &&
      this.#ready.length > 0 &&
      this.#grants.take()
    ) {
      attempts.run(this.#ready.shift()!);
    }
    if (attempts.running + this.#ready.length < this.concurrency && !flow.held) this.#wakeReader();
  }

  /** Items read for this process: started while there are free slots, the rest wait for one. */
  #take(entries: [string, string[]][]): void {
    this.#enter(entries.map(([entry, fields]) => held(entry, fields)));
  }

  /**
   * Items a blocking read got: a replace-mode item's latest payload is read
   * first (and it stops being replaceable); the rest are taken at once.
   */
  #takeRead(entries: [string, string[]][]): void {
    const items = entries.map(([entry, fields]) => held(entry, fields));
    if (!items.some((h) => h.apart)) {
      this.#enter(items);
      return;
    }
    this.attempts.track(this.#host.keys.withPayloads(items).then((latest) => this.#enter(latest)));
  }

  #enter(items: readonly Held[]): void {
    for (const h of items) enterByPriority(this.#ready, h);
    this.pump();
  }

  /** How many items to read now: free slots, and as many grants of the rate limit as are held for them. */
  #readable(): number {
    const free = this.concurrency - this.attempts.running - this.#ready.length;
    return this.#grants.readable(this.flow.held ? 0 : Math.max(0, Math.min(free, 1_000)), this.#ready.length);
  }

  #wakeReader(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** Moves due delays in, aborts attempts cancelled elsewhere, reads the levels, takes back lapses; ms to the next due delay. */
  async #tick(): Promise<number> {
    const host = this.#host;
    const r = host.keys;
    await this.groupMade();
    const [, due, now, cancels] = (await r.promote.run([r.stream, r.delayed], [r.base, 1_000])) as number[];
    this.#clockOffset = Number(now) - Date.now();
    if (Number(cancels) > 0) await abortCancelled(host.send, r.cancelled, [...this.deadlines.running()]);
    this.#streams = await levelStreams(host.send, r.stream);
    if (this.metrics !== undefined) this.metrics.tally(this.timers.now(), await host.stats());
    // Items whose holder stopped answering: taken back, each a failed (timed-out) attempt.
    const { visibilityTimeoutMs: ms, pollMs } = host.config;
    const lapsed = new TimeoutError(ms, `${PART}: visibility timeout lapsed (the process running it stopped answering)`);
    const attempts = this.attempts;
    const retake = (lapsedItem: Held) =>
      attempts.track(
        r.withPayloads([lapsedItem]).then(([h]) => attempts.fail({ h: h!, item: safeParse(h!.data) as T, startedAt: 0 }, lapsed)),
      );
    await claimLapsed(host.send, this.#streams, host.consumer, ms + pollMs, () => this.stopped, retake);
    return Number(due) >= 0 ? Math.max(0, Number(due) - Number(now)) : Number.POSITIVE_INFINITY;
  }
}
