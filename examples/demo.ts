/**
 * sluice's main job, runnable with `npm run demo`: real GitHub webhook
 * payloads delivered to a rate-limited, flaky HTTP receiver (a child
 * process on 127.0.0.1), with nothing lost. Prints a summary and exits
 * non-zero unless the books balance. `npm run demo -- --help` lists the flags.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { type JobOptions, type Summary, runJob } from './webhooks/job.js';
import { renderReport } from './webhooks/report.js';
import { type RedisSummary, runRedisJob } from './webhooks/redis-job.js';

const HELP = `Usage: npm run demo -- [flags]

Delivers real GitHub webhook payloads (@octokit/webhooks-examples) to a
rate-limited, flaky receiver through a sluice pipeline, then checks that every
unique delivery was delivered or dead-lettered, and that the receiver's own
record matches.

Flags:
  --rounds N            replays of every example payload (default 13: ~10 000 deliveries)
  --redeliveries R      share of deliveries sent again, 0..1 (default 0.1)
  --concurrency N       requests in flight at first; the limit then follows the receiver (default 4)
  --max-concurrency N   the most requests in flight the limit may reach (default 64)
  --static N            a fixed concurrency of N instead of the adaptive limit, for comparison
  --rate N              requests per second sluice sends at most (default 1000)
  --receiver-rate N     requests per second the receiver accepts (default 100000: no rate limit)
  --receivers N         receiver processes, 1 to 3; with 2 or 3 they differ in capacity (weights 2, 1 or
                        4, 2, 1) and batches are balanced by weight (default 1)
  --receiver-workers N  requests the receiver serves at once; halved a third of the way through (default 8)
  --receiver-service-ms MS  the receiver's time per request (default 25)
  --receiver-queue N    requests that may wait at the receiver; past it, 429 (default 16)
  --fail-rate R         share of requests the receiver answers 503, 0..0.9 (default 0.05)
  --body-limit BYTES    the receiver's body limit (default 1000000)
  --poison-event NAME   event type the receiver refuses with 422 (default security_advisory)
  --max-items N         deliveries per batch at most (default 100)
  --linger-ms MS        how long a batch waits for more (default 20)
  --max-attempts N      attempts per request (default 4)
  --seed N              seed of redeliveries, failures and backoff jitter (default 1)
  --redis URL           run across processes: --workers processes share one RedisQueue of
                        batches, a deduper, the rate limit and a dead letter through this
                        Redis (redis://127.0.0.1:6379)
  --workers N           worker processes with --redis, 1 to 16 (default 4)
  --kill-one            with --redis: SIGKILL worker 0 a third of the way through; the batches
                        it held come back to the others after the visibility timeout
  --json FILE           also write the summary as JSON
  --report FILE         where to write the HTML report: charts of deliveries/s, in flight
                        vs the concurrency limit, 429s and 503s, wait p99; self-contained,
                        opens offline (default sluice-demo-report.html; --report none: no report)
  --help                this text

The same flags and --seed give the same deliveries read, duplicates, unique
deliveries, poison deliveries dead-lettered, and delivered. The figures marked
* depend on timing as well: batches seal after --linger-ms of wall-clock time,
the receiver's rate limit counts requests per second as they arrive, and its
503s fall on whichever request comes next. A batch that runs out of attempts
(dead-lettered: delivery_limit) is redriven once; one that fails again stays
dead-lettered, so then delivered is timing-dependent too.
`;

class UsageError extends Error {}

function number(name: string, text: string | undefined, fallback: number, min: number, max: number, integer: boolean): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw new UsageError(`--${name} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got ${JSON.stringify(text)}`);
  }
  return value;
}

interface Outputs {
  readonly json: string | undefined;
  readonly report: string | undefined;
  /** With --redis: where, how many worker processes, and whether one is killed a third of the way. */
  readonly redis: { readonly url: string; readonly workers: number; readonly killOne: boolean } | undefined;
}

