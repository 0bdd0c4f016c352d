import { defineConfig } from 'vitest/config';

// `npm test` builds first: test/package.test.ts and test/browser.test.ts load dist/.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'examples/**/*.test.ts'],
    typecheck: { enabled: true, include: ['test/**/*.test-d.ts'], tsconfig: './tsconfig.test.json' },
    // `npm run coverage`: the library's own code (src/), measured over the whole suite.
    coverage: { provider: 'v8', include: ['src/**/*.ts'], reporter: ['text-summary', 'text'] },
  },
});
