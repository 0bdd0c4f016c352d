/** The shapes bench suites export, shared by the runner and the worker. */

/**
 * One measured case, doing `n` units of work with the given parameters.
 * A `rate` row's return value is ignored; a `memory` row returns what holds
 * the `n` waiting items (kept alive while the heap is measured); a `metrics`
 * row returns its own numbers.
 */
export type Row = (n: number, params: Record<string, number>) => Promise<unknown> | unknown;

/** A ratio the run reports: `ours ÷ anchor`, checked against a budget. */
export interface Ratio {
  readonly ours: string;
  readonly anchor: string;
  /** The budget: `≥ budget` for rates, `≤ budget` for memory. */
  readonly budget?: number;
}

/** A measurement: rows compared side by side, for each parameter set. */
export interface Suite {
  readonly name: string;
  readonly title: string;
  /**
   * `rate`: N ÷ seconds (higher is better); `memory`: heap bytes per item
   * after `gc()` (lower is better); `metrics`: numbers the row returns.
   */
  readonly kind?: 'rate' | 'memory' | 'metrics';
  /** What the reported value counts, e.g. `items/s`. */
  readonly unit: string;
  readonly params: readonly Record<string, number>[];
  readonly rows: Readonly<Record<string, Row>>;
  readonly ratios: readonly Ratio[];
}

/** What one worker process prints: per repetition, the seconds and the value measured. */
export interface Sample {
  readonly suite: string;
  readonly row: string;
  readonly params: Record<string, number>;
  readonly n: number;
  readonly seconds: number[];
  /** Per repetition: items/s, bytes per item, or the row's first metric. */
  readonly values: number[];
  /** `metrics` rows: every metric per repetition. */
  readonly metrics?: Record<string, number>[];
}
