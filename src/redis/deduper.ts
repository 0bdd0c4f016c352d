import type { AsyncDedupeStore, DedupeKey } from '../deduper.js';
import * as v from '../internal/validate.js';
import { type RedisPartOptions, type Send, toSend } from './send.js';

const PART = 'RedisDeduper';
const DEDUPER_KEYS = /* @__PURE__ */ v.knownKeys<RedisDeduperOptions>({
  client: true,
  key: true,
  prefix: true,
  windowMs: true,
  commandTimeoutMs: true,
});

/** Options of a {@link RedisDeduper}: a Deduper's window, and where it lives. */
export interface RedisDeduperOptions extends RedisPartOptions {
  /** The deduper's name: every process using the same name (and prefix) shares its keys. */
  readonly key: string;
  /** Prefix of its Redis keys. @default 'sluice:' */
  readonly prefix?: string;
  /** How long a key stays a duplicate after first sight, in ms (a positive integer). @default 300000 (SQS FIFO) */
  readonly windowMs?: number;
}

/**
 * A Deduper shared by every process that names it: each key is one Redis
 * key, `{prefix}{name}:{key}`, set with `SET … 1 NX PX windowMs` — the first
 * `check` of a key within the window anywhere wins, atomically, and Redis
 * forgets it when the window ends (no sweeping, no `maxKeys`: Redis's memory
 * is the bound). Every method is one round trip and returns a promise: give
 * it to the `dedupe()` operator (which awaits a store's answer) or a Queue's
 * `dedupe` (asked before `push` and `submit` accept an item).
 *
 * A lost connection rejects with `StoreUnavailableError` (after
 * `commandTimeoutMs` at most). A `check` whose reply was lost may have
 * recorded its key: retried, the key reads as a duplicate — so what decides
 * an item's fate must handle that (redeliver it under its id).
 */
export class RedisDeduper implements AsyncDedupeStore {
  /** Its answers come later: a Queue asks it before a push (see AsyncDedupeStore). */
  readonly answersLater = true as const;
  readonly #send: Send;
  readonly #prefix: string;
  readonly #windowMs: number;

  /**
   * @param options - see {@link RedisDeduperOptions}.
   * @throws TypeError or RangeError for a bad option, named as `RedisDeduper: …`.
   */
  constructor(options: RedisDeduperOptions) {
    const o = v.options<RedisDeduperOptions>(PART, options, DEDUPER_KEYS);
    const name = v.string(PART, 'key', o.key);
    if (name === undefined || name === '') throw new TypeError(`${PART}: key must be a non-empty string, got ${v.show(o.key)}`);
    this.#prefix = `${v.string(PART, 'prefix', o.prefix, 'sluice:')}${name}:`;
    this.#windowMs = v.number(PART, 'windowMs', o.windowMs, 'positive-integer', 300_000);
    this.#send = toSend(PART, o.client, v.number(PART, 'commandTimeoutMs', o.commandTimeoutMs, 'positive', 5_000));
  }

  /** The deduplication window in ms. */
  get windowMs(): number {
    return this.#windowMs;
  }

  /** The Redis key of `key`. */
  redisKeyOf(key: DedupeKey): string {
    return `${this.#prefix}${key}`;
  }

  /**
   * Records a sighting of `key`: true on first sight within the window (in
   * any process), false for a duplicate.
   * @throws (rejects) TypeError for a key that is not a string or a finite
   *   number; StoreUnavailableError when Redis does not answer.
   */
  async check(key: DedupeKey): Promise<boolean> {
    checkKey(key);
    return (await this.#send(['SET', this.redisKeyOf(key), 1, 'NX', 'PX', this.#windowMs])) !== null;
  }

  /** Whether `key` was seen within the window; records nothing. */
  async has(key: DedupeKey): Promise<boolean> {
    checkKey(key);
    return Number(await this.#send(['EXISTS', this.redisKeyOf(key)])) === 1;
  }

  /** Forgets `key`; true when it was remembered. */
  async delete(key: DedupeKey): Promise<boolean> {
    checkKey(key);
    return Number(await this.#send(['DEL', this.redisKeyOf(key)])) === 1;
  }
}

function checkKey(key: unknown): void {
  if (typeof key !== 'string' && (typeof key !== 'number' || !Number.isFinite(key))) {
    throw new TypeError(`${PART}: key must be a string or a finite number, got ${v.show(key)}`);
  }
}
