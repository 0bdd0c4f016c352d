import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ConcurrencyLimit, type LimitSample, Queue } from '../src/index.js';
import { TestClock } from '../src/testing/index.js';
import { balanced } from './helpers.js';

const runs = Number(process.env.SLUICE_PROPERTY_RUNS ?? 200);

/** A limit that moves on every sample, by a step the test chooses, within 1..8. */
class Wandering implements ConcurrencyLimit {
  limit = 3;
  constructor(readonly steps: number[]) {}
  onSample(sample: LimitSample): void {
    const step = this.steps[this.samples++ % this.steps.length] ?? 0;
    this.limit = Math.min(8, Math.max(1, this.limit + (sample.dropped ? -1 : step)));
  }
  samples = 0;
}

const outcome = fc.record({
  ms: fc.integer({ min: 0, max: 50 }),
  kind: fc.constantFrom('ok', 'ok', '429', 'retry-after', 'error'),
});
const op = fc.oneof(
  fc.record({ type: fc.constant('push' as const), outcome }),
  fc.record({ type: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 80 }) }),
  fc.record({ type: fc.constant('set' as const), to: fc.oneof(fc.integer({ min: 1, max: 8 }), fc.constant('limit' as const)) }),
  fc.record({ type: fc.constant('pauseFor' as const), ms: fc.integer({ min: 0, max: 100 }) }),
);

describe('Queue following a moving limit (model)', () => {
  it('never starts an attempt past the limit in force, and keeps its books balanced at every event while the limit moves', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: -1, max: 2 }), { minLength: 1, maxLength: 8 }),
        fc.constantFrom('item' as const, 'queue' as const),
        fc.array(op, { maxLength: 60 }),
        async (steps, retryAfter, ops) => {
          const clock = new TestClock();
          const limit = new Wandering(steps);
          const sleep = (ms: number) => new Promise<void>((resolve) => clock.setTimeout(resolve, ms));
          const queue = new Queue<Outcome>({
            concurrency: limit,
            retryAfter,
            retry: { maxAttempts: 3, backoff: () => 5 },
            clock,
            handler: async ({ ms, kind }) => {
              await sleep(ms);
              if (kind === '429') throw Object.assign(new Error('busy'), { status: 429 });
              if (kind === 'retry-after') throw Object.assign(new Error('later'), { retryAfterMs: 30 });
              if (kind === 'error') throw new Error('boom');
            },
          });
          const problems: string[] = [];
          const check = (what: string) => {
            if (!balanced(queue.stats)) problems.push(`unbalanced at ${what}: ${JSON.stringify(queue.stats)}`);
          };
          queue.on('active', () => {
            if (queue.inFlight > queue.concurrency) problems.push(`${queue.inFlight} in flight over ${queue.concurrency}`);
            check('active');
          });
          for (const e of ['completed', 'failed', 'dead-lettered'] as const) queue.on(e, () => check(e));
          for (const o of ops) {
            if (o.type === 'push') queue.tryPush(o.outcome);
            else if (o.type === 'advance') await clock.advance(o.ms);
            else if (o.type === 'set') queue.concurrency = o.to === 'limit' ? limit : o.to;
            else queue.pauseFor(o.ms);
            check(o.type);
          }
          await clock.runAll();
          await queue.close();
          expect(problems).toEqual([]);
          const s = queue.stats;
          expect(s.waiting + s.inFlight).toBe(0);
          expect(s.accepted).toBe(s.completed + s.deadLettered);
          expect(balanced(s)).toBe(true);
        },
      ),
      { numRuns: runs },
    );
  });
});

type Outcome = { ms: number; kind: 'ok' | '429' | 'retry-after' | 'error' };
