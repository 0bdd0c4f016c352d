/**
 * sluice: batch, rate-limit, retry, dedupe and dead-letter work inside your
 * own process, in Node and in browsers. This entry point is browser-safe.
 *
 * @packageDocumentation
 */
export type { Clock } from './clock.js';
export { systemClock } from './clock.js';

export type { SluiceErrorCode, SluiceErrorWithCode } from './errors.js';
export {
  SluiceError,
  QueueFullError,
  QueueClosedError,
  TimeoutError,
  RetryExhaustedError,
  RejectError,
  DuplicateError,
  StoreUnavailableError,
  isSluiceError,
  isQueueFullError,
  isQueueClosedError,
  isTimeoutError,
  isRetryExhaustedError,
  isRejectError,
  isDuplicateError,
  isStoreUnavailableError,
} from './errors.js';

export type { TokenBucketOptions, AcquireOptions, RateLimiter, RateLimitInput, TokenBucketMetrics } from './token-bucket.js';
export { TokenBucket } from './token-bucket.js';

export type { Jitter, BackoffFn, BackoffOptions } from './backoff.js';
export { backoff } from './backoff.js';

export type { RetryEvent, RetryPolicy, RetryOptions } from './retry.js';
export { retry } from './retry.js';

export type { AddOptions, Task, TaskCall, TaskContext, TaskQueueOptions, Wrapped } from './task-queue.js';
export { TaskQueue, wrap } from './task-queue.js';

export type { AsyncDedupeStore, DedupeKey, DeduperOptions, DedupeStore, DeduperMetrics } from './deduper.js';
export { Deduper } from './deduper.js';

export type {
  DeadLetterReason,
  DeathRecord,
  DeathHistory,
  DeadLetterEntry,
  DeadLetterInput,
  DeadLetterOptions,
  EntriesOptions,
  RedriveTarget,
  PushTarget,
  RedriveOptions,
  RedriveResult,
  DeadLetterStats,
  DeadLetterMetrics,
  DeadLetterEvents,
  DeadLetterStore,
} from './dead-letter.js';
export { DeadLetter } from './dead-letter.js';

export type {
  Overflow,
  GroupKey,
  HandlerContext,
  Handler,
  QueueDedupeOptions,
  QueueOptions,
  PushOptions,
  Receipt,
  QueueStats,
  QueueMetrics,
  Quantiles,
  LittlesLaw,
  AttemptInfo,
  SettledInfo,
  CancelledInfo,
  EnqueuedInfo,
  FailedInfo,
  QueueEvents,
  CloseOptions,
  CloseResult,
  NackOptions,
  Delivery,
} from './queue-types.js';
export { Queue } from './queue.js';

export type {
  BatchKey,
  SealReason,
  BatchOptions,
  FlushInfo,
  BatchAccumulatorEvents,
  BatchCloseResult,
  BatchMetrics,
} from './batch-accumulator.js';
export { BatchAccumulator } from './batch-accumulator.js';

export type { BalanceContext, BalanceOptions, BalanceStrategy, BalanceTarget, Balanced, TargetStats } from './balance.js';
export { balance } from './balance.js';
export type { PubSubOptions, PubSubOverflow, SubscribeOptions, SubscriptionStats } from './pubsub.js';
export { PubSub, Subscription } from './pubsub.js';

export type {
  Source,
  Operator,
  DedupeOperatorOptions,
  ThrottleOptions,
  MapContext,
  MapConcurrentOptions,
  SourceItem,
  LateInfo,
  WindowKey,
  WindowOptions,
  WindowResult,
} from './operators.js';
export { pipe, dedupe, batch, throttle, mapConcurrent, map, filter, tap, merge, window } from './operators.js';

export type {
  ConcurrencyLimit,
  LimitSample,
  LimitChange,
  LimitReason,
  LimitEvents,
  AdaptiveLimitOptions,
  WindowSummary,
  LimitMetrics,
} from './limits/limit.js';
export { AdaptiveLimit } from './limits/limit.js';
export type { AimdLimitOptions } from './limits/aimd.js';
export { AimdLimit } from './limits/aimd.js';
export type { Gradient2LimitOptions } from './limits/gradient2.js';
export { Gradient2Limit } from './limits/gradient2.js';
export type { VegasLimitOptions } from './limits/vegas.js';
export { VegasLimit } from './limits/vegas.js';
export type { Classification, AttemptOutcome, Classify } from './limits/classify.js';
export { defaultClassify } from './limits/classify.js';
export type { AdaptiveTokenBucketOptions } from './adaptive-token-bucket.js';
export { AdaptiveTokenBucket } from './adaptive-token-bucket.js';
export type { KeyedTokenBucketOptions } from './keyed-token-bucket.js';
export { KeyedTokenBucket } from './keyed-token-bucket.js';
