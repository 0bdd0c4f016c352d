/**
 * Option validation shared by every part. Messages name the part, the option
 * and the value received: `TokenBucket: burst must be a positive finite number, got -1`.
 * Wrong type → `TypeError`; out of range (NaN included) → `RangeError`.
 */

/** Renders a received value for an error message. */
export function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return value.toString();
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (Object.is(value, -0)) return '-0';
  return String(value);
}

function typeError(part: string, name: string, expected: string, value: unknown): TypeError {
  return new TypeError(`${part}: ${name} must be ${expected}, got ${show(value)}`);
}

function rangeError(part: string, name: string, expected: string, value: unknown): RangeError {
  return new RangeError(`${part}: ${name} must be ${expected}, got ${show(value)}`);
}

/** The ranges numeric options are checked against. */
export type NumberRule =
  | 'positive' // finite and > 0
  | 'non-negative' // finite and >= 0
  | 'positive-integer' // integer >= 1
  | 'non-negative-integer' // integer >= 0
  | 'positive-integer-or-infinity'; // integer >= 1, or Infinity

const describeRule: Record<NumberRule, string> = {
  positive: 'a positive finite number',
  'non-negative': 'a non-negative finite number',
  'positive-integer': 'a positive integer',
  'non-negative-integer': 'a non-negative integer',
  'positive-integer-or-infinity': 'a positive integer or Infinity',
};

function fits(value: number, rule: NumberRule): boolean {
  switch (rule) {
    case 'positive':
      return Number.isFinite(value) && value > 0;
    case 'non-negative':
      return Number.isFinite(value) && value >= 0;
    case 'positive-integer':
      return Number.isInteger(value) && value >= 1;
    case 'non-negative-integer':
      return Number.isInteger(value) && value >= 0;
    case 'positive-integer-or-infinity':
      return value === Infinity || (Number.isInteger(value) && value >= 1);
  }
}

/** Checks a numeric option; returns it, or `fallback` when `undefined`. */
export function number(part: string, name: string, value: unknown, rule: NumberRule, fallback: number): number;
export function number(part: string, name: string, value: unknown, rule: NumberRule): number | undefined;
export function number(part: string, name: string, value: unknown, rule: NumberRule, fallback?: number): number | undefined {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') throw typeError(part, name, describeRule[rule], value);
  if (!fits(value, rule)) throw rangeError(part, name, describeRule[rule], value);
  return value;
}

/** Checks that `value` is a number no greater than `max`. */
export function atMost(part: string, name: string, value: number, max: number, maxName: string): number {
  if (value > max) throw rangeError(part, name, `at most ${maxName} (${max})`, value);
  return value;
}

/** Checks an optional function option. */
export function fn<F extends (...args: never[]) => unknown>(part: string, name: string, value: unknown): F | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') throw typeError(part, name, 'a function', value);
  return value as F;
}

/** Checks a required function option. */
export function requiredFn<F extends (...args: never[]) => unknown>(part: string, name: string, value: unknown): F {
  if (typeof value !== 'function') throw typeError(part, name, 'a function', value);
  return value as F;
}

/** Checks a string choice such as `overflow` or `jitter`. */
export function choice<C extends string>(part: string, name: string, value: unknown, choices: readonly C[], fallback: C): C {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
    throw typeError(part, name, `one of ${choices.map((c) => `'${c}'`).join(', ')}`, value);
  }
  return value as C;
}

/** Checks that an options argument is an object (or absent). */
export function options<O extends object>(part: string, value: unknown, name = 'options'): O {
  if (value === undefined) return {} as O;
  if (typeof value !== 'object' || value === null) throw typeError(part, name, 'an object', value);
  return value as O;
}

/** Checks an optional `AbortSignal`. */
export function signal(part: string, name: string, value: unknown): AbortSignal | undefined {
  if (value === undefined) return undefined;
  if (
    typeof value !== 'object' ||
    value === null ||
    typeof (value as AbortSignal).aborted !== 'boolean' ||
    typeof (value as AbortSignal).addEventListener !== 'function'
  ) {
    throw typeError(part, name, 'an AbortSignal', value);
  }
  return value as AbortSignal;
}

/** Checks an optional `Clock`. */
export function clock<C>(part: string, value: unknown, fallback: C): C {
  if (value === undefined) return fallback;
  if (
    typeof value !== 'object' ||
    value === null ||
    typeof (value as { now?: unknown }).now !== 'function' ||
    typeof (value as { setTimeout?: unknown }).setTimeout !== 'function' ||
    typeof (value as { clearTimeout?: unknown }).clearTimeout !== 'function'
  ) {
    throw typeError(part, 'clock', 'a Clock ({ now, setTimeout, clearTimeout })', value);
  }
  return value as C;
}

/** Checks an optional boolean option. */
export function boolean(part: string, name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw typeError(part, name, 'a boolean', value);
  return value;
}

/** Checks an optional string option; returns it, or `fallback` when `undefined`. */
export function string(part: string, name: string, value: unknown, fallback: string): string;
export function string(part: string, name: string, value: unknown): string | undefined;
export function string(part: string, name: string, value: unknown, fallback?: string): string | undefined {
  if (value === undefined) return fallback;
  if (typeof value !== 'string') throw typeError(part, name, 'a string', value);
  return value;
}

/**
 * Checks a key (a message group, dedupe or batch key): a string or a number.
 * `returned`: whether the option named is a function that returned it (`groupBy`).
 */
export function key(part: string, name: string, value: unknown, returned: boolean): string | number {
  if (typeof value !== 'string' && typeof value !== 'number') {
    throw new TypeError(`${part}: ${name} must ${returned ? 'return' : 'be'} a string or a number, got ${show(value)}`);
  }
  return value;
}

/** Whether `value` is a sync or async iterable. */
export function isIterable(value: unknown): value is Iterable<unknown> | AsyncIterable<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    (typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function' ||
      typeof (value as Iterable<unknown>)[Symbol.iterator] === 'function')
  );
}

/** Checks that `value` is a sync or async iterable: `${part}: ${what} must be an iterable or async iterable`. */
export function iterable<T>(part: string, what: string, value: unknown): Iterable<T> | AsyncIterable<T> {
  if (!isIterable(value)) throw typeError(part, what, 'an iterable or async iterable', value);
  return value as Iterable<T> | AsyncIterable<T>;
}