function parse(argv: string[]): ({ options: JobOptions } & Outputs) | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      rounds: { type: 'string' },
      redeliveries: { type: 'string' },
      concurrency: { type: 'string' },
      'max-concurrency': { type: 'string' },
      static: { type: 'string' },
      rate: { type: 'string' },
      receivers: { type: 'string' },
      'receiver-workers': { type: 'string' },
      'receiver-service-ms': { type: 'string' },
      'receiver-queue': { type: 'string' },
      'receiver-rate': { type: 'string' },
      'fail-rate': { type: 'string' },
      'body-limit': { type: 'string' },
      'poison-event': { type: 'string' },
      'max-items': { type: 'string' },
      'linger-ms': { type: 'string' },
      'max-attempts': { type: 'string' },
      seed: { type: 'string' },
      json: { type: 'string' },
      report: { type: 'string' },
      redis: { type: 'string' },
      workers: { type: 'string' },
      'kill-one': { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) return 'help';
  const poisonEvent = values['poison-event'] ?? 'security_advisory';
  if (!/^[a-z_]+$/.test(poisonEvent)) throw new UsageError(`--poison-event must be an event name, got ${JSON.stringify(poisonEvent)}`);
  if (values.workers !== undefined && values.redis === undefined) throw new UsageError('--workers needs --redis URL');
  if (values['kill-one'] && values.redis === undefined) throw new UsageError('--kill-one needs --redis URL');
  if (values.redis !== undefined && !/^rediss?:\/\/./.test(values.redis)) {
    throw new UsageError(`--redis must be a redis:// URL, got ${JSON.stringify(values.redis)}`);
  }
  const redis =
    values.redis === undefined
      ? undefined
      : { url: values.redis, workers: number('workers', values.workers, 4, 1, 16, true), killOne: values['kill-one'] === true };
  if (redis?.killOne && redis.workers < 2) throw new UsageError('--kill-one needs --workers 2 or more: the others take its batches back');
  const report = values.report ?? 'sluice-demo-report.html';
  if (report === '') throw new UsageError('--report must be a file name or none, got ""');
  return {
    json: values.json,
    redis,
    report: report === 'none' || redis !== undefined ? undefined : resolve(report),
    options: {
      rounds: number('rounds', values.rounds, 13, 1, 1_000, true),
      redeliveryRate: number('redeliveries', values.redeliveries, 0.1, 0, 1, false),
      concurrency: number('concurrency', values.concurrency, 4, 1, 256, true),
      maxConcurrency: number('max-concurrency', values['max-concurrency'], 64, 1, 1_024, true),
      staticConcurrency: values.static === undefined ? undefined : number('static', values.static, 1, 1, 1_024, true),
      ratePerSecond: number('rate', values.rate, 1_000, 0.1, 100_000, false),
      receiverRatePerSecond: number('receiver-rate', values['receiver-rate'], 100_000, 1, 100_000, true),
      receiverWorkers: number('receiver-workers', values['receiver-workers'], 8, 1, 1_024, true),
      receiverServiceMs: number('receiver-service-ms', values['receiver-service-ms'], 25, 0, 10_000, false),
      receiverQueue: number('receiver-queue', values['receiver-queue'], 16, 0, 100_000, true),
      failRate: number('fail-rate', values['fail-rate'], 0.05, 0, 0.9, false),
      bodyLimit: number('body-limit', values['body-limit'], 1_000_000, 64_000, 100_000_000, true),
      poisonEvent,
      maxItems: number('max-items', values['max-items'], 100, 1, 10_000, true),
      lingerMs: number('linger-ms', values['linger-ms'], 20, 0, 60_000, false),
      maxAttempts: number('max-attempts', values['max-attempts'], 4, 1, 100, true),
      seed: number('seed', values.seed, 1, 0, 2 ** 31, true),
      logFile: join(mkdtempSync(join(tmpdir(), 'sluice-demo-')), 'accepted.jsonl'),
      receivers: number('receivers', values.receivers, 1, 1, 3, true),
    },
  };
}

/** Rows of label and value, the values right-aligned in one column. */
function aligned(rows: [string, string | number][]): string {
  const width = Math.max(...rows.map(([label]) => label.length)) + 2;
  return rows.map(([label, value]) => `${label.padEnd(width)}${String(value).padStart(14)}`).join('\n');
}

