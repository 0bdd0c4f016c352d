/**
 * sluice as its users run it: the built package (dist/index.js), typed from
 * the sources. The suites import it from here, not from src/ through tsx's
 * on-the-fly transform, which runs the queue's hot loop about 10 % slower
 * than the published build. `npm run bench` builds first.
 */
import { existsSync } from 'node:fs';
import type * as Sluice from '../src/index.js';
import type * as Testing from '../src/testing/index.js';
import type * as Otel from '../src/otel/index.js';

const dist = new URL('../dist/index.js', import.meta.url);
if (!existsSync(dist)) throw new Error('bench/ measures the built package: run `npm run build` first (npm run bench does)');
const sluice = (await import(dist.href)) as typeof Sluice;

const testing = (await import(new URL('../dist/testing/index.js', import.meta.url).href)) as typeof Testing;
const otel = (await import(new URL('../dist/otel/index.js', import.meta.url).href)) as typeof Otel;

export const {
  AdaptiveTokenBucket,
  AimdLimit,
  BatchAccumulator,
  Gradient2Limit,
  Queue,
  TaskQueue,
  TokenBucket,
  VegasLimit,
  PubSub,
  balance,
  batch,
  pipe,
  window,
  retry,
  throttle,
} = sluice;
export const { TestClock } = testing;
export const { instrument } = otel;
export type { Clock, ConcurrencyLimit, RateLimiter } from '../src/index.js';
