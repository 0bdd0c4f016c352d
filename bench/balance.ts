/**
 * What a pick costs: N awaited calls through balance() to three targets
 * (no-op async handlers), against the same calls picked by a plain modulo,
 * in one process; the difference per call is balance()'s overhead.
 */
import type { Suite } from './harness.js';
import { balance } from './sluice.js';

type Strategy = 'round-robin' | 'weighted' | 'least-in-flight';
const handlers = [async (n: number) => n, async (n: number) => n + 1, async (n: number) => n + 2];

async function nsPerCall(n: number, call: (i: number) => Promise<number>): Promise<number> {
  let sum = 0;
  for (let i = 0; i < Math.min(n, 10_000); i++) sum += await call(i); // warm up
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) sum += await call(i);
  const ns = Number(process.hrtime.bigint() - start) / n;
  if (sum < 0) throw new Error('unreachable');
  return ns;
}

const row = (strategy: Strategy) => async (n: number) => {
  const lb = balance(
    handlers.map((handler, i) => ({ handler, weight: i + 1 })),
    { strategy },
  );
  const modulo = await nsPerCall(n, (i) => handlers[i % 3]!(i));
  const balanced = await nsPerCall(n, (i) => lb(i));
  return { 'ns per call, balance()': balanced, 'ns per call, modulo': modulo, 'overhead ns per pick': balanced - modulo };
};

export const suite: Suite = {
  name: 'balance',
  title: 'balance(): the cost of a pick, against a plain modulo (three targets, no-op async handlers, awaited calls)',
  kind: 'metrics',
  unit: 'ns',
  params: [{}],
  rows: {
    "balance 'weighted' (1, 2, 3)": row('weighted'),
    "balance 'round-robin'": row('round-robin'),
    "balance 'least-in-flight'": row('least-in-flight'),
  },
  ratios: [],
};
