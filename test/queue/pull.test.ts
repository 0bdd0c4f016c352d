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
});
