import type { AdaptiveLimit } from '../../src/index.js';
import type { TestClock } from '../../src/testing/index.js';

/** One decision window's attempts: `n` (default 10) samples of `rttMs`, ending at the same instant. */
export interface WindowSpec {
  readonly rttMs: number;
  /** In flight at each start. @default the limit in force */
  readonly inFlight?: number;
  readonly dropped?: boolean;
  readonly n?: number;
}

/**
 * Feeds each window's samples, then moves the clock past the window. A
 * window is decided on when an attempt ends after it, so a last sample like
 * the last window's ends past it: every window given has been decided on when
 * this returns (that sample opens the next window).
 */
export async function windows(limit: AdaptiveLimit, clock: TestClock, ...specs: WindowSpec[]): Promise<void> {
  const feed = (s: WindowSpec, n: number) => {
    for (let i = 0; i < n; i++) {
      limit.onSample({
        startedAt: clock.now() - s.rttMs,
        rttMs: s.rttMs,
        inFlight: s.inFlight ?? limit.limit,
        dropped: s.dropped ?? false,
      });
    }
  };
  for (const s of specs) {
    feed(s, s.n ?? 10);
    await clock.advance(Math.max(2 * s.rttMs, 1000) + 1); // past the longest window (maxWindowMs 1 000)
  }
  const last = specs.at(-1);
  if (last) feed({ ...last, dropped: false }, 1);
}
