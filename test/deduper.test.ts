import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Deduper } from '../src/index.js';
import { TestClock } from '../src/testing/index.js';

describe('Deduper', () => {
  it('defaults to SQS FIFO’s 5-minute window and 100 000 keys', () => {
    const d = new Deduper({ clock: new TestClock() });
    expect(d.windowMs).toBe(300_000);
    expect(d.maxKeys).toBe(100_000);
  });

  it('check is true on first sight and false for a duplicate within the window', async () => {
    const clock = new TestClock();
    const d = new Deduper({ windowMs: 1_000, clock });
    expect(d.check('a')).toBe(true);
    expect(d.check('a')).toBe(false);
    expect(d.has('a')).toBe(true);
    await clock.advance(999);
    expect(d.check('a')).toBe(false);
    await clock.advance(1);
    expect(d.has('a')).toBe(false);
    expect(d.check('a')).toBe(true);
  });

  it('keeps the window fixed from first sight: a duplicate does not extend it', async () => {
    const clock = new TestClock();
    const d = new Deduper({ windowMs: 100, clock });
    d.check('k');
    await clock.advance(90);
    expect(d.check('k')).toBe(false);
    await clock.advance(10);
    expect(d.check('k')).toBe(true);
  });

  it('compares keys as Map keys: 1 and "1" differ', () => {
    const d = new Deduper({ clock: new TestClock() });
    expect(d.check(1)).toBe(true);
    expect(d.check('1')).toBe(true);
    expect(d.check(1)).toBe(false);
  });

  it('treats __proto__ and constructor like any other key', () => {
    const d = new Deduper({ clock: new TestClock() });
    expect(d.check('__proto__')).toBe(true);
    expect(d.check('constructor')).toBe(true);
    expect(d.check('__proto__')).toBe(false);
    expect(d.size).toBe(2);
  });

  it('forgets the least recently seen key past maxKeys; a duplicate counts as a sighting', () => {
    const d = new Deduper({ maxKeys: 2, clock: new TestClock() });
    d.check('a');
    d.check('b');
    d.check('a'); // duplicate: a is now the most recently seen
    d.check('c'); // evicts b
    expect(d.has('a')).toBe(true);
    expect(d.has('b')).toBe(false);
    expect(d.has('c')).toBe(true);
    expect(d.size).toBe(2);
  });

  it('size counts live keys only; delete and clear forget', async () => {
    const clock = new TestClock();
    const d = new Deduper({ windowMs: 100, clock });
    d.check('a');
    await clock.advance(50);
    d.check('b');
    expect(d.size).toBe(2);
    await clock.advance(50);
    expect(d.size).toBe(1);
    expect(d.delete('b')).toBe(true);
    expect(d.delete('b')).toBe(false);
    expect(d.check('b')).toBe(true);
    d.clear();
    expect(d.size).toBe(0);
    expect(d.check('b')).toBe(true);
  });

  it('treats time going backwards as no time passing, and counts the time that passes after it', async () => {
    const clock = new TestClock(10_000);
    const d = new Deduper({ windowMs: 100, clock });
    d.check('a');
    await clock.advance(40);
    expect(d.check('a')).toBe(false);
    clock.jumpTo(0); // the wall clock is set back ten seconds
    expect(d.check('a')).toBe(false);
    await clock.advance(59);
    expect(d.check('a')).toBe(false); // 99 ms have passed
    await clock.advance(1);
    expect(d.check('a')).toBe(true); // the window's 100 ms, not 10 s more
  });

  it('refuses keys that are not strings or numbers', () => {
    const d = new Deduper({ clock: new TestClock() });
    expect(() => d.check({} as never)).toThrow(new TypeError('Deduper: key must be a string or a number, got an object'));
    expect(() => d.has(undefined as never)).toThrow(TypeError);
  });

  it('matches a simple model over random sightings and time (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 50 }),
        fc.array(fc.oneof(fc.integer({ min: 0, max: 8 }), fc.constant(-1)), { maxLength: 200 }),
        async (windowMs, ops) => {
          const clock = new TestClock();
          const d = new Deduper({ windowMs, maxKeys: 1_000, clock });
          const firstSight = new Map<number, number>();
          for (const o of ops) {
            if (o === -1) {
              await clock.advance(7);
              continue;
            }
            const seen = firstSight.get(o);
            const fresh = seen === undefined || clock.now() >= seen + windowMs;
            expect(d.check(o)).toBe(fresh);
            if (fresh) firstSight.set(o, clock.now());
            const live = [...firstSight.values()].filter((t) => clock.now() < t + windowMs).length;
            expect(d.size).toBe(live);
          }
        },
      ),
      { numRuns: Number(process.env.SLUICE_PROPERTY_RUNS ?? 200) },
    );
  });

  it('keeps memory bounded under a stream of unique keys', () => {
    const clock = new TestClock();
    const d = new Deduper({ windowMs: 1_000_000, maxKeys: 100, clock });
    for (let i = 0; i < 100_000; i++) d.check(i);
    expect(d.size).toBe(100);
    expect(d.has(99_999)).toBe(true);
    expect(d.has(99_899)).toBe(false);
  });

  describe('with vi.useFakeTimers() and no clock injected', () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    it('reads the faked Date', () => {
      vi.useFakeTimers();
      const d = new Deduper({ windowMs: 1_000 });
      d.check('x');
      vi.advanceTimersByTime(1_000);
      expect(d.check('x')).toBe(true);
    });
  });
});
