/**
 * A RedisQueue worker's round trips on its streams: settling a turn's
 * attempts and reading the next items in one script run ({@link Settler}),
 * the blocking read of an idle worker ({@link readLoop}), taking back
 * lapsed items ({@link claimLapsed}), and making the consumer group.
 * @internal
 * @module
 */
import type { RedisArgs, Script, Send } from '../send.js';
import { entriesOf, type Held, held, streamsOf } from './options.js';
import { GROUP } from './scripts.js';

/** How one attempt ended, as the settle script takes it. @internal */
export interface SettleRecord {
  /** The stream entry's id. */
  readonly entry: string;
  readonly outcome: 'done' | 'retry' | 'dead' | 'release' | 'defer';
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
  /** The item as read. */
  readonly held: Held;
  /** The item's priority: which level stream it is in. */
  readonly priority: number;
  /** Done, and nothing else to do in Redis: no group to advance, dedupe key to release or submit to answer. */
  readonly plain: boolean;
}

interface Waiting {
  readonly record: SettleRecord;
  readonly resolve: ((counted: boolean) => void) | undefined;
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
  /** Reads asked for with nothing to settle (`take`), resolved with how many were read. */
  #takers: { resolve: (read: number) => void; reject: (error: unknown) => void }[] = [];
  #scheduled = false;
  /** Script runs under way. */
  #runs = 0;

  constructor(
    private readonly script: Script,
    private readonly keys: readonly string[],
    /** The script's fixed arguments (key base, the dead letter's capacity and overflow, the result TTL, the consumer). */
    private readonly fixed: readonly (string | number)[],
    /** How many items to read for this worker now. */
    private readonly wanted: () => number,
    /** Receives the items read. */
    private readonly onRead: (entries: [string, string[]][]) => void,
    /** Told of an attempt whose item was cancelled meanwhile (counted `cancelled`), with the reason as JSON. */
    private readonly onCancelled: (record: SettleRecord, reason: string) => void,
  ) {}

  /** Cancelled items not yet met, as of the last settle run (`…:cancelled`'s size). */
  cancels = 0;

  /**
   * Settles `record` with this turn's others; resolves false when the entry
   * was no longer this worker's (a lapse). With `onError`, returns nothing
   * (a plain completion nobody listens to needs no promise of its own) and
   * a failure goes to `onError`.
   */
  settle(record: SettleRecord): Promise<boolean>;
  settle(record: SettleRecord, onError: (error: unknown) => void): void;
  settle(record: SettleRecord, onError?: (error: unknown) => void): Promise<boolean> | undefined {
    if (onError !== undefined) {
      this.#waiting.push({ record, resolve: undefined, reject: onError });
      this.#schedule();
      return undefined;
    }
    return new Promise((resolve, reject) => {
      this.#waiting.push({ record, resolve, reject });
      this.#schedule();
    });
  }

  /** Whether a settle run is scheduled or under way. */
  get busy(): boolean {
    return this.#scheduled || this.#runs > 0;
  }

  /** Resolves once no settle run is scheduled or under way. */
  async drained(): Promise<void> {
    while (this.busy) await new Promise((resolve) => setTimeout(resolve, 5));
  }

  /** Reads what this worker wants now, highest priority first, without blocking; resolves with how many were read. */
  take(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#takers.push({ resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => this.#flush());
  }

