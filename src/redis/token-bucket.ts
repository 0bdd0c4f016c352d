import { type Clock, systemClock } from '../clock.js';
import { whenAborted } from '../internal/abort.js';
import { Ring } from '../internal/ring.js';
import * as v from '../internal/validate.js';
import type { AcquireOptions } from '../token-bucket.js';
import { keyOf, type RedisPartOptions, Script, type Send, toSend } from './send.js';

const PART = 'RedisTokenBucket';
const BUCKET_KEYS = /* @__PURE__ */ v.knownKeys<RedisTokenBucketOptions>({
  client: true,
  key: true,
  prefix: true,
  ratePerSecond: true,
  burst: true,
  commandTimeoutMs: true,
  clock: true,
});

/**
 * GCRA (the generic cell rate algorithm: a "theoretical arrival time" per
 * bucket) in one script, on the server's clock (`TIME`). State: a string at
 * KEYS[1], the theoretical arrival time `tat` (ms), and one at KEYS[2], the
 * time until which nothing is granted (`pauseFor`); each expires once it
 * no longer holds anything back (a full bucket costs no memory).
 *
 * ARGV: interval (ms per token), burst (tokens), then requests in order,
 * each a cost (tokens) and a mode — every call made in the same turn of the
 * caller's event loop goes in one script run (one round trip for them all).
 * A grant of `cost` tokens is due at g = max(now, paused, tat + (cost −
 * burst) × interval); then tat = max(tat, g) + cost × interval. Modes: `try`
 * grants only when g = now; `reserve` grants at g (the caller waits g −
 * now); `peek` tells g − now and changes nothing; `pause` (its cost: the
 * pause in ms) moves the timeline on by the pause's new length (tokens do not
 * accrue during a pause). Replies, per request, granted (0/1), the wait in µs
 * and the grant's time on the server's clock (µs since the epoch).
 */
