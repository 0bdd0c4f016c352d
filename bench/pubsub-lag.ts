/**
 * How far behind the slowest subscriber falls: items published but not yet
 * read by it, at most, over a run of N items to 4 async subscribers, one of
 * them slow (a macrotask per item). PubSub's `'block'` holds the publisher
 * at the subscriber's capacity; RxJS's concatMap buffers without bound.
 */
import { Subject, concatMap } from 'rxjs';
import type { Suite } from './harness.js';
import { PubSub } from './sluice.js';

const slowly = () => new Promise<void>((resolve) => setImmediate(resolve));

export const suite: Suite = {
  name: 'pubsub-lag',
  title: 'Fanout: how far behind the slowest of 4 subscribers falls (one of them slow)',
  kind: 'metrics',
  unit: 'items',
  params: [{ subscribers: 4 }],
  rows: {
    "sluice PubSub, 'block' (capacity 1000)": async (n, { subscribers }) => {
      const ps = new PubSub<number>();
      const subs = Array.from({ length: subscribers }, () => ps.subscribe());
      const reading = subs.map(async (sub, s) => {
        for await (const _ of sub) if (s === 0) await slowly();
      });
      let maxLag = 0;
      for (let i = 0; i < n; i++) {
        if (!ps.tryPublish(i)) await ps.publish(i);
        const lag = ps.published - Math.min(...subs.map((sub) => sub.delivered));
        if (lag > maxLag) maxLag = lag;
      }
      ps.close();
      await Promise.all(reading);
      return { 'max lag (items)': maxLag, 'max lag ÷ N': maxLag / n };
    },
    'RxJS Subject, concatMap(async consumer)': async (n, { subscribers }) => {
      const subject = new Subject<number>();
      const read = new Array<number>(subscribers).fill(0);
      const done = read.map(
        (_, s) =>
          new Promise<void>((resolve, reject) => {
            subject
              .pipe(
                concatMap(async () => {
                  if (s === 0) await slowly();
                  read[s]!++;
                }),
              )
              .subscribe({ complete: resolve, error: reject });
          }),
      );
      let maxLag = 0;
      for (let i = 0; i < n; i++) {
        subject.next(i);
        const lag = i + 1 - Math.min(...read);
        if (lag > maxLag) maxLag = lag;
      }
      subject.complete();
      await Promise.all(done);
      return { 'max lag (items)': maxLag, 'max lag ÷ N': maxLag / n };
    },
  },
  ratios: [],
};
