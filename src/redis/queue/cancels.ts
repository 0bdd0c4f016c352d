import { storeError } from '../dead-letter.js';
import type { Script, Send } from '../send.js';
import type { Attempt } from './deadlines.js';
import { PART, safeParse } from './options.js';
import { revive } from './results.js';

/** The reason a cancel gives when none is given: as `AbortController.abort()`'s. @internal */
export const defaultReason = (): unknown => new DOMException('This operation was aborted', 'AbortError');

/**
 * Marks item `id` cancelled in Redis (see CANCEL): true when it was not
 * marked already. Aborts the attempts of it running here at once.
 * @internal
 */
export async function cancelItem(
  script: Script,
  keys: readonly [string, string],
  id: string,
  reason: unknown,
  running: Iterable<Attempt<unknown>>,
): Promise<boolean> {
  const stored = storeError(reason);
  const json = JSON.stringify(typeof stored === 'object' && stored !== null ? stored : { name: 'Error', message: String(reason) });
  const marked = Number(await script.run(keys, [id, json])) === 1;
  for (const a of running) if (a.h.id === id) (a.abort ??= new AbortController()).abort(reason);
  return marked;
}

/**
 * Aborts the attempts running here whose items another process cancelled
 * (asked only while some cancel is not yet met): each with the reason given.
 * @internal
 */
export async function abortCancelled(send: Send, cancelled: string, running: readonly Attempt<unknown>[]): Promise<void> {
  if (running.length === 0) return;
  const marks = (await send(['HMGET', cancelled, ...running.map((a) => a.h.id)])) as (string | null)[];
  running.forEach((a, i) => {
    const mark = marks[i];
    if (mark === null || mark === undefined || a.done) return;
    const bar = mark.indexOf('|');
    if (a.h.seq > Number(mark.slice(0, bar))) return; // pushed after the cancel: another item with the id
    if (a.abort?.signal.aborted) return;
    (a.abort ??= new AbortController()).abort(revive(JSON.parse(mark.slice(bar + 1)) as { name?: string; message?: string }));
  });
}

/**
 * Runs the clear script until every waiting item was handed back (runs of
 * at most 1 000, so Redis serves others between them).
 * @returns the items handed back, parsed from their JSON, in run order.
 * @internal
 */
export async function clearWaiting(script: Script, keys: readonly string[], base: string): Promise<unknown[]> {
  const error = JSON.stringify({ name: 'QueueClosedError', message: `${PART}: handed back by clear()` });
  const items: unknown[] = [];
  let cursor = '0';
  do {
    const [out, next] = (await script.run(keys, [base, 1_000, error, cursor])) as [string[], string];
    for (const data of out) items.push(safeParse(data));
    cursor = next;
  } while (cursor !== '');
  return items;
}
