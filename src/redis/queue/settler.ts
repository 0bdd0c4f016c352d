import type { Script, Send } from '../send.js';
import { type Held, held } from './options.js';
import { GROUP } from './scripts.js';

/** How one attempt ended, as the settle script takes it. @internal */
export interface SettleRecord {
  /** The stream entry's id. */
  readonly entry: string;
  readonly outcome: 'done' | 'retry' | 'dead' | 'release';
  /** A retry's delay, ms. */
  readonly delayMs: number;
  /** Attempts made so far (a retry's next attempt is one more). */
  readonly attempts: number;
  /** Whether an attempt failed (counted in `failed`). */
  readonly failed: boolean;
  /** A dead-letter entry's id and JSON (`dead`). */
  readonly deadLetterId: string;
  readonly deadLetterJson: string;
  /** The result for a waiting `submit` (JSON), or ''. */
  readonly reply: string;
  /** Done, and nothing else to do in Redis: no group to advance, dedupe key to release or submit to answer. */
  readonly plain: boolean;
}

interface Waiting {
  readonly record: SettleRecord;
  readonly resolve: (counted: boolean) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Settles the attempts that end in the same turn with one script run, and
 * reads the next items for this worker in the same run: a worker at
 * concurrency 64 pays one round trip per turn, not per item.
 * @internal
 */
export class Settler {
  #waiting: Waiting[] = [];
  #scheduled = false;

  constructor(
    private readonly script: Script,
    private readonly keys: readonly string[],
    /** The script's fixed arguments (key base, the dead letter's capacity and overflow, the result TTL, the consumer). */
    private readonly fixed: readonly (string | number)[],
    /** How many items to read for this worker now. */
    private readonly wanted: () => number,
    /** Receives the items read. */
    private readonly onRead: (entries: [string, string[]][]) => void,
  ) {}

  /** Settles `record` with this turn's others; resolves false when the entry was no longer this worker's (a lapse). */
  settle(record: SettleRecord): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ record, resolve, reject });
      if (this.#scheduled) return;
      this.#scheduled = true;
      queueMicrotask(() => this.#flush());
    });
  }

  #flush(): void {
    this.#scheduled = false;
    const batch = this.#waiting;
    this.#waiting = [];
    const wanted = this.wanted();
    const args: (string | number)[] = [...this.fixed, wanted];
    for (const { record: r } of batch) {
      if (r.plain) args.push('p', r.entry);
      else args.push('f', r.entry, r.outcome, r.delayMs, r.attempts, r.failed ? '1' : '0', r.deadLetterId, r.deadLetterJson, r.reply);
    }
    this.script.run(this.keys, args).then(
      (reply) => {
        const [counted, read] = reply as [unknown[], [string, string[]][]];
        for (let i = 0; i < batch.length; i++) batch[i]!.resolve(Number(counted[i]) === 1);
        if (wanted > 0 && read.length > 0) this.onRead(read);
      },
      (error: unknown) => {
        for (const w of batch) w.reject(error);
      },
    );
  }
}

/** A settle record of `h`. @internal */
export function record(h: Held, outcome: SettleRecord['outcome'], o: Partial<SettleRecord>): SettleRecord {
  return {
    entry: h.entry,
    outcome,
    delayMs: o.delayMs ?? 0,
    attempts: h.attempt,
    failed: o.failed ?? false,
    deadLetterId: o.deadLetterId ?? '',
    deadLetterJson: o.deadLetterJson ?? '',
    reply: o.reply ?? '',
    plain: outcome === 'done' && h.group === undefined && h.key === undefined && h.replyTo === undefined,
  };
}

/**
 * Takes over the stream entries idle (unacknowledged) for `minIdle` ms —
 * their worker stopped answering — for `consumer` (`XAUTOCLAIM`, 100 at a
 * time), handing each to `onLapsed`.
 * @internal
 */
export async function claimLapsed(
  send: Send,
  stream: string,
  consumer: string,
  minIdle: number,
  stopped: () => boolean,
  onLapsed: (h: Held) => void,
): Promise<void> {
  let cursor = '0-0';
  do {
    const reply = (await send(['XAUTOCLAIM', stream, GROUP, consumer, minIdle, cursor, 'COUNT', 100])) as unknown[];
    cursor = String(reply[0]);
    for (const [entry, fields] of (reply[1] as [string, string[] | null][]) ?? []) if (fields !== null) onLapsed(held(entry, fields));
  } while (cursor !== '0-0' && !stopped());
}
