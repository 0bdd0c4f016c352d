import { describe, expect, it } from 'vitest';
import { type Driver, runScenario, WORKERS } from '../bench/flow/scenario.js';
import { AimdLimit, type ConcurrencyLimit, Gradient2Limit, Queue, VegasLimit } from '../src/index.js';
import { TestClock } from '../src/testing/index.js';
import { balanced } from './helpers.js';

/** A queue with a backlog, in front of the simulated server, following `limit`; checks at every start that no more than the limit run. */
function client(makeLimit: (clock: TestClock) => ConcurrencyLimit, seen: { over: number; queue?: Queue<number> }): Driver {
  return ({ request, clock }) => {
    const queue = new Queue<number>({
      concurrency: makeLimit(clock as TestClock),
      retryAfter: 'queue',
      retry: { maxAttempts: Infinity, backoff: () => 0 },
      handler: () => request(),
      clock,
    });
    queue.on('active', () => {
      if (queue.inFlight > queue.concurrency) seen.over++;
    });
    for (let i = 0; i < 40_000; i++) queue.tryPush(i);
    seen.queue = queue;
    return { stop: () => queue.pause() };
  };
}

// The bench's flow scenario (bench/flow/), shortened to 15 s of simulated time: 5 s per phase.
describe('flow control on the simulated server (TestClock)', () => {
  it.each([
    ['Gradient2Limit', (clock: TestClock) => new Gradient2Limit({ maxLimit: 400, clock })],
    ['VegasLimit', (clock: TestClock) => new VegasLimit({ maxLimit: 400, random: () => 0.5, clock })],
  ] as const)(
    '%s holds ≥ 90 per cent of capacity, ≤ 1 per cent 429s and p99 ≤ 2× unloaded once converged, converging within 5 s',
    async (_name, make) => {
      const seen = { over: 0 } as { over: number; queue?: Queue<number> };
      const r = await runScenario(new TestClock(1_000_000), client(make, seen), 15_000);
      expect(r.goodputPct).toBeGreaterThanOrEqual(90);
      expect(r.per1000).toBeLessThanOrEqual(10);
      expect(r.p99).toBeLessThanOrEqual(2 * r.unloadedP99);
      expect(r.convergeDown).toBeLessThanOrEqual(5);
      expect(r.convergeUp).toBeLessThanOrEqual(5);
      expect(seen.over).toBe(0);
      expect(balanced(seen.queue!.stats)).toBe(true);
    },
  );

  it('AIMD finds the most the server takes before it sheds load: full goodput is bought with queueing (p99 past 2× unloaded)', async () => {
    const seen = { over: 0 } as { over: number; queue?: Queue<number> };
    const r = await runScenario(
      new TestClock(1_000_000),
      client((clock) => new AimdLimit({ maxLimit: 400, clock }), seen),
      15_000,
    );
    expect(r.p99).toBeGreaterThan(2 * r.unloadedP99);
    expect(r.overshootPct).toBeGreaterThan(100);
    expect(seen.over).toBe(0);
    expect(balanced(seen.queue!.stats)).toBe(true);
  });

  it('a static concurrency far above the server (4 × its workers) draws 429s and collapses goodput', async () => {
    const r = await runScenario(
      new TestClock(1_000_000),
      ({ request, clock }) => {
        const queue = new Queue<number>({
          concurrency: 4 * WORKERS,
          retryAfter: 'queue',
          retry: { maxAttempts: Infinity, backoff: () => 0 },
          handler: () => request(),
          clock,
        });
        for (let i = 0; i < 40_000; i++) queue.tryPush(i);
        return { stop: () => queue.pause() };
      },
      15_000,
    );
    expect(r.per1000All).toBeGreaterThan(10);
    expect(r.goodputPct).toBeLessThan(50);
  });
});
