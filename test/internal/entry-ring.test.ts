import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EntryRing } from '../../src/internal/entry-ring.js';

type Entry = { value: number; seq: number; time: number };

/** Every entry, head first, as the ring reports them. */
function contents(ring: EntryRing<number>): Entry[] {
  const out: Entry[] = [];
  ring.forEach((value, seq, time) => {
    out.push({ value, seq, time });
  });
  return out;
}

describe('EntryRing', () => {
  it('is a FIFO across chunk boundaries, keeping each entry’s seq and time', () => {
    const ring = new EntryRing<number>();
    for (let i = 0; i < 10_000; i++) ring.push(i, i + 1, i * 2);
    expect(ring.size).toBe(10_000);
    for (let i = 0; i < 10_000; i++) {
      expect(ring.shift()).toBe(i);
      expect([ring.shiftedSeq, ring.shiftedTime]).toEqual([i + 1, i * 2]);
    }
    expect(ring.size).toBe(0);
    expect(ring.shift()).toBeUndefined();
  });

  it('puts entries back at the head, in front of a full chunk too', () => {
    const ring = new EntryRing<number>();
    for (let i = 0; i < 16; i++) ring.push(i, i, 0);
    ring.unshift(-1, -1, 0); // the first chunk starts at slot 0: a new chunk goes in front
    ring.unshift(-2, -2, 0);
    expect(contents(ring).map((e) => e.value)).toEqual([-2, -1, ...Array.from({ length: 16 }, (_, i) => i)]);
    expect(ring.shift()).toBe(-2);
    expect(ring.shift()).toBe(-1);
    expect(ring.shift()).toBe(0);
  });

  it('behaves as an array under any mix of push, unshift and shift (model)', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('push' as const), count: fc.integer({ min: 1, max: 3_000 }) }),
      fc.record({ kind: fc.constant('unshift' as const), count: fc.integer({ min: 1, max: 3_000 }) }),
      fc.record({ kind: fc.constant('shift' as const), count: fc.integer({ min: 1, max: 3_000 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 30 }), (ops) => {
        const ring = new EntryRing<number>();
        const model: Entry[] = [];
        let next = 0;
        for (const { kind, count } of ops) {
          for (let i = 0; i < count; i++) {
            if (kind === 'shift') {
              const expected = model.shift();
              const got = ring.shift();
              // Plain comparisons: thousands of entries a run.
              if (got !== expected?.value || (expected && (ring.shiftedSeq !== expected.seq || ring.shiftedTime !== expected.time))) {
                throw new Error(`shift gave ${got} (seq ${ring.shiftedSeq}), the model ${JSON.stringify(expected)}`);
              }
              continue;
            }
            const entry = { value: next, seq: next * 3, time: next / 2 };
            next++;
            if (kind === 'push') {
              ring.push(entry.value, entry.seq, entry.time);
              model.push(entry);
            } else {
              ring.unshift(entry.value, entry.seq, entry.time);
              model.unshift(entry);
            }
          }
          expect(ring.size).toBe(model.length);
        }
        expect(contents(ring)).toEqual(model);
      }),
      { numRuns: 100 },
    );
  });
});
