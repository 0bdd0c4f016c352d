import { describe, expect, it, vi } from 'vitest';
import { Queue } from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';
import { deferred, track } from '../helpers.js';

const tick = () => new Promise<void>((r) => setTimeout(r, 0));

describe('Queue: pause, resume and watchers', () => {
  it('autoStart false waits for resume; pause stops new starts', async () => {
    const seen: number[] = [];
    const queue = new Queue<number>({ autoStart: false, handler: (n) => void seen.push(n), clock: new TestClock() });
    expect(queue.isPaused).toBe(true);
    queue.tryPush(1);
    await tick();
    expect(seen).toEqual([]);
    queue.resume();
    await tick();
    expect(seen).toEqual([1]);
    queue.pause();
    queue.tryPush(2);
    await tick();
    expect(seen).toEqual([1]);
    queue.resume();
    await tick();
    expect(seen).toEqual([1, 2]);
  });

  it('onIdle, onEmpty and onSizeBelow resolve at once when already true, later when it becomes so', async () => {
    const gate = deferred();
    const queue = new Queue<number>({ concurrency: 1, handler: () => gate.promise, clock: new TestClock() });
    await queue.onIdle();
    await queue.onEmpty();
    queue.tryPush(1);
    queue.tryPush(2);
    queue.tryPush(3);
    const below2 = track(queue.onSizeBelow(2));
    const empty = track(queue.onEmpty());
    const idle = track(queue.onIdle());
    await tick();
    expect([below2.settled, empty.settled, idle.settled]).toEqual([false, false, false]);
    gate.resolve();
    await queue.onIdle();
    expect([below2.settled, empty.settled, idle.settled]).toEqual([true, true, true]);
    await expect(queue.onSizeBelow(-1)).rejects.toThrow(RangeError);
  });

  it('each watcher resolves once a start or completion meets it, whatever the others wait for', async () => {
    const gates = Array.from({ length: 6 }, () => deferred());
    const queue = new Queue<number>({ concurrency: 1, handler: (n) => gates[n]!.promise, clock: new TestClock() });
    for (let n = 0; n < 6; n++) queue.tryPush(n); // 0 runs, 5 wait
    const below = [1, 2, 3, 4, 5].map((limit) => track(queue.onSizeBelow(limit)));
    const empty = track(queue.onEmpty());
    const idle = track(queue.onIdle());
    // A watcher that leaves early (close's, aborted) must not hide the others.
    const abort = new AbortController();
    const closing = track(queue.close({ signal: abort.signal }));
    abort.abort(new Error('stop waiting'));
    await tick();
    expect(closing.error).toEqual(new Error('stop waiting'));
    const settled = () => [...below.map((w) => w.settled), empty.settled, idle.settled];
    expect(settled()).toEqual([false, false, false, false, false, false, false]);
    for (let n = 0; n < 5; n++) {
      gates[n]!.resolve();
      await tick();
      // n + 1 done, one running, 4 - n waiting: onSizeBelow(limit) is met once 4 - n < limit.
      expect(queue.size).toBe(4 - n);
      expect(settled()).toEqual([...[1, 2, 3, 4, 5].map((limit) => 4 - n < limit), n === 4, false]);
    }
    gates[5]!.resolve();
    await tick();
    expect(idle.settled).toBe(true);
  });

  it('emits idle when the last item finishes', async () => {
    const queue = new Queue<number>({ handler: async () => {}, clock: new TestClock() });
    const idle = vi.fn();
    queue.on('idle', idle);
    queue.tryPush(1);
    queue.tryPush(2);
    await queue.onIdle();
    await tick();
    expect(idle).toHaveBeenCalledOnce();
  });
});
