import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { batch, pipe } from '../src/index.js';
import { TestClock } from '../src/testing/index.js';

interface Item {
  readonly n: number;
  readonly key: string;
  readonly size: number;
}

describe('batch() properties', () => {
  it('yields every item exactly once, in order per key, with no batch over maxItems or maxBytes unless it is one oversize item', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          maxItems: fc.integer({ min: 1, max: 6 }),
          maxBytes: fc.option(fc.integer({ min: 1, max: 30 }), { nil: undefined }),
          lingerMs: fc.integer({ min: 0, max: 50 }),
          keyed: fc.boolean(),
          maxPending: fc.integer({ min: 1, max: 4 }),
        }),
        fc.array(
          fc.record({ key: fc.constantFrom('a', 'b', 'c'), size: fc.integer({ min: 0, max: 40 }), gapMs: fc.constantFrom(0, 0, 5, 30) }),
          {
            maxLength: 60,
          },
        ),
        async (options, specs) => {
          const clock = new TestClock();
          const items: Item[] = specs.map((s, n) => ({ n, key: s.key, size: s.size }));
          async function* source() {
            for (let i = 0; i < items.length; i++) {
              if (specs[i]!.gapMs > 0) await new Promise<void>((r) => clock.setTimeout(r, specs[i]!.gapMs));
              yield items[i]!;
            }
          }
          const batches: Item[][] = [];
          const consumer = (async () => {
            for await (const b of pipe(
              source(),
              batch<Item>({
                maxItems: options.maxItems,
                lingerMs: options.lingerMs,
                maxPending: options.maxPending,
                ...(options.maxBytes !== undefined ? { maxBytes: options.maxBytes, sizeOf: (x: Item) => x.size } : {}),
                ...(options.keyed ? { key: (x: Item) => x.key } : {}),
                clock,
              }),
            )) {
              batches.push(b);
            }
          })();
          await clock.runAll();
          await consumer;

          const flat = batches.flat();
          expect(flat.map((x) => x.n).sort((a, b) => a - b)).toEqual(items.map((x) => x.n));
          for (const key of ['a', 'b', 'c']) {
            const inOrder = flat.filter((x) => !options.keyed || x.key === key).map((x) => x.n);
            const sorted = [...inOrder].sort((a, b) => a - b);
            if (options.keyed) expect(inOrder).toEqual(sorted);
          }
          if (!options.keyed) expect(flat.map((x) => x.n)).toEqual(items.map((x) => x.n));
          for (const b of batches) {
            expect(b.length).toBeGreaterThan(0);
            expect(b.length).toBeLessThanOrEqual(options.maxItems);
            if (options.keyed) expect(new Set(b.map((x) => x.key)).size).toBe(1);
            if (options.maxBytes !== undefined && b.length > 1) {
              expect(b.reduce((sum, x) => sum + x.size, 0)).toBeLessThanOrEqual(options.maxBytes);
            }
          }
          expect(clock.pendingTimers).toBe(0);
        },
      ),
      { numRuns: Number(process.env.SLUICE_PROPERTY_RUNS ?? 200) },
    );
  });
});
