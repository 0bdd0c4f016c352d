/**
 * Queue throughput: N no-op async items (`async (x) => x`) through each
 * queue at a given concurrency, until idle.
 */
import async from 'async';
import fastq from 'fastq';
import pLimit from 'p-limit';
import PQueue from 'p-queue';
import { Queue, TaskQueue } from './sluice.js';
import type { Suite } from './harness.js';

const work = async (x: number): Promise<number> => x;

export const suite: Suite = {
  name: 'queue',
  title: 'Queue throughput: no-op async items until idle',
  unit: 'items/s',
  params: [{ concurrency: 1 }, { concurrency: 16 }],
  rows: {
    'sluice Queue tryPush': async (n, { concurrency }) => {
      const queue = new Queue<number, number>({ handler: work, concurrency });
      for (let i = 0; i < n; i++) queue.tryPush(i);
      await queue.onIdle();
    },
    'sluice Queue push': async (n, { concurrency }) => {
      const queue = new Queue<number, number>({ handler: work, concurrency });
      for (let i = 0; i < n; i++) await queue.push(i);
      await queue.onIdle();
    },
    'sluice Queue pushAll': async (n, { concurrency }) => {
      const queue = new Queue<number, number>({ handler: work, concurrency });
      await queue.pushAll(range(n));
      await queue.onIdle();
    },
    'sluice TaskQueue add': async (n, { concurrency }) => {
      const tasks = new TaskQueue({ concurrency });
      for (let i = 0; i < n; i++) void tasks.add(() => work(i));
      await tasks.onIdle();
    },
    // Paced as `push` is (it waits for acceptance, so its queue stays short): add while fewer than 1 000 wait.
    'sluice TaskQueue add, paced': async (n, { concurrency }) => {
      const tasks = new TaskQueue({ concurrency });
      for (let i = 0; i < n; i++) {
        void tasks.add(() => work(i));
        if (tasks.size >= 1_000) await tasks.onSizeBelow(500);
      }
      await tasks.onIdle();
    },
    'p-limit, paced': async (n, { concurrency }) => {
      const limit = pLimit(concurrency);
      const all: Promise<number>[] = new Array(n);
      for (let i = 0; i < n; i++) {
        all[i] = limit(work, i);
        if (limit.pendingCount >= 1_000) await all[i - 500];
      }
      await Promise.all(all);
    },
    'fastq (callback)': (n, { concurrency }) =>
      new Promise<void>((resolve) => {
        const queue = fastq((x: number, cb: (err: Error | null, r?: number) => void) => {
          work(x).then((r) => cb(null, r), cb);
        }, concurrency);
        queue.drain = resolve;
        for (let i = 0; i < n; i++) queue.push(i);
      }),
    'fastq.promise': async (n, { concurrency }) => {
      const queue = fastq.promise(work, concurrency);
      for (let i = 0; i < n; i++) void queue.push(i);
      await queue.drained();
    },
    'p-queue': async (n, { concurrency }) => {
      const queue = new PQueue({ concurrency });
      for (let i = 0; i < n; i++) void queue.add(() => work(i));
      await queue.onIdle();
    },
    'async.queue': async (n, { concurrency }) => {
      const queue = async.queue((x: number, cb: (err?: Error | null) => void) => {
        work(x).then(() => cb(), cb);
      }, concurrency);
      for (let i = 0; i < n; i++) void queue.push(i);
      await queue.drain();
    },
    'p-limit': async (n, { concurrency }) => {
      const limit = pLimit(concurrency);
      const all: Promise<number>[] = new Array(n);
      for (let i = 0; i < n; i++) all[i] = limit(work, i);
      await Promise.all(all);
    },
    'floor: array + worker loops': async (n, { concurrency }) => {
      const items: number[] = new Array(n);
      for (let i = 0; i < n; i++) items[i] = i;
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < items.length) await work(items[next++]!);
      };
      await Promise.all(Array.from({ length: concurrency }, worker));
    },
  },
  ratios: [
    { ours: 'sluice Queue tryPush', anchor: 'fastq (callback)', budget: 3 },
    { ours: 'sluice Queue tryPush', anchor: 'p-queue', budget: 15 },
    { ours: 'sluice Queue push', anchor: 'fastq.promise', budget: 2 },
    { ours: 'sluice Queue tryPush', anchor: 'floor: array + worker loops' },
    // Within 1.5× of push, paced as push is; all at once, 1 000 000 results pending cost the collector most (results.md).
    { ours: 'sluice TaskQueue add, paced', anchor: 'sluice Queue push', budget: 0.67 },
    { ours: 'sluice TaskQueue add, paced', anchor: 'p-limit, paced' },
    { ours: 'sluice TaskQueue add', anchor: 'sluice Queue push' },
    { ours: 'sluice TaskQueue add', anchor: 'p-queue' },
    { ours: 'sluice TaskQueue add', anchor: 'p-limit' },
  ],
};

function* range(n: number): Generator<number> {
  for (let i = 0; i < n; i++) yield i;
}
