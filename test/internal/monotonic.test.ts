import { describe, expect, it } from 'vitest';
import { MonotonicTime } from '../../src/internal/monotonic.js';
import { TestClock } from '../../src/testing/index.js';

describe('MonotonicTime', () => {
  it('follows the clock while it goes forward', async () => {
    const clock = new TestClock(500);
    const time = new MonotonicTime(clock);
    expect(time.now()).toBe(500);
    await clock.advance(250);
    expect(time.now()).toBe(750);
    expect(time.last).toBe(750);
  });

  it('counts a step back as no time passing, and the time after it from where it was', () => {
    const clock = new TestClock(10_000);
    const time = new MonotonicTime(clock);
    expect(time.now()).toBe(10_000);
    clock.jumpTo(4_000);
    expect(time.now()).toBe(10_000);
    clock.jumpTo(4_030);
    expect(time.now()).toBe(10_030);
    clock.jumpTo(0); // a second step back
    expect(time.now()).toBe(10_030);
    clock.jumpTo(5);
    expect(time.now()).toBe(10_035);
  });

  it('moves up to a fired timer’s time when the clock reads earlier, and never back down', () => {
    const clock = new TestClock(0);
    const time = new MonotonicTime(clock);
    expect(time.reach(100)).toBe(100);
    expect(time.now()).toBe(100);
    clock.jumpTo(150);
    expect(time.reach(120)).toBe(250); // already past it: the reading stands (0 + 150 + the 100 reached)
  });
});
