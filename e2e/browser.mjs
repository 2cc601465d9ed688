// What the browser tests share: where things are, free ports, Debian's chromium through
// playwright-core, pages that record Content Security Policy violations, and the axe-core scan
// with a screenshot.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
export const bin = join(process.env.CARGO_TARGET_DIR || join(root, 'target'), 'debug', 'tollgate');
const shots = join(root, 'e2e', 'screenshots');
const axeSource = readFileSync(join(root, 'e2e', 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');

export const freePort = () => new Promise((ok) => {
  const s = createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => ok(port)); });
});

/** Waits until `url` answers 2xx (10 s at most). */
export async function waitReady(url) {
  for (let i = 0; i < 100; i++) {
    try { if ((await fetch(url)).ok) return; } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`not ready: ${url}`);
}

export function launch() {
  mkdirSync(shots, { recursive: true });
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** A page of its own context; `page.cspViolations` collects what the CSP blocked. */
export async function newPage(browser, width = 1280) {
  const context = await browser.newContext({ viewport: { width, height: 900 }, permissions: ['clipboard-read', 'clipboard-write'] });
  const page = await context.newPage();
  page.cspViolations = [];
  page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) page.cspViolations.push(m.text()); });
  return page;
}

/** axe-core on the page as it is: no serious or critical violation; then a screenshot. */
export async function check(page, name) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target).join(', ')})`), [], `accessibility of ${name}`);
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}
