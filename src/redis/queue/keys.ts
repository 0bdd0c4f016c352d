import type { QueueStats } from '../../queue-types.js';
import { Script, type Send } from '../send.js';
import { type Held, statsOf } from './options.js';
import { CLEAR } from './clear-script.js';
import { CANCEL, PROMOTE, PUSH, SETTLE, STATS, TAKE } from './scripts.js';

/**
 * A RedisQueue's keys and its scripts (see scripts.ts), every key under
 * `base` (`{prefix}{name}`: one cluster hash tag).
 * @internal
 */
export class QueueKeys {
  /** `{prefix}{name}`: every key of the queue starts with it. */
  readonly base: string;
  /** stream, delayed, counts, and the dead letter's entries, order, stats: the keys most scripts take. */
  readonly keys: readonly string[];
  readonly stream: string;
  readonly delayed: string;
  readonly counts: string;
  /** The cancel marks (hash: id → sequence number and reason). */
  readonly cancelled: string;
  readonly push: Script;
  readonly promote: Script;
  readonly settle: Script;
  readonly cancel: Script;
  readonly clear: Script;
  readonly #stats: Script;
  readonly #take: Script;

  constructor(send: Send, base: string, deadLetter: { readonly entries: string; readonly order: string; readonly stats: string }) {
    this.base = base;
    this.stream = `${base}:stream`;
    this.delayed = `${base}:delayed`;
    this.counts = `${base}:counts`;
    this.cancelled = `${base}:cancelled`;
    this.keys = [this.stream, this.delayed, this.counts, deadLetter.entries, deadLetter.order, deadLetter.stats];
    this.push = new Script(send, PUSH);
    this.promote = new Script(send, PROMOTE);
    this.settle = new Script(send, SETTLE);
    this.cancel = new Script(send, CANCEL);
    this.clear = new Script(send, CLEAR);
    this.#stats = new Script(send, STATS);
    this.#take = new Script(send, TAKE);
  }

  /**
   * Replace-mode items read outside the settle script, with their latest
   * payloads (see TAKE); the others as they are.
   */
  async withPayloads(items: readonly Held[]): Promise<Held[]> {
    const apart = items.filter((h) => h.apart);
    if (apart.length === 0) return [...items];
    const payloads = (await this.#take.run([], [this.base, ...apart.map((h) => h.id)])) as (string | null)[];
    const latest = new Map(apart.map((h, n) => [h, payloads[n]]));
    return items.map((h) => {
      const data = latest.get(h);
      return typeof data === 'string' ? { ...h, data } : h;
    });
  }

  /** The counters and the number in flight, read together. */
  stats(): Promise<QueueStats> {
    return this.#stats.run([this.stream, this.counts], []).then(statsOf);
  }
}
