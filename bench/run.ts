/**
 * Benchmark runner: each row of each suite in a fresh process, side by side
 * in one run; reports medians, spread and ratios to the anchors, and writes
 * bench/results.md.
 *
 *   npm run bench                  full sizes
 *   npm run bench:quick            small sizes, < 1 min (CI keeps the harness working)
 *   npm run bench -- queue         only the named suites
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Sample, Suite } from './harness.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = args.filter((a) => !a.startsWith('--'));
const all = ['queue', 'batch'];
const suites = only.length ? only : all;
const sizes: Record<string, { n: number; reps: number }> = quick
  ? { queue: { n: 20_000, reps: 3 }, batch: { n: 20_000, reps: 3 } }
  : { queue: { n: 1_000_000, reps: 5 }, batch: { n: 1_000_000, reps: 5 } };

const here = fileURLToPath(new URL('.', import.meta.url));
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmt = (x: number): string => (x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toPrecision(3));

const lines: string[] = [
  '# Benchmark results',
  '',
  `Node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'} × ${cpus().length}, ${new Date().toISOString().slice(0, 10)}${quick ? ', quick sizes (not for comparison)' : ''}.`,
  'Each row ran in a fresh process (`node --expose-gc`), `gc()` before each repetition; medians, with the spread (min–max) as ± % of the median.',
  'Ratios compare rows of the same run: the machines are shared and noisy, so read ratios, not absolute rates.',
  '',
];

for (const name of suites) {
  const { suite } = (await import(`./${name}.ts`)) as { suite: Suite };
  const { n, reps } = sizes[name] ?? { n: 10_000, reps: 3 };
  lines.push(`## ${suite.title}`, '', `N = ${n.toLocaleString('en-US')}, ${reps} repetitions.`, '');
  for (const params of suite.params) {
    const label = Object.entries(params).map(([k, v]) => `${k} ${v}`).join(', ');
    const rates = new Map<string, number>();
    const table = [`### ${label || 'default'}`, '', `| row | median ${suite.unit} | spread |`, '| --- | ---: | ---: |'];
    for (const row of Object.keys(suite.rows)) {
      const out = execFileSync(
        process.execPath,
        ['--expose-gc', '--import', 'tsx', `${here}worker.ts`, name, row, String(n), String(reps), JSON.stringify(params)],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
      );
      const sample = JSON.parse(out.trim().split('\n').at(-1)!) as Sample;
      const perSecond = sample.seconds.map((s) => n / s);
      const med = median(perSecond);
      const spread = ((Math.max(...perSecond) - Math.min(...perSecond)) / 2 / med) * 100;
      rates.set(row, med);
      table.push(`| ${row} | ${fmt(med)} | ±${spread.toFixed(1)} % |`);
      process.stdout.write(`${name} [${label}] ${row}: ${fmt(med)} ${suite.unit}\n`);
    }
    table.push('', '| ratio | value |', '| --- | ---: |');
    for (const [ours, anchor] of suite.ratios) {
      const ratio = rates.get(ours)! / rates.get(anchor)!;
      table.push(`| ${ours} ÷ ${anchor} | ${ratio.toFixed(2)}× |`);
      process.stdout.write(`  ${ours} ÷ ${anchor}: ${ratio.toFixed(2)}×\n`);
    }
    lines.push(...table, '');
  }
}

const file = quick ? `${here}.out/results-quick.md` : `${here}results.md`;
if (quick) execFileSync('mkdir', ['-p', `${here}.out`]);
writeFileSync(file, lines.join('\n'));
process.stdout.write(`\nwrote ${file}\n`);
