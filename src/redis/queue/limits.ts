/**
 * A RedisQueue's flow-control options checked and made into the limiters
 * its workers use: `rateLimit`, `groupRateLimit`, `metrics`.
 * @internal
 * @module
 */
import type { Clock } from '../../clock.js';
import { groupRateOptions, toRateLimits } from '../../internal/inputs.js';
import * as v from '../../internal/validate.js';
import type { LimitSample } from '../../limits/limit.js';
import type { GroupKey } from '../../queue-types.js';
import type { RedisPartOptions } from '../send.js';
import { KeyedRedisTokenBucket, RedisTokenBucket } from '../token-bucket.js';
import type { QueueRateLimiter } from './grants.js';
import { type GroupRateLimiter, PART } from './options.js';

const METRICS_KEYS = /* @__PURE__ */ v.knownKeys<{ windowMs?: number }>({ windowMs: true });

/**
 * The `groupRateLimit` option as a function of the group's key: bucket
 * options become a KeyedRedisTokenBucket shared by every process; a
 * function is asked once per group (the newest 1 000 kept).
 * @internal
 */
export function groupRateLimit(
  value: unknown,
  client: RedisPartOptions['client'],
  name: string,
  prefix: string | undefined,
  commandTimeoutMs: number | undefined,
): ((key: GroupKey) => GroupRateLimiter) | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'function') {
    const made = new Map<GroupKey, GroupRateLimiter>();
    return (key) => {
      let limiter = made.get(key);
      if (limiter === undefined) {
        limiter = (value as (key: GroupKey) => GroupRateLimiter)(key);
        if (typeof limiter?.tryAcquire !== 'function' || typeof limiter.waitTime !== 'function') {
          throw new TypeError(
            `${PART}: groupRateLimit(${v.show(key)}) must give a limiter with tryAcquire and waitTime, got ${v.show(limiter)}`,
          );
        }
        made.set(key, limiter);
        if (made.size > 1_000) made.delete(made.keys().next().value!);
      }
      return limiter;
    };
  }
  const o = groupRateOptions(PART, value);
  if (o.burst !== undefined && o.burst < 1) {
    throw new RangeError(`${PART}: groupRateLimit.burst must be at least 1 (a start takes one token), got ${v.show(o.burst)}`);
  }
  const keyed = v.within(
    PART,
    'groupRateLimit',
    () =>
      new KeyedRedisTokenBucket({
        client,
        name: `${name}:group-rate`,
        ...(prefix === undefined ? {} : { prefix }),
        ...(commandTimeoutMs === undefined ? {} : { commandTimeoutMs }),
        ratePerSecond: o.ratePerSecond,
        ...(o.burst === undefined ? {} : { burst: o.burst }),
      }),
  );
  return (key) => keyed.limiterFor(key);
}

/** The `metrics` option: the window in ms, `undefined` when off. @internal */
export function metricsWindow(value: unknown): number | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return 60_000;
  if (typeof value !== 'object' || value === null) {
    throw new TypeError(`${PART}: metrics must be a boolean or { windowMs }, got ${v.show(value)}`);
  }
  const o = v.options<{ windowMs?: number }>(PART, value, METRICS_KEYS, 'metrics');
  return v.number(PART, 'metrics.windowMs', o.windowMs, 'positive', 60_000);
}

/** Whether `value` is a limiter whose grants this process cannot check at once (a RedisTokenBucket, or one with `acquire` only). */
const isShared = (value: unknown): value is QueueRateLimiter =>
  value instanceof RedisTokenBucket ||
  (typeof value === 'object' &&
    value !== null &&
    typeof (value as QueueRateLimiter).acquire === 'function' &&
    typeof (value as { tryAcquire?: unknown }).tryAcquire !== 'function');

/**
 * The `rateLimit` option as one limiter: the local ones (options, buckets)
 * combined as Queue combines them, then the shared ones asked in turn.
 */
export function rateLimits(
  value: unknown,
  clock: Clock,
): { limiter: QueueRateLimiter | undefined; learners: readonly { onSample(sample: LimitSample): void }[] } {
  if (value === undefined) return { limiter: undefined, learners: [] };
  const list: readonly unknown[] = Array.isArray(value) ? value : [value];
  if (list.length === 0) throw new RangeError(`${PART}: rateLimit must hold at least one limiter, got []`);
  list.forEach((l, i) => {
    if (typeof l !== 'object' || l === null) {
      const which = Array.isArray(value) ? `rateLimit[${i}]` : 'rateLimit';
      throw new TypeError(
        `${PART}: ${which} must be { ratePerSecond, burst }, a TokenBucket, a RedisTokenBucket or have acquire(), got ${v.show(l)}`,
      );
    }
  });
  const shared = list.filter(isShared);
  const local = list.filter((l) => !isShared(l));
  const own = local.length === 0 ? undefined : toRateLimits(PART, 'rateLimit', Array.isArray(value) ? local : local[0], clock);
  const limiters: QueueRateLimiter[] = [...(own?.limiter === undefined ? [] : [own.limiter]), ...shared];
  const limiter: QueueRateLimiter =
    limiters.length === 1
      ? limiters[0]!
      : {
          async acquire(cost, options) {
            for (const l of limiters) await l.acquire(cost, options);
          },
        };
  return { limiter, learners: own?.learners ?? [] };
}
