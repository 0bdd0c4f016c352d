import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

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

describe('the packed tarball, installed into a fresh project', () => {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const project = mkdtempSync(join(tmpdir(), 'sluice-consumer-'));
  afterAll(() => rmSync(project, { recursive: true, force: true }));
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

  it('installs, runs from .mjs and .cjs, and type-checks a .ts consumer', () => {
    const packed = JSON.parse(execFileSync(npm, ['pack', '--json', '--pack-destination', project], { cwd: root, encoding: 'utf8' }));
    const tarball = join(project, packed[0].filename);
    const files = (packed[0].files as { path: string }[]).map((f) => f.path);
    expect(files).toContain('dist/index.js');
    expect(files).toContain('dist/index.cjs');
    expect(files.some((f) => f.startsWith('src/') || f.startsWith('test/'))).toBe(false);

    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
    execFileSync(npm, ['install', '--no-audit', '--no-fund', '--no-package-lock', tarball], { cwd: project, stdio: 'ignore' });

    writeFileSync(
      join(project, 'esm.mjs'),
      "import { TokenBucket, isSluiceError, QueueFullError } from 'sluice';\nimport { TestClock } from 'sluice/testing';\n" +
        'const b = new TokenBucket({ ratePerSecond: 1, clock: new TestClock() });\nconsole.log(JSON.stringify([b.tryAcquire(), b.tryAcquire(), isSluiceError(new QueueFullError(1))]));\n',
    );
    writeFileSync(
      join(project, 'cjs.cjs'),
      "const { TokenBucket, isSluiceError, QueueFullError } = require('sluice');\nconst { TestClock } = require('sluice/testing');\n" +
        'const b = new TokenBucket({ ratePerSecond: 1, clock: new TestClock() });\nconsole.log(JSON.stringify([b.tryAcquire(), b.tryAcquire(), isSluiceError(new QueueFullError(1))]));\n',
    );
    for (const file of ['esm.mjs', 'cjs.cjs']) {
      expect(JSON.parse(execFileSync(process.execPath, [join(project, file)], { encoding: 'utf8' }))).toEqual([true, false, true]);
    }
    // sluice/redis loads without redis or ioredis installed (the client is passed in), from ESM and CommonJS.
    writeFileSync(
      join(project, 'redis.mjs'),
      "import { RedisTokenBucket, isStoreUnavailableError } from 'sluice/redis';\n" +
        "const b = new RedisTokenBucket({ client: { sendCommand: () => Promise.reject(new Error('closed')) }, key: 'k', ratePerSecond: 1 });\n" +
        'b.tryAcquire().catch((e) => console.log(JSON.stringify([isStoreUnavailableError(e), e.name])));\n',
    );
    writeFileSync(
      join(project, 'redis.cjs'),
      "const { RedisTokenBucket, isStoreUnavailableError } = require('sluice/redis');\n" +
        "const b = new RedisTokenBucket({ client: { sendCommand: () => Promise.reject(new Error('closed')) }, key: 'k', ratePerSecond: 1 });\n" +
        'b.tryAcquire().catch((e) => console.log(JSON.stringify([isStoreUnavailableError(e), e.name])));\n',
    );
    for (const file of ['redis.mjs', 'redis.cjs']) {
      expect(JSON.parse(execFileSync(process.execPath, [join(project, file)], { encoding: 'utf8' }))).toEqual([
        true,
        'StoreUnavailableError',
      ]);
    }

    writeFileSync(
      join(project, 'consumer.ts'),
      "import { Queue, type Receipt } from 'sluice';\nimport { TestClock } from 'sluice/testing';\n" +
        'const q = new Queue<{ id: string }, number>({ handler: (x) => x.id.length, clock: new TestClock() });\n' +
        "export const r: Promise<Receipt> = q.push({ id: 'a' });\nexport const n: Promise<number> = q.submit({ id: 'b' });\n" +
        '// @ts-expect-error: items are typed\nvoid q.push(42);\n',
    );
    for (const moduleResolution of ['node16', 'bundler']) {
      const module = moduleResolution === 'node16' ? 'node16' : 'esnext';
      writeFileSync(
        join(project, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: { strict: true, noEmit: true, module, moduleResolution, target: 'es2022', lib: ['es2022', 'dom'], types: [] },
          files: ['consumer.ts'],
        }),
      );
      execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', project], { encoding: 'utf8' });
    }
  }, 120_000);
});
