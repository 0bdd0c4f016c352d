/**
 * Fanout to async consumers: N items published to 1, 4 and 16 subscribers,
 * each reading with `for await` (or RxJS's `concatMap` of an async
 * function), against a hand-written EventEmitter fanout (synchronous
 * listeners: no backpressure, the floor of any fanout).
 */
import { EventEmitter } from 'node:events';
import { Subject, concatMap } from 'rxjs';
import type { Suite } from './harness.js';
import { PubSub } from './sluice.js';

export const suite: Suite = {
  name: 'pubsub',
  title: 'Fanout: PubSub to async subscribers, against RxJS (Subject, concatMap of an async consumer) and an EventEmitter',
  unit: 'items/s',
  params: [{ subscribers: 1 }, { subscribers: 4 }, { subscribers: 16 }],
  rows: {
    "sluice PubSub, 'block'": async (n, { subscribers }) => {
      const ps = new PubSub<number>();
      const reading = Array.from({ length: subscribers }, async () => {
        let sum = 0;
        for await (const x of ps.subscribe()) sum += x;
        return sum;
      });
      for (let i = 0; i < n; i++) if (!ps.tryPublish(i)) await ps.publish(i);
      ps.close();
      return Promise.all(reading);
    },
    "sluice PubSub, 'drop-oldest' (capacity 1000)": async (n, { subscribers }) => {
      const ps = new PubSub<number>();
      const reading = Array.from({ length: subscribers }, async () => {
        let sum = 0;
        for await (const x of ps.subscribe({ overflow: 'drop-oldest' })) sum += x;
        return sum;
      });
      for (let i = 0; i < n; i++) {
        ps.tryPublish(i);
        // Let the readers run now and then, as a producer that awaits anything would.
        if ((i & 1023) === 1023) await new Promise<void>((resolve) => setImmediate(resolve));
      }
      ps.close();
      return Promise.all(reading);
    },
    'RxJS Subject, concatMap(async consumer)': async (n, { subscribers }) => {
      const subject = new Subject<number>();
      const done = Array.from(
        { length: subscribers },
        () =>
          new Promise<number>((resolve, reject) => {
            let sum = 0;
            subject
              .pipe(
                concatMap(async (x) => {
                  sum += x;
                }),
              )
              .subscribe({ complete: () => resolve(sum), error: reject });
          }),
      );
      for (let i = 0; i < n; i++) subject.next(i);
      subject.complete();
      return Promise.all(done);
    },
    'EventEmitter fanout (sync listeners, no backpressure)': async (n, { subscribers }) => {
      const ee = new EventEmitter();
      ee.setMaxListeners(0);
      const sums = new Array<number>(subscribers).fill(0);
      for (let s = 0; s < subscribers; s++)
        ee.on('item', (x: number) => {
          sums[s]! += x;
        });
      for (let i = 0; i < n; i++) ee.emit('item', i);
      return sums;
    },
  },
  ratios: [
    { ours: "sluice PubSub, 'block'", anchor: 'RxJS Subject, concatMap(async consumer)', budget: 2 },
    { ours: "sluice PubSub, 'block'", anchor: 'EventEmitter fanout (sync listeners, no backpressure)' },
  ],
};
