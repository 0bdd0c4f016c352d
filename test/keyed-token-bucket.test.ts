import { describe, expect, it } from 'vitest';
import { KeyedTokenBucket } from '../src/index.js';
import { TestClock } from '../src/testing/index.js';

describe('KeyedTokenBucket', () => {
  it('keeps a bucket per key: one key spent never limits another', () => {
    const clock = new TestClock();
    const keyed = new KeyedTokenBucket({ ratePerSecond: 1, burst: 2, clock });
    expect([keyed.tryAcquire('a'), keyed.tryAcquire('a'), keyed.tryAcquire('a')]).toEqual([true, true, false]);
    expect(keyed.tryAcquire('b')).toBe(true);
    expect(keyed.tryAcquire(1)).toBe(true);
    expect(keyed.tryAcquire('1')).toBe(true); // 1 and '1' are different keys
    expect(keyed.waitTime('a')).toBe(1_000);
    expect(keyed.waitTime('never-seen')).toBe(0);
  });

  it('serves each key FIFO on its own timeline', async () => {
    const clock = new TestClock();
    const keyed = new KeyedTokenBucket({ ratePerSecond: 10, clock });
    const order: string[] = [];
    const waits = ['a1', 'b1', 'a2', 'b2', 'a3'].map((name) => keyed.acquire(name[0]!).then(() => order.push(`${name}@${clock.now()}`)));
    await clock.runAll();
    await Promise.all(waits);
    expect(order).toEqual(['a1@0', 'b1@0', 'a2@100', 'b2@100', 'a3@200']);
  });

  it('holds no memory for a key whose bucket is full again', async () => {
    const clock = new TestClock();
    const keyed = new KeyedTokenBucket({ ratePerSecond: 10, burst: 1, clock });
    for (let i = 0; i < 1_000; i++) keyed.tryAcquire(`user-${i}`);
    expect(keyed.size).toBe(1_000);
    await clock.advance(99);
    expect(keyed.size).toBe(1_000);
    await clock.advance(1);
    expect(keyed.size).toBe(0);
    // Forgotten keys start full, as they would have been.
    expect(keyed.tryAcquire('user-7')).toBe(true);
    expect(keyed.tryAcquire('user-7')).toBe(false);
  });

  it('bounds the keys it holds by maxKeys, forgetting the least recently used that nobody waits on', async () => {
    const clock = new TestClock();
    const keyed = new KeyedTokenBucket({ ratePerSecond: 1, burst: 1, maxKeys: 2, clock });
    const waiting = keyed.acquire('a'); // granted at once
    await waiting;
    const second = keyed.acquire('a'); // waits: 'a' is never forgotten while it has a waiter
    keyed.tryAcquire('b');
    keyed.tryAcquire('c'); // past maxKeys: 'b' (least recently used, idle) is forgotten
    expect(keyed.size).toBe(2);
    expect(keyed.tryAcquire('b')).toBe(true); // starts full again
    await clock.runAll();
    await second;
  });

  it('gives one key as a RateLimiter', async () => {
    const clock = new TestClock();
    const keyed = new KeyedTokenBucket({ ratePerSecond: 1, clock });
    const tenant = keyed.limiterFor('t1');
    expect(tenant.tryAcquire()).toBe(true);
    expect(tenant.waitTime?.()).toBe(1_000);
    expect(keyed.tryAcquire('t1')).toBe(false);
  });

  it('rejects bad options, keys and costs, naming the part', async () => {
    expect(() => new KeyedTokenBucket({} as never)).toThrow(
      'KeyedTokenBucket: ratePerSecond must be a positive finite number, got undefined',
    );
    expect(() => new KeyedTokenBucket({ ratePerSecond: 1, maxKeys: 0 })).toThrow(
      'KeyedTokenBucket: maxKeys must be a positive integer or Infinity, got 0',
    );
    expect(() => new KeyedTokenBucket({ ratePerSecond: 1, maxkeys: 5 } as never)).toThrow("did you mean 'maxKeys'?");
    const keyed = new KeyedTokenBucket({ ratePerSecond: 1 });
    expect(() => keyed.tryAcquire({} as never)).toThrow('KeyedTokenBucket: key must be a string or a number, got an object');
    expect(() => keyed.tryAcquire('a', 2)).toThrow('KeyedTokenBucket: cost must be at most burst (1), got 2');
    await expect(keyed.acquire('a', 0)).rejects.toThrow('KeyedTokenBucket: cost must be a positive finite number, got 0');
    expect(keyed.size).toBe(0); // a refused call holds no key
  });
});
