/**
 * The speed gate CI runs: every budgeted ratio of the queue, batch and memory
 * suites, at moderate sizes, each row in a fresh process (bench/worker.ts),
 * rows interleaved over rounds so a noisy moment falls on all of them alike.
 * Exits 1 when a ratio falls below its budget less the noise margin (above
 * it, for memory). Ratios only, never absolute times.
 *
 *   npm run bench:gate            (builds first)
 *   npm run bench:gate -- --runs 5  repeat the whole gate, to measure the noise
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Sample, Suite } from './harness.js';

/**
 * How far a ratio may fall short of its budget before the gate fails, as a
 * fraction of the budget. Measured: over repeated gate runs on a shared
 * 2-core machine the budgeted ratios moved by up to ±9 % around their
 * medians (bench/results.md, "The speed gate"); 15 % keeps a noisy run
 * green while any regression that crosses a budget for real turns CI red.
 */
export const MARGIN = 0.15;

const gated: Record<string, { n: number; rounds: number }> = {
  queue: { n: 100_000, rounds: 3 },
  batch: { n: 200_000, rounds: 3 },
  memory: { n: 100_000, rounds: 3 },
};

const here = fileURLToPath(new URL('.', import.meta.url));
const args = process.argv.slice(2);
const runsAt = args.indexOf('--runs');
const runs = runsAt >= 0 ? Number(args[runsAt + 1]) : 1;
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

function sample(suite: string, row: string, n: number, params: Record<string, number>): number {
  const out = execFileSync(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', `${here}worker.ts`, suite, row, String(n), '1', JSON.stringify(params)],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return (JSON.parse(out.trim().split('\n').at(-1)!) as Sample).values[0]!;
}

let failed = 0;
for (let run = 1; run <= runs; run++) {
  if (runs > 1) process.stdout.write(`run ${run} of ${runs}\n`);
  for (const [name, { n, rounds }] of Object.entries(gated)) {
    const { suite } = (await import(`./${name}.ts`)) as { suite: Suite };
    const lowerIsBetter = suite.kind === 'memory';
    const budgeted = suite.ratios.filter((r) => r.budget !== undefined);
    const rows = [...new Set(budgeted.flatMap((r) => [r.ours, r.anchor]))];
    for (const params of suite.params) {
      const values = new Map<string, number[]>(rows.map((row) => [row, []]));
      for (let round = 0; round < rounds; round++) {
        for (const row of rows) values.get(row)!.push(sample(name, row, n, params));
      }
      const label = Object.entries(params)
        .map(([k, v]) => ` ${k} ${v}`)
        .join('');
      for (const { ours, anchor, budget } of budgeted) {
        const ratio = median(values.get(ours)!) / median(values.get(anchor)!);
        const limit = lowerIsBetter ? budget! * (1 + MARGIN) : budget! * (1 - MARGIN);
        const ok = lowerIsBetter ? ratio <= limit : ratio >= limit;
        if (!ok) failed++;
        process.stdout.write(
          `${ok ? 'ok  ' : 'FAIL'} ${name}${label}: ${ours} ÷ ${anchor} = ${ratio.toFixed(2)}× ` +
            `(budget ${lowerIsBetter ? '≤' : '≥'} ${budget}×, gate ${lowerIsBetter ? '≤' : '≥'} ${limit.toFixed(2)}×)\n`,
        );
      }
    }
  }
}
if (failed > 0) {
  process.stdout.write(`\nspeed gate: ${failed} ratio${failed === 1 ? '' : 's'} past the budget less the noise margin\n`);
  process.exit(1);
}
process.stdout.write('\nspeed gate: every budgeted ratio within its budget less the noise margin\n');
