import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DeadLetter, type Delivery, Queue, RejectError } from '../src/index.js';
import { TestClock } from '../src/testing/index.js';

interface Model {
  nextN: number;
  closed: boolean;
}

interface Real {
  readonly queue: Queue<number>;
  readonly clock: TestClock;
  readonly deadLetter: DeadLetter<number>;
  /** Items acked (ack returned true). */
  readonly acked: number[];
  readonly returned: number[];
  /** Items the queue told were cancelled. */
  readonly cancelled: number[];
  /** Receipt ids, for cancels. */
  readonly ids: string[];
  /** Deliveries held by the consumer, not yet acked or nacked. */
  readonly held: Delivery<number>[];
  /** The consumer's iterator, and a `next()` of it still waiting for a delivery. */
  iterator: AsyncIterator<Delivery<number>> | undefined;
  pending: Promise<IteratorResult<Delivery<number>>> | undefined;
  /** Iterations that ended (`done`) once the queue was closed and empty. */
  ended: number;
  closing: Promise<unknown>[];
  readonly listenerViolations: string[];
}

function lawBroken(queue: Queue<number>): string | undefined {
  const s = queue.stats;
  if (s.accepted === s.completed + s.deadLettered + s.returned + s.cancelled + s.waiting + s.inFlight) return undefined;
  return JSON.stringify(s);
}

function checkInvariants(real: Real): void {
  const s = real.queue.stats;
  expect(s.accepted).toBe(s.completed + s.deadLettered + s.returned + s.cancelled + s.waiting + s.inFlight);
  expect(s.cancelled).toBe(real.cancelled.length);
  expect(s.waiting).toBe(real.queue.size);
  expect(s.inFlight).toBe(real.queue.inFlight);
  expect(s.completed).toBe(real.acked.length);
  expect(real.deadLetter.size).toBe(s.deadLettered);
  expect(real.listenerViolations).toEqual([]);
}

/** Lets settled promises run their reactions. */
const turn = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

/** Takes what a waiting `next()` resolved with: a delivery to hold, or the end. */
async function collect(real: Real): Promise<void> {
  const pending = real.pending;
  if (pending === undefined) return;
  const result = await Promise.race([pending, turn().then(() => undefined)]);
  if (result === undefined) return; // still waiting
  real.pending = undefined;
  if (result.done) {
    real.ended++;
    real.iterator = undefined;
  } else real.held.push(result.value);
}

class PushCommand implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly delayMs: number,
    readonly priority: number,
  ) {}
  check = () => true;
  async run(model: Model, real: Real): Promise<void> {
    const n = model.nextN++;
    try {
      const receipt = real.queue.tryPush(
        n,
        this.delayMs === 0 && this.priority === 0 ? undefined : { delayMs: this.delayMs, priority: this.priority },
      );
      if (receipt) real.ids.push(receipt.id);
    } catch {
      // closed
    }
    await collect(real);
    checkInvariants(real);
  }
  toString = () => `push(delay ${this.delayMs}, priority ${this.priority})`;
}

/** The consumer asks for the next delivery (one `next()` at a time, as `for await` does). */
class NextCommand implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(_model: Model, real: Real): Promise<void> {
    if (real.pending === undefined) {
      real.iterator ??= real.queue[Symbol.asyncIterator]();
      real.pending = real.iterator.next();
    }
    await collect(real);
    checkInvariants(real);
  }
  toString = () => 'next';
}

class SettleCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly how: 'ack' | 'nack' | 'nack-reject' | 'nack-delay') {}
  check = () => true;
  async run(_model: Model, real: Real): Promise<void> {
    const delivery = real.held.shift();
    if (delivery !== undefined) {
      if (this.how === 'ack') {
        if (delivery.ack()) real.acked.push(delivery.item);
      } else if (this.how === 'nack') delivery.nack(new Error('try again'));
      else if (this.how === 'nack-reject') delivery.nack(new RejectError(new Error('never')));
      else delivery.nack(new Error('later'), { delayMs: 40 });
    }
    await collect(real);
    checkInvariants(real);
  }
  toString = () => this.how;
}

/** The consumer stops (`break`): its unacked deliveries go back to waiting; a new `for await` may start later. */
class BreakCommand implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(_model: Model, real: Real): Promise<void> {
    const iterator = real.iterator;
    if (iterator !== undefined) {
      real.iterator = undefined;
      const pending = real.pending;
      real.pending = undefined;
      await iterator.return?.();
      if (pending !== undefined) {
        const result = await pending;
        if (!result.done) real.held.push(result.value); // delivered before the break took effect
      }
      // What it held is no longer its to settle: late acks return false.
      for (const delivery of real.held.splice(0)) expect(delivery.ack()).toBe(false);
    }
    await turn();
    checkInvariants(real);
  }
  toString = () => 'break';
}

class AdvanceCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly ms: number) {}
  check = () => true;
  async run(_model: Model, real: Real): Promise<void> {
    await real.clock.advance(this.ms);
    await collect(real);
    checkInvariants(real);
  }
  toString = () => `advance(${this.ms})`;
}

class CancelCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly pick: number) {}
  check = () => true;
  async run(_model: Model, real: Real): Promise<void> {
    const id = real.ids[this.pick % Math.max(1, real.ids.length)];
    if (id !== undefined) real.queue.cancel(id);
    await collect(real);
    checkInvariants(real);
  }
  toString = () => `cancel(#${this.pick})`;
}

