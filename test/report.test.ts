import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CHARTS } from '../examples/webhooks/report.js';
import { CHROMIUM, screenshotReport } from '../examples/webhooks/screenshot.js';

// The main job's HTML report, opened in the real Chromium the browser test uses. CI installs chromium and must
// run this; elsewhere it runs when /usr/bin/chromium exists. The screenshot is CI's artifact: artifacts/report.png.
const available = existsSync(CHROMIUM);
if (process.env.CI && !available) throw new Error(`CI must install ${CHROMIUM} (apt-get install -y chromium) for the report test`);
if (!available) {
  console.warn(
    `test/report.test.ts: the report's browser test is skipped: ${CHROMIUM} is missing. ` +
      "Install Debian's chromium to run it: apt-get install -y chromium",
  );
}
const root = fileURLToPath(new URL('..', import.meta.url));

describe('the main job’s HTML report', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-report-test-'));
  const html = join(dir, 'report.html');
  const json = join(dir, 'summary.json');
  const run = () =>
    spawnSync(process.execPath, ['--import', 'tsx', 'examples/demo.ts', '--rounds', '1', '--report', html, '--json', json], {
      cwd: root,
      encoding: 'utf8',
      timeout: 120_000,
    });

  it('is one self-contained file: the chart library inlined, no URL to fetch, the run’s series and summary in it', () => {
    const result = run();
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(`report: ${html}`);
    const page = readFileSync(html, 'utf8');
    expect(page).toContain('uPlot');
    // Nothing loaded from elsewhere (the browser test also fails on any request the page makes).
    expect(page).not.toMatch(/<script[^>]*\ssrc=|<link[\s>]|<img[\s>]|@import/);
    const summary = JSON.parse(readFileSync(json, 'utf8'));
    expect(page).toContain(`<th>delivered</th><td>${summary.delivered}</td>`);
    const series = JSON.parse(/const series = (.*);/.exec(page)![1]!);
    const steps = series.t.length;
    expect(steps).toBeGreaterThan(2);
    for (const column of ['deliveriesPerSec', 'inFlight', 'limit', 'waiting', 'status429', 'status503', 'waitP99Ms']) {
      expect(series[column]).toHaveLength(steps);
    }
    // The time series adds up to the run's own counts.
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    expect(sum(series.status503)).toBe(summary.status503);
    expect(sum(series.status429)).toBe(summary.status429);
  }, 120_000);

  it.runIf(available)(
    'draws every series of every chart in headless Chromium, and leaves a screenshot',
    async () => {
      if (!existsSync(html)) expect(run().status).toBe(0);
      mkdirSync(join(root, 'artifacts'), { recursive: true });
      const png = join(root, 'artifacts', 'report.png');
      const shot = await screenshotReport(html, png);
      expect(shot.errors).toEqual([]);
      expect(shot.charts.map((c) => c.id)).toEqual(CHARTS.map((c) => c.id));
      const steps = JSON.parse(/const series = (.*);/.exec(readFileSync(html, 'utf8'))![1]!).t.length;
      for (const chart of shot.charts) {
        expect(chart.points).toBe(steps);
        // Each series' colour is on its canvas (a line, even at zero, draws at least a row of pixels).
        for (const [label, pixels] of Object.entries(chart.pixels)) expect(pixels, `${chart.id}: ${label}`).toBeGreaterThan(50);
      }
      expect(readFileSync(png).subarray(1, 4).toString()).toBe('PNG');
      rmSync(dir, { recursive: true, force: true });
    },
    120_000,
  );
});
