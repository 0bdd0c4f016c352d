import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Clock } from '../../src/clock.js';
import { TimerHeap } from '../../src/internal/timer-heap.js';
import { TestClock } from '../../src/testing/index.js';

const runs = Number(process.env.SLUICE_PROPERTY_RUNS ?? 200);

/** A clock that records what it is asked to arm, and fires only when told. */
function manualClock(start = 0) {
  const armed: { callback: () => void; ms: number; live: boolean }[] = [];
  let now = start;
  const clock: Clock = {
    now: () => now,
    setTimeout: (callback, ms) => {
      const timer = { callback, ms, live: true };
      armed.push(timer);
      return timer;
    },
    clearTimeout: (handle) => {
      (handle as { live: boolean }).live = false;
    },
  };
  return {
    clock,
    armed,
    set: (t: number) => {
      now = t;
    },
    live: () => armed.filter((t) => t.live),
  };
}

describe('TimerHeap', () => {
  it('fires entries in (due, insertion) order, each once', async () => {
    const clock = new TestClock();
    const heap = new TimerHeap(clock);
    const fired: string[] = [];
    heap.add(30, () => fired.push('c'));
    heap.add(10, () => fired.push('a'));
    heap.add(10, () => fired.push('b'));
    heap.add(20, () => fired.push('d'));
    await clock.advance(15);
    expect(fired).toEqual(['a', 'b']);
    await clock.advance(100);
    expect(fired).toEqual(['a', 'b', 'd', 'c']);
    expect(clock.pendingTimers).toBe(0);
  });

  it('keeps one clock timer, armed for the earliest entry, and none when empty', () => {
    const m = manualClock();
    const heap = new TimerHeap(m.clock);
    const late = heap.add(500, () => {});
    expect(m.live().map((t) => t.ms)).toEqual([500]);
    const early = heap.add(100, () => {});
    expect(m.live().map((t) => t.ms)).toEqual([100]);
    heap.add(300, () => {});
    expect(m.live()).toHaveLength(1); // a later entry does not re-arm
    heap.cancel(early);
    expect(m.live().map((t) => t.ms)).toEqual([300]);
    heap.cancel(late);
    heap.clear();
    expect(m.live()).toHaveLength(0);
  });

  it('ignores a second cancel and a cancel after firing', async () => {
    const clock = new TestClock();
    const heap = new TimerHeap(clock);
    let fired = 0;
    const entry = heap.add(10, () => fired++);
    await clock.advance(10);
    expect(fired).toBe(1);
    expect(entry.index).toBe(-1);
    heap.cancel(entry);
    const other = heap.add(20, () => fired++);
    heap.cancel(other);
    heap.cancel(other);
    await clock.advance(100);
    expect(fired).toBe(1);
  });

  it('fires entries added while firing that are already due, in the same turn', async () => {
    const clock = new TestClock();
    const heap = new TimerHeap(clock);
    const fired: number[] = [];
    heap.add(10, () => {
      fired.push(1);
      heap.add(5, () => fired.push(2)); // already past due
      heap.add(50, () => fired.push(3));
    });
    await clock.advance(10);
    expect(fired).toEqual([1, 2]);
    await clock.advance(40);
    expect(fired).toEqual([1, 2, 3]);
  });

  it('counts a clock that goes back as no time passing, and keeps the time already passed', () => {
    const m = manualClock(1_000);
    const heap = new TimerHeap(m.clock);
    expect(heap.now()).toBe(1_000);
    m.set(1_040);
    expect(heap.now()).toBe(1_040);
    m.set(-59_000); // the wall clock is set back a minute
    expect(heap.now()).toBe(1_040);
    m.set(-58_990);
    expect(heap.now()).toBe(1_050); // 10 ms later, on the heap's own time
  });

  it("treats a timer's firing as its time having come, whatever the clock reads", () => {
    const m = manualClock(0);
    const heap = new TimerHeap(m.clock);
    const fired: number[] = [];
    heap.add(100, () => fired.push(heap.now()));
    m.set(99.5); // a coarse clock reads a little early when the timer fires
    m.armed[0]!.callback();
    expect(fired).toEqual([100]);
    expect(heap.now()).toBe(100);
  });

  it('reads the system clock once per synchronous run in turnNow, and again after a microtask', async () => {
    const heap = new TimerHeap(
      // Only the system clock is cached: a TestClock is read each time.
      (await import('../../src/clock.js')).systemClock,
    );
    const first = heap.turnNow();
    const spin = Date.now() + 3;
    while (Date.now() < spin) {
      // let the wall clock move
    }
    expect(heap.turnNow()).toBe(first);
    await Promise.resolve();
    await Promise.resolve();
    expect(heap.turnNow()).toBeGreaterThan(first);
  });

  it('matches a sorted model under random adds, cancels and advances', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.record({ kind: fc.constant('add' as const), delay: fc.integer({ min: 0, max: 100 }) }),
            fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() }),
            fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 60 }) }),
          ),
          { maxLength: 60 },
        ),
        async (commands) => {
          const clock = new TestClock();
          const heap = new TimerHeap(clock);
          const fired: number[] = [];
          const model: { id: number; due: number; entry: ReturnType<TimerHeap['add']> }[] = [];
          const expected: number[] = [];
          let next = 0;
          for (const c of commands) {
            if (c.kind === 'add') {
              const id = next++;
              const due = clock.now() + c.delay;
              model.push({ id, due, entry: heap.add(due, () => fired.push(id)) });
            } else if (c.kind === 'cancel' && model.length > 0) {
              const [victim] = model.splice(c.pick % model.length, 1);
              heap.cancel(victim!.entry);
            } else if (c.kind === 'advance') {
              const until = clock.now() + c.ms;
              const due = model.filter((x) => x.due <= until).sort((a, b) => a.due - b.due || a.id - b.id);
              for (const x of due) {
                expected.push(x.id);
                model.splice(model.indexOf(x), 1);
              }
              await clock.advance(c.ms);
            }
          }
          expect(fired).toEqual(expected);
          expect(clock.pendingTimers).toBe(model.length > 0 ? 1 : 0);
        },
      ),
      { numRuns: runs },
    );
  });
});
