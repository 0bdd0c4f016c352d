/**
 * Runs one row of one suite in a fresh process: `repetitions` measured runs,
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
// A `scale` parameter multiplies N for its parameter set (a suite comparing how rates hold as N grows).
const size = n * (params.scale ?? 1);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');
const kind = suite.kind ?? 'rate';

// One untimed run of N first (every row alike), so the measured runs time steady-state code, not the JIT's tiers:
// after a run of N/10 the first timed run was still ~10 % slow for some rows and not others.
if (kind === 'rate') await fn(size, params);
const keep: unknown[] = [];
const seconds: number[] = [];
const values: number[] = [];
const metrics: Record<string, number>[] = [];
// Heap plus ArrayBuffer memory (typed arrays live outside the JS heap).
const used = (): number => {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};
let result: unknown;
for (let i = 0; i < Number(repsText); i++) {
  result = undefined;
  gc();
  gc();
  const heapBefore = used();
  const start = process.hrtime.bigint();
  result = await fn(size, params);
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  seconds.push(elapsed);
  if (kind === 'memory') {
    keep.push(result); // alive while measured
    gc();
    gc();
    values.push((used() - heapBefore) / size);
    keep.length = 0;
  } else if (kind === 'metrics') {
    const m = result as Record<string, number>;
    metrics.push(m);
    values.push(Object.values(m)[0] ?? 0);
  } else values.push(size / elapsed);
}
const sample: Sample = { suite: suiteName!, row: row!, params, n, seconds, values, ...(kind === 'metrics' ? { metrics } : {}) };
process.stdout.write(`${JSON.stringify(sample)}\n`);
process.exit(0);
