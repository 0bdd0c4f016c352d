import { describe, expectTypeOf, it } from 'vitest';
import {
  DeadLetter,
  Queue,
  batch,
  dedupe,
  mapConcurrent,
  pipe,
  throttle,
  type Delivery,
  type HandlerContext,
  type Operator,
  type Receipt,
} from '../src/index.js';

const toStr: Operator<number, string> = (s) =>
  (async function* () {
    for await (const x of s) yield String(x);
  })();
const toLen: Operator<string, number> = (s) =>
  (async function* () {
    for await (const x of s) yield x.length;
  })();

describe('inferred types', () => {
  it('pipe infers each stage, for 12 stages', () => {
    expectTypeOf(pipe([1, 2])).toEqualTypeOf<AsyncIterable<number>>();
    expectTypeOf(pipe([1], toStr)).toEqualTypeOf<AsyncIterable<string>>();
    expectTypeOf(pipe([1], toStr, toLen, toStr, toLen, toStr, toLen, toStr, toLen, toStr, toLen)).toEqualTypeOf<AsyncIterable<number>>();
    expectTypeOf(pipe([1], toStr, toLen, toStr, toLen, toStr, toLen, toStr, toLen, toStr, toLen, toStr, toLen)).toEqualTypeOf<
      AsyncIterable<number>
    >();
    // @ts-expect-error: a string stage cannot feed a number stage
    pipe([1], toStr, toStr);
  });

  it('the operators carry item types through a pipeline', () => {
    const out = pipe(
      [{ id: 'a', size: 3 }],
      dedupe({ key: (e: { id: string; size: number }) => e.id }),
      batch<{ id: string; size: number }>({ maxItems: 10 }),
      throttle<{ id: string; size: number }[]>({ ratePerSecond: 5 }),
      mapConcurrent(async (b: { id: string; size: number }[]) => b.length, { concurrency: 2 }),
    );
    expectTypeOf(out).toEqualTypeOf<AsyncIterable<number>>();
  });

  it('Queue types its results, receipts, handler context, events and deliveries', () => {
    const queue = new Queue<{ n: number }, string>({ handler: (item, ctx) => String(item.n + ctx.attempt) });
    expectTypeOf(queue.submit({ n: 1 })).toEqualTypeOf<Promise<string>>();
    expectTypeOf(queue.push({ n: 1 })).toEqualTypeOf<Promise<Receipt>>();
    expectTypeOf(queue.tryPush({ n: 1 })).toEqualTypeOf<Receipt | undefined>();
    queue.on('completed', (item, result, info) => {
      expectTypeOf(item).toEqualTypeOf<{ n: number }>();
      expectTypeOf(result).toEqualTypeOf<string>();
      expectTypeOf(info.attempt).toEqualTypeOf<number>();
    });
    queue.on('failed', (_item, error, info) => {
      expectTypeOf(error).toEqualTypeOf<unknown>();
      expectTypeOf(info.willRetry).toEqualTypeOf<boolean>();
    });
    const handler = (_: { n: number }, ctx: HandlerContext) => ctx.signal;
    expectTypeOf(handler).returns.toEqualTypeOf<AbortSignal>();
    const pulled = new Queue<string>();
    expectTypeOf(pulled[Symbol.asyncIterator]()).toEqualTypeOf<AsyncIterableIterator<Delivery<string>>>();
    // @ts-expect-error: items are typed
    void queue.push('nope');
  });

  it('DeadLetter entries keep the item type', () => {
    const dl = new DeadLetter<{ id: number }>();
    expectTypeOf(dl.entries()[0]!.item).toEqualTypeOf<{ id: number }>();
    dl.on('added', (entry) => expectTypeOf(entry.reason).toEqualTypeOf<'rejected' | 'expired' | 'maxlen' | 'delivery_limit'>());
  });
});
