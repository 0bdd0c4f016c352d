import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Runs after `npm run build`: loads dist/ by package name, as a user would.
const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
const run = (file: string) => JSON.parse(execFileSync(process.execPath, [fixtures + file], { encoding: 'utf8' }));

describe('the built package', () => {
  const expected = {
    granted: 100,
    guard: true,
    name: 'QueueFullError',
  };

  it('imports through both entry points (ESM)', () => {
    const out = run('consumer.mjs');
    expect(out).toMatchObject(expected);
    expect(out.exports).toContain('TokenBucket');
    expect(out.exports).toContain('DeadLetter');
  });

  it('requires through both entry points (CommonJS) with the same exports', () => {
    const esm = run('consumer.mjs');
    const cjs = run('consumer.cjs');
    expect(cjs).toEqual(esm);
  });

  it('guards recognise errors across the ESM and CJS copies', () => {
    expect(run('cross-copy.mjs')).toEqual({ distinctClasses: true, instanceOf: false, guard: true });
  });

  it('keeps the core free of node: imports', () => {
    for (const file of ['index.js', 'index.cjs', 'testing/index.js', 'testing/index.cjs']) {
      const source = readFileSync(new URL(`../dist/${file}`, import.meta.url), 'utf8');
      expect(source).not.toMatch(/require\(["']node:|from ["']node:|\bprocess\.|\bBuffer\b|setImmediate/);
    }
  });
});