/** The summary as a table; `*` marks a figure that depends on timing (see HELP). */
function table(s: Summary): string {
  const rows: [string, string | number][] = [
    ['deliveries read', s.read],
    ['duplicates dropped (redeliveries)', s.duplicates],
    ['unique deliveries', s.unique],
    ['batches sent *', s.batches],
    ['HTTP requests *', s.requests],
    [
      'concurrency: start / lowest / highest / final *',
      'static' in s.limit ? `static ${s.limit.static}` : `${s.limit.start} / ${s.limit.lowest} / ${s.limit.highest} / ${s.limit.final}`,
    ],
    ['429 Too Many Requests seen *', s.status429],
    ['503 Service Unavailable seen *', s.status503],
    ['422 poison batches split *', s.status422],
    ['retries *', s.retries],
    ...Object.entries(s.deadLettered.byReason).map(([reason, n]): [string, number] => [
      `dead-lettered: ${reason}${reason === 'rejected' ? '' : ' *'}`,
      n,
    ]),
    ['dead-lettered (total)', s.deadLettered.total],
    ['redriven after the run (batches) *', `${s.redrive.redriven} ok, ${s.redrive.failed} failed`],
    ['delivered', s.delivered],
    [s.receivers.length > 1 ? "receivers' own count" : "receiver's own count", s.receiver.accepted],
    ...s.receivers
      .filter(() => s.receivers.length > 1)
      .map((r): [string, string] => [
        `  ${r.name} (weight ${r.weight}, ${r.workers} workers) *`,
        `${r.deliveries} (${r.sharePct} % vs ${r.weightPct} %)`,
      ]),
    ['duplicates the receiver saw', s.receiver.duplicates],
    ['throughput (deliveries/s) *', s.throughputPerSec],
    ['latency p50 / p99 (ms) *', `${s.latencyMs.p50} / ${s.latencyMs.p99}`],
    ['batch wait p50 / p99 (ms) *', `${s.queue.waitMs.p50} / ${s.queue.waitMs.p99}`],
    ['request time p50 / p99 (ms) *', `${s.queue.runMs.p50} / ${s.queue.runMs.p99}`],
    [
      "Little's law: L measured / λ·W *",
      `${s.queue.littlesLaw.L} / ${s.queue.littlesLaw.lambdaW} (${(s.queue.littlesLaw.relativeError * 100).toFixed(1)} % apart)`,
    ],
    ['fanout: audit log lines (block)', s.fanout.auditLines],
    ['fanout: live tally read / dropped (drop-oldest) *', `${s.fanout.live.delivered} / ${s.fanout.live.dropped}`],
    ...s.fanout.perMinute.slice(0, 3).map((m): [string, number] => [`  per minute: ${m.event} @ ${m.minute} *`, m.count]),
    ['elapsed (s) *', (s.elapsedMs / 1_000).toFixed(1)],
  ];
  return `${aligned(rows)}\n\n* depends on timing; the rest is the same for the same flags and --seed (npm run demo -- --help)`;
}

async function main(): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`demo: ${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (parsed === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  const { options, ...outputs } = parsed;
  try {
    // The command as the report's title, without the output files' paths.
    const argv = process.argv
      .slice(2)
      .filter((a, i, all) => !/^--(report|json)(=|$)/.test(a) && !/^--(report|json)$/.test(all[i - 1] ?? ''));
    return await run(options, outputs, argv);
  } finally {
    // The receiver's log of accepted deliveries lives in a folder of its own: leave nothing behind.
    rmSync(dirname(options.logFile), { recursive: true, force: true });
  }
}

/** The summary of a run across processes, as a table. */
function redisTable(s: RedisSummary): string {
  const rows: [string, string | number][] = [
    ['worker processes', s.workers],
    ['deliveries read (all workers)', s.read],
    ['duplicates dropped (shared deduper) *', s.duplicates],
    ['unique deliveries', s.unique],
    ['HTTP requests *', s.requests],
    ['429 / 503 seen *', `${s.status429} / ${s.status503}`],
    ['retries *', s.retries],
    ...Object.entries(s.deadLetteredByReason).map(([reason, n]): [string, number] => [
      `dead-lettered: ${reason}${reason === 'rejected' ? '' : ' *'}`,
      n,
    ]),
    ['dead-lettered (shared dead letter)', s.deadLettered],
    ['batches pushed / accepted by the shared queue', `${s.batches.pushed} / ${s.batches.accepted}`],
    ['batches completed + dead-lettered (queue counters)', `${s.batches.completed} + ${s.batches.deadLettered}`],
    ...(s.killed === null
      ? []
      : [
          [`worker ${s.killed} SIGKILLed a third of the way`, 'yes'] as [string, string],
          ['batches redelivered to the others (visibility timeout) *', s.redelivered] as [string, number],
        ]),
    ['delivered', s.delivered],
    ["receiver's own count", s.receiver.accepted],
    ['duplicates the receiver saw', s.receiver.duplicates],
    ['requests in the busiest second, by grant time / shared rate', `${s.receiver.busiestGrantSecond} / ${s.ratePerSecond}`],
    ['requests in the busiest second, by arrival time *', s.receiver.busiestSecond],
    ...s.perWorker.map((w): [string, string] => [
      `  worker ${w.index}: read / duplicates / delivered *`,
      `${w.read} / ${w.duplicates} / ${w.delivered ?? 'killed'}`,
    ]),
    ['batches settled per second (queue metrics) *', s.metrics.throughput.toFixed(1)],
    ...s.perWorker.map((w): [string, string] => [
      `  worker ${w.index}: batch wait p50 / p99, post p50 / p99 (ms) *`,
      w.waitMs === null || w.runMs === null
        ? 'killed'
        : `${w.waitMs.p50.toFixed(0)} / ${w.waitMs.p99.toFixed(0)}, ${w.runMs.p50.toFixed(0)} / ${w.runMs.p99.toFixed(0)}`,
    ]),
    [
      `Little's law across processes: L measured / λW${s.killed === null ? '' : ' (W: the living workers only)'} *`,
      `${s.metrics.littlesLaw.L.toFixed(2)} / ${s.metrics.littlesLaw.lambdaW.toFixed(2)} (λ ${s.metrics.littlesLaw.lambda.toFixed(1)}/s, W ${(s.metrics.littlesLaw.W * 1_000).toFixed(0)} ms)`,
    ],
    ['elapsed (s) *', (s.elapsedMs / 1_000).toFixed(1)],
  ];
  return aligned(rows);
}

