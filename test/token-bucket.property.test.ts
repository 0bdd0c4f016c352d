import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../src/index.js';
import { TestClock } from '../src/testing/index.js';

type Op =
  | { kind: 'acquire'; cost: number; abortAfter: number | undefined }
  | { kind: 'try'; cost: number }
  | { kind: 'advance'; ms: number };

const op = (burst: number): fc.Arbitrary<Op> =>
  fc.oneof(
    fc.record({
      kind: fc.constant('acquire' as const),
      cost: fc.integer({ min: 1, max: burst }),
      abortAfter: fc.option(fc.integer({ min: 0, max: 500 }), { nil: undefined }),
    }),
    fc.record({ kind: fc.constant('try' as const), cost: fc.integer({ min: 1, max: burst }) }),
    fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 400 }) }),
  );

const scenario = fc
  .record({
    ratePerSecond: fc.integer({ min: 1, max: 50 }),
    burst: fc.integer({ min: 1, max: 6 }),
  })
  .chain(({ ratePerSecond, burst }) =>
    fc.record({
      ratePerSecond: fc.constant(ratePerSecond),
      burst: fc.constant(burst),
      initialTokens: fc.integer({ min: 0, max: burst }),
      ops: fc.array(op(burst), { maxLength: 60 }),
    }),
  );

describe('TokenBucket properties', () => {
  it('never grants more than initialTokens + rate × elapsed overall, nor burst + rate × window in any window; grants acquire calls in FIFO order', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ ratePerSecond, burst, initialTokens, ops }) => {
        const clock = new TestClock();
        const bucket = new TokenBucket({ ratePerSecond, burst, initialTokens, clock });
        const grants: { at: number; cost: number }[] = [];
        const acquireOrder: number[] = [];
        const grantOrder: number[] = [];
        const pending: Promise<unknown>[] = [];
        let seq = 0;
        for (const o of ops) {
          if (o.kind === 'advance') await clock.advance(o.ms);
          else if (o.kind === 'try') {
            if (bucket.tryAcquire(o.cost)) {
              grants.push({ at: clock.now(), cost: o.cost });
              grantOrder.push(-1);
            }
          } else {
            const id = seq++;
            const controller = new AbortController();
            if (o.abortAfter !== undefined) clock.setTimeout(() => controller.abort(), o.abortAfter);
            acquireOrder.push(id);
            pending.push(
              bucket.acquire(o.cost, { signal: controller.signal }).then(
                () => {
                  grants.push({ at: clock.now(), cost: o.cost });
                  grantOrder.push(id);
                },
                () => {
                  acquireOrder.splice(acquireOrder.indexOf(id), 1);
                },
              ),
            );
          }
        }
        await clock.runAll();
        await Promise.all(pending);
        expect(bucket.pending).toBe(0);
        expect(clock.pendingTimers).toBe(0);

        const eps = 1e-9;
        const rate = ratePerSecond / 1000;
        let total = 0;
        for (const g of grants) {
          total += g.cost;
        }
        const last = grants.length ? grants[grants.length - 1]!.at : 0;
        expect(total).toBeLessThanOrEqual(initialTokens + rate * last + eps);
        for (let i = 0; i < grants.length; i++) {
          let sum = 0;
          for (let j = i; j < grants.length; j++) {
            sum += grants[j]!.cost;
            expect(sum).toBeLessThanOrEqual(burst + rate * (grants[j]!.at - grants[i]!.at) + eps);
          }
        }
        // Every acquire that was not aborted was granted, in call order.
        expect(grantOrder.filter((id) => id >= 0)).toEqual(acquireOrder);
      }),
      { numRuns: Number(process.env.SLUICE_PROPERTY_RUNS ?? 200) },
    );
  });
});
