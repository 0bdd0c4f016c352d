/**
 * TokenBucket against a reference model (fast-check `fc.commands`):
 * acquire, tryAcquire, aborts, time and live `setRate`. After every command:
 * tokens within [0, burst], waiters counted and granted first-in first-out,
 * one timer at most (none when idle), and never more granted than the
 * initial tokens plus what the rate accrued.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../src/index.js';
import { TestClock } from '../src/testing/index.js';

const runs = Number(process.env.SLUICE_PROPERTY_RUNS ?? 200);

interface Waiter {
  readonly id: number;
  readonly cost: number;
  readonly controller: AbortController;
  outcome: 'pending' | 'granted' | 'aborted' | 'rejected';
}

interface Model {
  readonly waiters: Waiter[];
  readonly grantOrder: number[];
  next: number;
  granted: number; // tokens granted
  accrued: number; // initial tokens + ∫ rate dt
  rate: number; // tokens per second
  burst: number;
}

interface Real {
  readonly bucket: TokenBucket;
  readonly clock: TestClock;
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

function check(m: Model, r: Real): void {
  const pending = m.waiters.filter((w) => w.outcome === 'pending');
  expect(r.bucket.pending).toBe(pending.length);
  expect(r.bucket.tokens).toBeGreaterThanOrEqual(0);
  expect(r.bucket.tokens).toBeLessThanOrEqual(m.burst + 1e-9);
  expect(r.clock.pendingTimers).toBeLessThanOrEqual(1);
  if (pending.length === 0) expect(r.clock.pendingTimers).toBe(0);
  expect(m.granted).toBeLessThanOrEqual(m.accrued + 1e-6);
  // First in, first out: grants come in call order (aborted and rejected ones skipped).
  const order = m.waiters.filter((w) => w.outcome === 'granted').map((w) => w.id);
  expect(m.grantOrder.filter((id) => id >= 0)).toEqual(order);
}

const commands: fc.Arbitrary<fc.AsyncCommand<Model, Real>>[] = [
  fc.integer({ min: 1, max: 5 }).map((cost) => ({
    check: (m: Readonly<Model>) => cost <= m.burst,
    async run(m: Model, r: Real) {
      const w: Waiter = { id: m.next++, cost, controller: new AbortController(), outcome: 'pending' };
      m.waiters.push(w);
      r.bucket.acquire(cost, { signal: w.controller.signal }).then(
        () => {
          w.outcome = 'granted';
          m.granted += cost;
          m.grantOrder.push(w.id);
        },
        (e: unknown) => {
          w.outcome = e instanceof RangeError ? 'rejected' : 'aborted';
        },
      );
      await settle();
      check(m, r);
    },
    toString: () => `acquire(${cost})`,
  })),
  fc.integer({ min: 1, max: 5 }).map((cost) => ({
    check: (m: Readonly<Model>) => cost <= m.burst,
    async run(m: Model, r: Real) {
      const waiting = m.waiters.some((w) => w.outcome === 'pending');
      const ok = r.bucket.tryAcquire(cost);
      if (waiting) expect(ok).toBe(false); // never jumps the queue
      if (ok) {
        m.granted += cost;
        m.grantOrder.push(-1);
      }
      check(m, r);
    },
    toString: () => `tryAcquire(${cost})`,
  })),
  fc.nat(20).map((i) => ({
    check: () => true,
    async run(m: Model, r: Real) {
      const pending = m.waiters.filter((w) => w.outcome === 'pending');
      pending[i % Math.max(1, pending.length)]?.controller.abort();
      await settle();
      check(m, r);
    },
    toString: () => `abort(#${i})`,
  })),
  fc.integer({ min: 0, max: 700 }).map((ms) => ({
    check: () => true,
    async run(m: Model, r: Real) {
      await r.clock.advance(ms);
      m.accrued += (m.rate * ms) / 1000;
      check(m, r);
    },
    toString: () => `advance(${ms})`,
  })),
  fc
    .record({ rate: fc.integer({ min: 1, max: 40 }), burst: fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined }) })
    .map(({ rate, burst }) => ({
      check: () => true,
      async run(m: Model, r: Real) {
        r.bucket.setRate(rate, burst);
        m.rate = rate;
        if (burst !== undefined) m.burst = burst;
        await settle();
        // Waiters asking more than the new burst were refused with RangeError.
        for (const w of m.waiters) if (w.cost > m.burst) expect(w.outcome).not.toBe('pending');
        check(m, r);
      },
      toString: () => `setRate(${rate}, ${burst})`,
    })),
];

describe('TokenBucket model', () => {
  it('keeps its books under acquire, tryAcquire, abort, time and setRate', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc
          .record({ rate: fc.integer({ min: 1, max: 40 }), burst: fc.integer({ min: 1, max: 6 }) })
          .chain((o) =>
            fc.record({ rate: fc.constant(o.rate), burst: fc.constant(o.burst), initial: fc.integer({ min: 0, max: o.burst }) }),
          ),
        fc.commands(commands, { maxCommands: 40 }),
        async ({ rate, burst, initial }, cmds) => {
          const clock = new TestClock();
          const bucket = new TokenBucket({ ratePerSecond: rate, burst, initialTokens: initial, clock });
          const model: Model = { waiters: [], grantOrder: [], next: 0, granted: 0, accrued: initial, rate, burst };
          await fc.asyncModelRun(() => ({ model, real: { bucket, clock } }), cmds);
          // Everything still waiting is granted in time, or can be aborted; nothing hangs.
          for (const w of model.waiters) if (w.outcome === 'pending') w.controller.abort();
          await settle();
          expect(bucket.pending).toBe(0);
          expect(clock.pendingTimers).toBe(0);
        },
      ),
      { numRuns: runs },
    );
  });
});
