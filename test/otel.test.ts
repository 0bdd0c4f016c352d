import { type Context, type ContextManager, context, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { Queue, TaskQueue } from '../src/index.js';
import { instrument } from '../src/otel/index.js';
import { TestClock } from '../src/testing/index.js';

/** A synchronous context manager (a stack): enough to see which context is active when push is called. */
class StackContextManager implements ContextManager {
  #stack: Context[] = [];
  active(): Context {
    return this.#stack.at(-1) ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    ctx: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    this.#stack.push(ctx);
    try {
      return fn.call(thisArg, ...args);
    } finally {
      this.#stack.pop();
    }
  }
  bind<T>(_ctx: Context, target: T): T {
    return target;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    this.#stack = [];
    return this;
  }
}
context.setGlobalContextManager(new StackContextManager());

function setup() {
  const spans = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
  const meterProvider = new MeterProvider({ readers: [reader] });
  const collect = async (): Promise<Map<string, { value: unknown; attributes: Record<string, unknown> }[]>> => {
    const { resourceMetrics } = (await reader.collect()) as { resourceMetrics: ResourceMetrics };
    const out = new Map<string, { value: unknown; attributes: Record<string, unknown> }[]>();
    for (const scope of resourceMetrics.scopeMetrics) {
      for (const m of scope.metrics)
        out.set(
          m.descriptor.name,
          m.dataPoints.map((p) => ({ value: p.value, attributes: p.attributes })),
        );
    }
    return out;
  };
  return { spans, tracerProvider, meterProvider, collect };
}

describe('sluice/otel instrument()', () => {
  it('makes a producer span per push, a process span per attempt linked to it, with the messaging conventions', async () => {
    const { spans, tracerProvider, meterProvider } = setup();
    const clock = new TestClock();
    const queue = new Queue<string>({
      name: 'emails',
      retry: { maxAttempts: 2, backoff: () => 10 },
      clock,
      handler: (s, { attempt }) => {
        if (s === 'flaky' && attempt === 1) throw Object.assign(new Error('busy'), { name: 'BusyError' });
      },
    });
    instrument(queue, { tracerProvider, meterProvider });
    const parent = tracerProvider.getTracer('app').startSpan('request');
    const ids: string[] = [];
    const pushed = context.with(trace.setSpan(context.active(), parent), () => {
      ids.push(queue.tryPush('ok')!.id);
      return queue.push('flaky', { id: 'f1' }); // the context is read at the call
    });
    ids.push((await pushed).id);
    parent.end();
    await clock.runAll();
    await queue.onIdle();
    const finished = spans.getFinishedSpans();
    const sends = finished.filter((s) => s.name === 'send emails');
    const processes = finished.filter((s) => s.name === 'process emails');
    expect(sends).toHaveLength(2);
    expect(processes).toHaveLength(3); // ok, flaky ×2
    for (const send of sends) {
      expect(send.kind).toBe(3); // PRODUCER
      expect(send.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
      expect(send.attributes).toMatchObject({
        'messaging.system': 'sluice',
        'messaging.destination.name': 'emails',
        'messaging.operation.type': 'send',
      });
    }
    const byId = (id: string) => processes.filter((p) => p.attributes['messaging.message.id'] === id);
    const [first, second] = byId('f1');
    expect(first?.status.code).toBe(2); // ERROR
    expect(first?.attributes['error.type']).toBe('BusyError');
    expect(first?.events.map((e) => e.name)).toEqual(['exception']);
    expect(second?.status.code).toBe(0);
    expect([first?.attributes['sluice.attempt'], second?.attributes['sluice.attempt']]).toEqual([1, 2]);
    for (const p of processes) {
      expect(p.kind).toBe(4); // CONSUMER
      expect(p.parentSpanContext).toBeUndefined(); // a root span
      const send = sends.find((s) => s.attributes['messaging.message.id'] === p.attributes['messaging.message.id'])!;
      expect(p.links.map((l) => l.context.spanId)).toEqual([send.spanContext().spanId]);
      expect(p.attributes).toMatchObject({
        'messaging.system': 'sluice',
        'messaging.destination.name': 'emails',
        'messaging.operation.type': 'process',
      });
    }
    expect(ids).toHaveLength(2);
  });

  it('records the messaging metrics, with counts that match stats, and the queue gauges', async () => {
    const { tracerProvider, meterProvider, collect } = setup();
    const clock = new TestClock();
    const queue = new Queue<number>({
      name: 'jobs',
      concurrency: 2,
      clock,
      handler: (n) =>
        new Promise<void>((resolve, reject) => clock.setTimeout(() => (n % 3 === 0 ? reject(new RangeError('bad')) : resolve()), 250)),
    });
    instrument(queue, { tracerProvider, meterProvider });
    for (let n = 1; n <= 6; n++) queue.tryPush(n);
    await clock.advance(250);
    const midway = await collect();
    expect(midway.get('sluice.queue.waiting')?.[0]?.value).toBe(2);
    expect(midway.get('sluice.queue.in_flight')?.[0]?.value).toBe(2);
    expect(midway.get('sluice.queue.concurrency_limit')?.[0]?.value).toBe(2);
    await clock.runAll();
    const m = await collect();
    const sum = (name: string) =>
      (m.get(name) ?? []).reduce((a, p) => a + (typeof p.value === 'number' ? p.value : (p.value as { count: number }).count), 0);
    expect(sum('messaging.client.sent.messages')).toBe(queue.stats.accepted);
    expect(sum('messaging.client.consumed.messages')).toBe(queue.stats.completed + queue.stats.failed);
    expect(sum('messaging.process.duration')).toBe(6);
    const failedPoint = m.get('messaging.process.duration')!.find((p) => p.attributes['error.type'] === 'RangeError')!;
    expect((failedPoint.value as { count: number; sum: number }).count).toBe(queue.stats.failed);
    expect((failedPoint.value as { sum: number }).sum).toBeCloseTo(0.25 * queue.stats.failed);
  });

  it('uninstruments: no more spans, push and tryPush are the queue’s own again', async () => {
    const { spans, tracerProvider, meterProvider } = setup();
    const queue = new Queue<number>({ handler: () => {} });
    const own = queue.tryPush;
    const otel = instrument(queue, { tracerProvider, meterProvider });
    expect(queue.tryPush).not.toBe(own);
    otel.uninstrument();
    expect(queue.tryPush).toBe(own);
    queue.tryPush(1);
    await queue.onIdle();
    expect(spans.getFinishedSpans()).toEqual([]);
    expect(() => instrument({} as never)).toThrow('instrument: part must be a sluice Queue or TaskQueue, got [object Object]');
  });

  it('instruments a TaskQueue through its Queue: a send span per add (with or without options), a linked process span per attempt, the counts of stats', async () => {
    const { spans, tracerProvider, meterProvider, collect } = setup();
    const tasks = new TaskQueue({ name: 'tasks', concurrency: 2, retry: { maxAttempts: 2, backoff: () => 0 } });
    const otel = instrument(tasks, { tracerProvider, meterProvider });
    let calls = 0;
    const results = await Promise.allSettled([
      tasks.add(() => 1),
      tasks.add(() => 2, { priority: 1 }), // options: the queue's submit
      tasks.add(() => {
        calls++;
        if (calls === 1) throw new Error('once');
        return 3;
      }),
      tasks.add(() => Promise.reject(new RangeError('never'))),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected']);
    await tasks.onIdle();
    const finished = spans.getFinishedSpans();
    const sends = finished.filter((s) => s.name === 'send tasks');
    const processes = finished.filter((s) => s.name === 'process tasks');
    expect(sends).toHaveLength(4);
    expect(processes).toHaveLength(6); // 1, 2, 3 twice, the rejected one twice
    for (const p of processes) {
      const send = sends.find((s) => s.attributes['messaging.message.id'] === p.attributes['messaging.message.id']);
      expect(send, `the send span of ${p.attributes['messaging.message.id']}`).toBeDefined();
      expect(p.links.map((l) => l.context.spanId)).toEqual([send!.spanContext().spanId]);
    }
    const m = await collect();
    const sum = (name: string) =>
      (m.get(name) ?? []).reduce((a, p) => a + (typeof p.value === 'number' ? p.value : (p.value as { count: number }).count), 0);
    expect(sum('messaging.client.sent.messages')).toBe(tasks.stats.accepted);
    expect(sum('messaging.client.consumed.messages')).toBe(tasks.stats.completed + tasks.stats.failed);
    otel.uninstrument();
    await tasks.add(() => 5);
    expect(spans.getFinishedSpans()).toHaveLength(finished.length);
  });
});

/** Every file under src/, with its source. */
async function sources(): Promise<{ path: string; source: string }[]> {
  const { readdirSync, readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const out: { path: string; source: string }[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else out.push({ path, source: readFileSync(path, 'utf8') });
    }
  };
  walk('src');
  return out;
}

describe('the core and its subpaths (sluice/otel, sluice/redis)', () => {
  it('the core never imports sluice/redis, and sluice/redis never imports a Redis client (the user passes theirs)', async () => {
    const offenders = (await sources())
      .filter(
        ({ path, source }) =>
          /from '(redis|ioredis)'|require\('(redis|ioredis)'\)/.test(source) ||
          (!path.startsWith('src/redis/') && /from '\.\.?\/(?:\.\.\/)*redis\//.test(source)),
      )
      .map(({ path }) => path);
    expect(offenders).toEqual([]);
  });

  it('the core never imports @opentelemetry (only src/otel does)', async () => {
    const offenders = (await sources())
      .filter(({ path, source }) => !path.startsWith('src/otel/') && /@opentelemetry/.test(source))
      .map(({ path }) => path);
    expect(offenders).toEqual([]);
  });
});
