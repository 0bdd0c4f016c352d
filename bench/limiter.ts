/**
 * Rate-limiter overhead: N sequential acquisitions at an effectively
 * unlimited rate (the bucket never runs dry), against the bucket arithmetic inline.
 */
import { RateLimiter } from 'limiter';
import { TokenBucket } from './sluice.js';
import type { Suite } from './harness.js';

const HUGE = 1e12;

export const suite: Suite = {
  name: 'limiter',
  title: 'Rate-limiter overhead: sequential acquisitions, never waiting',
  unit: 'ops/s',
  params: [{}],
  rows: {
    'sluice tryAcquire': (n) => {
      const bucket = new TokenBucket({ ratePerSecond: HUGE, burst: HUGE });
      let granted = 0;
      for (let i = 0; i < n; i++) if (bucket.tryAcquire()) granted++;
      if (granted !== n) throw new Error('not every acquisition was granted');
    },
    'sluice acquire (awaited)': async (n) => {
      const bucket = new TokenBucket({ ratePerSecond: HUGE, burst: HUGE });
      for (let i = 0; i < n; i++) await bucket.acquire();
    },
    'limiter tryRemoveTokens': (n) => {
      const limiter = new RateLimiter({ tokensPerInterval: HUGE, interval: 'second' });
      for (let i = 0; i < n; i++) limiter.tryRemoveTokens(1);
    },
    'limiter removeTokens (awaited)': async (n) => {
      const limiter = new RateLimiter({ tokensPerInterval: HUGE, interval: 'second' });
      for (let i = 0; i < n; i++) await limiter.removeTokens(1);
    },
    'floor: inline bucket arithmetic': (n) => {
      const rate = HUGE / 1000;
      let tokens = HUGE;
      let last = Date.now();
      let granted = 0;
      for (let i = 0; i < n; i++) {
        const now = Date.now();
        tokens = Math.min(HUGE, tokens + (now - last) * rate);
        last = now;
        if (tokens >= 1) {
          tokens -= 1;
          granted++;
        }
      }
      if (granted !== n) throw new Error('floor miscounted');
    },
    'floor: inline arithmetic + await': async (n) => {
      const rate = HUGE / 1000;
      let tokens = HUGE;
      let last = Date.now();
      for (let i = 0; i < n; i++) {
        const now = Date.now();
        tokens = Math.min(HUGE, tokens + (now - last) * rate);
        last = now;
        if (tokens >= 1) tokens -= 1;
        await Promise.resolve();
      }
    },
  },
  ratios: [
    // Budgets as rates: ns/op ≤ 1.5× the floor's is rate ≥ 1/1.5 of it; ≤ 2.5× is ≥ 0.4.
    { ours: 'sluice tryAcquire', anchor: 'floor: inline bucket arithmetic', budget: 0.67 },
    { ours: 'sluice acquire (awaited)', anchor: 'floor: inline arithmetic + await', budget: 0.4 },
    { ours: 'sluice tryAcquire', anchor: 'limiter tryRemoveTokens' },
    { ours: 'sluice acquire (awaited)', anchor: 'limiter removeTokens (awaited)' },
  ],
};
