import { type Clock, systemClock } from './clock.js';
import { isRejectError } from './errors.js';
import { Ring } from './internal/ring.js';
import * as v from './internal/validate.js';

const PART = 'balance';
const BALANCE_KEYS = /* @__PURE__ */ v.knownKeys<BalanceOptions>({
  strategy: true,
  ejectAfter: true,
  ejectMs: true,
  random: true,
  clock: true,
});
const TARGET_KEYS = /* @__PURE__ */ v.knownKeys<BalanceTarget<unknown, unknown>>({
  handler: true,
  weight: true,
  concurrency: true,
  name: true,
});

/**
 * What a balanced call is told, whichever part calls it: a Queue handler's
 * context (`id`, `attempt`, `signal`), a TaskQueue task's, or
 * mapConcurrent's (`index`, `attempt`, `signal`). A retry (`attempt` > 1)
 * of an item (`id`, else `index`) avoids the target its last attempt failed on.
 */
export interface BalanceContext {
  /** The item's id (Queue, TaskQueue). */
  readonly id?: string;
  /** The item's position (mapConcurrent), when there is no id. */
  readonly index?: number;
  /** The attempt's number, from 1. */
  readonly attempt?: number;
  /** Aborts the attempt; passed on to the target. */
  readonly signal?: AbortSignal;
}

/** One target of {@link balance}: a handler, and how much of the work it takes. */
export interface BalanceTarget<T, R> {
  /** Does the work: a call to a replica, a worker, a region. */
  readonly handler: (item: T, context: BalanceContext) => R | PromiseLike<R>;
  /** Its share with `'weighted'` (and of `'least-in-flight'`'s comparison): a positive integer. @default 1 */
  readonly weight?: number;
  /** Calls in flight on it at most: a positive integer or `Infinity`; past it a call waits for a slot. @default Infinity */
  readonly concurrency?: number;
  /** Its name in `stats`. @default `target ${index}` */
  readonly name?: string;
}

/**
 * How {@link balance} picks a target: `'round-robin'` in turn;
 * `'weighted'` by nginx's smooth weighted round robin (over any run of
 * sum(weights) picks, each target is picked exactly its weight times, and
 * evenly spread); `'least-in-flight'` by Envoy's least request: two
 * targets at random (power of two choices), the one with fewer calls in
 * flight per unit of weight.
 */
export type BalanceStrategy = 'round-robin' | 'weighted' | 'least-in-flight';

/** Options of {@link balance}. */
export interface BalanceOptions {
  /** See {@link BalanceStrategy}. @default 'weighted' */
  readonly strategy?: BalanceStrategy;
  /**
   * Failures in a row (not `RejectError`s: the item's fault, not the
   * target's) that eject a target for `ejectMs` (Envoy's outlier detection,
   * `consecutive_5xx`). While every target is ejected, they all take work
   * again (Envoy's panic mode).
   * @default 5
   */
  readonly ejectAfter?: number;
  /** How long an ejected target takes no work, ms. @default 30000 (Envoy's base ejection time) */
  readonly ejectMs?: number;
  /** Random source in `[0, 1)` for `'least-in-flight'`. @default Math.random */
  readonly random?: () => number;
  /** Source of time for ejections. @default systemClock */
  readonly clock?: Clock;
}

/** A target's counters, as {@link Balanced.stats} gives them. */
export interface TargetStats {
  /** Its name. */
  readonly name: string;
  /** Its weight. */
  readonly weight: number;
  /** Calls it was picked for. */
  readonly picks: number;
  /** Calls in flight on it now. */
  readonly inFlight: number;
  /** Calls it completed. */
  readonly completed: number;
  /** Calls that failed on it. */
  readonly failed: number;
  /** Times it was ejected. */
  readonly ejections: number;
  /** Whether it is ejected now. */
  readonly ejected: boolean;
}

/**
 * The balanced handler {@link balance} returns: call it as
 * `balanced(item, context)` — a Queue's `handler`, mapConcurrent's function,
 * or inside a TaskQueue task — and read its counters.
 */
export interface Balanced<T, R> {
  (item: T, context?: BalanceContext): Promise<Awaited<R>>;
  /** Per target, in the order given. */
  readonly stats: TargetStats[];
  /** Calls waiting for a target with a free slot. */
  readonly waiting: number;
}

/** The context of a call given none. */
const NO_CONTEXT: BalanceContext = /* @__PURE__ */ Object.freeze({});

interface Target<T, R> {
  readonly handler: (item: T, context: BalanceContext) => R | PromiseLike<R>;
  readonly weight: number;
  readonly concurrency: number;
  readonly name: string;
  current: number;
  inFlight: number;
  picks: number;
  completed: number;
  failed: number;
  failuresInARow: number;
  ejections: number;
  ejectedUntil: number;
}

