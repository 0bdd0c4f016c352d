import { describe, expect, it } from 'vitest';
import {
  BatchAccumulator,
  DeadLetter,
  Deduper,
  Queue,
  TokenBucket,
  backoff,
  batch,
  dedupe,
  mapConcurrent,
  pipe,
  retry,
  throttle,
} from '../src/index.js';
import { TestClock } from '../src/testing/index.js';

type Case = [label: string, make: () => unknown, type: typeof TypeError | typeof RangeError, message: string];

const clock = new TestClock();

const cases: Case[] = [
  [
    'TokenBucket without options',
    () => new TokenBucket(undefined as never),
    TypeError,
    'TokenBucket: ratePerSecond must be a positive finite number, got undefined',
  ],
  ['TokenBucket options not an object', () => new TokenBucket(5 as never), TypeError, 'TokenBucket: options must be an object, got 5'],
  [
    'TokenBucket ratePerSecond string',
    () => new TokenBucket({ ratePerSecond: '5' as never }),
    TypeError,
    'TokenBucket: ratePerSecond must be a positive finite number, got "5"',
  ],
  [
    'TokenBucket ratePerSecond 0',
    () => new TokenBucket({ ratePerSecond: 0 }),
    RangeError,
    'TokenBucket: ratePerSecond must be a positive finite number, got 0',
  ],
  [
    'TokenBucket ratePerSecond NaN',
    () => new TokenBucket({ ratePerSecond: Number.NaN }),
    RangeError,
    'TokenBucket: ratePerSecond must be a positive finite number, got NaN',
  ],
  [
    'TokenBucket ratePerSecond Infinity',
    () => new TokenBucket({ ratePerSecond: Infinity }),
    RangeError,
    'TokenBucket: ratePerSecond must be a positive finite number, got Infinity',
  ],
  [
    'TokenBucket burst -1',
    () => new TokenBucket({ ratePerSecond: 1, burst: -1 }),
    RangeError,
    'TokenBucket: burst must be a positive finite number, got -1',
  ],
  [
    'TokenBucket initialTokens over burst',
    () => new TokenBucket({ ratePerSecond: 1, burst: 2, initialTokens: 3 }),
    RangeError,
    'TokenBucket: initialTokens must be at most burst (2), got 3',
  ],
  [
    'TokenBucket initialTokens negative',
    () => new TokenBucket({ ratePerSecond: 1, initialTokens: -1 }),
    RangeError,
    'TokenBucket: initialTokens must be a non-negative finite number, got -1',
  ],
  [
    'TokenBucket bad clock',
    () => new TokenBucket({ ratePerSecond: 1, clock: {} as never }),
    TypeError,
    'TokenBucket: clock must be a Clock ({ now, setTimeout, clearTimeout }), got an object',
  ],
  [
    'TokenBucket.setRate NaN',
    () => new TokenBucket({ ratePerSecond: 1, clock }).setRate(Number.NaN),
    RangeError,
    'TokenBucket: ratePerSecond must be a positive finite number, got NaN',
  ],
  [
    'TokenBucket.setRate burst 0',
    () => new TokenBucket({ ratePerSecond: 1, clock }).setRate(1, 0),
    RangeError,
    'TokenBucket: burst must be a positive finite number, got 0',
  ],
  [
    'TokenBucket.tryAcquire cost -1',
    () => new TokenBucket({ ratePerSecond: 1, clock }).tryAcquire(-1),
    RangeError,
    'TokenBucket: cost must be a positive finite number, got -1',
  ],
  [
    'Deduper windowMs negative',
    () => new Deduper({ windowMs: -1 }),
    RangeError,
    'Deduper: windowMs must be a non-negative finite number, got -1',
  ],
  [
    'Deduper windowMs Infinity',
    () => new Deduper({ windowMs: Infinity }),
    RangeError,
    'Deduper: windowMs must be a non-negative finite number, got Infinity',
  ],
  ['Deduper maxKeys 1.5', () => new Deduper({ maxKeys: 1.5 }), RangeError, 'Deduper: maxKeys must be a positive integer, got 1.5'],
  [
    'Deduper maxKeys string',
    () => new Deduper({ maxKeys: '10' as never }),
    TypeError,
    'Deduper: maxKeys must be a positive integer, got "10"',
  ],
  [
    'DeadLetter capacity 0',
    () => new DeadLetter({ capacity: 0 }),
    RangeError,
    'DeadLetter: capacity must be a positive integer or Infinity, got 0',
  ],
  [
    'DeadLetter capacity NaN',
    () => new DeadLetter({ capacity: Number.NaN }),
    RangeError,
    'DeadLetter: capacity must be a positive integer or Infinity, got NaN',
  ],
  [
    'DeadLetter overflow unknown',
    () => new DeadLetter({ overflow: 'drop-newest' as never }),
    TypeError,
    "DeadLetter: overflow must be one of 'drop-oldest', 'reject', got \"drop-newest\"",
  ],
  [
    'DeadLetter.add firstSeenAt NaN',
    () => new DeadLetter({ clock }).add({ item: 1, reason: 'rejected', firstSeenAt: Number.NaN }),
    RangeError,
    'DeadLetter: entry.firstSeenAt must be a finite number, got NaN',
  ],
  [
    'DeadLetter.add firstSeenAt string',
    () => new DeadLetter({ clock }).add({ item: 1, reason: 'rejected', firstSeenAt: '5' as never }),
    TypeError,
    'DeadLetter: entry.firstSeenAt must be a finite number, got "5"',
  ],
  [
    'Queue dedupe.key returning undefined',
    () => new Queue<number>({ dedupe: { key: () => undefined as never }, clock }).tryPush(1),
    TypeError,
    'Queue: dedupe.key must return a string or a number, got undefined',
  ],
  [
    'DeadLetter.add without reason',
    () => new DeadLetter({ clock }).add({ item: 1 } as never),
    TypeError,
    "DeadLetter: entry.reason must be one of 'rejected', 'expired', 'maxlen', 'delivery_limit', got undefined",
  ],
  [
    'DeadLetter.add unknown reason',
    () => new DeadLetter({ clock }).add({ item: 1, reason: 'nack' as never }),
    TypeError,
    "DeadLetter: entry.reason must be one of 'rejected', 'expired', 'maxlen', 'delivery_limit', got \"nack\"",
  ],
  [
    'DeadLetter.add attempts -1',
    () => new DeadLetter({ clock }).add({ item: 1, reason: 'rejected', attempts: -1 }),
    RangeError,
    'DeadLetter: entry.attempts must be a non-negative integer, got -1',
  ],
  [
    'DeadLetter.add without item',
    () => new DeadLetter({ clock }).add({ reason: 'rejected' } as never),
    TypeError,
    'DeadLetter: entry.item is required, got an object without it',
  ],
  [
    'DeadLetter.entries limit -1',
    () => new DeadLetter({ clock }).entries({ limit: -1 }),
    RangeError,
    'DeadLetter: limit must be a non-negative integer, got -1',
  ],
  [
    'backoff multiplier NaN',
    () => backoff({ multiplier: Number.NaN }),
    RangeError,
    'backoff: multiplier must be a positive finite number, got NaN',
  ],
  [
    'backoff initialDelayMs string',
    () => backoff({ initialDelayMs: '1' as never }),
    TypeError,
    'backoff: initialDelayMs must be a non-negative finite number, got "1"',
  ],
  [
    'Queue concurrency 0',
    () => new Queue({ concurrency: 0 }),
    RangeError,
    'Queue: concurrency must be a positive integer or Infinity, got 0',
  ],
  [
    'Queue concurrency 2.5',
    () => new Queue({ concurrency: 2.5 }),
    RangeError,
    'Queue: concurrency must be a positive integer or Infinity, got 2.5',
  ],
  ['Queue capacity -1', () => new Queue({ capacity: -1 }), RangeError, 'Queue: capacity must be a positive integer or Infinity, got -1'],
  [
    'Queue overflow unknown',
    () => new Queue({ overflow: 'spill' as never }),
    TypeError,
    "Queue: overflow must be one of 'block', 'reject', 'drop-oldest', 'drop-newest', got \"spill\"",
  ],
  ['Queue ttlMs NaN', () => new Queue({ ttlMs: Number.NaN }), RangeError, 'Queue: ttlMs must be a positive finite number, got NaN'],
  [
    'Queue visibilityTimeoutMs Infinity',
    () => new Queue({ visibilityTimeoutMs: Infinity }),
    RangeError,
    'Queue: visibilityTimeoutMs must be a positive finite number, got Infinity',
  ],
  [
    'Queue groupConcurrency 0',
    () => new Queue({ groupConcurrency: 0 }),
    RangeError,
    'Queue: groupConcurrency must be a positive integer or Infinity, got 0',
  ],
  ['Queue groupBy not a function', () => new Queue({ groupBy: 'g' as never }), TypeError, 'Queue: groupBy must be a function, got "g"'],
  [
    'Queue handler not a function',
    () => new Queue({ handler: {} as never }),
    TypeError,
    'Queue: handler must be a function, got an object',
  ],
  [
    'Queue deadLetter wrong',
    () => new Queue({ deadLetter: [] as never }),
    TypeError,
    'Queue: deadLetter must be a DeadLetter, got an array',
  ],
  [
    'Queue retry maxAttempts 0',
    () => new Queue({ retry: { maxAttempts: 0 } }),
    RangeError,
    'Queue: retry.maxAttempts must be a positive integer or Infinity, got 0',
  ],
  ['Queue name number', () => new Queue({ name: 5 as never }), TypeError, 'Queue: name must be a string, got 5'],
  [
    'Queue.tryPush priority Infinity',
    () => new Queue({ autoStart: false }).tryPush(1, { priority: Infinity }),
    RangeError,
    'Queue: priority must be a finite number, got Infinity',
  ],
  [
    'Queue.tryPush delayMs -5',
    () => new Queue({ autoStart: false }).tryPush(1, { delayMs: -5 }),
    RangeError,
    'Queue: delayMs must be a non-negative finite number, got -5',
  ],
  [
    'Queue.tryPush signal wrong',
    () => new Queue({ autoStart: false }).tryPush(1, { signal: {} as never }),
    TypeError,
    'Queue: signal must be an AbortSignal, got an object',
  ],
  [
    'BatchAccumulator maxItems 0',
    () => new BatchAccumulator({ maxItems: 0 }),
    RangeError,
    'BatchAccumulator: maxItems must be a positive integer, got 0',
  ],
  [
    'BatchAccumulator maxBytes without sizeOf',
    () => new BatchAccumulator({ maxBytes: 10 }),
    TypeError,
    'BatchAccumulator: sizeOf must be a function when maxBytes is set, got undefined',
  ],
  [
    'BatchAccumulator lingerMs NaN',
    () => new BatchAccumulator({ lingerMs: Number.NaN }),
    RangeError,
    'BatchAccumulator: lingerMs must be a non-negative finite number, got NaN',
  ],
  [
    'BatchAccumulator maxPending Infinity',
    () => new BatchAccumulator({ maxPending: Infinity }),
    RangeError,
    'BatchAccumulator: maxPending must be a positive integer, got Infinity',
  ],
  ['batch() maxItems -1', () => batch({ maxItems: -1 }), RangeError, 'batch: maxItems must be a positive integer, got -1'],
  ['dedupe() without key', () => dedupe({} as never), TypeError, 'dedupe: key must be a function, got undefined'],
  [
    'throttle() ratePerSecond 0',
    () => throttle({ ratePerSecond: 0 }),
    RangeError,
    'throttle: limit.ratePerSecond must be a positive finite number, got 0',
  ],
  [
    'throttle() cost NaN',
    () => throttle({ ratePerSecond: 1 }, { cost: Number.NaN }),
    RangeError,
    'throttle: cost must be a positive finite number, got NaN',
  ],
  [
    'mapConcurrent() concurrency 0',
    () => mapConcurrent(() => 1, { concurrency: 0 }),
    RangeError,
    'mapConcurrent: concurrency must be a positive integer or Infinity, got 0',
  ],
  [
    'mapConcurrent() timeoutMs -1',
    () => mapConcurrent(() => 1, { timeoutMs: -1 }),
    RangeError,
    'mapConcurrent: timeoutMs must be a positive finite number, got -1',
  ],
  ['pipe() source not iterable', () => pipe({} as never), TypeError, 'pipe: source must be an iterable or async iterable, got an object'],
];

