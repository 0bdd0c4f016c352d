/**
 * `sluice/otel`: OpenTelemetry traces and metrics for a sluice `Queue` or `TaskQueue`,
 * on `@opentelemetry/api` (an optional peer dependency: install it, and an
 * SDK, to use this entry point; the core never imports it).
 *
 * @packageDocumentation
 */
import {
  type Attributes,
  context,
  type Context,
  type Counter,
  type Histogram,
  type Link,
  type Meter,
  type MeterProvider,
  metrics,
  type ObservableGauge,
  type ObservableResult,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  trace,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';
import type { AttemptInfo, CancelledInfo, EnqueuedInfo, FailedInfo, PushOptions, Receipt, SettledInfo, TaskQueue } from '../index.js';

/** The instrumentation scope's name. */
const SCOPE = 'sluice';
/** The messaging operation of an attempt, in span names, attributes and the duration metric's name. */
const PROCESS = 'process';

/** Options of {@link instrument}. */
export interface InstrumentOptions {
  /** Where spans go. @default the global one (`trace.getTracerProvider()`) */
  readonly tracerProvider?: TracerProvider;
  /** Where metrics go. @default the global one (`metrics.getMeterProvider()`) */
  readonly meterProvider?: MeterProvider;
  /** Push contexts remembered for linking (items accepted and not yet settled); past it, new items' attempts get no link. @default 100000 */
  readonly maxPending?: number;
}

/**
 * What {@link instrument} needs of a queue: a sluice `Queue` has it all.
 * (A structural type: the `Queue` class seen through this entry point's
 * types and through the main one's would otherwise be two classes.)
 */
export interface InstrumentableQueue<T, R> {
  /** The queue's name: `messaging.destination.name`. */
  readonly name: string;
  /** Items waiting. */
  readonly size: number;
  /** Attempts in flight. */
  readonly inFlight: number;
  /** The concurrency in force. */
  readonly concurrency: number;
  /** Offers an item (wrapped: a producer span per call). */
  push(item: T, options?: PushOptions): Promise<Receipt>;
  /** Offers an item without waiting (wrapped: a producer span per call). */
  tryPush(item: T, options?: PushOptions): Receipt | undefined;
  /** Offers an item and resolves with its result (wrapped, when there: a producer span per call). */
  submit?(item: T, options?: PushOptions): Promise<R>;
  /** Adds a listener of `'enqueued'`. */
  on(event: 'enqueued', fn: (item: T, info: EnqueuedInfo) => void): unknown;
  /** Adds a listener of `'active'`. */
  on(event: 'active', fn: (item: T, info: AttemptInfo) => void): unknown;
  /** Adds a listener of `'completed'`. */
  on(event: 'completed', fn: (item: T, result: R, info: SettledInfo) => void): unknown;
  /** Adds a listener of `'failed'`. */
  on(event: 'failed', fn: (item: T, error: unknown, info: FailedInfo) => void): unknown;
  /** Adds a listener of `'cancelled'`. */
  on(event: 'cancelled', fn: (item: T, reason: unknown, info: CancelledInfo) => void): unknown;
  /** Removes a listener of `'enqueued'`. */
  off(event: 'enqueued', fn: (item: T, info: EnqueuedInfo) => void): unknown;
  /** Removes a listener of `'active'`. */
  off(event: 'active', fn: (item: T, info: AttemptInfo) => void): unknown;
  /** Removes a listener of `'completed'`. */
  off(event: 'completed', fn: (item: T, result: R, info: SettledInfo) => void): unknown;
  /** Removes a listener of `'failed'`. */
  off(event: 'failed', fn: (item: T, error: unknown, info: FailedInfo) => void): unknown;
  /** Removes a listener of `'cancelled'`. */
  off(event: 'cancelled', fn: (item: T, reason: unknown, info: CancelledInfo) => void): unknown;
}

/** What {@link instrument} returns. */
export interface Instrumentation {
  /** Stops: listeners removed, `push`/`tryPush`/`submit` restored, gauges unregistered. Spans already started end as usual. */
  uninstrument(): void;
}

/**
 * Instruments a sluice `Queue` or `TaskQueue` (through the Queue underneath
 * it: a task is a message) with OpenTelemetry, after its messaging semantic
 * conventions (`messaging.system` `'sluice'`, `messaging.destination.name`
 * the queue's `name`):
 *
 * - **Spans.** `push`, `tryPush` and `submit` (a TaskQueue's `add`) make a `send {name}` PRODUCER span,
 *   a child of the context active at the call (captured there: no
 *   AsyncLocalStorage, so it works in browsers), ended once the item is
 *   accepted, with `messaging.message.id`. Each attempt is a
 *   `process {name}` CONSUMER span (a root span) with a link to its item's
 *   producer span, `messaging.message.id`, `sluice.attempt`; a failed
 *   attempt records the exception, status ERROR and `error.type`. The
 *   push names its item through the queue's `'enqueued'` event, told
 *   within the call; an item that waits for room (`overflow: 'block'`) is
 *   linked when its push resolves, so an attempt that starts and ends
 *   before that has no link. A `submit` span ends when the call returns,
 *   linked when its item was enqueued within it (not one that waits for
 *   room). Items given to `pushAll` get process spans without a link.
 * - **Metrics.** the processing duration, `messaging.{operation}.duration`
 *   for the `process` operation (histogram, s, per attempt,
 *   `error.type` on failures), `messaging.client.consumed.messages`
 *   (counter, per settled attempt), `messaging.client.sent.messages`
 *   (counter, per accepted push), and the gauges `sluice.queue.waiting`,
 *   `sluice.queue.in_flight` and `sluice.queue.concurrency_limit`.
 *
 * Instrumenting adds listeners, so the queue times its attempts (see
 * `AttemptInfo.startedAt`).
 *
 * @example
 * ```ts
 * import { instrument } from 'sluice/otel';
 * const queue = new Queue({ name: 'emails', handler: send });
 * const otel = instrument(queue); // the global providers, as set by the OpenTelemetry SDK
 * ```
 * @param part - the Queue or TaskQueue.
 * @param options - see {@link InstrumentOptions}.
 * @throws TypeError when `part` is not a sluice Queue or TaskQueue.
 */
export function instrument<T, R>(part: InstrumentableQueue<T, R> | TaskQueue, options: InstrumentOptions = {}): Instrumentation {
  // A TaskQueue is instrumented through the Queue underneath it.
  const underneath = (part as { queueUnderneath?: unknown } | null)?.queueUnderneath;
  const queue = (typeof underneath === 'function' ? underneath.call(part) : part) as InstrumentableQueue<T, R>;
  if (typeof queue !== 'object' || queue === null || typeof queue.on !== 'function' || typeof queue.tryPush !== 'function') {
    throw new TypeError(`instrument: part must be a sluice Queue or TaskQueue, got ${String(part)}`);
  }
  const tracer: Tracer = (options.tracerProvider ?? trace.getTracerProvider()).getTracer(SCOPE);
  const meter: Meter = (options.meterProvider ?? metrics.getMeterProvider()).getMeter(SCOPE);
  const maxPending = options.maxPending ?? 100_000;
  const destination = queue.name;
  const base: Attributes = { 'messaging.system': 'sluice', 'messaging.destination.name': destination };
  const processAttributes: Attributes = { ...base, 'messaging.operation.name': PROCESS, 'messaging.operation.type': PROCESS };

  // The semantic conventions name it after the operation: messaging.{operation}.duration.
  const duration: Histogram = meter.createHistogram(`messaging.${PROCESS}.duration`, {
    unit: 's',
    description: 'Duration of processing operation.',
    // The semantic conventions' boundaries for durations in seconds (the SDK's default ones are for ms).
    advice: { explicitBucketBoundaries: [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10] },
  });
  const consumed: Counter = meter.createCounter('messaging.client.consumed.messages', {
    unit: '{message}',
    description: 'Number of messages that were delivered to the application.',
  });
  const sent: Counter = meter.createCounter('messaging.client.sent.messages', {
    unit: '{message}',
    description: 'Number of messages producer attempted to send to the broker.',
  });
  const gauges: [ObservableGauge, (result: ObservableResult) => void][] = [
    [
      meter.createObservableGauge('sluice.queue.waiting', {
        unit: '{message}',
        description: 'Items waiting, delayed and retry-pending included.',
      }),
      (r) => r.observe(queue.size, base),
    ],
    [
      meter.createObservableGauge('sluice.queue.in_flight', { unit: '{message}', description: 'Attempts running, or deliveries unacked.' }),
      (r) => r.observe(queue.inFlight, base),
    ],
    [
      meter.createObservableGauge('sluice.queue.concurrency_limit', { unit: '{message}', description: 'The concurrency in force.' }),
      (r) => r.observe(queue.concurrency, base),
    ],
  ];
  for (const [gauge, callback] of gauges) gauge.addCallback(callback);

  /** Each accepted item's producer span context, until it settles. */
  const producers = new Map<string, SpanContext>();
  /** Each running attempt's span, by item id. */
  const running = new Map<string, Span>();
  /** The send spans of the push calls under way: the `'enqueued'` event within one names its item. */
  const pushing: Span[] = [];
  // Past maxPending, an item's attempts get no link (forgetting the oldest instead would cost a scan per push).
  const remember = (id: string, producer: SpanContext): void => {
    if (producers.size < maxPending) producers.set(id, producer);
  };
  // Told within the push, before the item can start: its attempts will link the push's span.
  // A span that records nothing (no SDK: the API's no-op tracer) has nothing to link to: nothing is kept.
  const onEnqueued = (_item: T, info: EnqueuedInfo): void => {
    const span = pushing.at(-1);
    if (span === undefined) return;
    enqueuedBy.set(span, info.id);
    if (span.isRecording()) remember(info.id, span.spanContext());
  };
  /** The item each push call under way enqueued (a submit has no receipt to tell it). */
  const enqueuedBy = new WeakMap<Span, string>();

  // Made once: a span per item must not pay for building them.
  const sendName = `send ${destination}`;
  const processName = `${PROCESS} ${destination}`;
  const sendOptions = {
    kind: SpanKind.PRODUCER,
    attributes: { ...base, 'messaging.operation.name': 'send', 'messaging.operation.type': 'send' },
  };
  const noLinks: Link[] = [];
  const sending = (parent: Context): Span => tracer.startSpan(sendName, sendOptions, parent);
  /** The push was accepted (or refused as a duplicate, or dropped): the send span ends; its context waits for the item's attempts. */
  const accepted = (span: Span, receipt: Receipt | undefined): void => {
    if (receipt !== undefined) {
      span.setAttribute('messaging.message.id', receipt.id);
      if (!receipt.duplicate && !receipt.dropped) {
        sent.add(1, base);
        if (span.isRecording() && !producers.has(receipt.id)) remember(receipt.id, span.spanContext());
      }
    }
    span.end();
  };
  const refused = (span: Span, error: unknown): void => {
    span.recordException(error as Error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: String((error as Error)?.message ?? error) });
    span.end();
  };

  const push = queue.push;
  const tryPush = queue.tryPush;
  const submit = queue.submit;
  if (typeof submit === 'function') {
    queue.submit = (item: T, pushOptions?: PushOptions): Promise<R> => {
      const span = sending(context.active());
      pushing.push(span);
      try {
        return submit.call(queue, item, pushOptions);
      } finally {
        pushing.pop();
        const id = enqueuedBy.get(span);
        if (id !== undefined) {
          span.setAttribute('messaging.message.id', id);
          sent.add(1, base);
        }
        span.end();
      }
    };
  }
  queue.push = (item: T, pushOptions?: PushOptions): Promise<Receipt> => {
    const span = sending(context.active());
    pushing.push(span);
    let result: Promise<Receipt>;
    try {
      result = push.call(queue, item, pushOptions);
    } finally {
      pushing.pop();
    }
    result.then(
      (receipt) => accepted(span, receipt),
      (error: unknown) => refused(span, error),
    );
    return result;
  };
  queue.tryPush = (item: T, pushOptions?: PushOptions): Receipt | undefined => {
    const span = sending(context.active());
    let receipt: Receipt | undefined;
    pushing.push(span);
    try {
      receipt = tryPush.call(queue, item, pushOptions);
    } catch (error) {
      refused(span, error);
      throw error;
    } finally {
      pushing.pop();
    }
    accepted(span, receipt);
    return receipt;
  };

  const onActive = (_item: T, info: AttemptInfo): void => {
    const producer = producers.size === 0 ? undefined : producers.get(info.id);
    const links: Link[] = producer ? [{ context: producer }] : noLinks;
    const span = tracer.startSpan(
      processName,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          'messaging.system': 'sluice',
          'messaging.destination.name': destination,
          'messaging.operation.name': PROCESS,
          'messaging.operation.type': PROCESS,
          'messaging.message.id': info.id,
          'sluice.attempt': info.attempt,
        },
        links,
      },
      ROOT_CONTEXT,
    );
    running.set(info.id, span);
  };
  const settle = (info: SettledInfo, errorType: string | undefined): void => {
    const attributes = errorType === undefined ? processAttributes : { ...processAttributes, 'error.type': errorType };
    if (!Number.isNaN(info.runMs)) duration.record(info.runMs / 1000, attributes);
    consumed.add(1, attributes);
    const span = running.get(info.id);
    running.delete(info.id);
    span?.end();
  };
  const onCompleted = (_item: T, _result: R, info: SettledInfo): void => {
    if (producers.size > 0) producers.delete(info.id);
    settle(info, undefined);
  };
  const onFailed = (_item: T, error: unknown, info: FailedInfo): void => {
    if (!info.willRetry) producers.delete(info.id);
    const errorType = error instanceof Error ? error.name : typeof error;
    const span = running.get(info.id);
    span?.recordException(error instanceof Error ? error : String(error));
    span?.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
    span?.setAttribute('error.type', errorType);
    settle(info, errorType);
  };
  const onCancelled = (_item: T, _reason: unknown, info: CancelledInfo): void => {
    producers.delete(info.id);
    const span = running.get(info.id);
    if (span === undefined) return;
    running.delete(info.id);
    span.setStatus({ code: SpanStatusCode.ERROR, message: 'cancelled' });
    span.end();
  };
  queue.on('enqueued', onEnqueued);
  queue.on('active', onActive);
  queue.on('completed', onCompleted);
  queue.on('failed', onFailed);
  queue.on('cancelled', onCancelled);

  return {
    uninstrument(): void {
      queue.off('enqueued', onEnqueued);
      queue.off('active', onActive);
      queue.off('completed', onCompleted);
      queue.off('failed', onFailed);
      queue.off('cancelled', onCancelled);
      // The instance's own methods shadowed the class's: removing them restores those.
      delete (queue as { push?: unknown }).push;
      delete (queue as { tryPush?: unknown }).tryPush;
      delete (queue as { submit?: unknown }).submit;
      for (const [gauge, callback] of gauges) gauge.removeCallback(callback);
      producers.clear();
    },
  };
}