const GCRA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local state = redis.call('MGET', KEYS[1], KEYS[2])
local tat = tonumber(state[1]) or now
local paused = tonumber(state[2]) or 0
local tat0, paused0 = tat, paused
local out = {}
for i = 3, #ARGV, 2 do
  local cost = tonumber(ARGV[i])
  local mode = ARGV[i + 1]
  if mode == 'pause' then
    local untilT = now + cost
    local from = math.max(paused, now)
    if untilT > from then
      tat = math.max(tat, now) + (untilT - from)
      paused = untilT
    end
    out[#out + 1] = 1
    out[#out + 1] = 0
    out[#out + 1] = math.floor(now * 1000)
  else
    local g = math.max(now, paused, tat + (cost - burst) * interval)
    local wait = g - now
    if mode == 'peek' or (mode == 'try' and wait > 0) then
      out[#out + 1] = 0
    else
      tat = math.max(tat, g) + cost * interval
      out[#out + 1] = 1
    end
    out[#out + 1] = math.ceil(wait * 1000)
    out[#out + 1] = math.floor(g * 1000)
  end
end
if tat ~= tat0 and tat > now then
  redis.call('SET', KEYS[1], string.format('%.3f', tat), 'PX', math.ceil(tat - now) + 1000)
end
if paused ~= paused0 and paused > now then
  redis.call('SET', KEYS[2], string.format('%.3f', paused), 'PX', math.ceil(paused - now) + 1000)
end
return out
`;

/** A request waiting for the next script run: its cost, mode, and where its answer goes. */
interface Request {
  readonly cost: number;
  readonly mode: 'try' | 'peek' | 'reserve' | 'pause';
  readonly resolve: (answer: [number, number, number]) => void;
  readonly reject: (error: unknown) => void;
}

/** Options of a {@link RedisTokenBucket}: a TokenBucket's, and where it lives. */
export interface RedisTokenBucketOptions extends RedisPartOptions {
  /** The bucket's name: every process using the same name (and prefix) shares it. */
  readonly key: string;
  /** Prefix of its Redis key. @default 'sluice:' */
  readonly prefix?: string;
  /** Tokens added per second (a positive number): this process's view (see {@link RedisTokenBucket.setRate}). */
  readonly ratePerSecond: number;
  /** The most tokens at once (a positive number). @default 1 */
  readonly burst?: number;
  /** Source of time for local waits. @default systemClock */
  readonly clock?: Clock;
}

/** A local waiter for its reserved grant. */
interface Waiter {
  readonly due: number;
  readonly resolve: () => void;
  forget: () => void;
}

/**
 * A TokenBucket shared by every process that names it, on Redis: GCRA in
 * one Lua script on the server's clock, so a grant is one round trip and
 * the union of every process's grants keeps to the rate (within rate +
 * burst in any second).
 *
 * `acquire` reserves its grant on the shared timeline in that one round
 * trip and waits locally until it is due (one timer for every local
 * waiter, in order): no polling. An `acquire` aborted while it waits gives
 * its reserved slot up — the shared rate runs under by it, never over.
 *
 * Redis keys: `{prefix}{key}:bucket` (the theoretical arrival time, ms) and
 * `{prefix}{key}:bucket:paused` (set by `pauseFor`); each expires once it
 * holds nothing back. Calls made in the same turn go to Redis in one script
 * run, in order: one round trip for them all. A lost connection rejects the calls under way with
 * `StoreUnavailableError` after `commandTimeoutMs` at most; the bucket works
 * again once the client reconnects. A command whose reply was lost may have
 * taken its tokens: the rate may run under, never over.
 */
export class RedisTokenBucket {
  readonly #send: Send;
  readonly #script: Script;
  readonly #key: string;
  /** The tat key and the pause key (one cluster hash tag). */
  readonly #keys: readonly [string, string];
  /** Requests made this turn, for one script run. */
  #batch: Request[] = [];
  readonly #clock: Clock;
  #ratePerSecond: number;
  #burst: number;
  readonly #waiters = new Ring<Waiter>();
  #timer: unknown;
  #timerDue = Number.POSITIVE_INFINITY;

  /**
   * @param options - see {@link RedisTokenBucketOptions}.
   * @throws TypeError or RangeError for a bad option, named as `RedisTokenBucket: …`.
   */
  constructor(options: RedisTokenBucketOptions);
  /** @internal A bucket of a KeyedRedisTokenBucket: its script and key made there. */
  constructor(options: RedisTokenBucketOptions, shared: { send: Send; script: Script; key: string });
  constructor(options: RedisTokenBucketOptions, shared?: { send: Send; script: Script; key: string }) {
    if (shared !== undefined) {
      this.#send = shared.send;
      this.#script = shared.script;
      this.#key = shared.key;
      this.#keys = [shared.key, `${shared.key}:paused`];
      this.#ratePerSecond = options.ratePerSecond;
      this.#burst = options.burst ?? 1;
      this.#clock = options.clock ?? systemClock;
      return;
    }
    const o = v.options<RedisTokenBucketOptions>(PART, options, BUCKET_KEYS);
    const key = v.string(PART, 'key', o.key);
    if (key === undefined || key === '') throw new TypeError(`${PART}: key must be a non-empty string, got ${v.show(o.key)}`);
    const prefix = v.string(PART, 'prefix', o.prefix, 'sluice:');
    this.#ratePerSecond = v.number(PART, 'ratePerSecond', o.ratePerSecond, 'positive', 1);
    if (o.ratePerSecond === undefined) throw new TypeError(`${PART}: ratePerSecond must be a positive finite number, got undefined`);
    this.#burst = v.number(PART, 'burst', o.burst, 'positive', 1);
    this.#clock = v.clock(PART, o.clock, systemClock);
    this.#send = toSend(PART, o.client, v.number(PART, 'commandTimeoutMs', o.commandTimeoutMs, 'positive', 5_000));
    this.#script = new Script(this.#send, GCRA);
    this.#key = keyOf(prefix, key, ':bucket');
    this.#keys = [this.#key, `${this.#key}:paused`];
  }

  /** The Redis key of its state (the pause's is this + `:paused`). */
  get redisKey(): string {
    return this.#key;
  }

  /** Tokens added per second (this process's view). */
  get ratePerSecond(): number {
    return this.#ratePerSecond;
  }

  /** The most tokens at once. */
  get burst(): number {
    return this.#burst;
  }

  /**
   * Changes the rate (and burst) this process asks for from now on. The
   * shared timeline keeps what was granted; processes that share a bucket
   * should set the same rate.
   * @throws RangeError for a rate or burst that is not a positive finite number.
   */
  setRate(ratePerSecond: number, burst = this.#burst): void {
    this.#ratePerSecond = v.number(PART, 'ratePerSecond', ratePerSecond, 'positive', 1);
    this.#burst = v.number(PART, 'burst', burst, 'positive', 1);
  }

  /**
   * Grants `cost` tokens now if the shared bucket has them (one round trip).
   * @returns whether they were granted.
   * @throws (rejects) RangeError for a bad cost; StoreUnavailableError when Redis does not answer.
   */
  async tryAcquire(cost = 1): Promise<boolean> {
    const [granted] = await this.#run(cost, 'try');
    return granted === 1;
  }

  /**
   * Milliseconds until `cost` tokens would be granted (0: now), on the shared
   * timeline (one round trip; nothing taken).
   * @throws (rejects) RangeError for a bad cost; StoreUnavailableError when Redis does not answer.
   */
  async waitTime(cost = 1): Promise<number> {
    const [, waitUs] = await this.#run(cost, 'peek');
    return waitUs / 1_000;
  }

  /**
   * Takes `cost` tokens, waiting for them: reserves them on the shared
   * timeline (one round trip), then waits locally until they are due.
   * @param cost - tokens (a positive number, at most `burst`). @default 1
   * @param options - `signal`: stops the wait (its reserved slot is given up).
   * @returns the grant's time on the shared timeline, ms on Redis's clock (the
   *   wait resumes at or after it, as the local timer fires): every process's
   *   grants, by these times, keep to the rate and burst in any window.
   * @throws (rejects) RangeError for a bad cost; StoreUnavailableError when
   *   Redis does not answer; the signal's reason when it aborts.
   */
  async acquire(cost = 1, options?: AcquireOptions): Promise<number> {
    const signal = options?.signal;
    signal?.throwIfAborted();
    const [, waitUs, grantUs] = await this.#run(cost, 'reserve');
    const grantedAt = grantUs / 1_000;
    if (waitUs <= 0) return grantedAt;
    signal?.throwIfAborted();
    await new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { due: this.#clock.now() + waitUs / 1_000, resolve, forget: () => {} };
      waiter.forget = whenAborted(signal, () => {
        waiter.forget = () => {};
        (waiter as { resolve: () => void }).resolve = () => {};
        reject(signal!.reason);
      });
      this.#waiters.push(waiter);
      this.#arm();
    });
    return grantedAt;
  }

  /**
   * Grants nothing for `ms` from now, to every process sharing the bucket
   * (a server's `Retry-After`): tokens do not accrue during the pause, and
   * the longer pause wins.
   * @throws (rejects) RangeError for a bad `ms`; StoreUnavailableError when Redis does not answer.
   */
  async pauseFor(ms: number): Promise<void> {
    v.number(PART, 'ms', ms, 'non-negative', 0);
    await this.#ask(ms, 'pause');
  }

  async #run(cost: number, mode: 'try' | 'peek' | 'reserve'): Promise<[number, number, number]> {
    if (typeof cost !== 'number' || !Number.isFinite(cost) || cost <= 0) {
      throw new RangeError(`${PART}: cost must be a positive finite number, got ${v.show(cost)}`);
    }
    if (cost > this.#burst) throw new RangeError(`${PART}: cost must be at most burst (${this.#burst}), got ${cost}`);
    return this.#ask(cost, mode);
  }

  /** Queues a request for the script run of this turn (one round trip for every call made in it, in order). */
  #ask(cost: number, mode: Request['mode']): Promise<[number, number, number]> {
    return new Promise<[number, number, number]>((resolve, reject) => {
      this.#batch.push({ cost, mode, resolve, reject });
      if (this.#batch.length === 1) queueMicrotask(() => this.#flush());
    });
  }

  #flush(): void {
    const batch = this.#batch;
    this.#batch = [];
    const args: (string | number)[] = [1_000 / this.#ratePerSecond, this.#burst];
    for (const r of batch) args.push(r.cost, r.mode);
    this.#script.run(this.#keys, args).then(
      (reply) => {
        const answers = reply as (number | string)[];
        for (const [i, r] of batch.entries()) r.resolve([Number(answers[3 * i]), Number(answers[3 * i + 1]), Number(answers[3 * i + 2])]);
      },
      (error: unknown) => {
        for (const r of batch) r.reject(error);
      },
    );
  }

  /** One timer, for the local waiter due first (reservations come back in order, so the head). */
  #arm(): void {
    const head = this.#waiters.peek();
    if (head === undefined || head.due >= this.#timerDue) return;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timerDue = head.due;
    this.#timer = this.#clock.setTimeout(() => this.#wake(), Math.max(head.due - this.#clock.now(), 0));
  }

  #wake(): void {
    this.#timer = undefined;
    this.#timerDue = Number.POSITIVE_INFINITY;
    const now = this.#clock.now();
    // Reservations made concurrently may reply out of order: every waiter due by now goes, whatever its place.
    const later: Waiter[] = [];
    while (this.#waiters.size > 0) {
      const w = this.#waiters.shift()!;
      if (w.due <= now) {
        w.forget();
        w.resolve();
      } else later.push(w);
    }
    later.sort((a, b) => a.due - b.due);
    for (const w of later) this.#waiters.push(w);
    this.#arm();
  }
}

/** Options of a {@link KeyedRedisTokenBucket}: one rate for every key's bucket. */
export interface KeyedRedisTokenBucketOptions extends Omit<RedisTokenBucketOptions, 'key'> {
  /** The name of the set of buckets; a key's bucket is `{prefix}{name:key}`. */
  readonly name: string;
}

const KEYED_KEYS = /* @__PURE__ */ v.knownKeys<KeyedRedisTokenBucketOptions>({
  client: true,
  name: true,
  prefix: true,
  ratePerSecond: true,
  burst: true,
  commandTimeoutMs: true,
  clock: true,
});

/**
 * A {@link RedisTokenBucket} per key (per tenant, per endpoint), shared by
 * every process: `acquire(key)`, `tryAcquire(key)`, or `limiterFor(key)`.
 * A key's state expires in Redis once its bucket is full again, so idle keys
 * cost nothing; locally, the newest `maxKeys` (1 000) buckets are kept.
 */
export class KeyedRedisTokenBucket {
  readonly #options: KeyedRedisTokenBucketOptions;
  readonly #send: Send;
  readonly #script: Script;
  readonly #prefix: string;
  readonly #buckets = new Map<string, RedisTokenBucket>();

  /**
   * @param options - see {@link KeyedRedisTokenBucketOptions}.
   * @throws TypeError or RangeError for a bad option, named as `KeyedRedisTokenBucket: …`.
   */
  constructor(options: KeyedRedisTokenBucketOptions) {
    const part = 'KeyedRedisTokenBucket';
    const o = v.options<KeyedRedisTokenBucketOptions>(part, options, KEYED_KEYS);
    const name = v.string(part, 'name', o.name);
    if (name === undefined || name === '') throw new TypeError(`${part}: name must be a non-empty string, got ${v.show(o.name)}`);
    if (o.ratePerSecond === undefined) throw new TypeError(`${part}: ratePerSecond must be a positive finite number, got undefined`);
    this.#options = {
      ...o,
      ratePerSecond: v.number(part, 'ratePerSecond', o.ratePerSecond, 'positive', 1),
      burst: v.number(part, 'burst', o.burst, 'positive', 1),
      clock: v.clock(part, o.clock, systemClock),
    };
    this.#prefix = v.string(part, 'prefix', o.prefix, 'sluice:');
    this.#send = toSend(part, o.client, v.number(part, 'commandTimeoutMs', o.commandTimeoutMs, 'positive', 5_000));
    this.#script = new Script(this.#send, GCRA);
  }

  /** The bucket of `key`. */
  limiterFor(key: string | number): RedisTokenBucket {
    const k = String(key);
    let bucket = this.#buckets.get(k);
    if (bucket === undefined) {
      bucket = new RedisTokenBucket(
        { ...this.#options, key: k },
        {
          send: this.#send,
          script: this.#script,
          key: keyOf(this.#prefix, `${this.#options.name}:${k}`, ':bucket'),
        },
      );
      this.#buckets.set(k, bucket);
      if (this.#buckets.size > 1_000) this.#buckets.delete(this.#buckets.keys().next().value!);
    }
    return bucket;
  }

  /** Takes `cost` tokens of `key`'s bucket, waiting for them (see {@link RedisTokenBucket.acquire}); the grant's time. */
  acquire(key: string | number, cost = 1, options?: AcquireOptions): Promise<number> {
    return this.limiterFor(key).acquire(cost, options);
  }

  /** Grants `cost` tokens of `key`'s bucket now if it has them (see {@link RedisTokenBucket.tryAcquire}). */
  tryAcquire(key: string | number, cost = 1): Promise<boolean> {
    return this.limiterFor(key).tryAcquire(cost);
  }
}
