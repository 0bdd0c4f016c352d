import { defineConfig } from 'tsup';

export default defineConfig([
  {
    // The package: ESM (.js + .d.ts) and CommonJS (.cjs + .d.cts), both entry points.
    entry: {
      index: 'src/index.ts',
      'testing/index': 'src/testing/index.ts',
      // OpenTelemetry: @opentelemetry/api stays external (an optional peer dependency).
      'otel/index': 'src/otel/index.ts',
      // Redis: the user's client is passed in; neither redis nor ioredis is imported.
      'redis/index': 'src/redis/index.ts',
    },
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    target: 'es2022',
    platform: 'neutral',
    treeshake: true,
    splitting: false,
  },
  {
    // A minified IIFE for a plain <script> tag: `window.sluice`, eventemitter3 included.
    entry: { 'sluice.global': 'src/index.ts' },
    format: ['iife'],
    globalName: 'sluice',
    minify: true,
    sourcemap: true,
    target: 'es2022',
    platform: 'browser',
    noExternal: ['eventemitter3'],
    outExtension: () => ({ js: '.js' }),
  },
]);
