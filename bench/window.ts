/**
 * Tumbling windows of 1 s over N timestamped items (one per ms: N / 1000
 * windows), counting each window's items, every row reading the same async
 * source: sluice's window() in event time and in processing time, RxJS's
 * bufferTime and windowTime (processing time), and a hand-written floor.
 */
import { bufferTime, count, from, lastValueFrom, map, mergeMap, reduce, windowTime } from 'rxjs';
import type { Suite } from './harness.js';
import { pipe, window } from './sluice.js';

interface Ev {
  readonly t: number;
}

async function* source(n: number): AsyncGenerator<Ev> {
  for (let i = 0; i < n; i++) yield { t: i };
}

const total = (counts: number[]): number => counts.reduce((a, b) => a + b, 0);

export const suite: Suite = {
  name: 'window',
  title: 'Tumbling windows of 1 s over timestamped items, counted',
  unit: 'items/s',
  params: [{}],
  rows: {
    'sluice window(), event time': async (n) => {
      const counts: number[] = [];
      const op = window({ kind: 'tumbling', sizeMs: 1_000, timestamp: (e: Ev) => e.t, initial: () => 0, reduce: (c: number) => c + 1 });
      for await (const w of pipe(source(n), op)) counts.push(w.value);
      if (total(counts) !== n) throw new Error('lost items');
    },
    'sluice window(), processing time': async (n) => {
      const counts: number[] = [];
      const op = window({ kind: 'tumbling', sizeMs: 1_000, initial: () => 0, reduce: (c: number) => c + 1 });
      for await (const w of pipe(source(n), op)) counts.push(w.value);
      if (total(counts) !== n) throw new Error('lost items');
    },
    'RxJS bufferTime(1000)': async (n) => {
      const counts = await lastValueFrom(
        from(source(n)).pipe(
          bufferTime(1_000),
          map((b) => b.length),
          reduce((all: number[], c) => [...all, c], []),
        ),
      );
      if (total(counts) !== n) throw new Error('lost items');
    },
    'RxJS windowTime(1000), count': async (n) => {
      const counts = await lastValueFrom(
        from(source(n)).pipe(
          windowTime(1_000),
          mergeMap((w) => w.pipe(count())),
          reduce((all: number[], c) => [...all, c], []),
        ),
      );
      if (total(counts) !== n) throw new Error('lost items');
    },
    'floor: for await, inline tumbling count': async (n) => {
      const counts: number[] = [];
      let start = 0;
      let c = 0;
      for await (const e of source(n)) {
        const s = e.t - (e.t % 1_000);
        if (s !== start && c > 0) {
          counts.push(c);
          c = 0;
        }
        start = s;
        c++;
      }
      if (c > 0) counts.push(c);
      if (total(counts) !== n) throw new Error('lost items');
    },
  },
  ratios: [
    { ours: 'sluice window(), processing time', anchor: 'RxJS bufferTime(1000)', budget: 1 },
    { ours: 'sluice window(), processing time', anchor: 'RxJS windowTime(1000), count', budget: 1 },
    { ours: 'sluice window(), event time', anchor: 'floor: for await, inline tumbling count' },
  ],
};
