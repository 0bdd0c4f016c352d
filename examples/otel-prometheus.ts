/**
 * A queue's OpenTelemetry metrics, scraped as Prometheus text: `sluice/otel`
 * records them, OpenTelemetry's own Prometheus exporter renders them (no
 * exposition code of ours), and a plain `node:http` server hands them to a
 * scraper. Prints what a scrape of `/metrics` returns for the queue.
 *
 *   npx tsx examples/otel-prometheus.ts
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { Queue } from 'sluice';
import { instrument } from 'sluice/otel';

const exporter = new PrometheusExporter({ preventServerStart: true });
const meterProvider = new MeterProvider({ readers: [exporter] });

const queue = new Queue<number>({
  name: 'thumbnails',
  concurrency: 4,
  handler: async (n) => {
    await new Promise((resolve) => setTimeout(resolve, 2 + (n % 7)));
    if (n % 17 === 0) throw new Error('corrupt image');
  },
});
instrument(queue, { meterProvider });
for (let n = 1; n <= 200; n++) queue.tryPush(n);
await queue.onIdle();

// What a Prometheus scrape sees: the exporter's own handler behind a plain server.
const server = createServer((request, response) => exporter.getMetricsRequestHandler(request, response));
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address() as AddressInfo;
const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
server.close();
await meterProvider.shutdown();

const lines = text.split('\n').filter((line) => /^(messaging_|sluice_)/.test(line));
console.log(lines.join('\n'));
const consumed = lines
  .filter((line) => line.startsWith('messaging_client_consumed_messages_total'))
  .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
const { completed, failed } = queue.stats;
console.log(`\nconsumed in the scrape: ${consumed}; the queue's own count: ${completed} completed + ${failed} failed`);
if (consumed !== completed + failed || !lines.some((line) => line.startsWith('sluice_queue_waiting'))) {
  console.error('the scrape does not match the queue');
  process.exitCode = 1;
}
