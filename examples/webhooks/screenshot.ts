/**
 * Opens the main job's HTML report in Debian's Chromium (headless, through
 * playwright-core), counts each series' pixels on its chart's canvas, and
 * saves a screenshot. Used by the report's test and by
 * `npm run report:png` (the README's picture).
 */
import { chromium } from 'playwright-core';
import { CHARTS } from './report.js';

/** Where Debian's package puts Chromium. */
export const CHROMIUM = '/usr/bin/chromium';

/** A chart as the browser drew it: its points per series and, per series, the canvas pixels of the series' colour. */
export interface DrawnChart {
  readonly id: string;
  readonly points: number;
  readonly pixels: Record<string, number>;
}

/** What the page showed. */
export interface Shot {
  readonly charts: DrawnChart[];
  readonly errors: string[];
}

/** Opens `htmlFile`, waits for its charts, measures them and writes a full-page PNG to `pngFile`. */
export async function screenshotReport(htmlFile: string, pngFile: string): Promise<Shot> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1300, height: 900 }, deviceScaleFactor: 1 });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    // The report is self-contained: any request it makes is a defect.
    page.on('request', (r) => {
      if (!r.url().startsWith('file:')) errors.push(`request to ${r.url()}`);
    });
    await page.goto(`file://${htmlFile}`);
    await page.waitForSelector('html[data-ready]', { timeout: 10_000 });
    const charts = await page.evaluate((specs) => {
      const drawn = (window as unknown as { drawn: { id: string; points: number }[] }).drawn;
      return specs.map((spec) => {
        const canvas = document.querySelector<HTMLCanvasElement>(`#chart-${spec.id} canvas`)!;
        const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
        const pixels: Record<string, number> = {};
        for (const s of spec.series) {
          const [r, g, b] = [1, 3, 5].map((i) => Number.parseInt(s.stroke.slice(i, i + 2), 16)) as [number, number, number];
          let n = 0;
          for (let i = 0; i < data.length; i += 4) {
            if (data[i + 3]! > 200 && Math.abs(data[i]! - r) + Math.abs(data[i + 1]! - g) + Math.abs(data[i + 2]! - b) < 24) n++;
          }
          pixels[s.label] = n;
        }
        return { id: spec.id, points: drawn.find((d) => d.id === spec.id)?.points ?? 0, pixels };
      });
    }, CHARTS);
    await page.screenshot({ path: pngFile, fullPage: true });
    return { charts, errors };
  } finally {
    await browser.close();
  }
}
