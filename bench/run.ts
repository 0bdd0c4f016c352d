/**
 * Benchmark runner: each row of each suite in a fresh process (`node
 * --expose-gc`), side by side in one run; reports medians, spread and ratios
 * to the anchors against the budgets, and writes bench/results.md.
 *
 *   npm run bench                  full sizes
 *   npm run bench:quick            small sizes, < 1 min (CI keeps the harness working; asserts nothing)
 *   npm run bench -- queue memory  only the named suites
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Sample, Suite } from './harness.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = args.filter((a) => !a.startsWith('--'));
const all = [
  'queue',
  'memory',
  'batch',
  'limiter',
  'accuracy',
  'scale',
  'paths',
  'flow',
  'observability',
  'pubsub',
  'pubsub-lag',
  'window',
  'balance',
];
const suites = only.length ? only : all;
const full: Record<string, { n: number; reps: number; rounds?: number }> = {
  queue: { n: 1_000_000, reps: 6, rounds: 3 },
  memory: { n: 1_000_000, reps: 3 },
  batch: { n: 1_000_000, reps: 6, rounds: 3 },
  limiter: { n: 1_000_000, reps: 6, rounds: 3 },
  accuracy: { n: 3_000, reps: 5 }, // n = ms of saturated demand per repetition
  scale: { n: 1, reps: 3 },
  paths: { n: 20_000, reps: 3 }, // and 4 N: the issue's figures were taken at 20 000 and 40 000
  flow: { n: 30_000, reps: 1 }, // n = ms of simulated time; deterministic, so one repetition is the run
  observability: { n: 1_000_000, reps: 6, rounds: 3 },
  pubsub: { n: 100_000, reps: 3, rounds: 3 }, // RxJS's concatMap buffers in an array it shifts: quadratic past 1e5
  'pubsub-lag': { n: 20_000, reps: 1 },
  window: { n: 1_000_000, reps: 6, rounds: 3 },
  balance: { n: 1_000_000, reps: 5 },
  redis: { n: 20_000, reps: 3, rounds: 3 }, // bottleneck's row runs about 1 000 calls/s
  'redis-processes': { n: 200_000, reps: 1 },
  'redis-accuracy': { n: 5_000, reps: 1 }, // n = ms of demand
  'redis-queue': { n: 20_000, reps: 1 }, // a fresh redis-server and worker processes per row and parameter set
};
const small: typeof full = {
  queue: { n: 20_000, reps: 2 },
  memory: { n: 20_000, reps: 1 },
  batch: { n: 20_000, reps: 2 },
  limiter: { n: 20_000, reps: 2 },
  accuracy: { n: 300, reps: 1 },
  scale: { n: 0, reps: 1 },
  paths: { n: 2_000, reps: 1 },
  flow: { n: 6_000, reps: 1 },
  observability: { n: 20_000, reps: 2 },
  pubsub: { n: 5_000, reps: 1 },
  'pubsub-lag': { n: 2_000, reps: 1 },
  window: { n: 20_000, reps: 1 },
  balance: { n: 20_000, reps: 1 },
  redis: { n: 300, reps: 1 },
  'redis-processes': { n: 400, reps: 1 },
  'redis-accuracy': { n: 1_000, reps: 1 },
  'redis-queue': { n: 500, reps: 1 },
};
const sizes = quick ? small : full;

const here = fileURLToPath(new URL('.', import.meta.url));
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmt = (x: number | null): string =>
  x === null || Number.isNaN(x) ? '—' : Math.abs(x) >= 100 ? Math.round(x).toLocaleString('en-US') : x.toPrecision(3);

const lines: string[] = [
  '# Benchmark results',
  '',
  `Node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'} × ${cpus().length}, ${new Date().toISOString().slice(0, 10)}${quick ? ', quick sizes (not for comparison)' : ''}.`,
  'sluice is measured as built for users (dist/). Each row ran in a fresh process (`node --expose-gc`), after an untimed run of N, with `gc()` before each repetition; medians, with the spread (min–max) as ± % of the median.',
  'Ratios compare rows of the same run: the machines are shared and noisy, so read ratios, not absolute values. Reproduce with `npm run bench`.',
  '',
];

for (const name of suites) {
  const { suite, available } = (await import(`./${name}.ts`)) as { suite: Suite; available?: boolean };
  if (available === false) {
    // A suite that needs a server the machine lacks (redis-server) says so instead of failing.
    lines.push(`## ${suite.title}`, '', 'Skipped: /usr/bin/redis-server is missing (apt-get install -y redis-server).', '');
    process.stdout.write(`${name}: skipped, /usr/bin/redis-server is missing\n`);
    continue;
  }
  const { n, reps } = sizes[name] ?? { n: 10_000, reps: 3 };
  const kind = suite.kind ?? 'rate';
  const roundsOfSuite = sizes[name]?.rounds;
  const howMany = roundsOfSuite
    ? `${reps} repetitions, in ${roundsOfSuite} rounds over the rows`
    : `${reps} repetition${reps === 1 ? '' : 's'}`;
  lines.push(`## ${suite.title}`, '', `N = ${n.toLocaleString('en-US')}, ${howMany}.`, '');
  for (const params of suite.params) {
    const label = Object.entries(params)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    const values = new Map<string, number>();
    const table: string[] = label ? [`### ${label}`, ''] : [];
    let header = false;
    let metricColumns: string | undefined;
    const runWorker = (row: string, repetitions: number): Sample => {
      const out = execFileSync(
        process.execPath,
        ['--expose-gc', '--import', 'tsx', `${here}worker.ts`, name, row, String(n), String(repetitions), JSON.stringify(params)],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 * 1024 * 1024 },
      );
      return JSON.parse(out.trim().split('\n').at(-1)!) as Sample;
    };
    const merge = (samples: Sample[]): Sample => ({
      ...samples[0]!,
      seconds: samples.flatMap((x) => x.seconds),
      values: samples.flatMap((x) => x.values),
    });
    // Rate rows run in rounds, every row once per round (a fresh process each time), so a shared
    // machine's slow minutes fall on all rows alike instead of on whichever row ran then.
    const rounds = kind === 'rate' ? (sizes[name]?.rounds ?? 1) : 1;
    const rateSamples = new Map<string, Sample[]>();
    if (kind === 'rate') {
      for (let round = 0; round < rounds; round++) {
        for (const row of Object.keys(suite.rows)) {
          const list = rateSamples.get(row) ?? [];
          list.push(runWorker(row, Math.max(1, Math.round(reps / rounds))));
          rateSamples.set(row, list);
        }
      }
    }
    for (const row of Object.keys(suite.rows)) {
      let sample: Sample;
      if (kind === 'memory') {
        // A fresh process per repetition: a heap that held the last repetition's items measures nothing.
        sample = merge(Array.from({ length: reps }, () => runWorker(row, 1)));
      } else if (kind === 'rate') sample = merge(rateSamples.get(row)!);
      else sample = runWorker(row, reps);
      if (kind === 'metrics') {
        const keys = Object.keys(sample.metrics![0] ?? {});
        // Rows measuring different things get tables of their own, each under its own column names.
        if (keys.join('|') !== metricColumns) {
          if (metricColumns !== undefined) table.push('');
          table.push(`| row | ${keys.join(' | ')} |`, `| --- |${keys.map(() => ' ---: |').join('')}`);
          metricColumns = keys.join('|');
        }
        header = true;
        const medians = keys.map((k) => median(sample.metrics!.map((m) => m[k]!)));
        values.set(row, medians[0] ?? 0);
        table.push(`| ${row} | ${medians.map(fmt).join(' | ')} |`);
        process.stdout.write(`${name} [${label}] ${row}: ${keys.map((k, i) => `${k} ${fmt(medians[i]!)}`).join(', ')}\n`);
        continue;
      }
      if (!header) table.push(`| row | median ${suite.unit} | spread |`, '| --- | ---: | ---: |');
      header = true;
      const med = median(sample.values);
      const spread = med === 0 ? 0 : ((Math.max(...sample.values) - Math.min(...sample.values)) / 2 / Math.abs(med)) * 100;
      values.set(row, med);
      table.push(`| ${row} | ${fmt(med)} | ±${spread.toFixed(1)} % |`);
      process.stdout.write(`${name} [${label}] ${row}: ${fmt(med)} ${suite.unit}\n`);
    }
    if (suite.ratios.length > 0) {
      table.push('', '| ratio | value | budget |', '| --- | ---: | --- |');
      for (const { ours, anchor, budget } of suite.ratios) {
        const ratio = values.get(ours)! / values.get(anchor)!;
        const lowerIsBetter = kind === 'memory';
        const verdict =
          budget === undefined
            ? ''
            : (lowerIsBetter ? ratio <= budget : ratio >= budget)
              ? `${lowerIsBetter ? '≤' : '≥'} ${budget}× met`
              : `${lowerIsBetter ? '≤' : '≥'} ${budget}× **missed**`;
        table.push(`| ${ours} ÷ ${anchor} | ${ratio.toFixed(2)}× | ${verdict} |`);
        process.stdout.write(`  ${ours} ÷ ${anchor}: ${ratio.toFixed(2)}× ${verdict}\n`);
      }
    }
    lines.push(...table, '');
  }
}

lines.push(
  '## sluice/redis: reading the tables',
  '',
  "- **Grants per second** (budget ≥ 1.5× rate-limiter-flexible's `consume`: **met**, 3.25× in this run, 4.4× in an",
  '  earlier one). Every call a process makes in one turn of its event loop goes to Redis in one script run, in order',
  '  (one round trip for them all); a first version, one `EVALSHA` per call, ran at 35 k calls/s, as rate-limiter-flexible',
  "  does. bottleneck's Redis datastore schedules each job through its own scripts: about 2 k jobs/s. From 4 processes at",
  "  once (redis-processes): 120 k calls/s against 54 k, 2.2× (met), the server's one thread now the bound.",
  '- **Accuracy from 4 processes** (budget: within 1 % of the rate — **met**, −0.3 %; never above rate + burst in any',
  '  1 s — **missed by 6 grants**, 1 007 against 1 001). The shared timeline grants at most rate + burst in any second; a',
  "  grant is *seen* when the caller's local timer fires, late (never early) by a few ms on a busy event loop, so a grant",
  "  due at the end of one second can be seen in the next. rate-limiter-flexible's fixed 1 s windows let 1 385 through",
  "  in one sliding second (two windows' worth at their boundary); bottleneck's `minTime` spacing keeps 1 014 but runs",
  '  3.8 % under the rate.',
  "- **RedisQueue vs BullMQ** (budgets: ≥ 3× BullMQ's jobs/s at 4 workers × 64 — **met**, 3.37× in this run, 3.26×, 3.38×, 3.32× and",
  "  2.61× (a slow minute: pushes/s a third down for both) in the four before; ≤ 0.5× its Redis bytes per waiting job — **met**, 47 against 224 bytes, 0.21×). BullMQ's own",
  '  figure moves between 9 and 11.5 k jobs/s from run to run on this shared 2-core machine (four workers, the producer',
  '  and Redis on two cores), so the ratio does too: 2.7–3.1× in the runs before the last change. A waiting item is one',
  "  stream entry (its id, the item's JSON, attempts, push time and sequence number as field/value pairs, delta-encoded by Redis); BullMQ",
  '  keeps a hash per job and its id in a list. A worker settles every attempt that ends in one turn of its event loop in',
  '  one script run, which also reads its next items (one round trip per turn, not per job); a plain completion is `XACK`',
  "  + `XDEL` and, when nothing listens, allocates no promise of its own; a handler's AbortController is made only when it",
  '  reads its signal. A first version (a script run and a timer per attempt) ran at 1.35× at 4 × 64. At concurrency 1 a',
  '  worker waits a round trip per job, as BullMQ does (2.2× at 1 worker, 1.6× at 4).',
  '',
  '## Routing and streams: reading the tables',
  '',
  "- **PubSub** (budget ≥ 2× RxJS at 4 subscribers with `'block'`: **met**, by far). RxJS has no backpressure: an async",
  '  consumer is `concatMap(async fn)`, which buffers every item the consumer has not reached in an array it shifts',
  '  from the front, so its cost grows with the backlog (quadratic past about 1e5 items: the suite runs 1e5), and its',
  "  slowest subscriber falls the whole run behind (pubsub-lag: 20 000 of 20 000). PubSub's `'block'` holds the",
  "  publisher at the slowest reader's capacity (lag 1 000 = its buffer). The EventEmitter row is the floor of any",
  '  fanout — synchronous listeners, nothing buffered, no backpressure — and PubSub, which hands each subscriber its',
  '  items through an async iterator (a promise per item per subscriber), runs at 0.1–0.25× of it.',
  '- **window()** (budget ≥ RxJS: **met**). In processing time it reads its source through one callback made once and',
  '  answers the consumer from one timer, where a first version raced each read against the timer (`Promise.race`',
  '  per item: 0.42 M items/s, 0.18× RxJS); in event time it runs faster than the hand-written `for await` floor,',
  '  which pays an `await` per item.',
  '- **balance()** (budget: a pick ≤ 50 ns). What a call costs beyond a plain modulo pick is in the table: 50–90 ns',
  '  across runs on this shared machine. The pick itself is a loop over three targets; most of the rest is the one',
  "  `then` that books the call's outcome (in flight, completed, failures in a row for ejection): the modulo row",
  "  returns the handler's promise untouched. **Missed** on most runs, measured as the cost per call (the pick alone is not measured apart); an async",
  '  wrapper (an `async` function awaiting the handler) had cost 85–100 ns.',
  '',
  '## Flow control: what the table says',
  '',
  'The server of bench/flow/ (`npm run bench -- flow`; simulated time on a `TestClock`, so the run is the same every',
  'time): 40 workers × 20 ms ± 20 % (2 000 requests/s), halved to 20 workers at 10 s and back to 40 at 20 s; up to 80',
  'requests wait at the server, and the next is answered 429 (after 1 ms) with `Retry-After: 1`. The unloaded p99 is',
  '23.9 ms. Every client has a backlog it never runs out of and retries what was refused; the sluice rows hold every',
  'start for a 429\'s Retry-After (`retryAfter: \'queue\'`). "Converged" is the last half of each phase; "converge" is',
  'the time after a capacity change until a 1 s window holds ≥ 90 % of capacity, ≤ 1 % 429s and p99 ≤ 2× unloaded',
  '(— when none in the phase does); overshoot is the most requests at the server beyond its workers, after each',
  "phase's first second.",
  '',
  'Budgets (#16), against the best sluice row, **VegasLimit**: ≥ 90 % of capacity once converged — **met** (100 %);',
  '≤ 1 % 429s — **met** (none); p99 ≤ 2× unloaded — **met** (1.26×); converges within 5 s of each change — **met**',
  "(0.5 s after the halving, at once after the doubling); beats the AWS SDK's adaptive limiter on goodput and on",
  '429s in the same run — **met** (100 % vs 31 % converged, 98.8 % vs 30 % over the whole run; no 429s vs 2.8 per',
  '1 000). Gradient2Limit meets the same budgets with more queueing (p99 1.66×).',
  '',
  'What the other rows show:',
  '- **A static limit** is right for one capacity only: 40 holds the full server but doubles latency when it halves',
  "  (p99 1.85×); 10 wastes 70 %; 160 keeps the server's queue full, and each 429 holds every start for a second:",
  '  7 % goodput. p-queue at 40 is the static 40 row, request for request.',
  "- **AimdLimit** reacts to drops only: it grows until the server's queue is full and 429s come, so it never meets",
  "  the latency budget (p99 4.2×), and each 429 costs a second's hold. As documented, AIMD finds the most a server",
  '  takes before it sheds load; Gradient2 and Vegas back off as latency grows, before any 429.',
  "- **The AWS SDK's limiter** (`DefaultRateLimiter`, its time and timers moved onto the simulated clock) cuts its",
  "  rate on every throttled response: the first flood of 429s takes it to its 0.5/s floor, and CUBIC's regrowth",
  '  (C = 0.4) takes tens of seconds at these rates.',
  '- **AdaptiveTokenBucket** (the same CUBIC, β 0.7, cut once per congestion event) recovers faster from the flood',
  "  than the AWS limiter but not within the budget: with the AWS constants, CUBIC's plateau lasts",
  '  K = ∛(rate × 0.3 / 0.4) seconds — 11 s at 2 000/s — so after the doubling it is still below the new capacity',
  '  when the run ends. A rate limiter is the tool when the limit is a rate (an API quota); against a server whose',
  '  capacity is concurrency, a concurrency limit follows it in well under a second.',
  '',
  'Found on the way, and fixed: a decision window closed on its first 10 samples held only the fastest of the first',
  'attempts, and Vegas kept that low no-load latency as its baseline (limit stuck between 23 and 28: 75 % goodput); the first',
  "window now lasts `minWindowMs` and a window holds the attempts that ended within it. Gradient2's long-term average",
  "over Netflix's 600 windows is ten minutes at Netflix's 1 s windows but one minute at sluice's 100 ms: it followed",
  'the queueing it measures against and the limit crept up until 429s (p99 2.2×); the default is now 6 000 windows.',
  '',
  '## What watching costs: reading the table',
  '',
  '- **Metrics on** (0.81–0.90× of a plain queue over the runs so far, against a budget of ≥ 0.9×: **missed**, narrowly,',
  "  with the reason). Every item is counted (an arrival by its push's stamp, an outcome into the current slot, no clock",
  '  read of its own); attempts are timed while pushes average at most one per ms over 64–128 ms, and one in 64 above',
  '  that (each standing for 64 in the histograms). What is left is about',
  "  15 ns an item on a queue that runs a no-op item in about 140 ns: the window slot's counters, the sampling countdown,",
  "  and the arrival's observation of the number waiting (Little's law's L). Reading the clock twice for every item, as a",
  '  first version did, cost 0.40× / 0.30×.',
  "- **A listener** (0.44×): a queue with any listener times every attempt (two clock reads) and builds each event's",
  '  info; a queue with none reads no clock for it and builds nothing.',
  '- **Instrumented with the no-op OpenTelemetry providers** (0.11–0.13×, about 0.8–1 M items/s): a producer span per',
  '  push and a process span per attempt, even when they record nothing, and the listeners above. A spread of an',
  '  attribute bag per item had cost 3 µs an item (200 k items/s); span names and constant attributes are now made once.',
  '',
  "## Where an item's time goes",
  '',
  'A budget a run misses shows as **missed** in its table above. What the queue and `batch()` do to meet theirs:',
  '',
  "- **Queue via `tryPush` (≥ 3× fastq's callback API).** An item costs about 30 ns to accept: its receipt and id string",
  '  (about 10 ns), a write into a chunked ring that never copies, one clock read per synchronous run of pushes, the',
  '  counters. Running it costs about 45 ns, of which about 24 ns is the promise reaction that waits for the handler;',
  "  the rest is the handler's context and the counters. fastq's callback API costs about 280 ns an item with the same",
  '  work and hands out neither a receipt nor a context. What got it there from 1.5×: no record for an item pushed with',
  '  nothing but a priority (24 bytes waiting); worker loops driven by callbacks made once per loop instead of an `await`',
  '  per item (resuming an async function costs about 7 ns more than a promise reaction); the push time kept in a double',
  "  field (a closure's variable boxed a new number per item); watchers (`onIdle`, `onSizeBelow`) skipped by one",
  '  comparison; ids formatted from a cached prefix; no listener lookups until a listener exists; the anchors below.',
  "- **`batch()` (≥ it-batch).** An item's time is mostly the source's own `next()`. `batch()` feeds its accumulator from",
  '  callbacks on each `next()` promise rather than an `await` loop, so it pulls an async generator about 15 % faster than',
  '  `for await` does (it-batch and the async-generator floor both use `for await`).',
  '',
  '## `TaskQueue.add`: paced, and all at once',
  '',
  'A task added with nothing runs as a plain item, as `tryPush` does (no record): its `add` is settled by the',
  "queue's `completed`, `failed` and `cancelled` events and by `clear`/`close`. A producer paced as `push` is (the",
  'paced row adds while fewer than 1 000 wait) gets more than `push`: the budget (within 1.5× of `push`) is gated on it.',
  'All at once, a million adds hold a million pending results and tasks, and the collector takes most of the time',
  '(about 60 % in a profile); that row is reported beside p-queue and p-limit, which add the same way. Before the plain',
  'lane, an add was a `submit` with a record: 0.33 M/s all at once, 0.53 M/s paced.',
  '',
  '## The speed gate',
  '',
  'CI runs `npm run bench:gate` (bench/gate.ts): every budgeted ratio of the queue, batch and memory suites at moderate',
  "sizes, each row in a fresh process over three rounds, each row's figure the best of its samples (other work on a",
  'shared machine only slows a row down). It fails when a ratio falls more than 15 % of its budget short of it. Over',
  'five gate runs the ratios moved by 0–26 % below their medians, but the ratio nearest its budget, `batch()` ÷',
  'it-batch (median 1.13× for 1×), by under 2 %. A plain-lane start slowed by about 1 µs of arithmetic per item',
  'takes `tryPush` ÷ fastq to 0.35–0.42× and `push` ÷ fastq.promise to 0.84×, and the gate fails. The batch rows get',
  'nine rounds: a process pulling an async generator runs at ~8.2 M items/s or ~5.2 M, at random, about half and half,',
  "the bare `for await` floor and it-batch as much as `batch()`; with five, a CI run's `batch()` landed slow in every",
  "process while one of it-batch's landed fast, and read 0.79×.",
  '',
  '## Hidden classes across collections',
  '',
  'Each row runs its repetitions in one process with `gc()` before each. Before sluice kept one idle instance of each of',
  "its classes alive (src/internal/shapes.ts), every full collection after the last queue or accumulator died dropped V8's",
  'hidden classes for them; the next instance built new ones, and after a few rounds the hot loops turned megamorphic:',
  'the queue row went from ~110 to 400–700 ns an item, `batch()` from ~100 to ~165 ns. An application that makes a',
  'queue or a pipeline per request sees the same thing, which is why this is fixed in the library, not in the harness.',
  '',
);

const file = quick ? `${here}.out/results-quick.md` : `${here}results.md`;
mkdirSync(`${here}.out`, { recursive: true });
// A run of some suites replaces their sections and keeps the others' from the last full run.
const sectionsOf = (text: string): Map<string, string> =>
  new Map(
    text
      .split(/\n(?=## )/)
      .slice(1)
      .map((section) => [section.slice(3, section.indexOf('\n')), section.trimEnd()]),
  );
const fresh = sectionsOf(lines.join('\n'));
if (!quick && only.length > 0 && existsSync(file)) {
  const kept = sectionsOf(readFileSync(file, 'utf8'));
  const titles: string[] = [];
  for (const suiteName of all) {
    const { suite } = (await import(`./${suiteName}.ts`)) as { suite: Suite };
    titles.push(suite.title);
  }
  // lines[0..4]: title, blank, machine line, two lines of method; the machine line notes the partial re-run.
  const header = [...lines.slice(0, 5)];
  header[2] = `${header[2]} Sections re-run that day: ${only.join(', ')}; the others are from the last full run.`;
  const merged = titles.map((t) => fresh.get(t) ?? kept.get(t)).filter((x): x is string => x !== undefined);
  // The notes after the tables come from this run's runner.
  for (const [title, section] of fresh) if (!titles.includes(title)) merged.push(section);
  writeFileSync(file, `${header.join('\n')}\n\n${merged.join('\n\n')}\n`);
} else writeFileSync(file, lines.join('\n'));
process.stdout.write(`\nwrote ${file}\n`);
