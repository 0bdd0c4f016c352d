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

/**
 * The names an options bag may hold. Written as a record of every key of `O`
 * so that the compiler checks the list is complete and holds nothing else.
 */
export function knownKeys<O>(keys: { readonly [K in keyof Required<O>]: true }): ReadonlySet<string> {
  return new Set(Object.keys(keys));
}

/**
 * Checks that an options argument is an object (or absent) holding only
 * `known` keys: a misspelt option is a TypeError naming the nearest known
 * one, not an option silently ignored.
 * @param name - how the bag is named in messages: `'options'` for the call's own; `'retry'` makes `retry.maxAttempt`.
 */
export function options<O extends object>(part: string, value: unknown, known: ReadonlySet<string>, name = 'options'): O {
  if (value === undefined) return {} as O;
  if (typeof value !== 'object' || value === null) throw typeError(part, name, 'an object', value);
  for (const key in value) if (!known.has(key)) throw unknownOption(part, name, key, known);
  return value as O;
}

function unknownOption(part: string, name: string, key: string, known: ReadonlySet<string>): TypeError {
  const path = (k: string): string => (name === 'options' ? k : `${name}.${k}`);
  let nearest = '';
  let best = Infinity;
  for (const candidate of known) {
    const d = distance(key.toLowerCase(), candidate.toLowerCase());
    if (d < best) {
      best = d;
      nearest = candidate;
    }
  }
  const hint =
    best <= Math.max(2, Math.ceil(key.length / 3))
      ? `did you mean '${path(nearest)}'?`
      : `known: ${[...known].map((k) => `'${k}'`).join(', ')}`;
  return new TypeError(`${part}: unknown option '${path(key)}' (${hint})`);
}

/** Levenshtein distance (insertions, deletions, substitutions), with a swap of two neighbours counted as one edit. */
function distance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    rows.push([i]);
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        rows[0]![j] = j;
        continue;
      }
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = d;
    }
  }
  return rows[a.length]![b.length]!;
}

/**
 * Runs `make`, which builds a part from options the user gave to another
 * (a queue's `rateLimit` becomes a TokenBucket): a TypeError or RangeError
 * it throws is renamed to the part the user called, the option's path in
 * front (`TokenBucket: ratePerSecond …` → `Queue: rateLimit.ratePerSecond …`;
 * with `path` `''`, `BatchAccumulator: maxItems …` → `batch: maxItems …`).
 */
export function within<R>(part: string, path: string, make: () => R): R {
  try {
    return make();
  } catch (error) {
    if (!(error instanceof TypeError || error instanceof RangeError)) throw error;
    const match = /^[A-Za-z]+: (.*)$/s.exec(error.message);
    if (match === null) throw error;
    const rest = match[1]!;
    let message: string;
    if (path === '') message = rest;
    else if (rest.startsWith('unknown option ')) {
      message = rest.replace("unknown option '", `unknown option '${path}.`).replace("did you mean '", `did you mean '${path}.`);
    } else if (rest.startsWith('options ')) message = `${path}${rest.slice('options'.length)}`;
    else message = `${path}.${rest}`;
    throw error instanceof RangeError ? new RangeError(`${part}: ${message}`) : new TypeError(`${part}: ${message}`);
  }
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
