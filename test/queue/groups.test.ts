import { describe, expect, it } from 'vitest';
import { Queue } from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';

const tick = () => new Promise<void>((r) => setTimeout(r, 0));

describe('Queue: message groups', () => {
  it('keeps FIFO per group with one in flight per group, while other groups proceed', async () => {
    const clock = new TestClock();
    const log: string[] = [];
    const gates = new Map<string, () => void>();
    const queue = new Queue<{ g: string; n: number }>({
      concurrency: 10,
      groupBy: (x) => x.g,
      clock,
      handler: (x) => {
        log.push(`start ${x.g}${x.n}`);
        return new Promise<void>((r) =>
          gates.set(`${x.g}${x.n}`, () => {
            log.push(`end ${x.g}${x.n}`);
            r();
          }),
        );
      },
    });
    for (const [g, n] of [
      ['a', 1],
      ['a', 2],
      ['b', 1],
      ['a', 3],
      ['b', 2],
    ] as const)
      queue.tryPush({ g, n });
    expect(log).toEqual(['start a1', 'start b1']);
    expect(queue.inFlight).toBe(2);
    gates.get('b1')!();
    await tick();
    expect(log.at(-1)).toBe('start b2');
    gates.get('a1')!();
    await tick();
    gates.get('a2')!();
    await tick();
    gates.get('a3')!();
    gates.get('b2')!();
    await queue.onIdle();
    const a = log.filter((l) => / a\d$/.test(l));
    expect(a).toEqual(['start a1', 'end a1', 'start a2', 'end a2', 'start a3', 'end a3']);
  });

  it('a failing item holds its group until it completes or dies (order kept across retries)', async () => {
    const clock = new TestClock();
    const log: string[] = [];
    const queue = new Queue<string>({
      concurrency: 4,
      groupBy: (s) => s[0]!,
      retry: { maxAttempts: 3, backoff: { initialDelayMs: 100, jitter: 'none' } },
      clock,
      handler: (s, { attempt }) => {
        log.push(`${s}#${attempt}`);
        if (s === 'a1' && attempt < 3) throw new Error('flaky');
      },
    });
    for (const s of ['a1', 'a2', 'b1']) queue.tryPush(s);
    await clock.runAll();
    expect(log).toEqual(['a1#1', 'b1#1', 'a1#2', 'a1#3', 'a2#1']);
  });

  it('groupConcurrency allows several in flight per group', async () => {
    let running = 0;
    let most = 0;
    const queue = new Queue<number>({
      concurrency: 10,
      groupBy: () => 'one',
      groupConcurrency: 2,
      clock: new TestClock(),
      handler: async () => {
        running++;
        most = Math.max(most, running);
        await tick();
        running--;
      },
    });
    for (let i = 0; i < 6; i++) queue.tryPush(i);
    await queue.onIdle();
    expect(most).toBe(2);
  });

  it('treats __proto__ and constructor as ordinary group keys', async () => {
    const seen: string[] = [];
    const queue = new Queue<string>({ groupBy: (s) => s, handler: (s) => void seen.push(s), clock: new TestClock() });
    for (const s of ['__proto__', 'constructor', '__proto__']) await queue.push(s);
    await queue.onIdle();
    expect(seen).toEqual(['__proto__', 'constructor', '__proto__']);
  });

  it('a push group (SQS per-message MessageGroupId) groups items in a queue without groupBy, and overrides groupBy', async () => {
    const clock = new TestClock();
    const gates = new Map<string, () => void>();
    const started: string[] = [];
    const handler = (s: string) => {
      started.push(s);
      return new Promise<void>((resolve) => gates.set(s, resolve));
    };
    const queue = new Queue<string>({ concurrency: 10, handler, clock });
    await queue.push('a1', { group: 'a' });
    await queue.push('a2', { group: 'a' });
    await queue.push('free'); // no group: runs beside them, a plain item
    await queue.push('b1', { group: 7 });
    await clock.advance(0);
    expect(started).toEqual(['a1', 'free', 'b1']);
    gates.get('a1')!();
    await clock.advance(0);
    expect(started).toEqual(['a1', 'free', 'b1', 'a2']);
    for (const resolve of gates.values()) resolve();
    await queue.onIdle();

    const grouped = new Queue<string>({ concurrency: 10, groupBy: () => 'all', handler, clock });
    started.length = 0;
    await grouped.push('x');
    await grouped.push('y', { group: 'own' }); // not behind 'x'
    await grouped.push('z'); // behind 'x'
    await clock.advance(0);
    expect(started).toEqual(['x', 'y']);
    for (const resolve of gates.values()) resolve();
    await clock.advance(0);
    for (const resolve of gates.values()) resolve();
    await grouped.onIdle();
    expect(started).toEqual(['x', 'y', 'z']);
    expect(() => grouped.tryPush('bad', { group: {} as never })).toThrow(
      new TypeError('Queue: group must be a string or a number, got an object'),
    );
  });
});
