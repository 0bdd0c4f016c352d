import { describe, expect, it } from 'vitest';
import { type DeadLetter, Queue, RejectError, TimeoutError } from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';
import { track } from '../helpers.js';

const tick = () => new Promise<void>((r) => setTimeout(r, 0));

describe('Queue: pull mode', () => {
  it('yields deliveries to ack; iteration ends when closed and empty', async () => {
    const queue = new Queue<string>({ clock: new TestClock() });
    for (const s of ['a', 'b', 'c']) await queue.push(s);
    void queue.close();
    const got: string[] = [];
    for await (const d of queue) {
      got.push(`${d.item}@${d.attempt}`);
      expect(d.ack()).toBe(true);
      expect(d.ack()).toBe(false);
    }
    expect(got).toEqual(['a@1', 'b@1', 'c@1']);
    expect(queue.stats).toMatchObject({ completed: 3 });
  });

  it('caps unacked deliveries at concurrency', async () => {
    const queue = new Queue<number>({ concurrency: 2, clock: new TestClock() });
    for (let i = 0; i < 3; i++) await queue.push(i);
    const it = queue[Symbol.asyncIterator]();
    const d1 = (await it.next()).value!;
    const d2 = (await it.next()).value!;
    const third = track(it.next());
    await tick();
    expect(third.settled).toBe(false);
    expect(queue.inFlight).toBe(2);
    d1.ack();
    await tick();
    expect(third.value?.value?.item).toBe(2);
    d2.ack();
    third.value!.value!.ack();
    await it.return!();
  });

  it('nack retries with delayMs (using an attempt) and dead-letters past maxAttempts', async () => {
    const clock = new TestClock();
    const queue = new Queue<string>({ clock, retry: { maxAttempts: 2 } });
    await queue.push('x');
    const it = queue[Symbol.asyncIterator]();
    const first = (await it.next()).value!;
    expect(first.nack(new Error('later'), { delayMs: 300 })).toBe(true);
    const next = track(it.next());
    await clock.advance(299);
    expect(next.settled).toBe(false);
    await clock.advance(1);
    const second = next.value!.value!;
    expect(second.attempt).toBe(2);
    second.nack(new RejectError(new Error('never')));
    expect((queue.deadLetter as DeadLetter<string>).entries()[0]).toMatchObject({ reason: 'rejected', attempts: 2 });
    await it.return!();
  });

  it('redelivers a lapsed delivery at once with attempt + 1; its signal aborts and its late ack returns false', async () => {
    const clock = new TestClock();
    const queue = new Queue<string>({ clock, visibilityTimeoutMs: 1_000, retry: { maxAttempts: 3 } });
    await queue.push('job');
    const it = queue[Symbol.asyncIterator]();
    const first = (await it.next()).value!;
    const again = track(it.next());
    await clock.advance(1_000);
    expect(first.signal.aborted).toBe(true);
    expect(first.signal.reason).toBeInstanceOf(TimeoutError);
    expect(again.value?.value).toMatchObject({ item: 'job', attempt: 2 });
    expect(first.ack()).toBe(false);
    expect(again.value!.value!.ack()).toBe(true);
    expect(queue.stats).toMatchObject({ completed: 1, failed: 1 });
    await it.return!();
  });

  it('on break, unacked deliveries return to waiting without using an attempt', async () => {
    const queue = new Queue<string>({ concurrency: 5, clock: new TestClock() });
    for (const s of ['a', 'b', 'c']) await queue.push(s);
    for await (const d of queue) {
      if (d.item === 'b') break;
    }
    expect(queue.stats).toMatchObject({ waiting: 3, inFlight: 0 });
    const again: string[] = [];
    void queue.close();
    for await (const d of queue) {
      again.push(`${d.item}@${d.attempt}`);
      d.ack();
    }
    expect(again).toEqual(['a@1', 'b@1', 'c@1']);
  });

  it('a queue has a handler or is iterated, not both', () => {
    const withHandler = new Queue<number>({ handler: () => {}, clock: new TestClock() });
    expect(() => withHandler[Symbol.asyncIterator]()).toThrow(TypeError);
    const pulled = new Queue<number>({ clock: new TestClock() });
    pulled[Symbol.asyncIterator]();
    expect(() => pulled.process(() => {})).toThrow(TypeError);
  });
  it('close({ drain: false }) then break hands the unacked delivery back too, and close resolves', async () => {
    const queue = new Queue<string>({ concurrency: 2, clock: new TestClock() });
    await queue.pushAll(['a', 'b', 'c']);
    let closing: Promise<{ unprocessed: string[] }> | undefined;
    for await (const d of queue) {
      expect(d.item).toBe('a');
      closing = queue.close({ drain: false }); // hands back b and c at once; a is still lent out
      break; // a is never acked
    }
    expect(await closing).toEqual({ unprocessed: ['b', 'c', 'a'] });
    expect(queue.stats).toMatchObject({ accepted: 3, returned: 3, waiting: 0, inFlight: 0 });
  });

  it('an aborted close({ signal }) still ends the iteration once the closed queue is empty', async () => {
    const queue = new Queue<string>({ clock: new TestClock() });
    await queue.pushAll(['a', 'b']);
    const controller = new AbortController();
    const closing = track(queue.close({ signal: controller.signal }));
    controller.abort(new Error('deadline'));
    const seen: string[] = [];
    for await (const d of queue) {
      seen.push(d.item);
      d.ack();
    }
    expect(seen).toEqual(['a', 'b']); // the loop ended: closed and empty
    expect((closing.error as Error).message).toBe('deadline');
    expect(await queue.close()).toEqual({ unprocessed: [] }); // the close itself went on to its end
  });
});
