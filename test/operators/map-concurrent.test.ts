import { describe, expect, it } from 'vitest';
import { AimdLimit, type ConcurrencyLimit, type LimitSample, mapConcurrent, pipe } from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';

const sleep = (clock: TestClock, ms: number) => new Promise<void>((resolve) => clock.setTimeout(resolve, ms));
const collect = async <T>(source: AsyncIterable<T>): Promise<T[]> => {
  const out: T[] = [];
  for await (const x of source) out.push(x);
  return out;
};
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('mapConcurrent() following load', () => {
  it('follows a limit object live, feeds it a sample per call, and never runs more calls than it allows', async () => {
    const clock = new TestClock();
    const samples: LimitSample[] = [];
    const limit: ConcurrencyLimit = {
      limit: 2,
      onSample(s) {
        samples.push(s);
        this.limit = samples.length >= 2 ? 4 : 2;
      },
    } as ConcurrencyLimit & { limit: number };
    let running = 0;
    const most: number[] = [];
    const out = collect(
      pipe(
        range(12),
        mapConcurrent(
          async (n: number) => {
            most.push(++running);
            await sleep(clock, 10);
            running--;
            return n * 2;
          },
          { concurrency: limit, clock },
        ),
      ),
    );
    await clock.runAll();
    expect(await out).toEqual(range(12).map((n) => n * 2));
    expect(samples).toHaveLength(12);
    expect(samples[0]).toEqual({ startedAt: 0, rttMs: 10, inFlight: 1, dropped: false });
    expect(Math.max(...most.slice(0, 2))).toBe(2);
    expect(Math.max(...most)).toBe(4);
  });

  it('backs an AimdLimit off on 429s', async () => {
    const clock = new TestClock();
    const limit = new AimdLimit({ initialLimit: 10, clock });
    const reasons: string[] = [];
    limit.on('limit', (c) => reasons.push(c.reason));
    const out = collect(
      pipe(
        range(50),
        mapConcurrent(
          async (n: number, { attempt }) => {
            await sleep(clock, 20);
            if (n < 10 && attempt === 1) throw Object.assign(new Error('busy'), { status: 429 });
            return n;
          },
          { concurrency: limit, retry: { maxAttempts: 2, backoff: () => 200 }, clock },
        ),
      ),
    );
    await clock.runAll();
    expect(await out).toHaveLength(50);
    expect(reasons[0]).toBe('drop');
  });

  it("with retryAfter: 'queue', a Retry-After holds every new call, not only the item's retry", async () => {
    const clock = new TestClock();
    const starts: string[] = [];
    let first = true;
    const out = collect(
      pipe(
        range(3),
        mapConcurrent(
          (n: number, { attempt }) => {
            starts.push(`${n}.${attempt}@${clock.now()}`);
            if (first) {
              first = false;
              throw Object.assign(new Error('later'), { retryAfterMs: 500 });
            }
            return n;
          },
          { retryAfter: 'queue', retry: { maxAttempts: 2, backoff: () => 0 }, clock },
        ),
      ),
    );
    await clock.runAll();
    expect(await out).toEqual([0, 1, 2]);
    expect(starts).toEqual(['0.1@0', '0.2@500', '1.1@500', '2.1@500']);
  });

  it('rejects a bad concurrency or retryAfter when called', () => {
    expect(() => mapConcurrent((x) => x, { concurrency: {} as never })).toThrow(
      'mapConcurrent: concurrency must be a positive integer, Infinity or a ConcurrencyLimit',
    );
    expect(() => mapConcurrent((x) => x, { retryAfter: 'all' as never })).toThrow(
      "mapConcurrent: retryAfter must be one of 'item', 'queue'",
    );
    expect(() => mapConcurrent((x) => x, { classify: 1 as never })).toThrow(TypeError);
  });
});
