import { describe, expect, it, vi } from 'vitest';
import { Deduper, DuplicateError, Queue } from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';
import { balanced, deferred, track } from '../helpers.js';

describe('Queue: dedupe', () => {
  it('a key is a duplicate while its item waits or runs, and within its window', async () => {
    const clock = new TestClock();
    const handler = vi.fn();
    const queue = new Queue<{ id: string }>({
      dedupe: { key: (x) => x.id, windowMs: 1_000 },
      autoStart: false,
      handler,
      clock,
    });
    expect((await queue.push({ id: 'a' })).duplicate).toBe(false);
    expect((await queue.push({ id: 'a' })).duplicate).toBe(true);
    queue.resume();
    await queue.onIdle();
    expect((await queue.push({ id: 'a' })).duplicate).toBe(true); // window still open
    await clock.advance(1_000);
    expect((await queue.push({ id: 'a' })).duplicate).toBe(false);
    await queue.onIdle();
    expect(handler).toHaveBeenCalledTimes(2);
    expect(queue.stats).toMatchObject({ accepted: 2, duplicates: 2 });
  });

  it('stays a duplicate while the item runs even after the window closed', async () => {
    const clock = new TestClock();
    const gate = deferred();
    const queue = new Queue<string>({ dedupe: { key: (s) => s, windowMs: 10 }, handler: () => gate.promise, clock });
    await queue.push('k');
    await clock.advance(50);
    expect((await queue.push('k')).duplicate).toBe(true);
    gate.resolve();
    await queue.onIdle();
    expect((await queue.push('k')).duplicate).toBe(false);
  });

  it('uses the push id as the key when given, and a shared Deduper', async () => {
    const deduper = new Deduper({ clock: new TestClock() });
    const queue = new Queue<string>({ dedupe: deduper, autoStart: false, clock: new TestClock() });
    expect((await queue.push('x', { id: 'k1' })).duplicate).toBe(false);
    expect((await queue.push('y', { id: 'k1' })).duplicate).toBe(true);
    expect((await queue.push('z')).duplicate).toBe(false); // no id: not checked
    expect((await queue.push('z')).duplicate).toBe(false);
    expect(deduper.has('k1')).toBe(true);
  });

  it('submit of a duplicate shares the original’s outcome while it is live, else rejects DuplicateError', async () => {
    const clock = new TestClock();
    const queue = new Queue<string, string>({ dedupe: { key: (s) => s }, autoStart: false, handler: (s) => `${s}!`, clock });
    const first = queue.submit('a');
    const second = queue.submit('a');
    queue.resume();
    await expect(first).resolves.toBe('a!');
    await expect(second).resolves.toBe('a!');
    await expect(queue.submit('a')).rejects.toBeInstanceOf(DuplicateError);
  });

  it('refuses an item whose key function throws, at push', async () => {
    const boom = new Error('no key');
    const queue = new Queue<number>({
      dedupe: {
        key: () => {
          throw boom;
        },
      },
      clock: new TestClock(),
    });
    await expect(queue.push(1)).rejects.toBe(boom);
    expect(() => queue.tryPush(1)).toThrow(boom);
    expect(queue.stats.accepted).toBe(0);
  });
});

describe("Queue: dedupe mode 'replace' (debounce)", () => {
  it('the newest item of a waiting key takes its place; both submits settle with the outcome of the one that ran', async () => {
    const clock = new TestClock();
    const ran: string[] = [];
    const queue = new Queue<{ doc: string; rev: number }, string>({
      clock,
      autoStart: false,
      dedupe: { key: (d) => d.doc, mode: 'replace' },
      handler: (d) => {
        ran.push(`${d.doc}@${d.rev}`);
        return `saved ${d.doc}@${d.rev}`;
      },
    });
    const first = track(queue.submit({ doc: 'a', rev: 1 }));
    await queue.push({ doc: 'b', rev: 1 });
    const second = track(queue.submit({ doc: 'a', rev: 2 }));
    const receipt = await queue.push({ doc: 'a', rev: 3 });
    expect(receipt).toMatchObject({ duplicate: true, replaced: true, dropped: false });
    expect(queue.size).toBe(2); // a (now rev 3) and b
    expect(queue.stats).toMatchObject({ accepted: 2, duplicates: 2, replaced: 2 });
    queue.resume();
    await queue.onIdle();
    expect(ran).toEqual(['a@3', 'b@1']); // rev 3 ran in rev 1's place, ahead of b
    expect(first.value).toBe('saved a@3');
    expect(second.value).toBe('saved a@3');
    expect(balanced(queue.stats)).toBe(true);
  });

  it('while the item of a key runs, a new push is a duplicate as with drop (its submit shares the outcome)', async () => {
    const clock = new TestClock();
    const gate = deferred<string>();
    const queue = new Queue<string, string>({
      clock,
      dedupe: { key: () => 'k', mode: 'replace', windowMs: 0 },
      handler: () => gate.promise,
    });
    const first = track(queue.submit('one'));
    await clock.advance(0);
    const receipt = await queue.push('two');
    expect(receipt).toMatchObject({ duplicate: true, replaced: false });
    const shared = track(queue.submit('three'));
    gate.resolve('done');
    await queue.onIdle();
    expect([first.value, shared.value]).toEqual(['done', 'done']);
    expect(queue.stats).toMatchObject({ accepted: 1, duplicates: 2, replaced: 0, completed: 1 });
  });

  it('replaces an item waiting for its retry or behind a delay, keeping its place', async () => {
    const clock = new TestClock();
    const ran: string[] = [];
    let fail = true;
    const queue = new Queue<string>({
      clock,
      retry: { maxAttempts: 2, backoff: { initialDelayMs: 100, jitter: 'none' } },
      dedupe: { key: (s) => s[0]!, mode: 'replace' },
      handler: (s) => {
        ran.push(s);
        if (fail) {
          fail = false;
          throw new Error('once');
        }
      },
    });
    await queue.push('a1');
    await clock.advance(0); // a1 failed, waits 100 ms for its retry
    expect((await queue.push('a2')).replaced).toBe(true);
    await queue.push('b1', { delayMs: 50 });
    expect((await queue.push('b2')).replaced).toBe(true);
    await clock.advance(200);
    await queue.onIdle();
    expect(ran).toEqual(['a1', 'b2', 'a2']);
    expect(queue.stats).toMatchObject({ accepted: 2, completed: 2, replaced: 2, retried: 1 });
  });

  it('refuses an unknown mode', () => {
    expect(() => new Queue<string>({ dedupe: { key: (s) => s, mode: 'newest' as never } })).toThrow(
      new TypeError(`Queue: dedupe.mode must be one of 'drop', 'replace', got "newest"`),
    );
  });
});
