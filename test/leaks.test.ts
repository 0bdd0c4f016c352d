import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DeadLetter, Queue, TokenBucket, retry } from '../src/index.js';
import { TestClock } from '../src/testing/index.js';

/** Counts a signal's listeners: added, minus removed, minus once-listeners that fired. */
function countingSignal() {
  const controller = new AbortController();
  const signal = controller.signal;
  let live = 0;
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  const known = new Set<unknown>();
  signal.addEventListener = ((type: string, listener: EventListener, options?: AddEventListenerOptions) => {
    if (!known.has(listener)) {
      known.add(listener);
      live++;
    }
    add(type, listener, options);
  }) as typeof signal.addEventListener;
  signal.removeEventListener = ((type: string, listener: EventListener) => {
    if (known.delete(listener)) live--;
    remove(type, listener);
  }) as typeof signal.removeEventListener;
  return { signal, live: () => live };
}

describe('no leaks', () => {
  it('a long-lived AbortSignal passed to 100 000 operations holds no listener after them', async () => {
    const clock = new TestClock();
    const { signal, live } = countingSignal();
    const bucket = new TokenBucket({ ratePerSecond: 1_000_000, burst: 1, initialTokens: 0, clock });
    const queue = new Queue<number>({ capacity: 1, handler: () => {}, clock });
    const deadLetter = new DeadLetter<number>({ clock });
    for (let i = 0; i < 25_000; i++) {
      const granted = bucket.acquire(1, { signal }); // waits: listens, then lets go
      await clock.advance(0.001);
      await granted;
      await queue.push(i, { signal }); // may wait for room
      await retry(() => i, { signal, clock });
      deadLetter.add({ item: i, reason: 'rejected' });
    }
    await deadLetter.redrive(() => {}, { signal });
    await queue.onIdle();
    expect(queue.stats.completed).toBe(25_000);
    expect(live()).toBe(0);
  }, 60_000);

  it('aborting one signal shared by 10 000 waiters removes no listener from inside its own dispatch (no quadratic search)', async () => {
    const clock = new TestClock();
    const controller = new AbortController();
    const signal = controller.signal;
    const remove = signal.removeEventListener.bind(signal);
    let removals = 0;
    signal.removeEventListener = ((type: string, listener: EventListener) => {
      removals++;
      remove(type, listener);
    }) as typeof signal.removeEventListener;
    const bucket = new TokenBucket({ ratePerSecond: 1, burst: 1, initialTokens: 0, clock });
    const waits = Array.from({ length: 5_000 }, () =>
      bucket.acquire(1, { signal }).then(
        () => 'granted',
        () => 'aborted',
      ),
    );
    const retries = Array.from({ length: 5_000 }, () =>
      retry(() => Promise.reject(new Error('x')), { signal, clock, maxAttempts: 2, backoff: { initialDelayMs: 1_000 } }).then(
        () => 'done',
        () => 'aborted',
      ),
    );
    await clock.advance(0); // every retry's first attempt failed (its listener let go) and it waits to try again
    removals = 0;
    controller.abort(new Error('shutdown'));
    const outcomes = await Promise.all([...waits, ...retries]);
    expect(outcomes.every((o) => o === 'aborted')).toBe(true);
    expect(removals).toBe(0); // every listener was a `once` listener that fired: nothing left to search for
    expect(clock.pendingTimers).toBe(0);
  });

  it('Node exits by itself after a pipeline is abandoned and every part is closed or idle', () => {
    const script = fileURLToPath(new URL('./fixtures/exits-by-itself.ts', import.meta.url));
    const result = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', timeout: 15_000 });
    // A leaked 60 s timer would keep it alive past the timeout (status null).
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout.trim()).toBe('done');
  }, 30_000);
});
