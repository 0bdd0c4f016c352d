import { noop, whenAborted } from '../internal/abort.js';

interface Watcher {
  /** Met only while fewer than this many items wait (every watcher needs `waiting < below`). */
  readonly below: number;
  readonly test: () => boolean;
  readonly resolve: () => void;
  detach: () => void;
}

/**
 * Promises that resolve when a condition on the queue's books holds
 * (`onIdle`, `onEmpty`, `onSizeBelow`, close's end). Every condition needs
 * fewer than some number of items waiting, so `below` — one more than the
 * most items any watcher can be met with, 0 when none watches — lets the
 * queue skip {@link Watchers.check} with one comparison.
 */
export class Watchers {
  #list: Watcher[] = [];
  below = 0;

  /**
   * Resolves once `test()` holds (checked now, then at each {@link Watchers.check}).
   * @param below - `test()` can only hold while fewer than this many items wait.
   * @param signal - aborting rejects with `signal.reason` and forgets the watcher.
   */
  watch(below: number, test: () => boolean, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (test()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const watcher: Watcher = { below, test, resolve, detach: noop };
      watcher.detach = whenAborted(signal, () => {
        this.#set(this.#list.filter((w) => w !== watcher));
        reject(signal!.reason);
      });
      this.#list.push(watcher);
      if (below > this.below) this.below = below;
    });
  }

  /** Resolves the watchers whose condition holds now. Allocates only once one is met. */
  check(): void {
    if (!this.#anyMet()) return;
    const still: Watcher[] = [];
    const met: Watcher[] = [];
    for (const watcher of this.#list) (watcher.test() ? met : still).push(watcher);
    this.#set(still);
    for (const watcher of met) {
      watcher.detach();
      watcher.resolve();
    }
  }

  #anyMet(): boolean {
    const list = this.#list;
    for (let i = 0; i < list.length; i++) if (list[i]!.test()) return true;
    return false;
  }

  #set(list: Watcher[]): void {
    this.#list = list;
    let below = 0;
    for (const watcher of list) if (watcher.below > below) below = watcher.below;
    this.below = below;
  }
}
