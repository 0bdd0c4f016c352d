import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DeadLetter, type LateInfo, pipe, type WindowResult, window } from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';

interface Ev {
  readonly t: number;
  readonly k: string;
  readonly id: number;
}

const collect = async <T>(source: AsyncIterable<T>): Promise<T[]> => {
  const out: T[] = [];
  for await (const item of source) out.push(item);
  return out;
};
const ev = (t: number, k = 'a', id = t): Ev => ({ t, k, id });
const brief = (w: WindowResult<unknown>) => [w.key, w.start, w.end, w.value, w.count];

describe('window(): event time', () => {
  it('tumbling: keyed windows aligned to 0, closed as the watermark passes their end, in end order, the rest at the source’s end', async () => {
    const out = await collect(
      pipe(
        [ev(100, 'a'), ev(900, 'b'), ev(1_000, 'a'), ev(1_500, 'b'), ev(2_100, 'a')],
        window({ kind: 'tumbling', sizeMs: 1_000, key: (e: Ev) => e.k, timestamp: (e) => e.t, initial: () => 0, reduce: (n) => n + 1 }),
      ),
    );
    expect(out.map(brief)).toEqual([
      ['a', 0, 1_000, 1, 1],
      ['b', 0, 1_000, 1, 1],
      ['a', 1_000, 2_000, 1, 1],
      ['b', 1_000, 2_000, 1, 1],
      ['a', 2_000, 3_000, 1, 1],
    ]);
  });

  it('without reduce a window collects its items, in arrival order', async () => {
    const out = await collect(
      pipe([ev(5), ev(3), ev(7)], window({ kind: 'tumbling', sizeMs: 10, timestamp: (e: Ev) => e.t, allowedLatenessMs: 5 })),
    );
    expect(out).toEqual([{ key: undefined, start: 0, end: 10, value: [ev(5), ev(3), ev(7)], count: 3 }]);
  });

  it('hopping: an item is in every window that covers it', async () => {
    const out = await collect(
      pipe(
        [ev(250), ev(1_250)],
        window({
          kind: 'hopping',
          sizeMs: 1_000,
          stepMs: 500,
          timestamp: (e: Ev) => e.t,
          initial: () => [] as number[],
          reduce: (a, e) => [...a, e.t],
        }),
      ),
    );
    expect(out.map(brief)).toEqual([
      [undefined, -500, 500, [250], 1],
      [undefined, 0, 1_000, [250], 1],
      [undefined, 500, 1_500, [1_250], 1],
      [undefined, 1_000, 2_000, [1_250], 1],
    ]);
  });

  it('session: a key’s items less than gapMs apart; an item that bridges two sessions merges them', async () => {
    const out = await collect(
      pipe(
        [ev(0), ev(50), ev(300), ev(220, 'a'), ev(10, 'b'), ev(1_000)],
        window({
          kind: 'session',
          gapMs: 100,
          key: (e: Ev) => e.k,
          timestamp: (e) => e.t,
          allowedLatenessMs: 500,
          initial: () => 0,
          reduce: (n) => n + 1,
        }),
      ),
    );
    // a: 0 and 50 → [0, 150); 300 opens [300, 400); 220 comes later, 80 before it: [220, 320) merges into [220, 400).
    expect(out.map(brief)).toEqual([
      ['b', 10, 110, 1, 1],
      ['a', 0, 150, 2, 2],
      ['a', 220, 400, 2, 2],
      ['a', 1_000, 1_100, 1, 1],
    ]);
    const bridged = await collect(
      pipe([ev(0), ev(180), ev(90)], window({ kind: 'session', gapMs: 100, timestamp: (e: Ev) => e.t, allowedLatenessMs: 1_000 })),
    );
    expect(bridged.map((w) => [w.start, w.end, w.count])).toEqual([[0, 280, 3]]);
  });

  it('late items go to onLate and the dead letter, counted nowhere else; allowedLatenessMs keeps windows open longer', async () => {
    const late: [number, LateInfo][] = [];
    const deadLetter = new DeadLetter<Ev>();
    const out = await collect(
      pipe(
        [ev(100), ev(1_200), ev(900), ev(2_600), ev(1_100)],
        window({
          kind: 'tumbling',
          sizeMs: 1_000,
          timestamp: (e: Ev) => e.t,
          allowedLatenessMs: 500,
          onLate: (e, info) => late.push([e.t, info]),
          deadLetter,
          initial: () => 0,
          reduce: (n) => n + 1,
        }),
      ),
    );
    // 900 arrives with the watermark at 700: on time. 1 100 arrives at watermark 2 100: [1 000, 2 000) closed: late.
    expect(out.map(brief)).toEqual([
      [undefined, 0, 1_000, 2, 2],
      [undefined, 1_000, 2_000, 1, 1],
      [undefined, 2_000, 3_000, 1, 1],
    ]);
    expect(late).toEqual([[1_100, { key: undefined, timestamp: 1_100, watermark: 2_100 }]]);
    await Promise.resolve();
    expect(deadLetter.entries().map((e) => [e.item.t, e.reason, e.source])).toEqual([[1_100, 'expired', 'window']]);
  });

  it('without onLate or deadLetter a late item fails the iteration, naming it; a non-finite timestamp too', async () => {
    await expect(
      collect(pipe([ev(2_000), ev(10)], window({ kind: 'tumbling', sizeMs: 1_000, timestamp: (e: Ev) => e.t }))),
    ).rejects.toThrow('window: an item came late (event time 10, watermark 2000)');
    await expect(collect(pipe([ev(Number.NaN)], window({ kind: 'tumbling', sizeMs: 1_000, timestamp: (e: Ev) => e.t })))).rejects.toThrow(
      'window: timestamp must give a finite number of ms, got NaN',
    );
  });
});

