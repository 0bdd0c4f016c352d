import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { redisAvailable, startRedis } from './redis/server.js';

// The main job as a newcomer runs it, as a child process (tsx, like `npm run demo`).
// Without --report the demo writes one to the current directory: only the first test lets it (and removes it).
const run = (args: string[]) =>
  spawnSync(
    process.execPath,
    ['--import', 'tsx', 'examples/demo.ts', ...(args.includes('--report') ? [] : ['--report', 'none']), ...args],
    {
      encoding: 'utf8',
      timeout: 120_000,
    },
  );

describe('npm run demo', () => {
  it('delivers every unique delivery or dead-letters it, and the receiver’s record matches', () => {
    const json = join(mkdtempSync(join(tmpdir(), 'sluice-demo-test-')), 'summary.json');
    const report = resolve('sluice-demo-report.html');
    rmSync(report, { force: true });
    const result = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        'examples/demo.ts',
        '--rounds',
        '1',
        '--rate',
        '400',
        '--receiver-rate',
        '300',
        '--fail-rate',
        '0.1',
        '--json',
        json,
      ],
      { encoding: 'utf8', timeout: 120_000 },
    );
    expect(result.stderr).not.toMatch(/Error/);
    expect(result.status, `${result.stdout}\n${result.stderr}`).toBe(0);
    expect(result.stdout).toMatch(/books balance/);
    // The HTML report, written by default, its path printed (test/report.test.ts opens one in Chromium).
    expect(result.stdout).toContain(`report: ${report}`);
    expect(readFileSync(report, 'utf8')).toMatch(/^<!doctype html>/);
    rmSync(report);
    const s = JSON.parse(readFileSync(json, 'utf8'));
    rmSync(dirname(json), { recursive: true, force: true });
    expect(s.read).toBe(s.unique + s.duplicates);
    expect(s.duplicates).toBeGreaterThan(0);
    expect(s.unique).toBe(s.delivered + s.deadLettered.total);
    expect(s.deadLettered.byReason.rejected).toBeGreaterThan(0); // the poison event's deliveries
    expect(s.receiver).toEqual({ accepted: s.delivered, duplicates: 0, matchesDelivered: true });
    expect(s.status503).toBeGreaterThan(0);
    expect(s.retries).toBeGreaterThan(0);
    for (const key of ['batches', 'status429', 'throughputPerSec']) expect(typeof s[key]).toBe('number');
    expect(s.latencyMs.p99).toBeGreaterThanOrEqual(s.latencyMs.p50);
    // The sending queue's metrics(): quantiles in order, and Little's law measured against λ·W.
    const q = s.queue;
    expect(q.waitMs.p99).toBeGreaterThanOrEqual(q.waitMs.p50);
    expect(q.runMs.p99).toBeGreaterThanOrEqual(q.runMs.p50);
    expect(q.runMs.p50).toBeGreaterThan(0);
    expect(q.littlesLaw.lambda).toBeGreaterThan(0);
    expect(q.littlesLaw.lambdaW).toBeCloseTo(q.littlesLaw.lambda * q.littlesLaw.W, 1);
    expect(q.littlesLaw.relativeError).toBeLessThan(0.5);
    expect(result.stdout).toMatch(/Little's law: L measured \/ λ·W \*\s+[\d.]+ \/ [\d.]+ \([\d.]+ % apart\)/);
  }, 120_000);

  it('gives the same deterministic figures for the same --seed however the timing goes', () => {
    const summary = (args: string[]) => {
      const json = join(mkdtempSync(join(tmpdir(), 'sluice-demo-test-')), 'summary.json');
      const result = run(['--rounds', '1', '--seed', '7', '--json', json, ...args]);
      expect(result.status, `${result.stdout}\n${result.stderr}`).toBe(0);
      const s = JSON.parse(readFileSync(json, 'utf8'));
      rmSync(dirname(json), { recursive: true, force: true });
      return s;
    };
    // Different rates, lingers and batch sizes: other batches, requests and failures, the same deliveries' fates.
    const a = summary(['--rate', '400', '--receiver-rate', '300', '--linger-ms', '20']);
    const b = summary(['--rate', '250', '--receiver-rate', '300', '--linger-ms', '0', '--max-items', '7']);
    const fates = (s: { read: number; duplicates: number; unique: number; delivered: number; deadLettered: unknown }) => ({
      read: s.read,
      duplicates: s.duplicates,
      unique: s.unique,
      delivered: s.delivered,
      deadLettered: s.deadLettered,
    });
    expect(fates(b)).toEqual(fates(a));
    expect(b.batches).not.toBe(a.batches);
  }, 120_000);

  it('redrives what ran out of attempts through a TaskQueue, and the books still balance', () => {
    const json = join(mkdtempSync(join(tmpdir(), 'sluice-demo-test-')), 'summary.json');
    const result = run([
      '--rounds',
      '1',
      '--rate',
      '300',
      '--receiver-rate',
      '200',
      '--fail-rate',
      '0.5',
      '--max-attempts',
      '2',
      '--json',
      json,
    ]);
    expect(result.status, `${result.stdout}\n${result.stderr}`).toBe(0);
    const s = JSON.parse(readFileSync(json, 'utf8'));
    rmSync(dirname(json), { recursive: true, force: true });
    expect(s.redrive.redriven + s.redrive.failed).toBeGreaterThan(0);
    expect(s.balanced).toBe(true);
    expect(s.unique).toBe(s.delivered + s.deadLettered.total);
  }, 120_000);

  it('follows the receiver with an adaptive concurrency limit, and --static N fixes it, the books balanced both ways', () => {
    const summary = (args: string[]) => {
      const json = join(mkdtempSync(join(tmpdir(), 'sluice-demo-test-')), 'summary.json');
      const result = run(['--rounds', '2', '--json', json, ...args]);
      expect(result.status, `${result.stdout}\n${result.stderr}`).toBe(0);
      const s = JSON.parse(readFileSync(json, 'utf8'));
      rmSync(dirname(json), { recursive: true, force: true });
      return { s, stdout: result.stdout };
    };
    const adaptive = summary(['--concurrency', '2']);
    expect(adaptive.s.limit.start).toBe(2);
    expect(adaptive.s.limit.highest).toBeGreaterThan(2); // it grew to use the receiver's workers
    expect(adaptive.s.limit.lowest).toBeLessThanOrEqual(adaptive.s.limit.final);
    expect(adaptive.stdout).toMatch(/concurrency: start \/ lowest \/ highest \/ final \*\s+2 \/ \d+ \/ \d+ \/ \d+/);
    expect(adaptive.s.balanced).toBe(true);
    const fixed = summary(['--static', '40', '--receiver-queue', '4']);
    expect(fixed.s.limit).toEqual({ static: 40 });
    expect(fixed.s.status429).toBeGreaterThan(0); // 40 in flight against 8 workers and 4 places to wait
    expect(fixed.s.balanced).toBe(true);
    expect(fixed.s.unique).toBe(adaptive.s.unique);
  }, 120_000);

  it('fans the deliveries out to an audit log and a live per-minute tally, and balances batches over three receivers by weight', () => {
    const json = join(mkdtempSync(join(tmpdir(), 'sluice-demo-test-')), 'summary.json');
    const result = run(['--rounds', '2', '--receivers', '3', '--json', json]);
    expect(result.status, `${result.stdout}\n${result.stderr}`).toBe(0);
    const s = JSON.parse(readFileSync(json, 'utf8'));
    rmSync(dirname(json), { recursive: true, force: true });
    expect(s.balanced).toBe(true);
    // The fanout's books: the audit log ('block') has every delivery; the live tally read or dropped each one,
    // and its windows hold what it read.
    expect(s.fanout.auditLines).toBe(s.delivered);
    expect(s.fanout.audit).toEqual({ received: s.delivered, delivered: s.delivered, dropped: 0, buffered: 0 });
    expect(s.fanout.live.received).toBe(s.fanout.live.delivered + s.fanout.live.dropped + s.fanout.live.buffered);
    expect(s.fanout.perMinute.reduce((n: number, m: { count: number }) => n + m.count, 0)).toBe(s.fanout.live.delivered);
    expect(s.fanout.perMinute[0].count).toBeGreaterThanOrEqual(s.fanout.perMinute.at(-1).count);
    // Three receivers of weights 4, 2, 1: their counts add up to what was delivered, each near its share.
    expect(s.receivers.map((r: { weight: number }) => r.weight)).toEqual([4, 2, 1]);
    expect(s.receivers.reduce((n: number, r: { deliveries: number }) => n + r.deliveries, 0)).toBe(s.delivered);
    for (const r of s.receivers) expect(Math.abs(r.sharePct - r.weightPct)).toBeLessThan(10);
    expect(result.stdout).toMatch(/receiver 3 \(weight 1, 2 workers\) \*\s+\d+ \([\d.]+ % vs 14\.3 %\)/);
  }, 120_000);

  it.runIf(redisAvailable)(
    '--redis URL --workers 4: four processes share the deduper, the rate limit and the dead letter; the combined books balance',
    async () => {
      const server = await startRedis();
      try {
        const json = join(mkdtempSync(join(tmpdir(), 'sluice-demo-test-')), 'summary.json');
        const result = run(['--rounds', '1', '--rate', '100', '--redis', server.url, '--workers', '4', '--json', json]);
        expect(result.stderr).not.toMatch(/Error/);
        expect(result.status, `${result.stdout}\n${result.stderr}`).toBe(0);
        const s = JSON.parse(readFileSync(json, 'utf8'));
        rmSync(dirname(json), { recursive: true, force: true });
        expect(s.balanced).toBe(true);
        // The same fates as the embedded run: a redelivery reaching another worker was dropped by the shared deduper.
        const embedded = JSON.parse(
          (() => {
            const j = join(mkdtempSync(join(tmpdir(), 'sluice-demo-test-')), 'summary.json');
            expect(run(['--rounds', '1', '--json', j]).status).toBe(0);
            const text = readFileSync(j, 'utf8');
            rmSync(dirname(j), { recursive: true, force: true });
            return text;
          })(),
        );
        expect([s.read, s.duplicates, s.unique, s.delivered, s.deadLettered]).toEqual([
          embedded.read,
          embedded.duplicates,
          embedded.unique,
          embedded.delivered,
          embedded.deadLettered.total,
        ]);
        expect(s.perWorker).toHaveLength(4);
        expect(s.perWorker.every((w: { delivered: number }) => w.delivered > 0)).toBe(true);
        // Four workers at concurrency 4 each would send far more than 100 a second alone: the shared bucket held them to
        // rate + burst (1) in any second of the shared timeline, as the requests' grant times tell the receiver. By arrival,
        // the workers' scheduling jitter may add a few (reported, not exact).
        expect(s.receiver.busiestGrantSecond).toBeGreaterThan(0);
        expect(s.receiver.busiestGrantSecond).toBeLessThanOrEqual(101);
        expect(s.receiver.busiestSecond).toBeLessThanOrEqual(120);
        expect(s.receiver).toMatchObject({ accepted: s.delivered, duplicates: 0, matchesDelivered: true });
        // One RedisQueue for all: every batch pushed was accepted and settled, whichever worker ran it.
        expect(s.batches.accepted).toBe(s.batches.pushed);
        expect(s.batches.completed + s.batches.deadLettered).toBe(s.batches.accepted);
        expect(s.killed).toBe(null);
        expect(s.redelivered).toBe(0);
      } finally {
        await server.stop();
        server.remove();
      }
    },
    120_000,
  );

  it.runIf(redisAvailable)(
    '--redis URL --workers 4 --kill-one: worker 0 is SIGKILLed a third of the way; its batches come back to the others and the books still balance',
    async () => {
      const server = await startRedis();
      try {
        const json = join(mkdtempSync(join(tmpdir(), 'sluice-demo-test-')), 'summary.json');
        const result = run(['--rounds', '1', '--rate', '100', '--redis', server.url, '--workers', '4', '--kill-one', '--json', json]);
        expect(result.status, `${result.stdout}\n${result.stderr}`).toBe(0);
        const s = JSON.parse(readFileSync(json, 'utf8'));
        rmSync(dirname(json), { recursive: true, force: true });
        expect(s.balanced).toBe(true);
        expect(s.killed).toBe(0);
        expect(s.perWorker[0].delivered).toBe(null);
        // It held batches when it died (4 at a time): the others took them back after the visibility timeout.
        expect(s.redelivered).toBeGreaterThan(0);
        expect(s.unique).toBe(s.delivered + s.deadLettered);
        expect(s.batches.completed + s.batches.deadLettered).toBe(s.batches.pushed);
        expect(result.stdout).toMatch(/batches redelivered to the others \(visibility timeout\) \*\s+[1-9]/);
      } finally {
        await server.stop();
        server.remove();
      }
    },
    120_000,
  );

  it('prints help and exits 0', () => {
    const result = run(['--help']);
    expect(result.status, `${result.stdout}\n${result.stderr}`).toBe(0);
    expect(result.stdout).toMatch(/--rounds N/);
    expect(result.stdout).toMatch(/marked\s+\* depend on timing/);
  });

  it('refuses an unknown flag or a bad value with exit code 2', () => {
    const unknown = run(['--bogus']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/bogus/);
    const bad = run(['--rounds', 'many']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--rounds must be an integer from 1 to 1000, got "many"/);
  });
});
