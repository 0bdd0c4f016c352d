import { type Clock, systemClock } from '../clock.js';
import type {
  DeadLetterEntry,
  DeadLetterInput,
  DeadLetterReason,
  DeadLetterStats,
  DeathRecord,
  RedriveOptions,
  RedriveResult,
  RedriveTarget,
} from '../dead-letter.js';
import { ENTRY_KEYS, nextDeaths, redriveSender } from '../dead-letter.js';
import { QueueFullError } from '../errors.js';
import { toRateLimiter } from '../internal/inputs.js';
import * as v from '../internal/validate.js';
import type { RateLimiter } from '../token-bucket.js';
import { keyOf, type RedisPartOptions, Script, type Send, toSend } from './send.js';

const PART = 'RedisDeadLetter';
const REASONS: readonly DeadLetterReason[] = ['rejected', 'expired', 'maxlen', 'delivery_limit'];
const DEAD_LETTER_KEYS = /* @__PURE__ */ v.knownKeys<RedisDeadLetterOptions>({
  client: true,
  key: true,
  prefix: true,
  capacity: true,
  overflow: true,
  claimTimeoutMs: true,
  commandTimeoutMs: true,
  clock: true,
});
const REDRIVE_KEYS = /* @__PURE__ */ v.knownKeys<RedriveOptions<unknown>>({ filter: true, limit: true, rateLimit: true, signal: true });

/**
 * `dl_add(entries, order, stats, id, json, capacity, overflow)`: stores an
 * entry — entries (hash id → JSON), order (zset id by µs of server time),
 * stats (hash) — evicting the oldest (`drop-oldest`) or refusing
 * (`reject`) at capacity (−1: none). Returns {1, evicted ids…} or {0} when
 * refused. A Lua function, so a RedisQueue's scripts dead-letter in the same
 * run that takes an item out of the queue.
 * @internal
 */
export const DEAD_LETTER_ADD = `
local function dl_add(entries, order, stats, id, json, capacity, overflow)
  local evicted = {1}
  if capacity >= 0 then
    local size = redis.call('ZCARD', order)
    if size >= capacity then
      if overflow == 'reject' then return {0} end
      local oldest = redis.call('ZPOPMIN', order, size - capacity + 1)
      for i = 1, #oldest, 2 do
        redis.call('HDEL', entries, oldest[i])
        table.insert(evicted, oldest[i])
      end
      redis.call('HINCRBY', stats, 'evicted', #evicted - 1)
    end
  end
  local t = redis.call('TIME')
  redis.call('ZADD', order, tonumber(t[1]) * 1000000 + tonumber(t[2]), id)
  redis.call('HSET', entries, id, json)
  redis.call('HINCRBY', stats, 'added', 1)
  return evicted
end
`;

/** KEYS: entries, order, stats. ARGV: id, JSON, capacity (−1: none), overflow. See DEAD_LETTER_ADD. */
const ADD = `${DEAD_LETTER_ADD}
return dl_add(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4])
`;

/**
 * KEYS: order, claims (zset id by ms of server time). ARGV: id. Takes an
 * entry out of the order for a redrive (no other process redrives it
 * meanwhile). Replies its score in the order, or false when it is not there.
 */
const CLAIM = `
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then return false end
redis.call('ZREM', KEYS[1], ARGV[1])
local t = redis.call('TIME')
redis.call('ZADD', KEYS[2], tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), ARGV[1])
return score
`;

/**
 * KEYS: entries, order, claims, stats. ARGV: id, outcome (`done`: the
 * target took it — removed and counted redriven; `back`: it refused — back
 * in the order at its old score ARGV[3]). Replies 1 when the claim was held.
 */
const SETTLE = `
if redis.call('ZREM', KEYS[3], ARGV[1]) == 0 then return 0 end
if ARGV[2] == 'done' then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('HINCRBY', KEYS[4], 'redriven', 1)
else
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
end
return 1
`;

/**
 * KEYS: order, claims. ARGV: the oldest claim time to keep (ms). Claims
 * older than that (a redriver that died) go back into the order.
 */
const RECLAIM = `
local stale = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
for _, id in ipairs(stale) do
  redis.call('ZREM', KEYS[2], id)
  redis.call('ZADD', KEYS[1], 0, id)
end
return #stale
`;

