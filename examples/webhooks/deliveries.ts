/**
 * Real GitHub webhook payloads, from `@octokit/webhooks-examples` (the
 * community-contributed examples of api.github.com and the GHES versions),
 * turned into deliveries as GitHub sends them: each with a stable
 * `X-GitHub-Delivery`-style id, replayed for a number of rounds, with a share
 * of redeliveries (the same delivery id again).
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { prng } from './receiver.js';
import type { BatchOptions } from 'sluice';

export interface Delivery {
  readonly deliveryId: string;
  readonly event: string;
  readonly action: string | undefined;
  /** `owner/name`, or the organisation, or `(none)`: the batch key. */
  readonly repository: string;
  readonly payload: unknown;
  /** The delivery's size as JSON, in bytes. */
  readonly bytes: number;
}

interface Example {
  readonly set: string;
  readonly event: string;
  readonly index: number;
  readonly payload: Record<string, unknown>;
  readonly json: string;
}

interface EventDoc {
  readonly name: string;
  readonly examples: Record<string, unknown>[];
}

/** Every example payload the package ships, in a stable order. */
export function loadExamples(): Example[] {
  const require = createRequire(import.meta.url);
  const root = dirname(require.resolve('@octokit/webhooks-examples/package.json'));
  const sets = readdirSync(root)
    .filter((name) => statSync(join(root, name)).isDirectory())
    .sort();
  const examples: Example[] = [];
  for (const set of sets) {
    const docs = JSON.parse(readFileSync(join(root, set, 'index.json'), 'utf8')) as EventDoc[];
    for (const doc of docs) {
      doc.examples.forEach((payload, index) => {
        examples.push({ set, event: doc.name, index, payload, json: JSON.stringify(payload) });
      });
    }
  }
  return examples;
}

/** A GUID-shaped id, stable for the same input (GitHub's delivery ids are GUIDs). */
function guid(text: string): string {
  const h = createHash('sha1').update(text).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

function repositoryOf(payload: Record<string, unknown>): string {
  const repo = payload.repository as { full_name?: string } | undefined;
  const org = payload.organization as { login?: string } | undefined;
  return repo?.full_name ?? org?.login ?? '(none)';
}

/**
 * The deliveries of `rounds` replays of every example, with about
 * `redeliveryRate` of them sent again a little later (same `deliveryId`).
 */
export function* deliveries(examples: readonly Example[], rounds: number, redeliveryRate: number, seed: number): Generator<Delivery> {
  const random = prng(seed);
  const later: Delivery[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const example of examples) {
      const deliveryId = guid(`${example.set}/${example.event}/${example.index}/${round}`);
      const delivery: Delivery = {
        deliveryId,
        event: example.event,
        action: typeof example.payload.action === 'string' ? example.payload.action : undefined,
        repository: repositoryOf(example.payload),
        payload: example.payload,
        // The envelope around the payload adds well under 200 bytes.
        bytes: example.json.length + 200,
      };
      yield delivery;
      if (random() < redeliveryRate) later.push(delivery);
      // Redeliveries trail their originals by a little.
      while (later.length > 0 && random() < 0.3) yield later.shift()!;
    }
  }
  yield* later;
}

/**
 * The main job's batching: per repository, at most `maxItems`, under 90 % of
 * the receiver's body limit, sealed `lingerMs` after a batch's first delivery.
 */
export function batchOptions(o: {
  readonly maxItems: number;
  readonly bodyLimit: number;
  readonly lingerMs: number;
}): BatchOptions<Delivery> {
  return {
    key: (d) => d.repository,
    maxItems: o.maxItems,
    maxBytes: Math.floor(o.bodyLimit * 0.9),
    sizeOf: (d) => d.bytes,
    lingerMs: o.lingerMs,
  };
}
