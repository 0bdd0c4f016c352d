import { QueueRecorder } from '../../queue/metrics.js';
import type { TimerHeap } from '../../internal/timer-heap.js';
import type { QueueMetrics, QueueStats } from '../../queue-types.js';

/**
 * A RedisQueue's figures over a sliding window, as Queue's `metrics()`:
 * the arrivals, completions, failures and the number waiting are the whole
 * queue's — the counters in Redis, tallied each time they are read (each
 * worker poll, each `metrics()`) — and the wait and run times are those of
 * the attempts this process ran (every one timed).
 * @internal
 */
export class RedisQueueMetrics {
  readonly #recorder: QueueRecorder;
  /** The counters at the last tally (none before the first: what came before the window is not counted in it). */
  #last: QueueStats | undefined;
  /** The number waiting at the last tally. */
  #waiting = 0;

  constructor(windowMs: number, now: number) {
    this.#recorder = new QueueRecorder(windowMs, 1, now);
  }

  /** The counters read at `now`: what changed since the last tally goes into the window. */
  tally(now: number, s: QueueStats): void {
    const last = this.#last;
    this.#last = s;
    this.#waiting = s.waiting;
    if (last === undefined) {
      this.#recorder.tally(now, 0, 0, 0, s.waiting);
      return;
    }
    // A counter that went back (the queue's keys deleted and made anew) restarts from zero.
    const since = (k: 'accepted' | 'completed' | 'failed'): number => (s[k] >= last[k] ? s[k] - last[k] : s[k]);
    this.#recorder.tally(now, since('accepted'), since('completed'), since('failed'), s.waiting);
  }

  /** An attempt started here at `now` after waiting `waitMs` (from its push, on the server's clock). */
  started(now: number, waitMs: number): void {
    this.#recorder.started(now, waitMs, this.#waiting, 1);
  }

  /** An attempt run here ended at `now` after `runMs`. */
  ran(now: number, runMs: number): void {
    this.#recorder.ran(now, runMs);
  }

  /** The window's figures at `now`, with the counters just read. */
  read(now: number, s: QueueStats, concurrencyLimit: number): QueueMetrics {
    this.tally(now, s);
    return this.#recorder.read(now, s.waiting, s.inFlight, concurrencyLimit);
  }
}

/**
 * A queue's metrics window when `metrics` is on (`windowMs`), counting from
 * the counters as they are now: read at once, on the connection every push
 * of this process goes through after it.
 * @internal
 */
export function metricsOf(
  windowMs: number | undefined,
  timers: TimerHeap,
  stats: () => Promise<QueueStats>,
  report: (error: unknown) => void,
): RedisQueueMetrics | undefined {
  if (windowMs === undefined) return undefined;
  const metrics = new RedisQueueMetrics(windowMs, timers.now());
  stats().then((s) => metrics.tally(timers.now(), s), report);
  return metrics;
}