describe('bad input gets a clear error naming the part, the option and the value', () => {
  it.each(cases)('%s', (_label, make, type, message) => {
    let thrown: unknown;
    try {
      make();
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(type);
    expect((thrown as Error).message).toBe(message);
  });
});

describe('promise-returning calls refuse asynchronously', () => {
  it.each([
    [
      'retry maxAttempts 1.5',
      () => retry(() => 1, { maxAttempts: 1.5 }),
      RangeError,
      'retry: maxAttempts must be a positive integer or Infinity, got 1.5',
    ],
    [
      'retry timeoutMs NaN',
      () => retry(() => 1, { timeoutMs: Number.NaN }),
      RangeError,
      'retry: timeoutMs must be a non-negative finite number, got NaN',
    ],
    [
      'TokenBucket.acquire cost over burst',
      () => new TokenBucket({ ratePerSecond: 1, burst: 2 }).acquire(3),
      RangeError,
      'TokenBucket: cost must be at most burst (2), got 3',
    ],
    [
      'TokenBucket.acquire maxWaitMs -1',
      () => new TokenBucket({ ratePerSecond: 1 }).acquire(1, { maxWaitMs: -1 }),
      RangeError,
      'TokenBucket: maxWaitMs must be a non-negative finite number, got -1',
    ],
    [
      'Queue.push ttlMs 0',
      () => new Queue({ autoStart: false }).push(1, { ttlMs: 0 }),
      RangeError,
      'Queue: ttlMs must be a positive finite number, got 0',
    ],
    [
      'Queue.onSizeBelow NaN',
      () => new Queue().onSizeBelow(Number.NaN),
      RangeError,
      'Queue: limit must be a non-negative finite number, got NaN',
    ],
    ['Queue.close drain string', () => new Queue().close({ drain: 'no' as never }), TypeError, 'Queue: drain must be a boolean, got "no"'],
  ] as const)('%s', async (_label, call, type, message) => {
    let result: Promise<unknown> | undefined;
    expect(() => {
      result = call();
    }).not.toThrow();
    const error = await result!.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(type);
    expect((error as Error).message).toBe(message);
  });
});

describe('an unknown option is a TypeError naming the nearest known one, in every constructor and option bag', () => {
  const noop = () => {};
  it.each<Case>([
    ['Queue', () => new Queue({ concurency: 4 } as never), TypeError, "Queue: unknown option 'concurency' (did you mean 'concurrency'?)"],
    [
      'Queue, a swap',
      () => new Queue({ capacitiy: 4 } as never),
      TypeError,
      "Queue: unknown option 'capacitiy' (did you mean 'capacity'?)",
    ],
    [
      'Queue, far from any',
      () => new Queue({ zzzzzzzzzzzz: 1 } as never),
      TypeError,
      "Queue: unknown option 'zzzzzzzzzzzz' (known: 'handler', 'concurrency', 'classify', 'retryAfter', 'capacity', 'overflow', 'retry', 'deadLetter', 'visibilityTimeoutMs', 'ttlMs', 'groupBy', 'groupConcurrency', 'groupRateLimit', 'dedupe', 'rateLimit', 'autoStart', 'metrics', 'name', 'clock')",
    ],
    [
      'Queue retry',
      () => new Queue({ retry: { maxAttempt: 3 } } as never),
      TypeError,
      "Queue: unknown option 'retry.maxAttempt' (did you mean 'retry.maxAttempts'?)",
    ],
    [
      'Queue retry.backoff',
      () => new Queue({ retry: { backoff: { initialDelay: 5 } } } as never),
      TypeError,
      "Queue: unknown option 'retry.backoff.initialDelay' (did you mean 'retry.backoff.initialDelayMs'?)",
    ],
    [
      'Queue dedupe',
      () => new Queue({ dedupe: { key: String, window: 5 } } as never),
      TypeError,
      "Queue: unknown option 'dedupe.window' (did you mean 'dedupe.windowMs'?)",
    ],
    [
      'Queue rateLimit',
      () => new Queue({ rateLimit: { ratePerSecond: 1, brust: 2 } } as never),
      TypeError,
      "Queue: unknown option 'rateLimit.brust' (did you mean 'rateLimit.burst'?)",
    ],
    [
      'Queue.tryPush',
      () => new Queue({ autoStart: false }).tryPush(1, { delay: 5 } as never),
      TypeError,
      "Queue: unknown option 'delay' (did you mean 'delayMs'?)",
    ],
    [
      'Queue.process',
      () => new Queue().process(noop, { concurrancy: 2 } as never),
      TypeError,
      "Queue: unknown option 'concurrancy' (did you mean 'concurrency'?)",
    ],
    [
      'TokenBucket',
      () => new TokenBucket({ ratePerSecond: 1, burts: 2 } as never),
      TypeError,
      "TokenBucket: unknown option 'burts' (did you mean 'burst'?)",
    ],
    [
      'BatchAccumulator',
      () => new BatchAccumulator({ maxItem: 3 } as never),
      TypeError,
      "BatchAccumulator: unknown option 'maxItem' (did you mean 'maxItems'?)",
    ],
    ['batch()', () => batch({ linger: 5 } as never), TypeError, "batch: unknown option 'linger' (did you mean 'lingerMs'?)"],
    [
      'DeadLetter',
      () => new DeadLetter({ capasity: 3 } as never),
      TypeError,
      "DeadLetter: unknown option 'capasity' (did you mean 'capacity'?)",
    ],
    [
      'DeadLetter.add',
      () => new DeadLetter().add({ item: 1, reason: 'rejected', atempts: 2 } as never),
      TypeError,
      "DeadLetter: unknown option 'entry.atempts' (did you mean 'entry.attempts'?)",
    ],
    [
      'DeadLetter.entries',
      () => new DeadLetter().entries({ limt: 2 } as never),
      TypeError,
      "DeadLetter: unknown option 'limt' (did you mean 'limit'?)",
    ],
    ['Deduper', () => new Deduper({ maxKey: 3 } as never), TypeError, "Deduper: unknown option 'maxKey' (did you mean 'maxKeys'?)"],
    ['backoff()', () => backoff({ jiter: 'full' } as never), TypeError, "backoff: unknown option 'jiter' (did you mean 'jitter'?)"],
    [
      'dedupe()',
      () => dedupe({ key: String, windowMS: 5 } as never),
      TypeError,
      "dedupe: unknown option 'windowMS' (did you mean 'windowMs'?)",
    ],
    [
      'dedupe() window through the deduper',
      () => dedupe({ key: String, windowMs: -1 }),
      RangeError,
      'dedupe: windowMs must be a non-negative finite number, got -1',
    ],
    [
      'throttle() limit',
      () => throttle({ ratePerSecond: 1, burts: 1 } as never),
      TypeError,
      "throttle: unknown option 'limit.burts' (did you mean 'limit.burst'?)",
    ],
    [
      'throttle() options',
      () => throttle({ ratePerSecond: 1 }, { costs: 1 } as never),
      TypeError,
      "throttle: unknown option 'costs' (did you mean 'cost'?)",
    ],
    [
      'mapConcurrent()',
      () => mapConcurrent(noop, { concurrency: 2, order: false } as never),
      TypeError,
      "mapConcurrent: unknown option 'order' (did you mean 'ordered'?)",
    ],
    [
      'mapConcurrent() retry.backoff range',
      () => mapConcurrent(noop, { retry: { backoff: { maxDelayMs: -1 } } }),
      RangeError,
      'mapConcurrent: retry.backoff.maxDelayMs must be a non-negative finite number, got -1',
    ],
    [
      'Queue rateLimit range',
      () => new Queue({ rateLimit: { ratePerSecond: -1 } }),
      RangeError,
      'Queue: rateLimit.ratePerSecond must be a positive finite number, got -1',
    ],
    [
      'Queue dedupe range',
      () => new Queue({ dedupe: { key: String, maxKeys: 0 } }),
      RangeError,
      'Queue: dedupe.maxKeys must be a positive integer, got 0',
    ],
  ])('%s', (_label, make, type, message) => {
    let error: unknown;
    try {
      make();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(type);
    expect((error as Error).message).toBe(message);
  });

  it.each([
    ['retry()', () => retry(() => 1, { maxAtempts: 2 } as never), "retry: unknown option 'maxAtempts' (did you mean 'maxAttempts'?)"],
    [
      'TokenBucket.acquire',
      () => new TokenBucket({ ratePerSecond: 1 }).acquire(1, { maxWait: 5 } as never),
      "TokenBucket: unknown option 'maxWait' (did you mean 'maxWaitMs'?)",
    ],
    [
      'Queue.push',
      () => new Queue({ autoStart: false }).push(1, { priorty: 1 } as never),
      "Queue: unknown option 'priorty' (did you mean 'priority'?)",
    ],
    ['Queue.close', () => new Queue().close({ drian: false } as never), "Queue: unknown option 'drian' (did you mean 'drain'?)"],
    [
      'DeadLetter.redrive',
      () => new DeadLetter().redrive(() => {}, { filtr: () => true } as never),
      "DeadLetter: unknown option 'filtr' (did you mean 'filter'?)",
    ],
    [
      'BatchAccumulator.addAll',
      () => new BatchAccumulator().addAll([], { sigal: undefined } as never),
      "BatchAccumulator: unknown option 'sigal' (did you mean 'signal'?)",
    ],
  ] as const)('%s rejects', async (_label, call, message) => {
    const error = await call().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toBe(message);
  });
});
