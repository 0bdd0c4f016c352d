import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DeadLetter, Queue, RejectError, type Overflow, type Receipt } from '../src/index.js';
import { TestClock } from '../src/testing/index.js';

/** What the handler does on one attempt; `-unreadable`: with a value whose every read throws. */
type Outcome = 'ok' | 'throw' | 'reject' | 'hang' | 'async-ok' | 'async-throw' | 'throw-unreadable' | 'async-throw-unreadable';

interface Item {
  readonly n: number;
  readonly key: string;
  readonly group: string;
  readonly plan: readonly Outcome[];
}

interface Setup {
  readonly concurrency: number;
  readonly capacity: number;
  readonly overflow: Overflow;
  readonly maxAttempts: number;
  readonly backoffMs: number;
  readonly grouped: boolean;
  readonly deduped: boolean;
  /** With dedupe: whether a push of a waiting key replaces its item (debounce). */
  readonly replace: boolean;
  readonly ttlMs: number | undefined;
  /** Timers fire through the fc scheduler, late and reordered. */
  readonly lateTimers: boolean;
}

interface Model {
  /** Items whose push resolved accepted (not duplicate). */
  readonly accepted: Set<number>;
  nextN: number;
  closed: boolean;
}

interface Real {
  readonly queue: Queue<Item, number>;
  readonly clock: TestClock;
  readonly scheduler: fc.Scheduler;
  readonly deadLetter: DeadLetter<Item>;
  readonly completed: number[];
  readonly returned: number[];
  /** Items the queue told were cancelled. */
  readonly cancelled: number[];
  /** Every push's settlement; `controller` only for pushes given a signal. */
  readonly blocked: { controller: AbortController | undefined; done: Promise<unknown> }[];
  /** Every submit's outcome, settled or not. */
  readonly submits: Promise<{ ok: boolean; item: Item }>[];
  closing: Promise<unknown> | undefined;
  /** Receipt ids, for cancels. */
  readonly ids: string[];
  /** Times each item was redriven back into the queue. */
  readonly redrives: Map<number, number>;
  /** What a listener saw wrong with the books when it was called. */
  readonly listenerViolations: string[];
}

/** A thrown value nothing can read: a revoked Proxy, or an Error whose `message` getter throws (alternately). */
let unreadableCount = 0;
function unreadable(): unknown {
  if (unreadableCount++ % 2 === 0) {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    return proxy;
  }
  const error = new Error('x');
  Object.defineProperty(error, 'message', {
    get() {
      throw new Error('no message for you');
    },
  });
  return error;
}

const outcome = fc.constantFrom<Outcome>(
  'ok',
  'throw',
  'reject',
  'hang',
  'async-ok',
  'async-throw',
  'throw-unreadable',
  'async-throw-unreadable',
);
const itemSpec = fc.record({
  key: fc.constantFrom('k1', 'k2', 'k3', 'k4', 'k5', 'k6'),
  group: fc.constantFrom('g1', 'g2', 'g3'),
  plan: fc.array(outcome, { minLength: 1, maxLength: 3 }),
  priority: fc.constantFrom(0, 0, 1, -1),
  delayMs: fc.constantFrom(0, 0, 0, 30),
});

type ItemSpec = typeof itemSpec extends fc.Arbitrary<infer S> ? S : never;

/** The law as a listener sees it: `undefined` when the books balance. */
function lawBroken(queue: Queue<Item, number>): string | undefined {
  const s = queue.stats;
  if (s.accepted === s.completed + s.deadLettered + s.returned + s.cancelled + s.waiting + s.inFlight) return undefined;
  return JSON.stringify(s);
}

/** The law, checked after every command. */
function checkInvariants(_model: Model, real: Real): void {
  const s = real.queue.stats;
  expect(s.accepted).toBe(s.completed + s.deadLettered + s.returned + s.cancelled + s.waiting + s.inFlight);
  expect(s.cancelled).toBe(real.cancelled.length);
  expect(s.waiting).toBe(real.queue.size);
  expect(s.inFlight).toBe(real.queue.inFlight);
  expect(s.completed).toBe(real.completed.length);
  expect(new Set(real.completed).size).toBe(real.completed.length);
  const dead = real.deadLetter.entries().map((e) => e.item.n);
  // What was dead-lettered is in the dead letter, or was redriven out of it (its capacity is unbounded).
  expect(dead.length + real.deadLetter.stats.redriven).toBe(s.deadLettered);
  expect(new Set(dead).size).toBe(dead.length);
  expect(real.listenerViolations).toEqual([]);
}

function remember(model: Model, item: Item, receipt: Receipt | undefined, real?: Real): void {
  if (receipt && !receipt.duplicate) model.accepted.add(item.n);
  if (receipt && real) real.ids.push(receipt.id);
}