/** Options of a {@link RedisDeadLetter}: a DeadLetter's, and where it lives. */
export interface RedisDeadLetterOptions extends RedisPartOptions {
  /** The dead letter's name: every process using the same name (and prefix) shares its entries. */
  readonly key: string;
  /** Prefix of its Redis keys. @default 'sluice:' */
  readonly prefix?: string;
  /** The most entries held (a positive integer or `Infinity`). @default 10000 (as DeadLetter) */
  readonly capacity?: number;
  /** At capacity: evict the oldest entry, or refuse the new one (`add` rejects with QueueFullError). @default 'drop-oldest' */
  readonly overflow?: 'drop-oldest' | 'reject';
  /**
   * How long an entry may stay claimed by a redrive that does not finish
   * (its process died), ms: past it, the next redrive or `entries()` puts it
   * back. @default 60000
   */
  readonly claimTimeoutMs?: number;
  /** Source of `deadAt` and `firstSeenAt` stamps. @default systemClock */
  readonly clock?: Clock;
}

/** An error as it is kept in Redis: its name, message, code and stack. */
export interface StoredError {
  /** The error's `name`. */
  readonly name: string;
  /** Its `message`. */
  readonly message: string;
  /** Its `code`, when it had a string one. */
  readonly code?: string;
  /** Its `stack`, when it had one. */
  readonly stack?: string;
}

/** The Redis keys of a {@link RedisDeadLetter}. */
export interface RedisDeadLetterKeys {
  /** Hash: entry id → the entry as JSON. */
  readonly entries: string;
  /** Sorted set: entry ids by the server's time of death (µs). */
  readonly order: string;
  /** Sorted set: ids being redriven, by the time they were claimed (ms). */
  readonly claims: string;
  /** Hash: `added`, `evicted`, `redriven`. */
  readonly stats: string;
}

/** An error as it is stored ({@link StoredError}); anything else as it is. @internal */
export const storeError = (error: unknown): unknown => {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return {
      name: error.name,
      message: error.message,
      ...(typeof code === 'string' ? { code } : {}),
      ...(error.stack ? { stack: error.stack } : {}),
    };
  }
  return error;
};

/**
 * A DeadLetter shared by every process that names it: entries, their death
 * history and the counters live in Redis, so a dead letter outlives its
 * process and any process can list and redrive what another dead-lettered.
 * Every method is a round trip and returns a promise; Queue, TaskQueue and
 * the operators take it as their `deadLetter` (an item counts dead-lettered
 * at once; a store that refuses counts as `deadLetterRefused`).
 *
 * Items and errors are stored as JSON: an item must be JSON-serializable
 * (`add` rejects with a TypeError otherwise); an error is kept as `{ name,
 * message, code, stack }` ({@link StoredError}).
 *
 * Redis keys, under one cluster hash tag: `{prefix}{key}:entries` (hash: id →
 * entry), `{prefix}{key}:order` (sorted set: ids by the server's time of
 * death), `{prefix}{key}:claims` (ids being redriven), `{prefix}{key}:stats`
 * (hash: `added`, `evicted`, `redriven`). A redrive claims each entry
 * before handing it over, so two processes never redrive one entry; a claim
 * whose process died returns after `claimTimeoutMs`.
 */
export class RedisDeadLetter<T> {
  readonly #send: Send;
  readonly #keys: { entries: string; order: string; claims: string; stats: string };
  readonly #add: Script;
  readonly #claim: Script;
  readonly #settle: Script;
  readonly #reclaim: Script;
  readonly #capacity: number;
  readonly #overflow: 'drop-oldest' | 'reject';
  readonly #claimTimeoutMs: number;
  readonly #clock: Clock;
  /** Items this process is redriving, and their history (to keep it if they die again here). */
  readonly #history = new WeakMap<object, { deaths: readonly DeathRecord[]; firstSeenAt: number }>();

