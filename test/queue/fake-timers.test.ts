import { afterEach, describe, expect, it, vi } from 'vitest';
import { Queue } from '../../src/index.js';

describe('Queue: with vi.useFakeTimers() and no clock injected', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('delays and retries on the faked timers, leaving none behind', async () => {
    vi.useFakeTimers();
    const at: number[] = [];
    const start = Date.now();
    const queue = new Queue<number>({
      retry: { maxAttempts: 2, backoff: { initialDelayMs: 1_000, jitter: 'none' } },
      handler: (_, { attempt }) => {
        at.push(Date.now() - start);
        if (attempt === 1) throw new Error('x');
      },
    });
    await queue.push(1, { delayMs: 500 });
    await vi.advanceTimersByTimeAsync(1_500);
    expect(at).toEqual([500, 1_500]);
    await queue.close();
    expect(vi.getTimerCount()).toBe(0);
  });
});
