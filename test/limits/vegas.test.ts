import { describe, expect, it } from 'vitest';
import { type LimitChange, VegasLimit } from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';
import { windows } from './helpers.js';

describe('VegasLimit', () => {
  it("defaults to Netflix's: 20 within 1..1000", () => {
    const limit = new VegasLimit();
    expect([limit.limit, limit.minLimit, limit.maxLimit]).toEqual([20, 1, 1000]);
  });

  it('takes the first window as no-load latency, then grows by β = 6·log10(limit) while nothing queues', async () => {
    const clock = new TestClock();
    const limit = new VegasLimit({ initialLimit: 20, clock, random: () => 0.99 });
    const changes: LimitChange[] = [];
    limit.on('limit', (c) => changes.push(c));
    await windows(limit, clock, { rttMs: 10 });
    expect(limit.rttNoLoadMs).toBe(10);
    expect(limit.limit).toBe(20);
    await windows(limit, clock, { rttMs: 10 });
    expect(changes).toEqual([{ from: 20, to: 26, reason: 'increase' }]);
  });

  it('shrinks by log10(limit) when the estimated queue passes β, and on a drop', async () => {
    const clock = new TestClock();
    const limit = new VegasLimit({ initialLimit: 20, clock, random: () => 0.99 });
    await windows(limit, clock, { rttMs: 10 });
    await windows(limit, clock, { rttMs: 20 }); // queue = ceil(20 × (1 − 10/20)) = 10 > 6
    expect(limit.limit).toBe(19);
    await windows(limit, clock, { rttMs: 20, inFlight: 19, dropped: true });
    expect(limit.limit).toBe(18);
  });

  it('grows by log10(limit) when the queue is under α, and holds between α and β', async () => {
    const clock = new TestClock();
    const limit = new VegasLimit({ initialLimit: 20, clock, random: () => 0.99 });
    await windows(limit, clock, { rttMs: 100 });
    await windows(limit, clock, { rttMs: 110 }); // queue = ceil(20 × 0.0909) = 2: above log10 (1), under α (3)
    expect(limit.limit).toBe(21);
    await windows(limit, clock, { rttMs: 125 }); // queue = ceil(21 × 0.2) = 5: between α (3) and β (6)
    expect(limit.limit).toBe(21);
  });

  it('probes the no-load latency again every probeMultiplier × limit × jitter windows', async () => {
    const clock = new TestClock();
    const limit = new VegasLimit({ initialLimit: 2, minLimit: 2, maxLimit: 2, clock, random: () => 0 }); // jitter 0.5: every 30 windows
    await windows(limit, clock, { rttMs: 10 });
    for (let i = 0; i < 28; i++) await windows(limit, clock, { rttMs: 20 });
    expect(limit.rttNoLoadMs).toBe(10);
    await windows(limit, clock, { rttMs: 20 });
    expect(limit.rttNoLoadMs).toBe(20);
  });

  it('rejects bad options', () => {
    expect(() => new VegasLimit({ smoothing: 0 })).toThrow('VegasLimit: smoothing must be a positive finite number, got 0');
    expect(() => new VegasLimit({ probeMultiplier: 1.5 })).toThrow(RangeError);
    expect(() => new VegasLimit({ random: 1 } as never)).toThrow(TypeError);
  });
});
