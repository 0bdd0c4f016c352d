/**
 * sluice as its users run it: the built package (dist/index.js), typed from
 * the sources. The suites import it from here, not from src/ through tsx's
 * on-the-fly transform, which runs the queue's hot loop about 10 % slower
 * than the published build. `npm run bench` builds first.
 */
import { existsSync } from 'node:fs';
import type * as Sluice from '../src/index.js';

const dist = new URL('../dist/index.js', import.meta.url);
if (!existsSync(dist)) throw new Error('bench/ measures the built package: run `npm run build` first (npm run bench does)');
const sluice = (await import(dist.href)) as typeof Sluice;

export const { BatchAccumulator, Queue, TaskQueue, TokenBucket, batch, pipe, retry, throttle } = sluice;
export type { Clock } from '../src/index.js';
