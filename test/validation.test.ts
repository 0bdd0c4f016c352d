import { describe, expect, it } from 'vitest';
import { DeadLetter, Deduper, TokenBucket, backoff } from '../src/index.js';
import { TestClock } from '../src/testing/index.js';

type Case = [label: string, make: () => unknown, type: typeof TypeError | typeof RangeError, message: string];

const clock = new TestClock();

const cases: Case[] = [
  ['TokenBucket without options', () => new TokenBucket(undefined as never), TypeError, 'TokenBucket: ratePerSecond must be a positive finite number, got undefined'],
  ['TokenBucket options not an object', () => new TokenBucket(5 as never), TypeError, 'TokenBucket: options must be an object, got 5'],
  ['TokenBucket ratePerSecond string', () => new TokenBucket({ ratePerSecond: '5' as never }), TypeError, 'TokenBucket: ratePerSecond must be a positive finite number, got "5"'],
  ['TokenBucket ratePerSecond 0', () => new TokenBucket({ ratePerSecond: 0 }), RangeError, 'TokenBucket: ratePerSecond must be a positive finite number, got 0'],
  ['TokenBucket ratePerSecond NaN', () => new TokenBucket({ ratePerSecond: Number.NaN }), RangeError, 'TokenBucket: ratePerSecond must be a positive finite number, got NaN'],
  ['TokenBucket ratePerSecond Infinity', () => new TokenBucket({ ratePerSecond: Infinity }), RangeError, 'TokenBucket: ratePerSecond must be a positive finite number, got Infinity'],
  ['TokenBucket burst -1', () => new TokenBucket({ ratePerSecond: 1, burst: -1 }), RangeError, 'TokenBucket: burst must be a positive finite number, got -1'],
  ['TokenBucket initialTokens over burst', () => new TokenBucket({ ratePerSecond: 1, burst: 2, initialTokens: 3 }), RangeError, 'TokenBucket: initialTokens must be at most burst (2), got 3'],
  ['TokenBucket initialTokens negative', () => new TokenBucket({ ratePerSecond: 1, initialTokens: -1 }), RangeError, 'TokenBucket: initialTokens must be a non-negative finite number, got -1'],
  ['TokenBucket bad clock', () => new TokenBucket({ ratePerSecond: 1, clock: {} as never }), TypeError, 'TokenBucket: clock must be a Clock ({ now, setTimeout, clearTimeout }), got an object'],
  ['TokenBucket.setRate NaN', () => new TokenBucket({ ratePerSecond: 1, clock }).setRate(Number.NaN), RangeError, 'TokenBucket: ratePerSecond must be a positive finite number, got NaN'],
  ['TokenBucket.setRate burst 0', () => new TokenBucket({ ratePerSecond: 1, clock }).setRate(1, 0), RangeError, 'TokenBucket: burst must be a positive finite number, got 0'],
  ['TokenBucket.tryAcquire cost -1', () => new TokenBucket({ ratePerSecond: 1, clock }).tryAcquire(-1), RangeError, 'TokenBucket: cost must be a positive finite number, got -1'],
  ['Deduper windowMs negative', () => new Deduper({ windowMs: -1 }), RangeError, 'Deduper: windowMs must be a non-negative finite number, got -1'],
  ['Deduper windowMs Infinity', () => new Deduper({ windowMs: Infinity }), RangeError, 'Deduper: windowMs must be a non-negative finite number, got Infinity'],
  ['Deduper maxKeys 1.5', () => new Deduper({ maxKeys: 1.5 }), RangeError, 'Deduper: maxKeys must be a positive integer, got 1.5'],
  ['Deduper maxKeys string', () => new Deduper({ maxKeys: '10' as never }), TypeError, 'Deduper: maxKeys must be a positive integer, got "10"'],
  ['DeadLetter capacity 0', () => new DeadLetter({ capacity: 0 }), RangeError, 'DeadLetter: capacity must be a positive integer or Infinity, got 0'],
  ['DeadLetter capacity NaN', () => new DeadLetter({ capacity: Number.NaN }), RangeError, 'DeadLetter: capacity must be a positive integer or Infinity, got NaN'],
  ['DeadLetter overflow unknown', () => new DeadLetter({ overflow: 'drop-newest' as never }), TypeError, "DeadLetter: overflow must be one of 'drop-oldest', 'reject', got \"drop-newest\""],
  ['DeadLetter.add without reason', () => new DeadLetter({ clock }).add({ item: 1 } as never), TypeError, "DeadLetter: entry.reason must be one of 'rejected', 'expired', 'maxlen', 'delivery_limit', got undefined"],
  ['DeadLetter.add unknown reason', () => new DeadLetter({ clock }).add({ item: 1, reason: 'nack' as never }), TypeError, "DeadLetter: entry.reason must be one of 'rejected', 'expired', 'maxlen', 'delivery_limit', got \"nack\""],
  ['DeadLetter.add attempts -1', () => new DeadLetter({ clock }).add({ item: 1, reason: 'rejected', attempts: -1 }), RangeError, 'DeadLetter: entry.attempts must be a non-negative integer, got -1'],
  ['DeadLetter.add without item', () => new DeadLetter({ clock }).add({ reason: 'rejected' } as never), TypeError, 'DeadLetter: entry.item is required, got an object without it'],
  ['DeadLetter.entries limit -1', () => new DeadLetter({ clock }).entries({ limit: -1 }), RangeError, 'DeadLetter: limit must be a non-negative integer, got -1'],
  ['backoff multiplier NaN', () => backoff({ multiplier: Number.NaN }), RangeError, 'backoff: multiplier must be a positive finite number, got NaN'],
  ['backoff initialDelayMs string', () => backoff({ initialDelayMs: '1' as never }), TypeError, 'backoff: initialDelayMs must be a non-negative finite number, got "1"'],
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
