import { describe, expect, it } from 'vitest';
import { Queue } from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';

describe('Queue: options', () => {
  it('refuses bad options with clear errors', async () => {
    expect(() => new Queue({ concurrency: 0 })).toThrow(new RangeError('Queue: concurrency must be a positive integer or Infinity, got 0'));
    expect(() => new Queue({ capacity: -1 })).toThrow(RangeError);
    expect(() => new Queue({ overflow: 'spill' as never })).toThrow(
      new TypeError("Queue: overflow must be one of 'block', 'reject', 'drop-oldest', 'drop-newest', got \"spill\""),
    );
    expect(() => new Queue({ visibilityTimeoutMs: Number.NaN })).toThrow(RangeError);
    expect(() => new Queue({ handler: 'x' as never })).toThrow(TypeError);
    expect(() => new Queue({ dedupe: {} as never })).toThrow(new TypeError('Queue: dedupe.key must be a function, got undefined'));
    expect(() => new Queue({ retry: { maxAttempts: 1.5 } })).toThrow(RangeError);
    expect(() => new Queue({ autoStart: 'yes' as never })).toThrow(TypeError);
    expect(() => new Queue({ rateLimit: { ratePerSecond: 1, burst: 0.5 } })).toThrow(RangeError);
    const queue = new Queue<number>({ autoStart: false, clock: new TestClock() });
    await expect(queue.push(1, { priority: Number.NaN })).rejects.toThrow(RangeError);
    await expect(queue.push(1, { delayMs: -1 })).rejects.toThrow(RangeError);
    expect(() => queue.tryPush(1, { id: 5 as never })).toThrow(TypeError);
    expect(queue.stats.accepted).toBe(0);
  });
});
