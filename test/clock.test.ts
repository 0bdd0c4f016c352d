import { afterEach, describe, expect, it, vi } from 'vitest';
import { systemClock } from '../src/index.js';
import { TestClock } from '../src/testing/index.js';

describe('systemClock', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('looks up Date and setTimeout at call time, so fake timers installed later own it', async () => {
    vi.useFakeTimers({ now: 1_000 });
    expect(systemClock.now()).toBe(1_000);
    const fired: number[] = [];
    systemClock.setTimeout(() => fired.push(systemClock.now()), 250);
    await vi.advanceTimersByTimeAsync(249);
    expect(fired).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(fired).toEqual([1_250]);
  });

  it('clearTimeout cancels a timer', async () => {
    vi.useFakeTimers();
    const cb = vi.fn();
    const handle = systemClock.setTimeout(cb, 10);
    systemClock.clearTimeout(handle);
    await vi.advanceTimersByTimeAsync(100);
    expect(cb).not.toHaveBeenCalled();
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('TestClock', () => {
  it('starts at startMs and moves only on advance', async () => {
    const clock = new TestClock(500);
    expect(clock.now()).toBe(500);
    await clock.advance(20);
    expect(clock.now()).toBe(520);
  });

  it('runs due timers in time order, and scheduling order among equals, at their due time', async () => {
    const clock = new TestClock();
    const log: string[] = [];
    clock.setTimeout(() => log.push(`b@${clock.now()}`), 20);
    clock.setTimeout(() => log.push(`a@${clock.now()}`), 10);
    clock.setTimeout(() => log.push(`c@${clock.now()}`), 20);
    clock.setTimeout(() => log.push(`late@${clock.now()}`), 31);
    expect(clock.pendingTimers).toBe(4);
    await clock.advance(30);
    expect(log).toEqual(['a@10', 'b@20', 'c@20']);
    expect(clock.now()).toBe(30);
    expect(clock.pendingTimers).toBe(1);
  });

  it('drains microtasks between timers, so awaiting code sees each timer before the next', async () => {
    const clock = new TestClock();
    const log: string[] = [];
    const wait = (ms: number) => new Promise<void>((r) => clock.setTimeout(r, ms));
    void (async () => {
      await wait(10);
      log.push(`first@${clock.now()}`);
      await wait(10); // scheduled at 10, due at 20
      log.push(`second@${clock.now()}`);
    })();
    clock.setTimeout(() => log.push(`other@${clock.now()}`), 15);
    await clock.advance(25);
    expect(log).toEqual(['first@10', 'other@15', 'second@20']);
  });

  it('clearTimeout removes a timer and ignores unknown handles', async () => {
    const clock = new TestClock();
    const cb = vi.fn();
    const h = clock.setTimeout(cb, 5);
    clock.clearTimeout(h);
    clock.clearTimeout('nope');
    expect(clock.pendingTimers).toBe(0);
    await clock.advance(10);
    expect(cb).not.toHaveBeenCalled();
  });

  it('runAll runs every timer, timers scheduled on the way included', async () => {
    const clock = new TestClock();
    const seen: number[] = [];
    clock.setTimeout(() => {
      seen.push(clock.now());
      clock.setTimeout(() => seen.push(clock.now()), 100);
    }, 50);
    await clock.runAll();
    expect(seen).toEqual([50, 150]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('runAll rejects after 10 000 timers (a timer loop)', async () => {
    const clock = new TestClock();
    const loop = () => clock.setTimeout(loop, 1);
    loop();
    await expect(clock.runAll()).rejects.toThrow(/10000 timers/);
  });

  it('treats a negative delay as 0 and rejects a bad advance', async () => {
    const clock = new TestClock();
    const cb = vi.fn();
    clock.setTimeout(cb, -5);
    await clock.advance(0);
    expect(cb).toHaveBeenCalledOnce();
    await expect(clock.advance(-1)).rejects.toThrow(RangeError);
    await expect(clock.advance('5' as never)).rejects.toThrow(TypeError);
    await expect(clock.advance(Number.NaN)).rejects.toThrow(RangeError);
    expect(() => new TestClock(Number.NaN)).toThrow(RangeError);
  });

  it('jumpTo moves now() without running timers; timers keep their remaining delay', async () => {
    const clock = new TestClock(1_000);
    const at: number[] = [];
    clock.setTimeout(() => at.push(clock.now()), 10);
    clock.jumpTo(0);
    expect(clock.now()).toBe(0);
    await clock.advance(9);
    expect(at).toEqual([]);
    await clock.advance(1);
    expect(at).toEqual([10]);
    clock.setTimeout(() => at.push(clock.now()), 10);
    clock.jumpTo(1_000_000);
    await clock.advance(0);
    expect(at).toEqual([10]);
    await clock.advance(10);
    expect(at).toEqual([10, 1_000_010]);
  });
});