describe('window(): processing time', () => {
  it('closes a window when the clock passes its end, while the source is idle, with one timer for every open window', async () => {
    const clock = new TestClock();
    const feed: ((v: IteratorResult<string>) => void)[] = [];
    const source: AsyncIterable<string> = {
      [Symbol.asyncIterator]: () => ({ next: () => new Promise<IteratorResult<string>>((resolve) => feed.push(resolve)) }),
    };
    const it = pipe(source, window({ kind: 'tumbling', sizeMs: 1_000, key: (s: string) => s, clock }))[Symbol.asyncIterator]();
    const first = it.next();
    await Promise.resolve();
    await clock.advance(100);
    feed.shift()!({ value: 'x', done: false });
    await new Promise((resolve) => setTimeout(resolve, 0));
    feed.shift()!({ value: 'y', done: false });
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(clock.pendingTimers).toBe(1); // two open windows, one timer
    await clock.advance(900); // t = 1 000: both close, the source still idle
    expect(await first).toEqual({ value: { key: 'x', start: 0, end: 1_000, value: ['x'], count: 1 }, done: false });
    expect(await it.next()).toEqual({ value: { key: 'y', start: 0, end: 1_000, value: ['y'], count: 1 }, done: false });
    expect(clock.pendingTimers).toBe(0);
    await it.return?.();
  });

  it('a consumer’s break closes the source and clears the timer', async () => {
    const clock = new TestClock();
    let closed = false;
    async function* source() {
      try {
        yield 1;
        await clock.advance(5_000);
        yield 2;
        yield 3;
      } finally {
        closed = true;
      }
    }
    for await (const w of pipe(source(), window({ kind: 'tumbling', sizeMs: 1_000, clock }))) {
      expect(w.value).toEqual([1]);
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 0)); // the source was mid-await: it closes at its next step
    expect(closed).toBe(true);
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('window(): options', () => {
  it('refuses bad options at the call, naming them', () => {
    expect(() => window({} as never)).toThrow("window: kind must be one of 'tumbling', 'hopping', 'session', got undefined");
    expect(() => window({ kind: 'tumbling' })).toThrow('window: sizeMs is required for tumbling windows, got undefined');
    expect(() => window({ kind: 'session', sizeMs: 5 } as never)).toThrow('window: gapMs is required for session windows');
    expect(() => window({ kind: 'session', gapMs: 5, sizeMs: 5 })).toThrow('window: sizeMs does not apply to session windows, got 5');
    expect(() => window({ kind: 'hopping', sizeMs: 10 })).toThrow('window: stepMs is required for hopping windows');
    expect(() => window({ kind: 'hopping', sizeMs: 10, stepMs: 20 })).toThrow('window: stepMs must be at most sizeMs (10), got 20');
    expect(() => window({ kind: 'tumbling', sizeMs: 10, stepMs: 5 })).toThrow('window: stepMs does not apply to tumbling windows');
    expect(() => window({ kind: 'tumbling', sizeMs: 0 })).toThrow('window: sizeMs must be a positive');
    expect(() => window({ kind: 'tumbling', sizeMs: 10, allowedLatenessMs: 5 })).toThrow('window: allowedLatenessMs needs timestamp');
    expect(() => window({ kind: 'tumbling', sizeMs: 10, reduce: (a: number) => a })).toThrow(
      'window: initial and reduce go together, got only reduce',
    );
    expect(() => window({ kind: 'tumbling', sizeMs: 10, sizeMS: 5 } as never)).toThrow("unknown option 'sizeMS' (did you mean 'sizeMs'?)");
  });
});

describe('window(): against a reference model (fast-check)', () => {
  /** The windows an exact model gives: watermark per item, lateness, membership. */
  function reference(items: Ev[], kind: 'tumbling' | 'hopping', size: number, step: number, lateness: number) {
    let maxT = Number.NEGATIVE_INFINITY;
    let watermark = Number.NEGATIVE_INFINITY;
    const members = new Map<string, number[]>();
    const late: number[] = [];
    for (const e of items) {
      let placed = false;
      for (let k = Math.floor((e.t - size) / step) + 1; k <= Math.floor(e.t / step); k++) {
        const start = k * step;
        if (start + size <= watermark) continue;
        const id = `${e.k}|${start}`;
        members.set(id, [...(members.get(id) ?? []), e.id]);
        placed = true;
      }
      if (!placed) late.push(e.id);
      maxT = Math.max(maxT, e.t);
      watermark = Math.max(watermark, maxT - lateness);
    }
    return { members, late, step: kind === 'tumbling' ? size : step };
  }

  it('tumbling and hopping windows hold exactly the items the model puts in them; late ones are reported, none lost', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ t: fc.integer({ min: 0, max: 5_000 }), k: fc.constantFrom('a', 'b', 'c') }), { maxLength: 80 }),
        fc.constantFrom('tumbling' as const, 'hopping' as const),
        fc.integer({ min: 1, max: 1_000 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 1_500 }),
        async (raw, kind, size, div, lateness) => {
          const items = raw.map((r, id) => ({ ...r, id }));
          const step = kind === 'hopping' ? Math.max(1, Math.floor(size / div)) : size;
          const late: number[] = [];
          const out = await collect(
            pipe(
              items,
              window({
                kind,
                sizeMs: size,
                ...(kind === 'hopping' ? { stepMs: step } : {}),
                key: (e: Ev) => e.k,
                timestamp: (e) => e.t,
                allowedLatenessMs: lateness,
                onLate: (e) => late.push(e.id),
              }),
            ),
          );
          const model = reference(items, kind, size, step, lateness);
          expect(late).toEqual(model.late);
          const got = new Map(out.map((w) => [`${w.key}|${w.start}`, (w.value as Ev[]).map((e) => e.id)]));
          expect(got).toEqual(model.members);
          for (const w of out) expect(w.end - w.start).toBe(size);
          // Closed in order of end.
          for (let i = 1; i < out.length; i++) expect(out[i]!.end).toBeGreaterThanOrEqual(out[i - 1]!.end);
        },
      ),
      { numRuns: Number(process.env.SLUICE_PROPERTY_RUNS ?? 200) },
    );
  });

  it('session windows are the runs of a key’s sorted times less than gapMs apart (lateness large enough for none to be late)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ t: fc.integer({ min: 0, max: 3_000 }), k: fc.constantFrom('a', 'b') }), { maxLength: 60 }),
        fc.integer({ min: 1, max: 300 }),
        async (raw, gap) => {
          const items = raw.map((r, id) => ({ ...r, id }));
          const out = await collect(
            pipe(items, window({ kind: 'session', gapMs: gap, key: (e: Ev) => e.k, timestamp: (e) => e.t, allowedLatenessMs: 10_000 })),
          );
          const expected: string[] = [];
          for (const k of ['a', 'b']) {
            const times = items
              .filter((e) => e.k === k)
              .map((e) => e.t)
              .sort((x, y) => x - y);
            let start: number | undefined;
            let last = 0;
            let count = 0;
            for (const t of times) {
              if (start !== undefined && t - last >= gap) {
                expected.push(`${k}|${start}|${last + gap}|${count}`);
                start = undefined;
              }
              if (start === undefined) {
                start = t;
                count = 0;
              }
              last = t;
              count++;
            }
            if (start !== undefined) expected.push(`${k}|${start}|${last + gap}|${count}`);
          }
          expect(out.map((w) => `${w.key}|${w.start}|${w.end}|${w.count}`).sort()).toEqual(expected.sort());
        },
      ),
      { numRuns: Number(process.env.SLUICE_PROPERTY_RUNS ?? 200) },
    );
  });
});
