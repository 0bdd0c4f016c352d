import { defineConfig } from 'vitest/config';

/** Runs only the tests that load the built `dist/` (after `npm run build`). */
export default defineConfig({
  test: {
    include: ['test/package.test.ts'],
  },
});
