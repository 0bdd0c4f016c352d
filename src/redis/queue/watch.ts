import type { QueueStats } from '../../queue-types.js';

interface Watcher {
  readonly met: (s: QueueStats) => boolean;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * A queue's watchers (`onIdle`, `onEmpty`, `onSizeBelow`) on one loop that
 * reads the counters every `everyMs` while any waits: watchers met by the
 * same reading resolve together, in the order they were made (so
 * `onSizeBelow(3)` made before `onEmpty()` never resolves after it).
 * @internal
 */
export class StatsWatch {
  #watchers: Watcher[] = [];

  constructor(
    private readonly stats: () => Promise<QueueStats>,
    private readonly everyMs: number,
  ) {}

  /** Resolves once `met` holds of the counters; rejects when they cannot be read. */
  until(met: (s: QueueStats) => boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#watchers.push({ met, resolve, reject });
      if (this.#watchers.length === 1) void this.#loop();
    });
  }

  async #loop(): Promise<void> {
    while (this.#watchers.length > 0) {
      let s: QueueStats;
      try {
        s = await this.stats();
      } catch (error) {
        for (const w of this.#watchers.splice(0)) w.reject(error);
        return;
      }
      const waiting: Watcher[] = [];
      for (const w of this.#watchers) {
        if (w.met(s)) w.resolve();
        else waiting.push(w);
      }
      this.#watchers = waiting;
      if (waiting.length > 0) await new Promise((resolve) => setTimeout(resolve, this.everyMs));
    }
  }
}