async function runAcrossProcesses(
  options: JobOptions,
  redis: { url: string; workers: number; killOne: boolean },
  json: string | undefined,
): Promise<number> {
  process.stderr.write(
    `delivering through ${redis.workers} worker processes sharing ${redis.url}${redis.killOne ? '; worker 0 is SIGKILLed a third of the way' : ''}\n`,
  );
  const summary = await runRedisJob({ ...options, redisUrl: redis.url, workers: redis.workers, killOne: redis.killOne });
  process.stdout.write(`\n${redisTable(summary)}\n\n* depends on timing\n\n`);
  if (json) writeFileSync(json, `${JSON.stringify(summary, null, 2)}\n`);
  if (summary.balanced) {
    process.stdout.write(
      `books balance: ${summary.unique} unique = ${summary.delivered} delivered + ${summary.deadLettered} dead-lettered, across ${summary.workers} processes; the receiver's record matches and no second of the shared timeline held more than the shared rate.\n`,
    );
    return 0;
  }
  process.stdout.write('BOOKS DO NOT BALANCE: something was lost, delivered twice, or the shared rate was passed.\n');
  return 1;
}

async function run(options: JobOptions, { json, report, redis }: Outputs, argv: string[]): Promise<number> {
  if (redis !== undefined) return runAcrossProcesses(options, redis, json);
  let progress: (settled: number, total: number) => void;
  let stopProgress: () => void;
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      { stream: process.stderr, format: 'delivering [{bar}] {percentage}% | {value}/{total} settled | {eta}s left' },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    progress = (settled, total) => {
      if (!started) bar.start(total, 0);
      started = true;
      bar.update(settled);
    };
    stopProgress = () => started && bar.stop();
  } else {
    let last = 0;
    progress = (settled, total) => {
      const now = Date.now();
      if (now - last >= 1_000 || settled === total) {
        last = now;
        process.stderr.write(`progress: ${settled}/${total} settled\n`);
      }
    };
    stopProgress = () => {};
  }

  const { summary, series } = await runJob(options, progress);
  stopProgress();
  process.stdout.write(`\n${table(summary)}\n\n`);
  if (json) writeFileSync(json, `${JSON.stringify(summary, null, 2)}\n`);
  if (report) {
    writeFileSync(report, renderReport(summary, series, `sluice demo: npm run demo${argv.length > 0 ? ` -- ${argv.join(' ')}` : ''}`));
    process.stdout.write(`report: ${report}\n`);
  }
  if (summary.balanced) {
    process.stdout.write(
      `books balance: ${summary.unique} unique = ${summary.delivered} delivered + ${summary.deadLettered.total} dead-lettered; the receiver's record matches.\n`,
    );
    return 0;
  }
  process.stdout.write('BOOKS DO NOT BALANCE: something was lost or delivered twice.\n');
  return 1;
}

process.exitCode = await main();