class ClearCommand implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(_model: Model, real: Real): Promise<void> {
    real.returned.push(...real.queue.clear());
    await collect(real);
    checkInvariants(real);
  }
  toString = () => 'clear';
}

class CloseCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly how: 'drain' | 'no-drain' | 'aborted') {}
  check = (model: Readonly<Model>) => !model.closed;
  async run(model: Model, real: Real): Promise<void> {
    model.closed = true;
    const controller = new AbortController();
    const closing = real.queue.close({ drain: this.how !== 'no-drain', signal: controller.signal });
    real.closing.push(
      closing.then(
        (r) => real.returned.push(...r.unprocessed),
        () => {},
      ),
    );
    // An aborted close stops only this caller's wait: iteration must still end once the queue is empty.
    if (this.how === 'aborted') controller.abort(new Error('stopped waiting'));
    await turn();
    await collect(real);
    checkInvariants(real);
  }
  toString = () => `close(${this.how})`;
}

const commands = [
  fc.record({ delayMs: fc.constantFrom(0, 0, 30), priority: fc.constantFrom(0, 0, 1) }).map((p) => new PushCommand(p.delayMs, p.priority)),
  fc.constant(new NextCommand()),
  fc.constant(new NextCommand()),
  fc.constantFrom('ack', 'ack', 'nack', 'nack-reject', 'nack-delay').map((how) => new SettleCommand(how as 'ack')),
  fc.constant(new BreakCommand()),
  fc.integer({ min: 0, max: 120 }).map((ms) => new AdvanceCommand(ms)),
  fc.constantFrom('drain', 'no-drain', 'aborted').map((how) => new CloseCommand(how as 'drain')),
  fc.constant(new ClearCommand()),
  fc.nat(30).map((pick) => new CancelCommand(pick)),
];

const runs = Number(process.env.SLUICE_PROPERTY_RUNS ?? 300);

describe('Queue model, pull mode', () => {
  it('loses nothing under next, ack, nack, lapses, break and close (drained, not drained, aborted)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({ concurrency: fc.integer({ min: 1, max: 3 }), maxAttempts: fc.integer({ min: 1, max: 3 }) }),
        fc.commands(commands, { maxCommands: 40 }),
        async (setup, cmds) => {
          const clock = new TestClock();
          const deadLetter = new DeadLetter<number>({ capacity: Infinity, clock });
          const queue = new Queue<number>({
            clock,
            deadLetter,
            concurrency: setup.concurrency,
            visibilityTimeoutMs: 100,
            retry: { maxAttempts: setup.maxAttempts, backoff: { initialDelayMs: 10, maxDelayMs: 10, jitter: 'none' } },
          });
          const listenerViolations: string[] = [];
          const watch = (where: string) => () => {
            const broken = lawBroken(queue);
            if (broken !== undefined) listenerViolations.push(`${where}: ${broken}`);
          };
          for (const event of ['active', 'completed', 'failed', 'dead-lettered', 'cancelled', 'idle'] as const)
            queue.on(event, watch(event));
          const cancelled: number[] = [];
          queue.on('cancelled', (item) => cancelled.push(item));
          const model: Model = { nextN: 0, closed: false };
          const real: Real = {
            queue,
            clock,
            deadLetter,
            acked: [],
            returned: [],
            cancelled,
            ids: [],
            held: [],
            iterator: undefined,
            pending: undefined,
            ended: 0,
            closing: [],
            listenerViolations,
          };

          await fc.asyncModelRun(() => ({ model, real }), cmds);

          // Wind down as a consumer that finishes would: close (if nobody did), then ack every delivery until the end.
          if (!model.closed) {
            real.closing.push(queue.close().then((r) => real.returned.push(...r.unprocessed)));
          }
          for (let i = 0; i < 500 && !(real.ended > 0 && real.iterator === undefined && queue.size + queue.inFlight === 0); i++) {
            for (const delivery of real.held.splice(0)) if (delivery.ack()) real.acked.push(delivery.item);
            if (real.pending === undefined) {
              real.iterator ??= queue[Symbol.asyncIterator]();
              real.pending = real.iterator.next();
            }
            await collect(real);
            if (real.pending !== undefined) await clock.advance(50);
          }
          expect(queue.size + queue.inFlight, `queue stuck: ${JSON.stringify(queue.stats)}`).toBe(0);
          expect(real.ended, 'the iteration never ended').toBeGreaterThan(0);
          await Promise.all(real.closing);
          checkInvariants(real);
          const s = queue.stats;
          const places = [...real.acked, ...deadLetter.entries().map((e) => e.item), ...real.returned, ...cancelled];
          expect(new Set(places).size, 'an item ended in two places').toBe(places.length);
          expect(places.length).toBe(s.accepted);
          expect(clock.pendingTimers).toBe(0);
        },
      ),
      {
        numRuns: runs,
        endOnFailure: true,
        timeout: 10_000,
        ...(process.env.SLUICE_SEED ? { seed: Number(process.env.SLUICE_SEED), path: process.env.SLUICE_PATH } : {}),
      },
    );
  }, 120_000);
});
