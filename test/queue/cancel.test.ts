import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { Queue } from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';
import { balanced, deferred, track } from '../helpers.js';

const tick = () => new Promise<void>((r) => setTimeout(r, 0));

describe('Queue: cancel', () => {
  it('an item that waits — ready, delayed, waiting to retry — leaves at once; its submit rejects with the reason', async () => {
    const clock = new TestClock();
    let failed = false;
    const queue = new Queue<string>({
      clock,
      retry: { maxAttempts: 2, backoff: { initialDelayMs: 1_000, jitter: 'none' } },
      handler: (s) => {
        if (s === 'flaky' && !failed) {
          failed = true;
          throw new Error('once');
        }
      },
    });
    const events: [string, unknown, number][] = [];
    queue.on('cancelled', (item, reason, info) => events.push([item, reason, info.attempt]));
    const flaky = track(queue.submit('flaky', { id: 'f' }));
    await clock.advance(0); // failed once, waits for its retry
    queue.pause();
    const ready = track(queue.submit('ready', { id: 'r' }));
    const delayed = track(queue.submit('delayed', { id: 'd', delayMs: 5_000 }));
    await clock.advance(0);
    const why = new Error('no longer needed');
    expect(queue.cancel('r', why)).toBe(true);
    expect(queue.cancel('d', why)).toBe(true);
    expect(queue.cancel('f', why)).toBe(true);
    expect(queue.size).toBe(0);
    expect(queue.stats).toMatchObject({ accepted: 3, cancelled: 3, completed: 0 });
    expect(balanced(queue.stats)).toBe(true);
    await clock.advance(0);
    for (const t of [ready, delayed, flaky]) expect(t.error).toBe(why);
    expect(events).toEqual([
      ['ready', why, 0],
      ['delayed', why, 0],
      ['flaky', why, 1],
    ]);
    expect(clock.pendingTimers).toBe(0); // the delay and the retry backoff went with them
    expect(queue.cancel('r')).toBe(false); // gone
    expect(queue.cancel('nope')).toBe(false);
  });

  it('an item that runs has its signal aborted, is not retried, and is counted when its attempt settles, whatever the outcome', async () => {
    const clock = new TestClock();
    const gates = new Map<string, ReturnType<typeof deferred<void>>>();
    const signals = new Map<string, AbortSignal>();
    const queue = new Queue<string>({
      clock,
      concurrency: 2,
      retry: { maxAttempts: 5, backoff: { initialDelayMs: 0, maxDelayMs: 0 } },
      handler: (s, { signal }) => {
        const gate = deferred();
        gates.set(s, gate);
        signals.set(s, signal);
        return gate.promise;
      },
    });
    const fails = track(queue.submit('fails', { id: 'a' }));
    const succeeds = track(queue.submit('succeeds', { id: 'b' }));
    await clock.advance(0);
    expect(queue.inFlight).toBe(2);
    const why = new Error('stop');
    expect(queue.cancel('a', why)).toBe(true);
    expect(queue.cancel('b', why)).toBe(true);
    expect(queue.cancel('a', why)).toBe(false); // already cancelled
    expect(signals.get('fails')!.reason).toBe(why);
    expect(signals.get('succeeds')!.aborted).toBe(true);
    expect(queue.stats).toMatchObject({ inFlight: 2, cancelled: 0 }); // counted when they settle
    gates.get('fails')!.reject(new Error('aborted'));
    gates.get('succeeds')!.resolve(); // ignored its signal: still cancelled
    await clock.advance(0);
    expect(queue.stats).toMatchObject({ inFlight: 0, cancelled: 2, completed: 0, failed: 0, retried: 0 });
    expect(fails.error).toBe(why);
    expect(succeeds.error).toBe(why);
    expect(balanced(queue.stats)).toBe(true);
  });

  it('an item pushed with nothing (no record) is found by its receipt id, waiting or running on the fast lane', async () => {
    const clock = new TestClock();
    const gate = deferred();
    let seen: AbortSignal | undefined;
    const queue = new Queue<number>({
      clock,
      handler: (n, { signal }) => {
        if (n !== 1) return;
        seen = signal;
        return gate.promise;
      },
    });
    const running = queue.tryPush(1)!;
    const waiting = queue.tryPush(2)!;
    const ranAfter = queue.tryPush(3)!;
    await clock.advance(0);
    expect(queue.cancel(waiting.id)).toBe(true);
    expect(queue.size).toBe(1);
    expect(queue.cancel(running.id, 'halt')).toBe(true);
    expect(seen!.aborted).toBe(true);
    expect(seen!.reason).toBe('halt');
    gate.resolve();
    await queue.onIdle();
    expect(queue.stats).toMatchObject({ accepted: 3, cancelled: 2, completed: 1 });
    expect(queue.cancel(ranAfter.id)).toBe(false);
    expect(balanced(queue.stats)).toBe(true);
  });

  it('a record pushed without an id (a priority, a delay) is found by its receipt id, waiting or running', async () => {
    const clock = new TestClock();
    const gate = deferred();
    let seen: AbortSignal | undefined;
    const queue = new Queue<string>({
      clock,
      handler: (s, { signal }) => {
        if (s !== 'runs') return;
        seen = signal;
        return gate.promise;
      },
    });
    const runs = await queue.push('runs', { priority: 2 });
    const waits = await queue.push('waits', { priority: 1 });
    const delayed = await queue.push('delayed', { delayMs: 100 });
    await clock.advance(0);
    expect(queue.cancel(waits.id)).toBe(true);
    expect(queue.cancel(delayed.id)).toBe(true);
    expect(queue.cancel(runs.id, 'stop')).toBe(true);
    expect(seen!.reason).toBe('stop');
    gate.resolve();
    await queue.onIdle();
    expect(queue.stats).toMatchObject({ accepted: 3, cancelled: 3, completed: 0 });
    expect(clock.pendingTimers).toBe(0);
  });

  it('the default reason is an AbortError, as AbortController.abort() gives', async () => {
    const queue = new Queue<number>({ autoStart: false, clock: new TestClock() });
    const result = track(queue.submit(1, { id: 'x' }));
    queue.cancel('x');
    await tick();
    expect(result.error).toBeInstanceOf(DOMException);
    expect((result.error as DOMException).name).toBe('AbortError');
    expect((result.error as DOMException).message).toBe('Queue: item x was cancelled');
  });

  it('a push signal cancels its item while it waits or runs, and is let go once the item ends', async () => {
    const clock = new TestClock();
    const gate = deferred();
    let seen: AbortSignal | undefined;
    const queue = new Queue<string>({
      clock,
      handler: (s, { signal }) => {
        if (s !== 'runs') return;
        seen = signal;
        return gate.promise;
      },
    });
    const runs = new AbortController();
    const waits = new AbortController();
    const ends = new AbortController();
    const a = track(queue.submit('runs', { signal: runs.signal }));
    const b = track(queue.submit('waits', { signal: waits.signal }));
    const c = track(queue.submit('ends', { signal: ends.signal }));
    await clock.advance(0);
    waits.abort(new Error('w'));
    runs.abort(new Error('r'));
    expect(seen!.reason).toEqual(new Error('r'));
    gate.resolve();
    await queue.onIdle();
    expect(a.error).toEqual(new Error('r'));
    expect(b.error).toEqual(new Error('w'));
    expect(c.settled && c.error === undefined).toBe(true);
    ends.abort(); // after the item ended: nothing
    expect(queue.stats).toMatchObject({ accepted: 3, cancelled: 2, completed: 1 });
    for (const signal of [runs.signal, waits.signal, ends.signal]) expect(getEventListeners(signal, 'abort')).toHaveLength(0);
  });

  it('a cancelled item lets go of its dedupe key and its group slot', async () => {
    const clock = new TestClock();
    const gate = deferred();
    const ran: string[] = [];
    const queue = new Queue<string>({
      clock,
      concurrency: 4,
      groupBy: () => 'one group',
      dedupe: { key: (s) => s, windowMs: 0 },
      handler: (s) => {
        ran.push(s);
        return s === 'first' ? gate.promise : undefined;
      },
    });
    const first = await queue.push('first');
    await queue.push('second'); // behind 'first' in its group
    await clock.advance(0);
    expect(ran).toEqual(['first']);
    expect(queue.cancel(first.id)).toBe(true);
    gate.resolve();
    await queue.onIdle();
    expect(ran).toEqual(['first', 'second']); // the group slot came free when 'first' settled
    expect((await queue.push('first')).duplicate).toBe(false); // its key is free again
    await queue.onIdle();
    expect(queue.stats).toMatchObject({ cancelled: 1, completed: 2 });
  });

  it('pull mode: cancelling an unacked delivery aborts its signal; its ack settles it as cancelled and returns false', async () => {
    const queue = new Queue<string>({ clock: new TestClock() });
    const receipt = await queue.push('x');
    const iterator = queue[Symbol.asyncIterator]();
    const { value: delivery } = await iterator.next();
    expect(queue.cancel(receipt.id, 'nope')).toBe(true);
    expect(delivery!.signal.reason).toBe('nope');
    expect(delivery!.ack()).toBe(false);
    expect(queue.stats).toMatchObject({ completed: 0, cancelled: 1, inFlight: 0 });
    await iterator.return!();
  });

  it('refuses an id that is not a string', () => {
    const queue = new Queue<number>({ clock: new TestClock() });
    expect(() => queue.cancel(5 as never)).toThrow(new TypeError('Queue: id must be a string, got 5'));
  });
});
