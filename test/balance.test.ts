import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type BalanceContext, Queue, RejectError, TaskQueue, balance, mapConcurrent, pipe } from '../src/index.js';
import { TestClock } from '../src/testing/index.js';

const named = (...names: string[]) => names.map((name) => ({ name, handler: () => name }));

describe('balance()', () => {
  it("'weighted' is nginx's smooth weighted round robin: 5, 1, 1 gives a a b a c a a", async () => {
    const lb = balance([
      { name: 'a', weight: 5, handler: () => 'a' },
      { name: 'b', weight: 1, handler: () => 'b' },
      { name: 'c', weight: 1, handler: () => 'c' },
    ]);
    const picks: string[] = [];
    for (let i = 0; i < 14; i++) picks.push(await lb(i));
    expect(picks.join(' ')).toBe('a a b a c a a a a b a c a a');
  });

  it("'weighted': over any run of sum(weights) picks, each target is picked exactly its weight times (fast-check)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 6 }), async (weights) => {
        const lb = balance(weights.map((weight, i) => ({ weight, handler: () => i })));
        const sum = weights.reduce((a, b) => a + b, 0);
        const picks: number[] = [];
        for (let k = 0; k < 3 * sum; k++) picks.push(await lb(k));
        for (let start = 0; start + sum <= picks.length; start++) {
          const counts = weights.map(() => 0);
          for (const i of picks.slice(start, start + sum)) counts[i]!++;
          expect(counts).toEqual(weights);
        }
        expect(lb.stats.map((s) => s.picks)).toEqual(weights.map((w) => 3 * w));
      }),
      { numRuns: Number(process.env.SLUICE_PROPERTY_RUNS ?? 200) },
    );
  });

  it("'round-robin' takes the targets in turn, whatever their weights", async () => {
    const lb = balance<number, string>([{ weight: 9, handler: () => '0' }, ...named('1', '2')], { strategy: 'round-robin' });
    const picks = [];
    for (let i = 0; i < 6; i++) picks.push(await lb(i));
    expect(picks).toEqual(['0', '1', '2', '0', '1', '2']);
  });

  it("'least-in-flight' sends the call to the less loaded of two, per unit of weight", async () => {
    const hold: (() => void)[] = [];
    const slow = (name: string) => () => new Promise<string>((resolve) => hold.push(() => resolve(name)));
    const lb = balance(
      [
        { name: 'a', handler: slow('a') },
        { name: 'b', handler: slow('b') },
      ],
      { strategy: 'least-in-flight', random: () => 0.3 },
    );
    const calls = [lb(1), lb(2), lb(3), lb(4)];
    expect(lb.stats.map((s) => s.inFlight)).toEqual([2, 2]); // never more than one apart
    for (const release of hold) release();
    expect((await Promise.all(calls)).sort()).toEqual(['a', 'a', 'b', 'b']);
    const weighted = balance(
      [
        { name: 'big', weight: 3, handler: slow('big') },
        { name: 'small', weight: 1, handler: slow('small') },
      ],
      { strategy: 'least-in-flight' },
    );
    hold.length = 0;
    const more = Array.from({ length: 8 }, (_, i) => weighted(i));
    expect(weighted.stats.map((s) => s.inFlight)).toEqual([6, 2]);
    for (const release of hold) release();
    await Promise.all(more);
  });

  it('holds each target to its concurrency; a call waits, in order, for a free slot', async () => {
    const hold: (() => void)[] = [];
    const lb = balance([
      { name: 'only', concurrency: 2, handler: (n: number) => new Promise<number>((resolve) => hold.push(() => resolve(n))) },
    ]);
    const calls = [1, 2, 3, 4].map((n) => lb(n));
    expect([lb.stats[0]!.inFlight, lb.waiting]).toEqual([2, 2]);
    hold.shift()!();
    await calls[0];
    await Promise.resolve();
    expect([lb.stats[0]!.inFlight, lb.waiting]).toEqual([2, 1]);
    while (hold.length > 0) {
      hold.shift()!();
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    expect(await Promise.all(calls)).toEqual([1, 2, 3, 4]);
    expect(lb.stats[0]).toMatchObject({ picks: 4, completed: 4, inFlight: 0 });
  });

  it('ejects a target after ejectAfter failures in a row, for ejectMs; all ejected: they all take work (panic)', async () => {
    const clock = new TestClock();
    let bad = true;
    const lb = balance(
      [
        {
          name: 'flaky',
          handler: () => {
            if (bad) throw new Error('down');
            return 'flaky';
          },
        },
        { name: 'ok', handler: () => 'ok' },
      ],
      { strategy: 'round-robin', ejectAfter: 2, ejectMs: 1_000, clock },
    );
    const results: string[] = [];
    for (let i = 0; i < 6; i++) results.push(await lb(i).catch(() => 'error'));
    // flaky fails at 0 and 2: ejected; the rest go to ok.
    expect(results).toEqual(['error', 'ok', 'error', 'ok', 'ok', 'ok']);
    expect(lb.stats[0]).toMatchObject({ ejected: true, ejections: 1, failed: 2 });
    await clock.advance(1_000);
    bad = false;
    expect(lb.stats[0]!.ejected).toBe(false);
    const after: string[] = [];
    for (let i = 0; i < 4; i++) after.push(await lb(i));
    expect(after.sort()).toEqual(['flaky', 'flaky', 'ok', 'ok']);

    const alone = balance([{ handler: () => Promise.reject(new Error('x')) }], { ejectAfter: 1, clock });
    await expect(alone(1)).rejects.toThrow('x');
    expect(alone.stats[0]!.ejected).toBe(true);
    await expect(alone(2)).rejects.toThrow('x'); // ejected, but the only one: it still takes the call
  });

  it('a RejectError (the item’s fault) does not count toward ejection', async () => {
    const lb = balance([{ handler: () => Promise.reject(new RejectError(new Error('bad item'))) }], { ejectAfter: 1 });
    for (let i = 0; i < 3; i++) await expect(lb(i)).rejects.toBeInstanceOf(RejectError);
    expect(lb.stats[0]).toMatchObject({ failed: 3, ejections: 0, ejected: false });
  });

  it('as a Queue handler: a retry goes to another target than the one that failed', async () => {
    const seen: string[] = [];
    const lb = balance<string, string>(
      [
        {
          name: 'a',
          handler: (s) => {
            seen.push(`a:${s}`);
            return s === 'x' ? Promise.reject(new Error('a down for x')) : 'a';
          },
        },
        {
          name: 'b',
          handler: (s) => {
            seen.push(`b:${s}`);
            return 'b';
          },
        },
      ],
      { strategy: 'round-robin' },
    );
    const queue = new Queue<string, string>({ handler: lb, retry: { maxAttempts: 3, backoff: () => 0 } });
    expect(await queue.submit('x')).toBe('b');
    expect(seen).toEqual(['a:x', 'b:x']);
    // Again, with the turn on b first: b succeeds; no retry.
    expect(await queue.submit('y')).toBe('a');
  });

  it('as a mapConcurrent function and inside TaskQueue tasks, with per-target counters', async () => {
    const lb = balance<number, number>([
      { name: 'x2', weight: 2, handler: (n) => n * 2 },
      { name: 'x10', weight: 1, handler: (n) => n * 10 },
    ]);
    const out: number[] = [];
    for await (const r of pipe([1, 1, 1], mapConcurrent(lb, { concurrency: 2 }))) out.push(r);
    expect(out.sort((a, b) => a - b)).toEqual([2, 2, 10]);
    const tasks = new TaskQueue({ concurrency: 2 });
    const results = await Promise.all([1, 1, 1].map(() => tasks.add((ctx: BalanceContext) => lb(1, ctx))));
    expect(results.sort((a, b) => a - b)).toEqual([2, 2, 10]);
    expect(lb.stats.map((s) => [s.name, s.picks, s.completed])).toEqual([
      ['x2', 4, 4],
      ['x10', 2, 2],
    ]);
  });

  it('refuses bad targets and options, naming them', () => {
    expect(() => balance([])).toThrow('balance: targets must be a non-empty array');
    expect(() => balance([{ handler: 5 as never }])).toThrow('balance: targets[0].handler must be a function, got 5');
    expect(() => balance([{ handler: () => 1, weight: 1.5 }])).toThrow('balance: targets[0].weight must be a positive integer, got 1.5');
    expect(() => balance([{ handler: () => 1, concurrency: 0 }])).toThrow('balance: targets[0].concurrency must be');
    expect(() => balance([{ handler: () => 1, wieght: 2 } as never])).toThrow(
      "balance: unknown option 'targets[0].wieght' (did you mean 'targets[0].weight'?)",
    );
    expect(() => balance(named('a'), { strategy: 'random' as never })).toThrow(
      "balance: strategy must be one of 'round-robin', 'weighted', 'least-in-flight'",
    );
    expect(() => balance(named('a'), { ejectAfter: 0 })).toThrow('balance: ejectAfter must be');
  });
});
