import type { Attempts } from './attempts.js';
import type { Dispatcher } from './dispatch.js';
import { type Job, RUNNING } from './job.js';
import type { WaitingRoom } from './waiting.js';

/**
 * Finds the live item of `id` and cancels it (see `Queue.cancel`): a record by
 * its pushed id (O(1)) or by a scan of the waiting items, the worker loops and
 * the unacked deliveries; an item pushed with nothing (no record) by its
 * sequence number, waiting in a ring or running in a worker loop.
 * @returns whether a live item was cancelled now (false when none has that id, or it was cancelled already).
 */
export function cancelById<T, R>(
  id: string,
  reason: unknown,
  nextSeq: number,
  attempts: Attempts<T, R>,
  room: WaitingRoom<T, R>,
  dispatch: Dispatcher<T, R>,
): boolean {
  const job = attempts.byId.get(id) ?? findRecord(id, room, dispatch);
  if (job !== undefined) return attempts.cancel(job, reason);
  // An item pushed with nothing has no record: its id is its sequence number.
  if (!/^[1-9][0-9]*$/.test(id)) return false;
  const seq = Number(id);
  if (seq >= nextSeq) return false;
  const waiting = room.takePlain(seq);
  if (waiting !== undefined) {
    attempts.cancelledWaitingPlain(waiting, reason);
    return true;
  }
  for (const loop of dispatch.loops) {
    if (loop.seq === seq) {
      if (loop.cancelled) return false;
      loop.cancel(reason);
      return true;
    }
  }
  return false;
}

/** A live record without a pushed `id` (or whose id another took): waiting, running in a worker loop, or an unacked delivery. */
function findRecord<T, R>(id: string, room: WaitingRoom<T, R>, dispatch: Dispatcher<T, R>): Job<T, R> | undefined {
  const waiting = room.findRecord(id);
  if (waiting !== undefined) return waiting;
  for (const loop of dispatch.loops) {
    const job = loop.job as Job<T, R> | undefined;
    if (job !== undefined && job.state === RUNNING && job.id === id) return job;
  }
  return dispatch.pull?.findUnacked(id);
}
