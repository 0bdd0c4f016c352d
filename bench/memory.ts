/**
 * Memory per waiting item: N items pushed into a paused queue; growth of the
 * heap plus ArrayBuffer memory after `gc()`, divided by N.
 */
import async from 'async';
import fastq from 'fastq';
import pLimit from 'p-limit';
import PQueue from 'p-queue';
import { Queue } from './sluice.js';
import type { Suite } from './harness.js';

const work = async (x: number): Promise<number> => x;
const cbWork = (x: number, cb: (err: Error | null, r?: number) => void): void => {
  work(x).then((r) => cb(null, r), cb);
};

export const suite: Suite = {
  name: 'memory',
  kind: 'memory',
  title: 'Memory per waiting item (paused queue)',
  unit: 'bytes/item',
  params: [{}],
  rows: {
    'sluice Queue tryPush': (n) => {
      const queue = new Queue<number, number>({ handler: work, autoStart: false });
      for (let i = 0; i < n; i++) queue.tryPush(i);
      return queue;
    },
    'sluice Queue push': async (n) => {
      const queue = new Queue<number, number>({ handler: work, autoStart: false });
      for (let i = 0; i < n; i++) await queue.push(i);
      return queue;
    },
    'sluice Queue pushAll': async (n) => {
      const queue = new Queue<number, number>({ handler: work, autoStart: false });
      await queue.pushAll(range(n));
      return queue;
    },
    'sluice Queue tryPush with a priority': (n) => {
      const queue = new Queue<number, number>({ handler: work, autoStart: false });
      for (let i = 0; i < n; i++) queue.tryPush(i, { priority: 1 });
      return queue;
    },
    'sluice Queue tryPush, distinct priorities': (n) => {
      const queue = new Queue<number, number>({ handler: work, autoStart: false });
      for (let i = 0; i < n; i++) queue.tryPush(i, { priority: i });
      return queue;
    },
    'fastq (callback)': (n) => {
      const queue = fastq(cbWork, 1);
      queue.pause();
      for (let i = 0; i < n; i++) queue.push(i);
      return queue;
    },
    'fastq.promise': (n) => {
      const queue = fastq.promise(work, 1);
      queue.pause();
      for (let i = 0; i < n; i++) void queue.push(i);
      return queue;
    },
    'p-queue': (n) => {
      const queue = new PQueue({ autoStart: false });
      for (let i = 0; i < n; i++) void queue.add(() => work(i));
      return queue;
    },
    'async.queue': (n) => {
      const queue = async.queue(cbWork, 1);
      queue.pause();
      for (let i = 0; i < n; i++) void queue.push(i);
      return queue;
    },
    'p-limit': (n) => {
      // p-limit cannot pause: one task that never settles holds its only slot.
      const limit = pLimit(1);
      void limit(() => new Promise<never>(() => {}));
      for (let i = 0; i < n; i++) void limit(work, i);
      return limit;
    },
    'floor: array of numbers': (n) => {
      const items: number[] = [];
      for (let i = 0; i < n; i++) items.push(i);
      return items;
    },
    'floor: array of closures': (n) => {
      const items: (() => Promise<number>)[] = [];
      for (let i = 0; i < n; i++) items.push(() => work(i));
      return items;
    },
  },
  ratios: [
    { ours: 'sluice Queue tryPush', anchor: 'fastq (callback)', budget: 0.5 },
    { ours: 'sluice Queue tryPush', anchor: 'p-queue' },
    { ours: 'sluice Queue push', anchor: 'fastq.promise' },
    { ours: 'sluice Queue tryPush with a priority', anchor: 'fastq (callback)' },
    // p-queue keeps distinct priorities in a sorted array (a splice per add): at this N it takes minutes, so its
    // figure is not measured here (about 900 bytes an item at 100 000, the same as with one priority).
    { ours: 'sluice Queue tryPush, distinct priorities', anchor: 'p-queue' },
  ],
};

function* range(n: number): Generator<number> {
  for (let i = 0; i < n; i++) yield i;
}