  #flush(): void {
    this.#scheduled = false;
    const batch = this.#waiting;
    this.#waiting = [];
    const takers = this.#takers;
    this.#takers = [];
    const wanted = this.wanted();
    if (batch.length === 0 && wanted <= 0) {
      // Only reads were asked for and there is no room for any: no round trip.
      for (const t of takers) t.resolve(0);
      return;
    }
    const args: (string | number)[] = [...this.fixed, wanted];
    for (const { record: r } of batch) {
      const level = r.priority === 0 ? '' : r.priority;
      if (r.plain) args.push('p', level, r.entry);
      else
        args.push('f', level, r.entry, r.outcome, r.delayMs, r.attempts, r.failed ? '1' : '0', r.deadLetterId, r.deadLetterJson, r.reply);
    }
    this.#runs++;
    this.script.run(this.keys, args).then(
      (reply) => {
        this.#runs--;
        const [counted, read, cancels] = reply as [unknown[], [string, [string, string[]][]][], number];
        this.cancels = Number(cancels);
        for (let i = 0; i < batch.length; i++) {
          const c = counted[i];
          // A reason (JSON): the item was cancelled, and is counted so, not as the attempt ended.
          if (typeof c === 'string') this.onCancelled(batch[i]!.record, c);
          batch[i]!.resolve?.(Number(c) === 1);
        }
        const entries = wanted > 0 ? read.flatMap((stream) => stream[1]) : [];
        if (entries.length > 0) this.onRead(entries);
        for (const t of takers) t.resolve(entries.length);
      },
      (error: unknown) => {
        this.#runs--;
        for (const w of batch) w.reject(error);
        for (const t of takers) t.reject(error);
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
    held: h,
    priority: h.priority,
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
  streams: readonly string[],
  consumer: string,
  minIdle: number,
  stopped: () => boolean,
  onLapsed: (h: Held) => void,
): Promise<void> {
  for (const stream of streams) {
    let cursor = '0-0';
    do {
      const reply = (await send(['XAUTOCLAIM', stream, GROUP, consumer, minIdle, cursor, 'COUNT', 100])) as unknown[];
      cursor = String(reply[0]);
      for (const [entry, fields] of (reply[1] as [string, string[] | null][]) ?? []) if (fields !== null) onLapsed(held(entry, fields));
    } while (cursor !== '0-0' && !stopped());
  }
}

/** What the blocking read loop needs of its queue. @internal */
export interface ReadHost {
  stopped(): boolean;
  /** Items to read for now (0: wait for a slot). */
  free(): number;
  /** Resolves once a slot frees, the queue resumes, or it stops. */
  slotFreed(): Promise<void>;

  /** Reads what is ready now, highest priority first (no blocking); how many were read. */
  takeReady(): Promise<number>;
  /** XREADGROUP … BLOCK on a connection of its own, waiting for the next item of any priority (one per level at most). */
  read(count: number): Promise<unknown>;
  ensureGroup(): Promise<void>;
  take(entries: [string, string[]][]): void;
  report(error: unknown): void;
}

/**
 * Reads items while the worker has free slots and nothing else feeds it:
 * what is ready, by a script that reads the priority levels highest first;
 * when nothing is, blocked in XREADGROUP on a connection of its own. A busy
 * worker is fed by its settles instead (each settle run reads the next
 * items).
 * @internal
 */
export async function readLoop(host: ReadHost): Promise<void> {
  let failures = 0;
  while (!host.stopped()) {
    const free = host.free();
    if (free <= 0) {
      await host.slotFreed();
      continue;
    }
    let reply: unknown;
    try {
      // What is ready, highest first; only when nothing is, a blocking read of one (a wake-up: an item arriving in
      // an idle queue; several arriving at once, of different levels, start in priority order).
      if ((await host.takeReady()) > 0) {
        failures = 0;
        continue;
      }
      if (host.stopped()) return;
      if (host.free() <= 0) continue; // a settle's read filled the slots meanwhile
      reply = await host.read(1);
      failures = 0;
    } catch (error) {
      if (host.stopped()) return;
      if (String((error as Error)?.message).startsWith('NOGROUP')) {
        await host.ensureGroup().catch((e: unknown) => host.report(e));
        continue;
      }
      host.report(error);
      await new Promise((resolve) => setTimeout(resolve, retryPause(failures++)));
      continue;
    }
    // Read but not started once stopped: back after the visibility timeout, as from a killed process.
    if (!host.stopped()) host.take(entriesOf(reply));
  }
}

/** `XREADGROUP GROUP sluice consumer COUNT count BLOCK blockMs STREAMS …streams > …`. @internal */
export function blockingRead(consumer: string, count: number, commandTimeoutMs: number, streams: readonly string[]): RedisArgs {
  // Blocks for at most half the command timeout (and 1 s): the reply must come before the connection gives up on it.
  const blockMs = Math.max(1, Math.floor(Math.min(1_000, commandTimeoutMs / 2)));
  return ['XREADGROUP', 'GROUP', GROUP, consumer, 'COUNT', count, 'BLOCK', blockMs, 'STREAMS', ...streams, ...streams.map(() => '>')];
}

/** Makes `stream` and its consumer group (`XGROUP CREATE … 0 MKSTREAM`); one already there is fine. @internal */
export async function makeGroup(send: Send, stream: string): Promise<void> {
  try {
    await send(['XGROUP', 'CREATE', stream, GROUP, '0', 'MKSTREAM']);
  } catch (error) {
    if (!String((error as Error)?.message).startsWith('BUSYGROUP')) throw error;
  }
}

/** The streams of the queue's priority levels in use (its own, `main`, is priority 0), highest first. @internal */
export async function levelStreams(send: Send, main: string): Promise<string[]> {
  return streamsOf(main, (await send(['ZRANGE', `${main}:levels`, 0, -1])) as string[]);
}

/** How long a worker's loop waits after its `failures`-th failure in a row to reach Redis, ms: 100 doubling to 5 s. @internal */
export const retryPause = (failures: number): number => Math.min(100 * 2 ** failures, 5_000);
