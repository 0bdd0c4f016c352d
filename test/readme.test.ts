import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const dir = `${root}.readme-check/`;
const tsc = `${root}node_modules/typescript/bin/tsc`;

/**
 * Every ```ts block of README.md compiles as a user pasting it into a file of
 * their own would see it: each block alone (it imports what it uses and
 * declares what it assumes), `tsc --strict` with `module: nodenext`, against
 * the built package (`npm test` builds first; the files sit inside the
 * package, so `'sluice'` resolves to it through its own exports).
 */
describe('README.md', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('every ts block compiles on its own against the built package', () => {
    const readme = readFileSync(`${root}README.md`, 'utf8');
    const blocks = [...readme.matchAll(/^```ts\n([\s\S]*?)^```/gm)].map((match) => match[1]!);
    expect(blocks.length).toBeGreaterThanOrEqual(9);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir);
    // `export {}` makes each file a module of its own, as a file in an ESM project is.
    for (const [i, code] of blocks.entries()) writeFileSync(`${dir}block-${i + 1}.ts`, `${code}\nexport {};\n`);
    const compilerOptions = {
      strict: true,
      module: 'nodenext',
      moduleResolution: 'nodenext',
      target: 'es2022',
      lib: ['es2022', 'dom'],
      types: [],
      noEmit: true,
      skipLibCheck: true,
    };
    writeFileSync(`${dir}tsconfig.json`, JSON.stringify({ compilerOptions, include: ['*.ts'] }));
    let output = '';
    try {
      execFileSync(process.execPath, [tsc, '-p', dir], { encoding: 'utf8', stdio: 'pipe' });
    } catch (error) {
      output = String((error as { stdout?: string }).stdout ?? error);
    }
    expect(output).toBe('');
  });
});
