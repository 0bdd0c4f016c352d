/**
 * Model-based tests (fast-check `fc.commands`) for DeadLetter and
 * BatchAccumulator against simple reference models; invariants are checked
 * after every command.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BatchAccumulator, DeadLetter, QueueFullError, type DeadLetterReason } from '../src/index.js';
import { TestClock } from '../src/testing/index.js';

const runs = Number(process.env.SLUICE_PROPERTY_RUNS ?? 200);
const REASONS: DeadLetterReason[] = ['rejected', 'expired', 'maxlen', 'delivery_limit'];

// ---- DeadLetter ----

interface DlModel {
  entries: { n: number; reason: DeadLetterReason }[];
  evicted: number;
  next: number;
  readonly capacity: number;
  readonly overflow: 'drop-oldest' | 'reject';
}
interface DlReal {
  readonly dl: DeadLetter<number>;
}

function checkDl(m: DlModel, r: DlReal): void {
  expect(r.dl.entries().map((e) => [e.item, e.reason])).toEqual(m.entries.map((e) => [e.n, e.reason]));
  expect(r.dl.size).toBe(m.entries.length);
  expect(r.dl.stats.evicted).toBe(m.evicted);
  expect(r.dl.size).toBeLessThanOrEqual(m.capacity);
}

const dlCommands = [
  fc.constantFrom(...REASONS).map(
    (reason): fc.Command<DlModel, DlReal> => ({
      check: () => true,
      run(m, r) {
        const n = m.next++;
        if (m.entries.length >= m.capacity && m.overflow === 'reject') {
          expect(() => r.dl.add({ item: n, reason })).toThrow(QueueFullError);
        } else {
          if (m.entries.length >= m.capacity) {
            m.entries.shift();
            m.evicted++;
          }
          r.dl.add({ item: n, reason });
          m.entries.push({ n, reason });
        }
        checkDl(m, r);
      },
      toString: () => `add(${reason})`,
    }),
  ),
  fc.nat(10).map(
    (i): fc.Command<DlModel, DlReal> => ({
      check: () => true,
      run(m, r) {
        const target = m.entries[i];
        const entry = r.dl.entries()[i];
        expect(r.dl.remove(entry?.id ?? 'none')).toBe(target !== undefined);
        if (target) m.entries.splice(i, 1);
        checkDl(m, r);
      },
      toString: () => `remove(#${i})`,
    }),
  ),
  fc.record({ reason: fc.option(fc.constantFrom(...REASONS), { nil: undefined }), limit: fc.nat(5), refuse: fc.nat(3) }).map(
    ({ reason, limit, refuse }): fc.AsyncCommand<DlModel, DlReal> => ({
      check: () => true,
      async run(m, r) {
        // Redrive oldest first, the target refusing every `refuse`-th item (never when 0).
        let seen = 0;
        const result = await r.dl.redrive(
          (n) => {
            seen++;
            if (refuse > 0 && seen % refuse === 0) throw new Error(`refused ${n}`);
          },
          { ...(reason ? { filter: (e) => e.reason === reason } : {}), limit },
        );
        let redriven = 0;
        let failed = 0;
        let count = 0;
        m.entries = m.entries.filter((e) => {
          if (redriven >= limit || (reason && e.reason !== reason)) return true;
          count++;
          if (refuse > 0 && count % refuse === 0) {
            failed++;
            return true;
          }
          redriven++;
          return false;
        });
        expect(result).toEqual({ redriven, failed });
        checkDl(m, r);
      },
      toString: () => `redrive(${reason ?? 'all'}, limit ${limit}, refuse every ${refuse})`,
    }),
  ),
  fc.constant<fc.Command<DlModel, DlReal>>({
    check: () => true,
    run(m, r) {
      r.dl.clear();
      m.entries = [];
      checkDl(m, r);
    },
    toString: () => 'clear',
  }),
];

describe('DeadLetter model', () => {
  it('matches an array model under add, remove, redrive and clear', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 6 }),
        fc.constantFrom<'drop-oldest' | 'reject'>('drop-oldest', 'reject'),
        fc.commands(dlCommands as fc.Arbitrary<fc.AsyncCommand<DlModel, DlReal>>[], { maxCommands: 40 }),
        async (capacity, overflow, cmds) => {
          const dl = new DeadLetter<number>({ capacity, overflow, clock: new TestClock() });
          await fc.asyncModelRun(() => ({ model: { entries: [], evicted: 0, next: 0, capacity, overflow }, real: { dl } }), cmds);
        },
      ),
      { numRuns: runs },
    );
  });
});

// ---- BatchAccumulator ----

interface AccModel {
  next: number;
  added: number[];
  consumed: number[][];
  closed: boolean;
  readonly maxItems: number;
}
interface AccReal {
  readonly acc: BatchAccumulator<number>;
  readonly it: AsyncIterator<number[]>;
  readonly clock: TestClock;
  readonly waiting: Promise<unknown>[];
}

function checkAcc(m: AccModel, r: AccReal): void {
  // Nothing lost or duplicated: consumed + sealed-pending + open = added (pending adds excluded).
  const consumed = m.consumed.flat();
  expect(new Set(consumed).size).toBe(consumed.length);
  expect(consumed).toEqual([...consumed].sort((a, b) => a - b)); // in order
  expect(consumed.length + r.acc.buffered).toBeLessThanOrEqual(m.added.length);
  for (const b of m.consumed) {
    expect(b.length).toBeGreaterThan(0);
    expect(b.length).toBeLessThanOrEqual(m.maxItems);
  }
}

const accCommands: fc.Arbitrary<fc.AsyncCommand<AccModel, AccReal>>[] = [
  fc.constant<fc.AsyncCommand<AccModel, AccReal>>({
    check: (m) => !m.closed,
    async run(m, r) {
      const n = m.next++;
      m.added.push(n);
      r.waiting.push(r.acc.add(n));
      checkAcc(m, r);
    },
    toString: () => 'add',
  }),
  fc.constant<fc.AsyncCommand<AccModel, AccReal>>({
    check: (m) => !m.closed,
    async run(m, r) {
      const n = m.next;
      if (r.acc.tryAdd(n)) {
        m.next++;
        m.added.push(n);
      }
      checkAcc(m, r);
    },
    toString: () => 'tryAdd',
  }),
  fc.constant<fc.AsyncCommand<AccModel, AccReal>>({
    check: () => true,
    async run(m, r) {
      if (r.acc.pending > 0) {
        const next = await r.it.next();
        if (!next.done) m.consumed.push(next.value);
      }
      checkAcc(m, r);
    },
    toString: () => 'consume',
  }),
  fc.integer({ min: 0, max: 30 }).map(
    (ms): fc.AsyncCommand<AccModel, AccReal> => ({
      check: () => true,
      async run(m, r) {
        await r.clock.advance(ms);
        checkAcc(m, r);
      },
      toString: () => `advance(${ms})`,
    }),
  ),
  fc.constant<fc.AsyncCommand<AccModel, AccReal>>({
    check: (m) => !m.closed,
    async run(m, r) {
      r.acc.flush();
      checkAcc(m, r);
    },
    toString: () => 'flush',
  }),
];

describe('BatchAccumulator model', () => {
  it('loses and duplicates nothing, keeps order and batch limits, under add, tryAdd, consume, flush, time and close', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          maxItems: fc.integer({ min: 1, max: 5 }),
          lingerMs: fc.integer({ min: 0, max: 20 }),
          maxPending: fc.integer({ min: 1, max: 3 }),
        }),
        fc.commands(accCommands, { maxCommands: 50 }),
        async (options, cmds) => {
          const clock = new TestClock();
          const acc = new BatchAccumulator<number>({ ...options, clock });
          const real: AccReal = { acc, it: acc[Symbol.asyncIterator](), clock, waiting: [] };
          const model: AccModel = { next: 0, added: [], consumed: [], closed: false, maxItems: options.maxItems };
          await fc.asyncModelRun(() => ({ model, real }), cmds);
          // Close while still consuming: every accepted item comes out exactly once.
          const closing = acc.close();
          for (;;) {
            const next = await real.it.next();
            if (next.done) break;
            model.consumed.push(next.value);
          }
          const { unconsumed } = await closing;
          const settled = await Promise.allSettled(real.waiting);
          const refused = new Set(settled.flatMap((s, i) => (s.status === 'rejected' ? [i] : []))).size;
          const out = [...model.consumed.flat(), ...unconsumed.flat()];
          expect(out.length).toBe(model.added.length - refused);
          expect(new Set(out).size).toBe(out.length);
          expect(clock.pendingTimers).toBe(0);
        },
      ),
      { numRuns: runs },
    );
  });
});