class PushCommand implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly spec: ItemSpec,
    readonly how: 'push' | 'tryPush' | 'push-abortable' | 'tryPush-plain' | 'push-plain' | 'submit',
  ) {}
  check = () => true;
  async run(model: Model, real: Real): Promise<void> {
    const item: Item = { n: model.nextN++, key: this.spec.key, group: this.spec.group, plan: this.spec.plan };
    const options = { priority: this.spec.priority, delayMs: this.spec.delayMs };
    const plain = this.how.endsWith('-plain'); // no options: the queue's fast path
    if (this.how === 'submit') {
      real.submits.push(
        real.queue.submit(item, options).then(
          () => ({ ok: true, item }),
          () => ({ ok: false, item }),
        ),
      );
      await Promise.resolve();
    } else if (this.how === 'tryPush' || this.how === 'tryPush-plain') {
      try {
        remember(model, item, plain ? real.queue.tryPush(item) : real.queue.tryPush(item, options), real);
      } catch {
        // QueueFullError or QueueClosedError: not accepted.
      }
    } else {
      const controller = new AbortController();
      const pushed = (plain ? real.queue.push(item) : real.queue.push(item, { ...options, signal: controller.signal })).then(
        (receipt) => remember(model, item, receipt, real),
        () => {},
      );
      real.blocked.push({ controller: plain ? undefined : controller, done: pushed });
      await Promise.resolve();
      await Promise.resolve();
    }
    checkInvariants(model, real);
  }
  toString = () => `${this.how}(${JSON.stringify(this.spec)})`;
}

class AbortPushCommand implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(model: Model, real: Real): Promise<void> {
    // The oldest push that was given a signal (plain pushes cannot be aborted).
    const waiting = real.blocked.find((b) => b.controller !== undefined && !b.controller.signal.aborted);
    waiting?.controller?.abort(new Error('gave up waiting'));
    await waiting?.done;
    checkInvariants(model, real);
  }
  toString = () => 'abortPush';
}

class PauseCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly pause: boolean) {}
  check = () => true;
  async run(model: Model, real: Real): Promise<void> {
    if (this.pause) real.queue.pause();
    else real.queue.resume();
    checkInvariants(model, real);
  }
  toString = () => (this.pause ? 'pause' : 'resume');
}

class AdvanceCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly ms: number) {}
  check = () => true;
  async run(model: Model, real: Real): Promise<void> {
    await real.clock.advance(this.ms);
    checkInvariants(model, real);
  }
  toString = () => `advance(${this.ms})`;
}

class SettleOneCommand implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(model: Model, real: Real): Promise<void> {
    if (real.scheduler.count() > 0) await real.scheduler.waitOne();
    checkInvariants(model, real);
  }
  toString = () => 'settleOne';
}

/** Pushes many delayed items at once (close without drain must hand back every one). */
class PushManyDelayedCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly count: number) {}
  check = () => true;
  async run(model: Model, real: Real): Promise<void> {
    for (let i = 0; i < this.count; i++) {
      const item: Item = { n: model.nextN++, key: `bulk-${i}`, group: 'g1', plan: ['ok'] };
      try {
        remember(model, item, real.queue.tryPush(item, { delayMs: 30 + (i % 7) }));
      } catch {
        // QueueFullError or QueueClosedError: not accepted.
      }
    }
    checkInvariants(model, real);
  }
  toString = () => `pushManyDelayed(${this.count})`;
}

/**
 * Redrives the oldest dead-letter entry into the queue (with its history). A deduplicating queue may answer
 * that it is a duplicate: then the entry stays. A redrive still waiting for room when the command ends is aborted.
 */
class RedriveCommand implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(model: Model, real: Real): Promise<void> {
    const controller = new AbortController();
    const redrive = real.deadLetter.redrive(real.queue, { limit: 1, signal: controller.signal }).then(
      (result) => result,
      () => undefined,
    );
    await Promise.resolve();
    await Promise.resolve();
    controller.abort(new Error('no room for the redrive'));
    await redrive;
    checkInvariants(model, real);
  }
  toString = () => 'redrive';
}

/** Cancels a live item by id (some ids name items long gone, or never seen). */
class CancelCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly pick: number) {}
  check = () => true;
  async run(model: Model, real: Real): Promise<void> {
    const id = real.ids[this.pick % Math.max(1, real.ids.length)];
    if (id !== undefined) real.queue.cancel(id, new Error(`cancelled ${id}`));
    await Promise.resolve();
    checkInvariants(model, real);
  }
  toString = () => `cancel(#${this.pick})`;
}

class ClearCommand implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(model: Model, real: Real): Promise<void> {
    real.returned.push(...real.queue.clear().map((i) => i.n));
    await Promise.resolve();
    checkInvariants(model, real);
  }
  toString = () => 'clear';
}

class CloseCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly drain: boolean) {}
  check = (model: Readonly<Model>) => !model.closed;
  async run(model: Model, real: Real): Promise<void> {
    model.closed = true;
    real.closing = real.queue.close({ drain: this.drain }).then((r) => real.returned.push(...r.unprocessed.map((i) => i.n)));
    await Promise.resolve();
    checkInvariants(model, real);
  }
  toString = () => `close({ drain: ${this.drain} })`;
}

const commands = [
  itemSpec.map((spec) => new PushCommand(spec, 'tryPush')),
  itemSpec.map((spec) => new PushCommand(spec, 'push')),
  itemSpec.map((spec) => new PushCommand(spec, 'push-abortable')),
  itemSpec.map((spec) => new PushCommand(spec, 'tryPush-plain')),
  itemSpec.map((spec) => new PushCommand(spec, 'push-plain')),
  itemSpec.map((spec) => new PushCommand(spec, 'submit')),
  fc.constant(new AbortPushCommand()),
  fc.boolean().map((p) => new PauseCommand(p)),
  fc.integer({ min: 0, max: 150 }).map((ms) => new AdvanceCommand(ms)),
  fc.constant(new SettleOneCommand()),
  fc.constant(new SettleOneCommand()),
  fc.boolean().map((d) => new CloseCommand(d)),
  fc.constantFrom(64, 1_024).map((count) => new PushManyDelayedCommand(count)),
  fc.constant(new RedriveCommand()),
  fc.constant(new RedriveCommand()),
  fc.constant(new ClearCommand()),
  fc.nat(40).map((pick) => new CancelCommand(pick)),
  fc.nat(40).map((pick) => new CancelCommand(pick)),
];

const setupArb: fc.Arbitrary<Setup> = fc.record({
  concurrency: fc.integer({ min: 1, max: 3 }),
  capacity: fc.constantFrom(Infinity, 2, 4),
  overflow: fc.constantFrom<Overflow>('block', 'reject', 'drop-oldest', 'drop-newest'),
  maxAttempts: fc.integer({ min: 1, max: 3 }),
  backoffMs: fc.constantFrom(0, 20),
  grouped: fc.boolean(),
  deduped: fc.boolean(),
  replace: fc.boolean(),
  ttlMs: fc.constantFrom(undefined, 60),
  lateTimers: fc.boolean(),
});

// 300 cases by default; `npm run test:stress` runs 2 000.
const runs = Number(process.env.SLUICE_PROPERTY_RUNS ?? 300);

