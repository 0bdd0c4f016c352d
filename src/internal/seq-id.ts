/** '000' … '999': the last three digits of a sequence number. */
const LOW = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));
let lastHigh = -1;
let lastHighText = '';

/**
 * `String(seq)` for a positive integer, about three times cheaper when
 * called for consecutive numbers (a queue's ids): the digits above the last
 * three are formatted once per thousand, the last three come from a table.
 */
export function seqId(seq: number): string {
  if (seq < 1000) return String(seq);
  const high = Math.floor(seq / 1000);
  if (high !== lastHigh) {
    lastHigh = high;
    lastHighText = String(high);
  }
  return lastHighText + LOW[seq - high * 1000]!;
}
