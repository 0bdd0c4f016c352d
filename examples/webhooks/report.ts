/**
 * The main job's HTML report: one self-contained file (uPlot's script and
 * stylesheet inlined, the run's data as JSON) that opens offline in any
 * browser. Four time-series charts — deliveries/s; requests in flight
 * against the concurrency limit; 429s and 503s; wait p99 — and the summary.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Summary } from './job.js';
import type { Series } from './timeline.js';

/** A chart of the report: its title, y-axis label and series (a column of {@link Series} each, with its colour). */
export interface ChartSpec {
  readonly id: string;
  readonly title: string;
  readonly unit: string;
  readonly series: readonly { readonly column: keyof Omit<Series, 'stepMs' | 't'>; readonly label: string; readonly stroke: string }[];
}

/** The report's charts. Colours are distinct so a test can find each series' pixels on its canvas. */
export const CHARTS: readonly ChartSpec[] = [
  {
    id: 'deliveries',
    title: 'Deliveries per second',
    unit: 'deliveries/s',
    series: [{ column: 'deliveriesPerSec', label: 'delivered', stroke: '#1f77b4' }],
  },
  {
    id: 'concurrency',
    title: 'Requests in flight and the concurrency limit',
    unit: 'requests',
    series: [
      { column: 'inFlight', label: 'in flight', stroke: '#2ca02c' },
      { column: 'limit', label: 'concurrency limit', stroke: '#d62728' },
    ],
  },
  {
    id: 'status',
    title: '429 and 503 answers per step',
    unit: 'answers',
    series: [
      { column: 'status429', label: '429 Too Many Requests', stroke: '#ff7f0e' },
      { column: 'status503', label: '503 Service Unavailable', stroke: '#9467bd' },
    ],
  },
  {
    id: 'wait',
    title: 'Wait before an attempt, p99 per step',
    unit: 'ms',
    series: [{ column: 'waitP99Ms', label: 'wait p99', stroke: '#8c564b' }],
  },
];

const require = createRequire(import.meta.url);
const asset = (path: string): string => readFileSync(require.resolve(path), 'utf8');

/** JSON safe inside a `<script>` element. */
const inline = (value: unknown): string => JSON.stringify(value).replace(/</g, '\\u003c');

const escapeHtml = (text: string): string =>
  text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** The report as one HTML document. */
export function renderReport(summary: Summary, series: Series, title = 'sluice demo run'): string {
  const s = summary;
  const ll = s.queue.littlesLaw;
  const rows: [string, string | number][] = [
    ['unique deliveries', s.unique],
    ['delivered', s.delivered],
    ['dead-lettered', s.deadLettered.total],
    ['HTTP requests', s.requests],
    ['429 / 503 seen', `${s.status429} / ${s.status503}`],
    ['throughput (deliveries/s)', s.throughputPerSec],
    ['batch wait p50 / p99 (ms)', `${s.queue.waitMs.p50} / ${s.queue.waitMs.p99}`],
    ['request time p50 / p99 (ms)', `${s.queue.runMs.p50} / ${s.queue.runMs.p99}`],
    ["Little's law: L measured / λ·W", `${ll.L} / ${ll.lambdaW} (${(ll.relativeError * 100).toFixed(1)} % apart)`],
    ['elapsed (s)', (s.elapsedMs / 1_000).toFixed(1)],
    ['books balance', s.balanced ? 'yes' : 'NO'],
  ];
  const table = rows.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(String(v))}</td></tr>`).join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(title)}</title>
<style>${asset('uplot/dist/uPlot.min.css')}</style>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; background: #fff; }
  h1 { font-size: 20px; margin: 0 0 12px; }
  h2 { font-size: 15px; margin: 18px 0 4px; }
  table { border-collapse: collapse; margin-bottom: 8px; }
  th { text-align: left; font-weight: normal; padding: 1px 16px 1px 0; color: #555; }
  td { text-align: right; font-variant-numeric: tabular-nums; }
  .charts { display: grid; grid-template-columns: repeat(2, 600px); gap: 8px 24px; }
</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<table>${table}</table>
<div class="charts">${CHARTS.map((c) => `<section><h2>${escapeHtml(c.title)}</h2><div id="chart-${c.id}"></div></section>`).join('')}</div>
<script>${asset('uplot/dist/uPlot.iife.min.js')}</script>
<script>
const series = ${inline(series)};
const charts = ${inline(CHARTS)};
window.drawn = charts.map((c) => {
  const plot = new uPlot(
    {
      width: 600,
      height: 260,
      scales: { x: { time: false } },
      axes: [{ label: 's' }, { label: c.unit }],
      series: [{ label: 't (s)' }, ...c.series.map((s) => ({ label: s.label, stroke: s.stroke, width: 2, spanGaps: true }))],
    },
    [series.t, ...c.series.map((s) => series[s.column])],
    document.getElementById('chart-' + c.id),
  );
  return { id: c.id, points: plot.data[0].length };
});
document.documentElement.dataset.ready = 'true';
</script>
</body>
</html>
`;
}
