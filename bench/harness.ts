/** The shapes bench suites export, shared by the runner and the worker. */

/** One measured case: does `n` units of work with the given parameters. */
export type Row = (n: number, params: Record<string, number>) => Promise<unknown> | unknown;

/** A measurement: rows compared side by side, for each parameter set. */
export interface Suite {
  readonly name: string;
  readonly title: string;
  /** What the reported rate counts, e.g. `items/s`. */
  readonly unit: string;
  readonly params: readonly Record<string, number>[];
  readonly rows: Readonly<Record<string, Row>>;
  /** `[sluice row, anchor row]` pairs whose ratio is reported (higher is better for sluice). */
  readonly ratios: readonly (readonly [string, string])[];
}

/** What one worker process prints: the seconds each repetition took. */
export interface Sample {
  readonly suite: string;
  readonly row: string;
  readonly params: Record<string, number>;
  readonly n: number;
  readonly seconds: number[];
}
