import fc from 'fast-check';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { filter, map, merge, pipe, tap } from '../../src/index.js';

const collect = async <T>(source: AsyncIterable<T>): Promise<T[]> => {
  const out: T[] = [];
  for await (const item of source) out.push(item);
  return out;
};

/** A source that records how far it was read and whether it was closed. */
function tracked<T>(items: T[], delayMs = 0) {
  const state = { read: 0, closed: false };
  async function* source(): AsyncGenerator<T> {
    try {
      for (const item of items) {
        if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
        state.read++;
        yield item;
      }
    } finally {
      state.closed = true;
    }
  }
  return { source: source(), state };
}

describe('map, filter, tap', () => {
  it('map: sync and async functions, with the index, in order, typed through pipe', async () => {
    const out = pipe(
      [1, 2, 3],
      map((n: number, i) => `${n}@${i}`),
      map(async (s) => s.length),
    );
    expectTypeOf(out).toEqualTypeOf<AsyncIterable<number>>();
    expect(await collect(out)).toEqual([3, 3, 3]);
    expect(
      await collect(
        pipe(
          ['a', 'bb'],
          map((s: string, i) => s.repeat(i + 1)),
        ),
      ),
    ).toEqual(['a', 'bbbb']);
  });

  it('filter: keeps what the predicate (sync or async) accepts; a type guard narrows', async () => {
    const mixed: (string | number)[] = [1, 'a', 2, 'b'];
    const strings = pipe(
      mixed,
      filter((x): x is string => typeof x === 'string'),
    );
    expectTypeOf(strings).toEqualTypeOf<AsyncIterable<string>>();
    expect(await collect(strings)).toEqual(['a', 'b']);
    expect(
      await collect(
        pipe(
          [1, 2, 3, 4],
          filter(async (n: number, i) => n % 2 === 0 && i > 1),
        ),
      ),
    ).toEqual([4]);
  });

  it('tap: sees every item (and waits for an async one) before passing it on unchanged', async () => {
    const seen: string[] = [];
    const out = await collect(
      pipe(
        [1, 2],
        tap(async (n: number, i) => {
          await new Promise((resolve) => setTimeout(resolve, 1));
          seen.push(`tap ${n}@${i}`);
        }),
        tap((n) => seen.push(`then ${n}`)),
      ),
    );
    expect(out).toEqual([1, 2]);
    expect(seen).toEqual(['tap 1@0', 'then 1', 'tap 2@1', 'then 2']);
  });

  it('a function that throws rejects the iteration and closes the source', async () => {
    for (const op of [
      map((n: number) => {
        if (n === 2) throw new Error('map failed');
        return n;
      }),
      filter(async (n: number) => {
        if (n === 2) throw new Error('filter failed');
        return true;
      }),
      tap((n: number) => {
        if (n === 2) throw new Error('tap failed');
      }),
    ]) {
      const { source, state } = tracked([1, 2, 3, 4]);
      await expect(collect(pipe(source, op))).rejects.toThrow(/failed/);
      expect(state).toEqual({ read: 2, closed: true });
    }
  });

  it('a consumer’s break closes the source', async () => {
    const { source, state } = tracked([1, 2, 3, 4]);
    for await (const n of pipe(
      source,
      map((n: number) => n * 2),
      filter((n) => n > 0),
      tap(() => {}),
    )) {
      if (n === 4) break;
    }
    expect(state).toEqual({ read: 2, closed: true });
  });

  it('refuses a missing function at the call', () => {
    expect(() => map(undefined as never)).toThrow('map: fn must be a function, got undefined');
    expect(() => filter(5 as never)).toThrow('filter: predicate must be a function, got 5');
    expect(() => tap(null as never)).toThrow('tap: fn must be a function, got null');
  });

  it('map and filter agree with Array’s on any input (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer()), async (xs) => {
        const out = await collect(
          pipe(
            xs,
            map((x: number, i) => x * 2 + i),
            filter((x) => x % 3 !== 0),
          ),
        );
        expect(out).toEqual(xs.map((x, i) => x * 2 + i).filter((x) => x % 3 !== 0));
      }),
      { numRuns: Number(process.env.SLUICE_PROPERTY_RUNS ?? 100) },
    );
  });
});

describe('merge', () => {
  it('yields every item of every source once, each source’s in its order, typed as the union', async () => {
    const out = merge(
      (async function* (): AsyncGenerator<number> {
        yield 1;
        yield 2;
      })(),
      ['a', 'b', 'c'],
    );
    expectTypeOf(out).toEqualTypeOf<AsyncIterable<number | string>>();
    const items = await collect(out);
    expect(items.filter((x) => typeof x === 'number')).toEqual([1, 2]);
    expect(items.filter((x) => typeof x === 'string')).toEqual(['a', 'b', 'c']);
    expect(items).toHaveLength(5);
  });

  it('is fair: a source that always has an item does not starve one that has them too', async () => {
    const endless = (name: string) =>
      (async function* () {
        for (let i = 0; ; i++) yield `${name}${i}`;
      })();
    const taken: string[] = [];
    for await (const item of merge(endless('a'), endless('b'), endless('c'))) {
      taken.push(item);
      if (taken.length === 30) break;
    }
    for (const name of ['a', 'b', 'c']) expect(taken.filter((t) => t.startsWith(name)).length).toBe(10);
  });

  it('yields a slow source’s items as they come, while a fast one goes on', async () => {
    const slow = tracked(['slow'], 30);
    const fast = (async function* () {
      for (let i = 0; i < 5; i++) {
        await new Promise((resolve) => setTimeout(resolve, 1));
        yield `fast${i}`;
      }
    })();
    const items = await collect(merge(slow.source, fast));
    expect(items.indexOf('slow')).toBe(items.length - 1);
    expect(items).toHaveLength(6);
  });

  it('a source’s error reaches the consumer and closes the other sources; break closes them all', async () => {
    const other = tracked([1, 2, 3], 5);
    const failing = (async function* () {
      yield 0;
      throw new Error('source failed');
    })();
    await expect(collect(merge(failing, other.source))).rejects.toThrow('source failed');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(other.state.closed).toBe(true);

    const a = tracked([1, 2, 3]);
    const b = tracked([4, 5, 6]);
    for await (const _ of merge(a.source, b.source)) break;
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect([a.state.closed, b.state.closed]).toEqual([true, true]);
  });

  it('ends at once with no sources, and refuses a source that is not iterable', async () => {
    expect(await collect(merge())).toEqual([]);
    expect(() => merge([1], 5 as never)).toThrow('merge: sources[1] must be');
  });

  it('keeps every item of every source, each in order, however their timings interleave (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(fc.nat(3), { maxLength: 6 }), { maxLength: 4 }), async (delays) => {
        const sources = delays.map((ds, s) =>
          (async function* () {
            for (const [i, d] of ds.entries()) {
              if (d > 0) await new Promise((resolve) => setTimeout(resolve, d));
              yield `${s}:${i}`;
            }
          })(),
        );
        const items = await collect(merge(...sources));
        expect(items).toHaveLength(delays.flat().length);
        delays.forEach((ds, s) => {
          expect(items.filter((x) => x.startsWith(`${s}:`))).toEqual(ds.map((_, i) => `${s}:${i}`));
        });
      }),
      { numRuns: Number(process.env.SLUICE_PROPERTY_RUNS ?? 50) > 100 ? 200 : 50 },
    );
  });
});
