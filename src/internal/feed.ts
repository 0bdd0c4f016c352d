/**
 * The key of `BatchAccumulator`'s feeding loop, for the `batch()` operator:
 * a symbol the package does not export, so the loop's stop handle stays out
 * of the public API (users have `addAll`).
 */
export const feed: unique symbol = Symbol('sluice.feed');

/** Tells a feeding loop to stop before its next item. */
export interface FeedStop {
  readonly stopped: boolean;
}
