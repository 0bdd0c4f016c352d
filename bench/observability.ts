/**
 * What watching a queue costs: the same no-op async items through a plain
 * queue, one with a `'completed'` listener (its events then carry timings),
 * one with `metrics` on (wait and run histograms, Little's law), and one
 * instrumented by `sluice/otel` with the API's no-op providers.
 */
import type { Suite } from './harness.js';
import { suite as queue } from './queue.js';
import { instrument, Queue } from './sluice.js';

const work = async (n: number): Promise<number> => n;

export const suite: Suite = {
  name: 'observability',
  title: 'What watching costs: a plain queue, one with a listener (timed events), one with metrics',
  unit: 'items/s',
  params: [{ concurrency: 1 }, { concurrency: 16 }],
  rows: {
    'sluice Queue tryPush': queue.rows['sluice Queue tryPush']!,
    "sluice Queue tryPush, a 'completed' listener": async (n, { concurrency }) => {
      const queue = new Queue<number, number>({ handler: work, concurrency });
      let runMs = 0;
      queue.on('completed', (_item, _result, info) => {
        runMs += info.runMs;
      });
      for (let i = 0; i < n; i++) queue.tryPush(i);
      await queue.onIdle();
      return runMs;
    },
    'sluice Queue tryPush, metrics on': async (n, { concurrency }) => {
      const queue = new Queue<number, number>({ handler: work, concurrency, metrics: true });
      for (let i = 0; i < n; i++) queue.tryPush(i);
      await queue.onIdle();
      return queue.metrics();
    },
    'sluice Queue tryPush, instrumented (no-op OpenTelemetry providers)': async (n, { concurrency }) => {
      const queue = new Queue<number, number>({ handler: work, concurrency });
      instrument(queue); // the global providers: no SDK registered, so the API's no-ops
      for (let i = 0; i < n; i++) queue.tryPush(i);
      await queue.onIdle();
    },
  },
  ratios: [
    { ours: 'sluice Queue tryPush, metrics on', anchor: 'sluice Queue tryPush', budget: 0.9 },
    { ours: "sluice Queue tryPush, a 'completed' listener", anchor: 'sluice Queue tryPush' },
    { ours: 'sluice Queue tryPush, instrumented (no-op OpenTelemetry providers)', anchor: 'sluice Queue tryPush' },
  ],
};