describe('Queue model', () => {
  it('loses nothing: every accepted item ends completed once, dead-lettered once, or handed back once', async () => {
    await fc.assert(
      fc.asyncProperty(setupArb, fc.scheduler(), fc.commands(commands, { maxCommands: 40 }), async (setup, scheduler, cmds) => {
        const clock = new TestClock();
        const deadLetter = new DeadLetter<Item>({ capacity: Infinity, clock });
        // The queue's timers fire through the scheduler: when due, each callback waits for the
        // scheduler to release it, so timers fire late and interleave with handler settlements.
        const late = new Set<unknown>();
        const schedulingClock = {
          now: () => clock.now(),
          setTimeout: (cb: () => void, ms: number) => {
            const handle = clock.setTimeout(() => {
              late.add(handle);
              void scheduler.schedule(Promise.resolve(), `timer +${ms}`).then(() => {
                if (late.delete(handle)) cb();
              });
            }, ms);
            return handle;
          },
          clearTimeout: (handle: unknown) => {
            late.delete(handle);
            clock.clearTimeout(handle);
          },
        };
        const completed: number[] = [];
        const queue = new Queue<Item, number>({
          clock: setup.lateTimers ? schedulingClock : clock,
          deadLetter,
          concurrency: setup.concurrency,
          capacity: setup.capacity,
          overflow: setup.overflow,
          retry: {
            maxAttempts: setup.maxAttempts,
            backoff: { initialDelayMs: setup.backoffMs, maxDelayMs: Math.max(setup.backoffMs, 1), jitter: 'none' },
          },
          visibilityTimeoutMs: 100,
          ...(setup.ttlMs !== undefined ? { ttlMs: setup.ttlMs } : {}),
          ...(setup.grouped ? { groupBy: (item: Item) => item.group } : {}),
          ...(setup.deduped
            ? { dedupe: { key: (item: Item) => item.key, windowMs: 200, mode: setup.replace ? ('replace' as const) : ('drop' as const) } }
            : {}),
          handler: (item, { attempt }) => {
            const step = item.plan[Math.min(attempt, item.plan.length) - 1]!;
            switch (step) {
              case 'ok':
                return item.n;
              case 'throw':
                throw new Error(`fail ${item.n}#${attempt}`);
              case 'reject':
                throw new RejectError(new Error(`poison ${item.n}`));
              case 'hang':
                return new Promise<number>(() => {});
              case 'async-ok':
                return scheduler.schedule(Promise.resolve(item.n), `ok ${item.n}#${attempt}`);
              case 'async-throw':
                return scheduler.schedule(Promise.reject(new Error(`async fail ${item.n}`)), `throw ${item.n}#${attempt}`);
              case 'throw-unreadable':
                throw unreadable();
              case 'async-throw-unreadable':
                // Scheduled as a plain settlement (the scheduler's log reads what it settles with), then rejected.
                return scheduler.schedule(Promise.resolve(), `throw unreadable ${item.n}#${attempt}`).then(() => {
                  throw unreadable();
                });
            }
          },
        });
        queue.on('completed', (item) => completed.push(item.n));
        const cancelled: number[] = [];
        queue.on('cancelled', (item) => cancelled.push(item.n));
        // Listeners read the books at every moment they are called: the law must hold there too.
        const listenerViolations: string[] = [];
        const watch = (where: string) => () => {
          const broken = lawBroken(queue);
          if (broken !== undefined) listenerViolations.push(`${where}: ${broken}`);
        };
        for (const event of ['active', 'completed', 'failed', 'dead-lettered', 'cancelled', 'idle'] as const) queue.on(event, watch(event));
        deadLetter.on('added', watch("DeadLetter 'added'"));
        const redrives = new Map<number, number>();
        deadLetter.on('redriven', (entry) => redrives.set(entry.item.n, (redrives.get(entry.item.n) ?? 0) + 1));
        const model: Model = { accepted: new Set(), nextN: 0, closed: false };
        const real: Real = {
          queue,
          clock,
          scheduler,
          deadLetter,
          completed,
          cancelled,
          ids: [],
          returned: [],
          blocked: [],
          submits: [],
          closing: undefined,
          redrives,
          listenerViolations,
        };

        await fc.asyncModelRun(() => ({ model, real }), cmds);

        // Wind down: resume, close, and let every timer and scheduled settlement run.
        queue.resume();
        if (!model.closed) real.closing = queue.close().then((r) => real.returned.push(...r.unprocessed.map((i) => i.n)));
        for (let i = 0; i < 200 && (scheduler.count() > 0 || clock.pendingTimers > 0 || queue.size + queue.inFlight > 0); i++) {
          if (scheduler.count() > 0) await scheduler.waitAll();
          await clock.advance(100);
        }
        // A queue that cannot finish is a failure to report, not a hang.
        expect(queue.size + queue.inFlight, `queue stuck: ${JSON.stringify(queue.stats)}`).toBe(0);
        await real.closing;
        await Promise.all(real.blocked.map((b) => b.done));
        const submits = await Promise.all(real.submits); // every submit settles
        checkInvariants(model, real);

        const s = queue.stats;
        expect(s.waiting + s.inFlight).toBe(0);
        const dead = deadLetter.entries().map((e) => e.item.n);
        const places = [...completed, ...dead, ...real.returned, ...cancelled];
        // Each item ends in one place at most, and the places account for every acceptance (a redrive is one more
        // acceptance of an item whose earlier death left the dead letter).
        expect(new Set(places).size, 'an item ended in two places').toBe(places.length);
        expect(places.length + deadLetter.stats.redriven).toBe(s.accepted);
        // An item that died again after a redrive carries every death (counted per source and reason, as x-death).
        for (const entry of deadLetter.entries()) {
          expect(entry.deaths.reduce((sum, d) => sum + d.count, 0)).toBe(1 + (redrives.get(entry.item.n) ?? 0));
        }
        // (With 'replace', an accepted item may be replaced by a newer one, which ends in its place.)
        if (!(setup.deduped && setup.replace)) {
          for (const n of model.accepted) expect(places, `accepted item ${n} ended nowhere`).toContain(n);
        }
        expect(s.replaced).toBeLessThanOrEqual(s.duplicates);
        if (!(setup.deduped && setup.replace)) expect(s.replaced).toBe(0);
        // A submit that resolved had its item (or, deduplicated, an original with its key) completed.
        for (const { ok, item } of submits) {
          if (ok) expect(completed.includes(item.n) || setup.deduped).toBe(true);
        }
        expect(clock.pendingTimers).toBe(0);
      }),
      {
        numRuns: runs,
        endOnFailure: true,
        timeout: 10_000,
        // Replay a failure: SLUICE_SEED=… SLUICE_PATH=… npx vitest run test/queue.property.test.ts
        ...(process.env.SLUICE_SEED ? { seed: Number(process.env.SLUICE_SEED), path: process.env.SLUICE_PATH } : {}),
      },
    );
  }, 120_000);
});
