/**
 * How to unit-test code that uses sluice without waiting: with Vitest's fake
 * timers (no clock passed: sluice reads Date and setTimeout at call time), or
 * with sluice's TestClock. Both tests cover a minute of retries and rate
 * limiting and take milliseconds.
 */
import { TestClock } from 'sluice/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type Fetcher, WeatherClient } from './weather-client.js';

/** A fake API, busy (429, Retry-After 30 s) on the first call and down (503) on the second; `calls` records when. */
function flakyApi(now: () => number): { fetcher: Fetcher; calls: number[] } {
  const calls: number[] = [];
  const fetcher: Fetcher = async (city) => {
    calls.push(now());
    if (calls.length === 1) return { status: 429, retryAfterSeconds: 30 };
    if (calls.length === 2) return { status: 503 };
    return { status: 200, body: { city, celsius: 21 } };
  };
  return { fetcher, calls };
}

describe('WeatherClient', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('with vi.useFakeTimers(): honours Retry-After, then backs off, in zero real time', async () => {
    vi.useFakeTimers({ now: 0 });
    const { fetcher, calls } = flakyApi(() => Date.now());
    const client = new WeatherClient(fetcher, { ratePerSecond: 1 });
    const forecast = client.forecast('Lisbon');
    await vi.advanceTimersByTimeAsync(60_000);
    await expect(forecast).resolves.toEqual({ city: 'Lisbon', celsius: 21 });
    // Call 1 at 0; Retry-After 30 s; call 2 at 30 s; backoff 1 s (500 ms × 2); call 3 at 31 s.
    expect(calls).toEqual([0, 30_000, 31_000]);
  });

  it('with TestClock: the same, fully deterministic', async () => {
    const clock = new TestClock();
    const { fetcher, calls } = flakyApi(() => clock.now());
    const client = new WeatherClient(fetcher, { ratePerSecond: 1, clock });
    const forecast = client.forecast('Porto');
    await clock.advance(60_000);
    await expect(forecast).resolves.toEqual({ city: 'Porto', celsius: 21 });
    expect(calls).toEqual([0, 30_000, 31_000]);
  });

  it('rate-limits several forecasts to one request per second', async () => {
    const clock = new TestClock();
    const calls: number[] = [];
    const fetcher: Fetcher = async (city) => {
      calls.push(clock.now());
      return { status: 200, body: { city, celsius: 18 } };
    };
    const client = new WeatherClient(fetcher, { ratePerSecond: 1, clock });
    const all = Promise.all(['a', 'b', 'c'].map((c) => client.forecast(c)));
    await clock.advance(2_000);
    await all;
    expect(calls).toEqual([0, 1_000, 2_000]);
  });
});