  /**
   * @param options - see {@link RedisDeadLetterOptions}.
   * @throws TypeError or RangeError for a bad option, named as `RedisDeadLetter: …`.
   */
  constructor(options: RedisDeadLetterOptions) {
    const o = v.options<RedisDeadLetterOptions>(PART, options, DEAD_LETTER_KEYS);
    const name = v.string(PART, 'key', o.key);
    if (name === undefined || name === '') throw new TypeError(`${PART}: key must be a non-empty string, got ${v.show(o.key)}`);
    const prefix = v.string(PART, 'prefix', o.prefix, 'sluice:');
    this.#capacity = v.number(PART, 'capacity', o.capacity, 'positive-integer-or-infinity', 10_000);
    this.#overflow = v.choice(PART, 'overflow', o.overflow, ['drop-oldest', 'reject'] as const, 'drop-oldest');
    this.#claimTimeoutMs = v.number(PART, 'claimTimeoutMs', o.claimTimeoutMs, 'positive', 60_000);
    this.#clock = v.clock(PART, o.clock, systemClock);
    this.#send = toSend(PART, o.client, v.number(PART, 'commandTimeoutMs', o.commandTimeoutMs, 'positive', 5_000));
    this.#keys = {
      entries: keyOf(prefix, name, ':entries'),
      order: keyOf(prefix, name, ':order'),
      claims: keyOf(prefix, name, ':claims'),
      stats: keyOf(prefix, name, ':stats'),
    };
    this.#add = new Script(this.#send, ADD);
    this.#claim = new Script(this.#send, CLAIM);
    this.#settle = new Script(this.#send, SETTLE);
    this.#reclaim = new Script(this.#send, RECLAIM);
  }

  /** Its Redis keys. */
  get redisKeys(): RedisDeadLetterKeys {
    return this.#keys;
  }

  /** The most entries held. */
  get capacity(): number {
    return this.#capacity;
  }

  /** Entries held (those being redriven included). */
  get size(): Promise<number> {
    return this.#send(['HLEN', this.#keys.entries]).then(Number);
  }

  /** The counters, kept in Redis: the same numbers whichever process asks. */
  async stats(): Promise<DeadLetterStats> {
    const [added, evicted, redriven] = (await this.#send(['HMGET', this.#keys.stats, 'added', 'evicted', 'redriven'])) as (string | null)[];
    return { added: Number(added ?? 0), evicted: Number(evicted ?? 0), redriven: Number(redriven ?? 0), size: await this.size };
  }

  /**
   * Stores an entry, with its death history (RabbitMQ's `x-death`: one
   * record per `{ source, reason }`, counted).
   * @returns the entry stored.
   * @throws (rejects) TypeError or RangeError for a bad entry or an item that
   *   is not JSON-serializable; QueueFullError at capacity with `overflow:
   *   'reject'`; StoreUnavailableError when Redis does not answer.
   */
  async add(input: DeadLetterInput<T>): Promise<DeadLetterEntry<T>> {
    const { entry, json } = this.encode(input);
    const reply = (await this.#add.run(
      [this.#keys.entries, this.#keys.order, this.#keys.stats],
      [entry.id, json, this.scriptCapacity, this.#overflow],
    )) as unknown[];
    if (Number(reply[0]) === 0) throw new QueueFullError(this.#capacity, `${PART}: capacity of ${this.#capacity} reached`);
    const item = entry.item;
    if (typeof item === 'object' && item !== null) this.#history.delete(item);
    return entry;
  }

  /** Its capacity as its scripts take it (−1: none). @internal */
  get scriptCapacity(): number {
    return this.#capacity === Number.POSITIVE_INFINITY ? -1 : this.#capacity;
  }

  /** What it does at capacity. */
  get overflow(): 'drop-oldest' | 'reject' {
    return this.#overflow;
  }

  /**
   * Checks an entry and makes it as stored (its id, stamps and death
   * history) and its JSON, without storing it: `add` and a RedisQueue's
   * scripts store it.
   * @throws TypeError or RangeError for a bad entry or an item that is not JSON-serializable.
   * @internal
   */
  encode(input: DeadLetterInput<T>): { entry: DeadLetterEntry<T>; json: string } {
    const o = v.options<DeadLetterInput<T>>(PART, input, ENTRY_KEYS, 'entry');
    if (!('item' in o)) throw new TypeError(`${PART}: entry.item is required, got an object without it`);
    if (o.reason === undefined)
      throw new TypeError(`${PART}: entry.reason must be one of ${REASONS.map((r) => `'${r}'`).join(', ')}, got undefined`);
    const reason = v.choice(PART, 'entry.reason', o.reason, REASONS, 'rejected');
    const attempts = v.number(PART, 'entry.attempts', o.attempts, 'non-negative-integer', 0);
    const source = v.string(PART, 'entry.source', o.source);
    const deadAt = this.#clock.now();
    const item = o.item;
    const earlier = typeof item === 'object' && item !== null ? this.#history.get(item) : undefined;
    const previous = o.deaths ?? earlier?.deaths ?? [];
    const deaths = nextDeaths(previous, source, reason, deadAt);
    const errors = (o.errors ?? (o.error === undefined ? [] : [o.error])).map(storeError);
    const id = `${deadAt.toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
    const entry = {
      id,
      item,
      reason,
      ...(o.error === undefined ? {} : { error: storeError(o.error) }),
      errors,
      attempts,
      firstSeenAt: o.firstSeenAt ?? earlier?.firstSeenAt ?? deadAt,
      deadAt,
      ...(source === undefined ? {} : { source }),
      deaths,
    } as DeadLetterEntry<T>;
    try {
      return { entry, json: JSON.stringify(entry) };
    } catch (error) {
      throw new TypeError(`${PART}: entry.item must be JSON-serializable, got ${v.show(item)} (${(error as Error).message})`);
    }
  }

  /**
   * The entries, oldest first (not those being redriven).
   * @param options - `reason`: only those; `limit`: at most that many.
   */
  async entries(options?: { readonly reason?: DeadLetterReason; readonly limit?: number }): Promise<DeadLetterEntry<T>[]> {
    const o = v.options<{ reason?: DeadLetterReason; limit?: number }>(PART, options, ENTRIES_KEYS);
    const reason = o.reason === undefined ? undefined : v.choice(PART, 'reason', o.reason, REASONS, 'rejected');
    const limit = v.number(PART, 'limit', o.limit, 'non-negative-integer', Number.POSITIVE_INFINITY);
    await this.#reclaimStale();
    const ids = (await this.#send(['ZRANGE', this.#keys.order, 0, -1])) as string[];
    const out: DeadLetterEntry<T>[] = [];
    for (let i = 0; i < ids.length && out.length < limit; i += 500) {
      const chunk = ids.slice(i, i + 500);
      const values = (await this.#send(['HMGET', this.#keys.entries, ...chunk])) as (string | null)[];
      for (const value of values) {
        if (value === null) continue;
        const entry = JSON.parse(value) as DeadLetterEntry<T>;
        if (reason === undefined || entry.reason === reason) out.push(entry);
        if (out.length >= limit) break;
      }
    }
    return out;
  }

  /** The entry `id`, or `undefined`. */
  async get(id: string): Promise<DeadLetterEntry<T> | undefined> {
    const value = (await this.#send(['HGET', this.#keys.entries, id])) as string | null;
    return value === null ? undefined : (JSON.parse(value) as DeadLetterEntry<T>);
  }

  /** Removes the entry `id`; true when it was there. */
  async remove(id: string): Promise<boolean> {
    const removed = Number(await this.#send(['HDEL', this.#keys.entries, id])) === 1;
    await this.#send(['ZREM', this.#keys.order, id]);
    return removed;
  }

  /**
   * Hands entries back (SQS's DLQ redrive), oldest first: each is claimed
   * (no other process redrives it meanwhile), given to `target` (a function
   * or anything with `push(item)`, a Queue), and removed once the target
   * took it; one the target refuses goes back where it was. An item that
   * dies again in this process keeps its death history.
   * @returns how many were redriven and how many the target refused.
   * @throws (rejects) TypeError for a bad target or option; the signal's
   *   reason when it aborts; StoreUnavailableError when Redis does not answer.
   */
  async redrive(target: RedriveTarget<T>, options?: RedriveOptions<T>): Promise<RedriveResult> {
    const o = v.options<RedriveOptions<T>>(PART, options, REDRIVE_KEYS);
    const signal = v.signal(PART, 'signal', o.signal);
    const send = redriveSender(PART, target, signal);
    const filter = v.fn<(entry: DeadLetterEntry<T>) => boolean>(PART, 'filter', o.filter);
    const limit = v.number(PART, 'limit', o.limit, 'non-negative-integer', Number.POSITIVE_INFINITY);
    const limiter: RateLimiter | undefined =
      o.rateLimit === undefined ? undefined : toRateLimiter(PART, 'rateLimit', o.rateLimit, this.#clock);
    let redriven = 0;
    let failed = 0;
    for (const entry of await this.entries()) {
      if (redriven >= limit) break;
      signal?.throwIfAborted();
      if (filter && !filter(entry)) continue;
      if (limiter) await limiter.acquire(1, signal ? { signal } : undefined);
      const score = await this.#claim.run([this.#keys.order, this.#keys.claims], [entry.id]);
      if (score === null || score === false || score === undefined) continue; // another process has it
      if (typeof entry.item === 'object' && entry.item !== null)
        this.#history.set(entry.item, { deaths: entry.deaths, firstSeenAt: entry.firstSeenAt });
      let accepted: boolean;
      try {
        const receipt = (await send(entry.item, entry)) as { duplicate?: boolean } | undefined;
        accepted = !(typeof receipt === 'object' && receipt !== null && receipt.duplicate === true);
      } catch {
        accepted = false;
      }
      const keys = [this.#keys.entries, this.#keys.order, this.#keys.claims, this.#keys.stats];
      if (!accepted) {
        if (typeof entry.item === 'object' && entry.item !== null) this.#history.delete(entry.item);
        await this.#settle.run(keys, [entry.id, 'back', String(score)]);
        signal?.throwIfAborted();
        failed++;
        continue;
      }
      await this.#settle.run(keys, [entry.id, 'done']);
      redriven++;
    }
    return { redriven, failed };
  }

  /** Claims whose redrive never finished (its process died) go back into the order. */
  async #reclaimStale(): Promise<void> {
    const now = Number(((await this.#send(['TIME'])) as string[])[0]) * 1_000;
    await this.#reclaim.run([this.#keys.order, this.#keys.claims], [now - this.#claimTimeoutMs]);
  }
}

const ENTRIES_KEYS = /* @__PURE__ */ v.knownKeys<{ reason?: DeadLetterReason; limit?: number }>({ reason: true, limit: true });