/** A call waiting for a slot. */
interface Waiter {
  readonly avoid: number;
  readonly resolve: (target: number) => void;
}

/**
 * Spreads calls over several targets — replicas, workers, regions —
 * round robin, weighted (nginx's smooth weighted round robin) or to the
 * least loaded of two at random (Envoy's least request), with a
 * concurrency limit per target, outlier ejection after `ejectAfter`
 * failures in a row, and retries that avoid the target that failed.
 *
 * @example
 * ```ts
 * const send = balance([
 *   { name: 'big', weight: 3, handler: (batch: Batch) => post(bigUrl, batch) },
 *   { name: 'small', weight: 1, concurrency: 2, handler: (batch: Batch) => post(smallUrl, batch) },
 * ]);
 * const queue = new Queue<Batch, number>({ handler: send, retry: { maxAttempts: 3 } });
 * // later: send.stats → [{ name: 'big', picks, completed, failed, ejected, … }, …]
 * ```
 * @param targets - one or more; see {@link BalanceTarget}.
 * @param options - see {@link BalanceOptions}.
 * @returns the balanced handler, with `stats`.
 * @throws TypeError or RangeError for bad targets or options (at the call). A
 *   call rejects with its target's error.
 */
export function balance<T, R>(targets: readonly BalanceTarget<T, R>[], options?: BalanceOptions): Balanced<T, R> {
  if (!Array.isArray(targets) || targets.length === 0) {
    throw new TypeError(`${PART}: targets must be a non-empty array of { handler, weight?, concurrency?, name? }, got ${v.show(targets)}`);
  }
  const o = v.options<BalanceOptions>(PART, options, BALANCE_KEYS);
  const strategy = v.choice(PART, 'strategy', o.strategy, ['round-robin', 'weighted', 'least-in-flight'] as const, 'weighted');
  const ejectAfter = v.number(PART, 'ejectAfter', o.ejectAfter, 'positive-integer-or-infinity', 5);
  const ejectMs = v.number(PART, 'ejectMs', o.ejectMs, 'non-negative', 30_000);
  const random = v.fn<() => number>(PART, 'random', o.random) ?? Math.random;
  const clock = v.clock<Clock>(PART, o.clock, systemClock);
  const all: Target<T, R>[] = targets.map((target, i) => {
    const t = v.options<BalanceTarget<T, R>>(PART, target, TARGET_KEYS, `targets[${i}]`);
    return {
      handler: v.requiredFn<(item: T, context: BalanceContext) => R | PromiseLike<R>>(PART, `targets[${i}].handler`, t.handler),
      weight: v.number(PART, `targets[${i}].weight`, t.weight, 'positive-integer', 1),
      concurrency: v.number(PART, `targets[${i}].concurrency`, t.concurrency, 'positive-integer-or-infinity', Number.POSITIVE_INFINITY),
      name: v.string(PART, `targets[${i}].name`, t.name) ?? `target ${i}`,
      current: 0,
      inFlight: 0,
      picks: 0,
      completed: 0,
      failed: 0,
      failuresInARow: 0,
      ejections: 0,
      ejectedUntil: Number.NEGATIVE_INFINITY,
    };
  });
  const n = all.length;
  let next = 0; // round robin's turn
  /** Per item (id or index): the target its last attempt failed on, so its retry goes elsewhere. */
  const failedOn = new Map<string | number, number>();
  const waiters = new Ring<Waiter>();
  let ejectedAny = false;

  /** The target for the next call, avoiding `avoid` when another may take it; -1 when every one is full. */
  const pick = (avoid: number): number => {
    const now = ejectedAny ? clock.now() : 0;
    let panic = false;
    if (ejectedAny) {
      panic = all.every((t) => t.ejectedUntil > now);
      if (all.every((t) => t.ejectedUntil <= now)) {
        // Every ejection is over: no more clock reads until the next one.
        ejectedAny = false;
        for (const t of all) t.ejectedUntil = Number.NEGATIVE_INFINITY;
      }
    }
    const chosen = pickFrom(now, panic, avoid);
    // The target it avoided is the only one free: better a retry there than none.
    return chosen === -1 && avoid >= 0 ? pickFrom(now, panic, -1) : chosen;
  };

  const pickFrom = (now: number, panic: boolean, avoid: number): number => {
    if (strategy === 'weighted') {
      // nginx's smooth weighted round robin, over the targets that may take the call.
      let best = -1;
      let total = 0;
      for (let i = 0; i < n; i++) {
        const t = all[i]!;
        if (i === avoid || t.inFlight >= t.concurrency || (!panic && t.ejectedUntil > now)) continue;
        t.current += t.weight;
        total += t.weight;
        if (best === -1 || t.current > all[best]!.current) best = i;
      }
      if (best !== -1) all[best]!.current -= total;
      return best;
    }
    if (strategy === 'round-robin') {
      for (let k = 0, i = next; k < n; k++, i = i + 1 === n ? 0 : i + 1) {
        const t = all[i]!;
        if (i !== avoid && t.inFlight < t.concurrency && (panic || t.ejectedUntil <= now)) {
          next = i + 1 === n ? 0 : i + 1;
          return i;
        }
      }
      return -1;
    }
    // least-in-flight: two distinct open targets at random, the one with fewer in flight per unit of weight.
    let a = -1;
    let b = -1;
    let seen = 0;
    for (let i = 0; i < n; i++) {
      const t = all[i]!;
      if (i === avoid || t.inFlight >= t.concurrency || (!panic && t.ejectedUntil > now)) continue;
      // Reservoir sampling of two: every open target equally likely in either place.
      seen++;
      if (seen === 1) a = i;
      else if (seen === 2) b = i;
      else {
        const r = Math.floor(random() * seen);
        if (r === 0) a = i;
        else if (r === 1) b = i;
      }
    }
    if (b === -1) return a;
    if (random() < 0.5) [a, b] = [b, a];
    const ta = all[a]!;
    const tb = all[b]!;
    return tb.inFlight * ta.weight < ta.inFlight * tb.weight ? b : a;
  };

  const release = (i: number): void => {
    all[i]!.inFlight--;
    // A slot is free: the oldest waiter that may take it goes.
    while (waiters.size > 0) {
      const chosen = pick(waiters.peek()!.avoid);
      if (chosen === -1) return;
      all[chosen]!.inFlight++;
      all[chosen]!.picks++;
      waiters.shift()!.resolve(chosen);
    }
  };

  const acquire = (avoid: number): number | Promise<number> => {
    if (waiters.size === 0) {
      const chosen = pick(avoid);
      if (chosen !== -1) {
        all[chosen]!.inFlight++;
        all[chosen]!.picks++;
        return chosen;
      }
    }
    return new Promise<number>((resolve) => waiters.push({ avoid, resolve }));
  };

  const succeeded = (i: number, itemKey: string | number | undefined): void => {
    const t = all[i]!;
    t.completed++;
    t.failuresInARow = 0;
    if (itemKey !== undefined && failedOn.size > 0) failedOn.delete(itemKey);
    release(i);
  };
  const failed = (i: number, itemKey: string | number | undefined, error: unknown): void => {
    const t = all[i]!;
    t.failed++;
    if (!isRejectError(error)) {
      if (itemKey !== undefined) {
        failedOn.set(itemKey, i);
        // Items that failed for good are never seen again: remember the newest 10 000 only.
        if (failedOn.size > 10_000) failedOn.delete(failedOn.keys().next().value!);
      }
      if (++t.failuresInARow >= ejectAfter) {
        t.failuresInARow = 0;
        t.ejections++;
        t.ejectedUntil = clock.now() + ejectMs;
        ejectedAny = true;
      }
    }
    release(i);
  };

  /** Runs the call on target `i`: one `then` to book its outcome (no async wrapper: a pick must be cheap). */
  const run = (item: T, context: BalanceContext, i: number, itemKey: string | number | undefined): Promise<Awaited<R>> => {
    let result: R | PromiseLike<R>;
    try {
      result = all[i]!.handler(item, context);
    } catch (error) {
      failed(i, itemKey, error);
      return Promise.reject(error);
    }
    if (typeof (result as PromiseLike<R> | null)?.then !== 'function') {
      succeeded(i, itemKey);
      return Promise.resolve(result as Awaited<R>);
    }
    return Promise.resolve(result as PromiseLike<R>).then(
      (value) => {
        succeeded(i, itemKey);
        return value as Awaited<R>;
      },
      (error: unknown) => {
        failed(i, itemKey, error);
        throw error;
      },
    );
  };

  const balanced = ((item: T, context: BalanceContext = NO_CONTEXT): Promise<Awaited<R>> => {
    const itemKey = context.id ?? context.index;
    let avoid = -1;
    if (itemKey !== undefined && failedOn.size > 0) {
      if ((context.attempt ?? 1) > 1) avoid = failedOn.get(itemKey) ?? -1;
      else failedOn.delete(itemKey);
    }
    const slot = acquire(avoid);
    return typeof slot === 'number' ? run(item, context, slot, itemKey) : slot.then((i) => run(item, context, i, itemKey));
  }) as Balanced<T, R>;
  Object.defineProperty(balanced, 'stats', {
    get: (): TargetStats[] => {
      const now = clock.now();
      return all.map((t) => ({
        name: t.name,
        weight: t.weight,
        picks: t.picks,
        inFlight: t.inFlight,
        completed: t.completed,
        failed: t.failed,
        ejections: t.ejections,
        ejected: t.ejectedUntil > now,
      }));
    },
  });
  Object.defineProperty(balanced, 'waiting', { get: () => waiters.size });
  return balanced;
}
