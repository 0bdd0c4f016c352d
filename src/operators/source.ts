import * as v from '../internal/validate.js';

// What every operator reads, and how it reads it.

/** What operators read: any async or sync iterable. */
export type Source<T> = AsyncIterable<T> | Iterable<T>;

/** A pipeline stage: reads a source, yields what it makes of it. */
export type Operator<A, B> = (source: Source<A>) => AsyncIterable<B>;

export function checkSource(part: string, source: unknown): void {
  v.iterable(part, 'source', source);
}

export function isAsyncIterable<T>(source: Source<T>): source is AsyncIterable<T> {
  return typeof (source as AsyncIterable<T>)[Symbol.asyncIterator] === 'function';
}

export async function* fromSync<T>(source: Iterable<T>): AsyncGenerator<T> {
  yield* source;
}

export function toAsyncIterator<T>(source: Source<T>): AsyncIterator<T> {
  checkSource('operator', source);
  return isAsyncIterable(source) ? source[Symbol.asyncIterator]() : fromSync(source)[Symbol.asyncIterator]();
}
