import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { whenAborted } from '../../src/internal/abort.js';

describe('whenAborted', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it('runs every wait once, in the order they began, from one listener on the signal', () => {
    const controller = new AbortController();
    const order: number[] = [];
    for (let i = 0; i < 1_000; i++) whenAborted(controller.signal, () => order.push(i));
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    controller.abort();
    controller.abort();
    expect(order).toEqual(Array.from({ length: 1_000 }, (_, i) => i));
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('a detached wait does not run; the last one to leave takes the listener off', () => {
    const controller = new AbortController();
    const ran: string[] = [];
    const detachA = whenAborted(controller.signal, () => ran.push('a'));
    const detachB = whenAborted(controller.signal, () => ran.push('b'));
    detachA();
    detachA(); // twice is harmless
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    detachB();
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    whenAborted(controller.signal, () => ran.push('c')); // a new wait after all left
    controller.abort();
    expect(ran).toEqual(['c']);
  });

  it('the same callback waiting twice runs twice; detaching one leaves the other', () => {
    const controller = new AbortController();
    let calls = 0;
    const onAbort = () => calls++;
    const detach = whenAborted(controller.signal, onAbort);
    whenAborted(controller.signal, onAbort);
    whenAborted(controller.signal, onAbort);
    detach();
    controller.abort();
    expect(calls).toBe(2);
  });

  it('a wait that detaches others while the abort runs (a waiter settling) skips them without a search', () => {
    const controller = new AbortController();
    const ran: number[] = [];
    const detaches: (() => void)[] = [];
    for (let i = 0; i < 4; i++) {
      detaches.push(
        whenAborted(controller.signal, () => {
          ran.push(i);
          detaches[i]!(); // its own, as a waiter that settles does
          if (i === 0) detaches[2]!(); // and another's
        }),
      );
    }
    controller.abort();
    expect(ran).toEqual([0, 1, 3]);
  });

  it('a callback that throws is reported as uncaught, and the others still run', () => {
    const reported: (() => void)[] = [];
    vi.stubGlobal('queueMicrotask', (task: () => void) => reported.push(task));
    const controller = new AbortController();
    const ran: string[] = [];
    whenAborted(controller.signal, () => {
      throw new Error('listener broke');
    });
    whenAborted(controller.signal, () => ran.push('after'));
    controller.abort();
    expect(ran).toEqual(['after']);
    expect(reported).toHaveLength(1);
    expect(() => reported[0]!()).toThrow('listener broke');
  });

  it('many waits on one signal raise no MaxListenersExceededWarning', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const controller = new AbortController();
      for (let i = 0; i < 50; i++) whenAborted(controller.signal, () => {});
      await new Promise((r) => setTimeout(r, 10));
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('no signal: nothing to wait for', () => {
    const detach = whenAborted(undefined, () => {
      throw new Error('never');
    });
    expect(detach()).toBeUndefined();
  });
});
