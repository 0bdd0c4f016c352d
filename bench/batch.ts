/**
 * Batching: N items into batches of 100, each batch handed to an async consumer.
 */
import itBatch from 'it-batch';
import { batch as siBatch, batchWithTimeout } from 'streaming-iterables';
import { BatchAccumulator, batch, pipe } from './sluice.js';
import type { Suite } from './harness.js';

const SIZE = 100;
const consume = async (b: number[]): Promise<number> => b.length;

function* range(n: number): Generator<number> {
  for (let i = 0; i < n; i++) yield i;
}

async function* asyncRange(n: number): AsyncGenerator<number> {
  for (let i = 0; i < n; i++) yield i;
}

async function drain(batches: AsyncIterable<number[]> | Iterable<number[]>): Promise<void> {
  for await (const b of batches) await consume(b);
}

export const suite: Suite = {
  name: 'batch',
  title: 'Batching: items into batches of 100 for an async consumer',
  unit: 'items/s',
  params: [{}],
  rows: {
    'sluice batch()': (n) => drain(pipe(asyncRange(n), batch<number>({ maxItems: SIZE }))),
    'sluice batch() lingerMs 50': (n) => drain(pipe(asyncRange(n), batch<number>({ maxItems: SIZE, lingerMs: 50 }))),
    'sluice BatchAccumulator': async (n) => {
      const acc = new BatchAccumulator<number>({ maxItems: SIZE });
      const consumer = drain(acc);
      for (let i = 0; i < n; i++) await acc.add(i);
      await acc.close();
      await consumer;
    },
    'it-batch': (n) => drain(itBatch(asyncRange(n), SIZE)),
    'streaming-iterables batch': (n) => drain(siBatch(SIZE, asyncRange(n))),
    'streaming-iterables batchWithTimeout 50': (n) => drain(batchWithTimeout(SIZE, 50, asyncRange(n))),
    'floor: async generator': async (n) => {
      async function* batches(): AsyncGenerator<number[]> {
        let b: number[] = [];
        for await (const x of asyncRange(n)) {
          b.push(x);
          if (b.length === SIZE) {
            yield b;
            b = [];
          }
        }
        if (b.length) yield b;
      }
      await drain(batches());
    },
    'floor: plain loop': async (n) => {
      let b: number[] = [];
      for (const x of range(n)) {
        b.push(x);
        if (b.length === SIZE) {
          await consume(b);
          b = [];
        }
      }
      if (b.length) await consume(b);
    },
  },
  ratios: [
    { ours: 'sluice batch()', anchor: 'it-batch', budget: 1 },
    { ours: 'sluice batch() lingerMs 50', anchor: 'streaming-iterables batchWithTimeout 50', budget: 2 },
    { ours: 'sluice batch()', anchor: 'floor: async generator' },
  ],
};
