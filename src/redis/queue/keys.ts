import type { QueueStats } from '../../queue-types.js';
import { Script, type Send } from '../send.js';
import { statsOf } from './options.js';
import { CANCEL, CLEAR, PROMOTE, PUSH, SETTLE, STATS } from './scripts.js';

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
  }

  /** The counters and the number in flight, read together. */
  stats(): Promise<QueueStats> {
    return this.#stats.run([this.stream, this.counts], []).then(statsOf);
  }
}
