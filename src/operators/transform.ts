import { closeQuietly } from '../internal/iterators.js';
import * as v from '../internal/validate.js';
import { type Operator, type Source, toAsyncIterator } from './source.js';

/**
 * Maps each item through `fn`, one at a time, in order (as RxJS's `map` and
 * Array's): `fn(item, index)` may be sync or async; an async one is awaited
 * before the next item is read. For calls in parallel, use `mapConcurrent`.
 * @param fn - called with the item and its position in the source, from 0.
 * @returns an operator yielding `fn`'s results in source order.
 * @throws TypeError when `fn` is not a function (at the call). Iteration
 *   rejects with `fn`'s error, and closes the source.
 */
export function map<T, R>(fn: (item: T, index: number) => R | PromiseLike<R>): Operator<T, R> {
  v.requiredFn('map', 'fn', fn);
  return (source) =>
    (async function* mapped() {
      let index = 0;
      for await (const item of source) yield await fn(item, index++);
    })();
}

/**
 * Passes on the items for which `predicate(item, index)` is true (sync or
 * async; awaited before the next item is read), in order. A type guard
 * narrows the items' type through `pipe`.
 * @param predicate - called with the item and its position in the source, from 0.
 * @returns an operator yielding the items kept.
 * @throws TypeError when `predicate` is not a function (at the call). Iteration
 *   rejects with `predicate`'s error, and closes the source.
 */
export function filter<T, S extends T>(predicate: (item: T, index: number) => item is S): Operator<T, S>;
export function filter<T>(predicate: (item: T, index: number) => boolean | PromiseLike<boolean>): Operator<T, T>;
export function filter<T>(predicate: (item: T, index: number) => boolean | PromiseLike<boolean>): Operator<T, T> {
  v.requiredFn('filter', 'predicate', predicate);
  return (source) =>
    (async function* filtered() {
      let index = 0;
      for await (const item of source) if (await predicate(item, index++)) yield item;
    })();
}

/**
 * Calls `fn(item, index)` for each item (sync or async; awaited before the
 * item is passed on) and passes the item on unchanged: logging, counting,
 * side effects (RxJS's `tap`).
 * @param fn - called with the item and its position in the source, from 0; its result is ignored.
 * @returns an operator yielding the same items.
 * @throws TypeError when `fn` is not a function (at the call). Iteration
 *   rejects with `fn`'s error, and closes the source.
 */
export function tap<T>(fn: (item: T, index: number) => unknown): Operator<T, T> {
  v.requiredFn('tap', 'fn', fn);
  return (source) =>
    (async function* tapped() {
      let index = 0;
      for await (const item of source) {
        await fn(item, index++);
        yield item;
      }
    })();
}

/** The item type of a source. */
export type SourceItem<S> = S extends Source<infer T> ? T : never;

/**
 * Interleaves sources as their items come (RxJS's `merge`): every source is
 * read at once, at most one item ahead each, and items are yielded in the
 * order they arrived — fair, since a source is read again only once its item
 * was taken, so a fast source cannot starve a slow one. Ends when every
 * source has ended.
 *
 * A consumer's `break` (or a source's error, which the consumer gets)
 * closes every source still open.
 * @param sources - async or sync iterables.
 * @returns the merged items, typed as the union of the sources' item types.
 * @throws TypeError when a source is not iterable (at the call).
 */
export function merge<S extends Source<unknown>[]>(...sources: S): AsyncIterable<SourceItem<S[number]>> {
  for (const [i, source] of sources.entries()) v.iterable('merge', `sources[${i}]`, source);
  type T = SourceItem<S[number]>;
  return {
    [Symbol.asyncIterator](): AsyncIterator<T> {
      const iterators = sources.map((source) => toAsyncIterator(source as Source<T>));
      /** Sources still open, by index. */
      const open = new Set(iterators.keys());
      /** Results in the order they arrived; a source has at most one here or in flight. */
      const arrived: ({ i: number; value: T } | { error: unknown })[] = [];
      let wake: (() => void) | undefined;
      let done = false;
      const closeAll = (): void => {
        done = true;
        for (const i of open) closeQuietly(iterators[i]!);
        open.clear();
      };
      const pull = (i: number): void => {
        let next: Promise<IteratorResult<T>>;
        try {
          next = Promise.resolve(iterators[i]!.next());
        } catch (error) {
          next = Promise.reject(error);
        }
        next.then(
          (result) => {
            if (done) return;
            if (result.done) open.delete(i);
            else arrived.push({ i, value: result.value });
            wake?.();
          },
          (error: unknown) => {
            if (done) return;
            open.delete(i);
            arrived.push({ error });
            wake?.();
          },
        );
      };
      let started = false;
      return {
        async next(): Promise<IteratorResult<T>> {
          if (!started) {
            started = true;
            for (const i of open) pull(i);
          }
          for (;;) {
            if (done) return { value: undefined, done: true };
            const first = arrived.shift();
            if (first !== undefined) {
              if ('error' in first) {
                closeAll();
                throw first.error;
              }
              pull(first.i);
              return { value: first.value, done: false };
            }
            if (open.size === 0) {
              done = true;
              return { value: undefined, done: true };
            }
            await new Promise<void>((resolve) => {
              wake = resolve;
            });
            wake = undefined;
          }
        },
        async return(): Promise<IteratorResult<T>> {
          closeAll();
          arrived.length = 0;
          wake?.();
          return { value: undefined, done: true };
        },
      };
    },
  };
}
