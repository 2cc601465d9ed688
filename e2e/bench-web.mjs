// make bench-web: the SPA's budget, measured (not a test). Prints the gzipped size of the
// bundle (WASM and JS glue) and how long the token table takes, with 500 tokens in the
// project, from navigation until it has rendered its rows and answers a click.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
const dist = join(root, 'frontend', 'dist');
const bin = join(process.env.CARGO_TARGET_DIR || join(root, 'target'), 'release', 'tollgate');
const TOKENS = Number(process.env.BENCH_WEB_TOKENS || 500);

let wasm = 0, js = 0;
for (const f of readdirSync(dist)) {
  const size = gzipSync(readFileSync(join(dist, f)), { level: 9 }).length;
  if (f.endsWith('.wasm')) wasm += size;
  else if (f.endsWith('.js')) js += size;
}
console.log(`bundle: wasm ${(wasm / 1024).toFixed(1)} KB + js ${(js / 1024).toFixed(1)} KB = ${((wasm + js) / 1024).toFixed(1)} KB gzipped (budget 250 KB)`);

const port = await new Promise((ok) => { const s = createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => ok(port)); }); });
const base = `http://127.0.0.1:${port}`;
const data = mkdtempSync(join(tmpdir(), 'tollgate-bench-web-'));
const server = spawn(bin, ['serve'], {
  env: { ...process.env, TOLLGATE_LISTEN: `127.0.0.1:${port}`, TOLLGATE_DATA_DIR: data, TOLLGATE_DEMO: 'true', TOLLGATE_WEB_DIR: dist, TOLLGATE_LOG: 'warn' },
  stdio: 'ignore',
});
try {
  for (let i = 0; i < 100; i++) { try { if ((await fetch(`${base}/readyz`)).ok) break; } catch { } await new Promise((r) => setTimeout(r, 100)); }
  const { access_token: bearer } = await (await fetch(`${base}/api/v1/demo/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"user":"alice"}' })).json();
  for (let n = 0; n < TOKENS; n += 10) {
    await Promise.all(Array.from({ length: 10 }, (_, k) => fetch(`${base}/api/v1/tokens`, {
      method: 'POST', headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: `token ${n + k}` }),
    })));
  }
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  const times = [];
  for (let run = 0; run < 5; run++) {
    const context = await browser.newContext();
    await context.addInitScript((t) => sessionStorage.setItem('tollgate.bearer', t), bearer);
    const page = await context.newPage();
    const started = Date.now();
    await page.goto(base);
    await page.locator('tbody tr').first().waitFor();
    await page.getByRole('button', { name: 'Generate token' }).click();
    await page.getByRole('dialog', { name: 'Generate token' }).waitFor();
    times.push(Date.now() - started);
    await context.close();
  }
  await browser.close();
  times.sort((a, b) => a - b);
  console.log(`token table (${TOKENS} tokens in the project, first page rendered and a click answered): median ${times[2]} ms, worst ${times[4]} ms over 5 loads (budget 1000 ms)`);
} finally {
  server.kill('SIGTERM');
  rmSync(data, { recursive: true, force: true });
}
