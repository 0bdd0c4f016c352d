/**
 * Regenerates the README's picture of the main job's report, `docs/report.png`:
 * runs `npm run demo` with its default flags (writing the report to a
 * temporary file), opens the report in Debian's Chromium and screenshots it.
 *
 *   npm run report:png
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHROMIUM, screenshotReport } from '../examples/webhooks/screenshot.js';

if (!existsSync(CHROMIUM)) {
  console.error(`report:png needs ${CHROMIUM}: apt-get install -y chromium`);
  process.exit(1);
}
const root = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'sluice-report-'));
try {
  const html = join(dir, 'report.html');
  const demo = spawnSync(process.execPath, ['--import', 'tsx', 'examples/demo.ts', '--report', html], { cwd: root, stdio: 'inherit' });
  if (demo.status !== 0) throw new Error(`the demo exited with ${demo.status}`);
  mkdirSync(join(root, 'docs'), { recursive: true });
  const png = join(root, 'docs', 'report.png');
  const shot = await screenshotReport(html, png);
  if (shot.errors.length > 0) throw new Error(`the report page failed: ${shot.errors.join('; ')}`);
  console.log(`wrote ${png}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
