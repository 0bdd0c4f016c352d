/**
 * Flow control that follows load, on the simulated server of bench/flow/
 * (simulated time on a TestClock: deterministic, so one repetition is the
 * run). 40 workers × 20 ms: 2 000 requests/s, halved to 1 000/s a third of
 * the way through and doubled back at two thirds; past 80 waiting it answers
 * 429 with a 1 s Retry-After. Each client has a backlog it never runs out of,
 * and retries what was refused.
 */
import { DefaultRateLimiter } from '@smithy/util-retry';
import PQueue from 'p-queue';
import { type ScenarioResult, runScenario, type Client, type Driver, WORKERS } from './flow/scenario.js';
import type { Suite } from './harness.js';
import {
  AdaptiveTokenBucket,
  AimdLimit,
  type Clock,
  type ConcurrencyLimit,
  Gradient2Limit,
  Queue,
  type RateLimiter,
  TestClock,
  VegasLimit,
} from './sluice.js';

/** Items each client has waiting: more than the run can send. */
const BACKLOG = 80_000;

/** A sluice Queue in front of the server: retries what was refused; a 429's Retry-After holds every start (`retryAfter: 'queue'`). */
type SluiceOptions = { concurrency: number | ConcurrencyLimit; rateLimit?: RateLimiter; retryAfter?: 'item' | 'queue' };
function sluice(options: (clock: Clock) => SluiceOptions): Driver {
  return ({ request, clock }: Client) => {
    const queue = new Queue<number>({
      retryAfter: 'queue',
      ...options(clock),
      retry: { maxAttempts: Infinity, backoff: () => 0 },
      handler: () => request(),
      clock,
    });
    for (let i = 0; i < BACKLOG; i++) queue.tryPush(i);
    return { stop: () => queue.pause() };
  };
}

/** `loops` workers each sending one request after another, taking a token from the AWS SDK's adaptive limiter first. */
function awsAdaptive(loops: number): Driver {
  return ({ request, clock }: Client) => {
    // Its time and timers on the simulated clock: both are private in its types, hooks in its code.
    type Limiter = { getSendToken(): Promise<void>; updateClientSendingRate(response: unknown): void };
    const Base = DefaultRateLimiter as unknown as (new () => Limiter) & { setTimeoutFn: (fn: () => void, ms: number) => unknown };
    class SimulatedTime extends Base {
      getCurrentTimeInSeconds(): number {
        return clock.now() / 1_000;
      }
    }
    // As Node's setTimeout, a delay under 1 ms waits 1 ms (its token math can ask for 5e-11 ms).
    Base.setTimeoutFn = (fn, ms) => clock.setTimeout(fn, Math.max(1, ms));
    const limiter = new SimulatedTime();
    let stopped = false;
    const loop = async (): Promise<void> => {
      while (!stopped) {
        await limiter.getSendToken();
        try {
          await request();
          limiter.updateClientSendingRate({});
        } catch {
          limiter.updateClientSendingRate({ errorType: 'THROTTLING' });
        }
      }
    };
    for (let i = 0; i < loops; i++) void loop();
    return { stop: () => void (stopped = true) };
  };
}

/** p-queue at a fixed concurrency; a refused task is added again. */
function pQueue(concurrency: number): Driver {
  return ({ request }: Client) => {
    const queue = new PQueue({ concurrency });
    const add = (): void => void queue.add(() => request()).catch(add);
    for (let i = 0; i < BACKLOG; i++) add();
    return { stop: () => queue.pause() };
  };
}

const figures = (r: ScenarioResult): Record<string, number> => ({
  'goodput %': r.goodputPct,
  '429 per 1 000': r.per1000,
  'p50 ms': r.p50,
  'p99 ms': r.p99,
  'p99 ÷ unloaded': r.p99 / r.unloadedP99,
  'converge ↓ s': r.convergeDown,
  'converge ↑ s': r.convergeUp,
  'overshoot %': r.overshootPct,
  'goodput % (whole run)': r.goodputAllPct,
  '429 per 1 000 (whole run)': r.per1000All,
});

const row = (drive: () => Driver) => async (ms: number) => figures(await runScenario(new TestClock(1_000_000), drive(), ms));

export const suite: Suite = {
  name: 'flow',
  kind: 'metrics',
  title: 'Flow control on a simulated server: capacity 2 000/s, halved, then doubled back (simulated time)',
  unit: '',
  params: [{}],
  rows: {
    [`sluice static ${WORKERS / 4} (too low)`]: row(() => sluice(() => ({ concurrency: WORKERS / 4 }))),
    [`sluice static ${WORKERS} (right)`]: row(() => sluice(() => ({ concurrency: WORKERS }))),
    [`sluice static ${WORKERS * 4} (too high)`]: row(() => sluice(() => ({ concurrency: WORKERS * 4 }))),
    [`p-queue concurrency ${WORKERS}`]: row(() => pQueue(WORKERS)),
    [`AWS SDK adaptive rate (@smithy/util-retry) × ${WORKERS * 4}`]: row(() => awsAdaptive(WORKERS * 4)),
    'sluice AimdLimit': row(() => sluice((clock) => ({ concurrency: new AimdLimit({ maxLimit: 400, clock }) }))),
    'sluice Gradient2Limit': row(() => sluice((clock) => ({ concurrency: new Gradient2Limit({ maxLimit: 400, clock }) }))),
    'sluice VegasLimit': row(() => sluice((clock) => ({ concurrency: new VegasLimit({ maxLimit: 400, random: () => 0.5, clock }) }))),
    [`sluice AdaptiveTokenBucket × ${WORKERS * 4}`]: row(() =>
      sluice((clock) => ({ concurrency: WORKERS * 4, rateLimit: new AdaptiveTokenBucket({ maxRatePerSecond: 10_000, burst: 10, clock }) })),
    ),
  },
  ratios: [],
};
