/**
 * The main job's fanout: every delivery the receiver accepted is published
 * to a PubSub with two subscribers — an audit log (`'block'`: a JSONL line
 * per delivery, never one missed; a full buffer holds the sender) and a live
 * tally (`'drop-oldest'`: never holds anyone, counts what it drops) that
 * feeds a per-minute window of deliveries by event type.
 */
import { once } from 'node:events';
import { createWriteStream, readFileSync } from 'node:fs';
import { PubSub, type SubscriptionStats, pipe, window } from 'sluice';
import type { Delivery } from './deliveries.js';

/** One closed window of the live tally: deliveries of an event type in a minute. */
export interface MinuteCount {
  /** The minute's start, ISO 8601 (processing time). */
  readonly minute: string;
  readonly event: string;
  readonly count: number;
}

/** The fanout's books. */
export interface FanoutSummary {
  readonly published: number;
  /** Lines in the audit log (one per delivery): equal to `published`. */
  readonly auditLines: number;
  readonly audit: SubscriptionStats;
  readonly live: SubscriptionStats;
  /** Per minute and event type, most deliveries first. */
  readonly perMinute: MinuteCount[];
  /** Audit lines = published; each subscriber's received = delivered + dropped + buffered; the windows hold what live read. */
  readonly balanced: boolean;
}

export class Fanout {
  readonly #bus = new PubSub<Delivery>();
  readonly #audit = this.#bus.subscribe({ capacity: 1_000 });
  readonly #live = this.#bus.subscribe({ capacity: 256, overflow: 'drop-oldest' });
  readonly #perMinute: MinuteCount[] = [];
  readonly #running: Promise<unknown>;

  constructor(readonly auditFile: string) {
    const writing = (async () => {
      const out = createWriteStream(auditFile);
      for await (const d of this.#audit) {
        if (!out.write(`${JSON.stringify({ deliveryId: d.deliveryId, event: d.event, repository: d.repository })}\n`))
          await once(out, 'drain');
      }
      out.end();
      await once(out, 'finish');
    })();
    const tallying = (async () => {
      const perMinute = window({
        kind: 'tumbling',
        sizeMs: 60_000,
        key: (d: Delivery) => d.event,
        initial: () => 0,
        reduce: (n: number) => n + 1,
      });
      for await (const w of pipe(this.#live, perMinute)) {
        this.#perMinute.push({ minute: new Date(w.start).toISOString().slice(0, 16), event: String(w.key), count: w.value });
      }
    })();
    this.#running = Promise.all([writing, tallying]);
  }

  /** Publishes a delivery; waits only while the audit log's buffer is full. */
  publish(d: Delivery): Promise<void> | undefined {
    return this.#bus.tryPublish(d) ? undefined : this.#bus.publish(d);
  }

  /** Ends the fanout once both subscribers have read what they hold; its books. */
  async close(): Promise<FanoutSummary> {
    this.#bus.close();
    await this.#running;
    const auditLines = readFileSync(this.auditFile, 'utf8').split('\n').filter(Boolean).length;
    const audit = this.#audit.stats;
    const live = this.#live.stats;
    const windowed = this.#perMinute.reduce((n, m) => n + m.count, 0);
    const holds = (s: SubscriptionStats) => s.received === s.delivered + s.dropped + s.buffered;
    return {
      published: this.#bus.published,
      auditLines,
      audit,
      live,
      perMinute: [...this.#perMinute].sort((a, b) => b.count - a.count || a.minute.localeCompare(b.minute)),
      balanced:
        auditLines === this.#bus.published &&
        audit.delivered === this.#bus.published &&
        holds(audit) &&
        holds(live) &&
        live.received === this.#bus.published &&
        windowed === live.delivered,
    };
  }
}
