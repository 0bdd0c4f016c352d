import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Real headless Chromium (Debian's package) driving a page bundled from the built
// package. CI installs chromium and must run this; elsewhere it runs when /usr/bin/chromium exists.
const CHROMIUM = '/usr/bin/chromium';
const available = existsSync(CHROMIUM);
if (process.env.CI && !available) throw new Error(`CI must install ${CHROMIUM} (apt-get install -y chromium) for the browser test`);
if (!available) {
  console.warn(
    `test/browser.test.ts: the real-browser tests are skipped: ${CHROMIUM} is missing. ` +
      "Install Debian's chromium to run them: apt-get install -y chromium",
  );
}

const root = fileURLToPath(new URL('..', import.meta.url));

/** Debian's Chromium, headless, with a page whose uncaught errors are collected. */
async function open() {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  return { browser, page, errors };
}

describe.runIf(available)('in a real browser (headless Chromium)', () => {
  let server: Server;
  let url: string;
  let script: string;

  beforeAll(async () => {
    const bundle = await build({
      entryPoints: [`${root}test/browser/page.ts`],
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      alias: { sluice: `${root}dist/index.js` },
      logLevel: 'silent',
    });
    script = bundle.outputFiles[0]!.text;
    server = createServer((req, res) => {
      if (req.url === '/examples/browser/index.html' || req.url === '/dist/sluice.global.js') {
        // The example page and the IIFE build it loads, as files on disk.
        res.writeHead(200, { 'content-type': req.url.endsWith('.js') ? 'text/javascript' : 'text/html' });
        res.end(readFileSync(`${root}${req.url.slice(1)}`));
      } else if (req.url === '/page.js') {
        res.writeHead(200, { 'content-type': 'text/javascript' });
        res.end(script);
      } else {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<!doctype html><title>sluice</title><script type="module" src="/page.js"></script>');
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });

  afterAll(async () => {
    await new Promise<void>((r) => server?.close(() => r()));
  });

  it('bundles for the browser platform with no Node-only import', () => {
    expect(script).not.toMatch(/["']node:/);
  });

  it('runs a pipeline and a Queue, and the page reports what the tests expect', async () => {
    const { browser, page, errors } = await open();
    try {
      await page.goto(url);
      await page.waitForFunction(
        () => (window as { __results?: unknown; __error?: string }).__results ?? (window as { __error?: string }).__error,
        null,
        {
          timeout: 20_000,
        },
      );
      const { results, error } = await page.evaluate(() => ({
        results: (window as { __results?: unknown }).__results as {
          pipeline: { sent: number[][]; dead: { item: number[]; reason: string; attempts: number }[] };
          queue: { results: (number | string)[]; stats: Record<string, number> };
          userAgent: string;
        },
        error: (window as { __error?: string }).__error,
      }));
      expect(error).toBeUndefined();
      expect(errors).toEqual([]);
      expect(results.userAgent).toMatch(/HeadlessChrome|Chrome/);
      // 15 events, 3 duplicates: 12 unique in batches of 4 (the last, [12], sealed at the end);
      // the batch holding 13 dies after 3 attempts and is not yielded.
      expect(results.pipeline.sent).toEqual([[1, 2, 3, 4], [5, 6, 7, 8], [12]]);
      expect(results.pipeline.dead).toEqual([{ item: [9, 10, 13, 11], reason: 'delivery_limit', attempts: 3 }]);
      expect(results.queue.results).toEqual([1, 4, 9, 'rejected: never', 25, 36]);
      expect(results.queue.stats).toMatchObject({
        accepted: 6,
        completed: 5,
        deadLettered: 1,
        failed: 3,
        retried: 2,
        waiting: 0,
        inFlight: 0,
      });
    } finally {
      await browser.close();
    }
  }, 60_000);

  it('runs examples/browser/index.html on the IIFE build (window.sluice)', async () => {
    const { browser, page, errors } = await open();
    try {
      await page.goto(`${url}examples/browser/index.html`);
      await page.waitForFunction(() => document.getElementById('log')?.textContent?.includes('done:'), null, { timeout: 20_000 });
      const log = await page.evaluate(() => document.getElementById('log')!.textContent!);
      expect(errors).toEqual([]);
      // 20 events in batches of 5: every batch is sent (retries absorb the flaky calls) or dead-lettered.
      const sent = [...log.matchAll(/sent a batch of (\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
      const dead = Number(/(\d+) batches dead-lettered/.exec(log)![1]);
      expect(sent + dead * 5).toBe(20);
    } finally {
      await browser.close();
    }
  }, 60_000);
});
