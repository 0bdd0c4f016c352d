/**
 * Runs one row of one suite in a fresh process: `repetitions` timed runs,
 * with `gc()` before each. Prints one JSON `Sample` line.
 * Usage: node --expose-gc --import tsx bench/worker.ts SUITE ROW N REPS PARAMS_JSON
 */
import type { Sample, Suite } from './harness.js';

const [suiteName, row, nText, repsText, paramsText] = process.argv.slice(2);
const { suite } = (await import(`./${suiteName}.ts`)) as { suite: Suite };
const fn = suite.rows[row!];
if (!fn) throw new Error(`no row ${row} in suite ${suiteName}`);
const n = Number(nText);
const params = JSON.parse(paramsText!) as Record<string, number>;
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

// One short warm-up run so the first measured run is not the JIT's.
await fn(Math.min(n, 10_000), params);
const seconds: number[] = [];
for (let i = 0; i < Number(repsText); i++) {
  gc();
  const start = process.hrtime.bigint();
  await fn(n, params);
  seconds.push(Number(process.hrtime.bigint() - start) / 1e9);
}
const sample: Sample = { suite: suiteName!, row: row!, params, n, seconds };
process.stdout.write(`${JSON.stringify(sample)}\n`);
