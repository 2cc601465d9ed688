// Browser tests of the portal: Debian's chromium driven by playwright-core against a real
// `tollgate serve` (fresh SQLite database, demo mode). Screenshots go to e2e/screenshots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bin, check, freePort, launch, newPage as pageOf, waitReady } from './browser.mjs';

let server, base, browser, data;

const withoutDatabaseUrl = (env) => { delete env.TOLLGATE_DATABASE_URL; return env; };

before(async () => {
  data = mkdtempSync(join(tmpdir(), 'tollgate-e2e-'));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  // The portal built into the binary (`make e2e` builds the app first), served by a binary
  // started away from the repository: no TOLLGATE_WEB_DIR.
  const env = { ...process.env, TOLLGATE_LISTEN: `127.0.0.1:${port}`, TOLLGATE_DATA_DIR: data, TOLLGATE_DEMO: 'true',
    TOLLGATE_LOG: 'warn' };
  withoutDatabaseUrl(env);
  delete env.TOLLGATE_ISSUER;
  delete env.TOLLGATE_WEB_DIR;
  server = spawn(bin, ['serve'], {
    env,
    cwd: data,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await waitReady(`${base}/readyz`);
  browser = await launch();
});

after(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
  rmSync(data, { recursive: true, force: true });
});

async function api(path, user, init = {}) {
  const session = await (await fetch(`${base}/api/v1/demo/session`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user }),
  })).json();
  const res = await fetch(`${base}${path}`, {
    ...init, headers: { authorization: `Bearer ${session.access_token}`, 'content-type': 'application/json', ...(init.headers || {}) },
  });
  return res.status === 204 ? null : res.json();
}

const newPage = (width) => pageOf(browser, width);

async function signIn(page, who) {
  await page.goto(base);
  await page.getByRole('button', { name: new RegExp(`^${who}`) }).click();
  await page.getByRole('heading', { name: 'Registry tokens' }).waitFor();
}

const headers = async (page) => (await page.locator('thead th').allInnerTexts()).map((t) => t.trim());

test('bob generates, copies, re-generates and deletes a token, and sees only his own', async () => {
  await api('/api/v1/tokens', 'alice', { method: 'POST', body: JSON.stringify({ name: 'alice private' }) });
  const page = await newPage();
  await page.goto(base);
  await page.getByRole('button', { name: /^Bob Builder/ }).waitFor();
  assert.match(await page.getByRole('note').innerText(), /Demo mode/);
  await check(page, 'sign-in');

  await signIn(page, 'Bob Builder');
  await page.getByText('No tokens yet').waitFor();
  assert.match(await page.locator('header').innerText(), /Bob Builder/);
  await check(page, 'tokens-empty');

  await page.getByRole('button', { name: 'Generate token' }).click();
  const dialog = page.getByRole('dialog', { name: 'Generate token' });
  await dialog.waitFor();
  await check(page, 'generate-dialog');
  await dialog.getByLabel('Token name').fill('laptop');
  await dialog.getByRole('button', { name: 'Generate' }).click();

  const secretDialog = page.getByRole('dialog', { name: 'Your new secret' });
  await secretDialog.waitFor();
  const secret = (await page.getByTestId('secret').innerText()).trim();
  assert.match(secret, /^tgr_[0-9A-Za-z]{38}$/);
  assert.match(await secretDialog.innerText(), /will not be shown again/);
  assert.match(await page.getByTestId('docker-login').innerText(), /docker login .* --password-stdin/);
  assert.match(await page.getByTestId('kubectl').innerText(), /^kubectl create secret docker-registry/);
  await secretDialog.getByRole('button', { name: /^Copy secret$/ }).click();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret);
  await check(page, 'secret-dialog');
  await secretDialog.getByRole('button', { name: 'Done' }).click();

  const row = page.getByRole('row', { name: /laptop/ });
  await row.waitFor();
  assert.deepEqual(await headers(page), ['Token name', 'Subscription end date', 'Products', 'Created on', 'Status', 'Actions']);
  assert.match(await row.innerText(), /WSO2 API Manager, WSO2 Identity Server/);
  assert.equal(await page.getByText('alice private').count(), 0, 'bob sees alice\'s token');
  await check(page, 'tokens-customer');

  // The secret is not shown again anywhere.
  assert.ok(!(await page.content()).includes(secret.slice(4)));

  // A server error is shown in the dialog: the name is taken.
  await page.getByRole('button', { name: 'Generate token' }).click();
  await dialog.getByLabel('Token name').fill('LAPTOP');
  await dialog.getByRole('button', { name: 'Generate' }).click();
  await dialog.getByText(/already has this name/).waitFor();
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });

  await page.getByRole('button', { name: 'Re-generate the secret of laptop' }).click();
  const confirm = page.getByRole('dialog', { name: 'Re-generate secret' });
  assert.match(await confirm.innerText(), /stops working immediately/);
  await check(page, 'regenerate-dialog');
  await confirm.getByRole('button', { name: 'Re-generate' }).click();
  await secretDialog.waitFor();
  const renewed = (await page.getByTestId('secret').innerText()).trim();
  assert.match(renewed, /^tgr_/);
  assert.notEqual(renewed, secret);
  await secretDialog.getByRole('button', { name: 'Done' }).click();

  await page.getByRole('button', { name: 'Delete laptop' }).click();
  const del = page.getByRole('dialog', { name: 'Delete token' });
  assert.match(await del.innerText(), /permanently/);
  await del.getByRole('button', { name: 'Delete' }).click();
  await page.getByText('No tokens yet').waitFor();

  // A token of its own lifetime shows when it ends, before the subscription does.
  await page.getByRole('button', { name: 'Generate token' }).click();
  await dialog.getByLabel('Token name').fill('short-lived');
  await dialog.getByLabel('Expires').selectOption('30');
  await dialog.getByRole('button', { name: 'Generate' }).click();
  await secretDialog.waitFor();
  await secretDialog.getByRole('button', { name: 'Done' }).click();
  const short = page.getByRole('row', { name: /short-lived/ });
  await short.waitFor();
  assert.match(await short.innerText(), /token ends/);
  assert.match(await short.innerText(), /expires in 30 days/);
  assert.deepEqual(page.cspViolations, []);
});

test('alice manages service tokens, re-syncs products, and reads the audit log', async () => {
  const page = await newPage();
  await signIn(page, 'Alice Admin');
  await page.getByRole('button', { name: 'Generate token' }).click();
  const dialog = page.getByRole('dialog', { name: 'Generate token' });
  await dialog.getByLabel('Token name').fill('ci pulls');
  await dialog.getByLabel('Service token (for a service user)').check();
  await dialog.getByLabel('Service user', { exact: true }).selectOption({ label: 'ci-pipeline' });
  await dialog.getByRole('button', { name: 'Generate' }).click();
  await page.getByRole('dialog', { name: 'Your new secret' }).getByRole('button', { name: 'Done' }).click();
  const row = page.getByRole('row', { name: /ci pulls/ });
  await row.waitFor();
  assert.deepEqual(await headers(page),
    ['Token name', 'Type', 'Created for', 'Created by', 'Subscription end date', 'Products', 'Created on', 'Status', 'Actions']);
  assert.match(await row.innerText(), /Service\s+ci-pipeline \(service user\)\s+Alice Admin/);
  await check(page, 'tokens-admin');

  // The operator adds a product: the token is out of sync until alice re-syncs it.
  const me = await api('/api/v1/me', 'alice');
  execFileSync(bin, ['project', 'put', '--key', 'acme', '--name', 'Acme Corp', '--end-date', me.subscription.end_date,
    '--product', 'wso2am', '--product', 'wso2is', '--product', 'wso2mi=WSO2 Micro Integrator'],
  { env: withoutDatabaseUrl({ ...process.env, TOLLGATE_DATA_DIR: data }) });
  await page.reload();
  await row.getByText('Out of sync').waitFor();
  await row.getByRole('button', { name: 'Re-sync products of ci pulls' }).click();
  await page.getByText('Products of “ci pulls” re-synced.').waitFor();
  await row.getByText(/WSO2 Micro Integrator/).waitFor();
  await row.getByText('Out of sync').waitFor({ state: 'detached' });

  await page.getByRole('button', { name: 'Delete ci pulls' }).click();
  await page.getByRole('dialog', { name: 'Delete token' }).getByRole('button', { name: 'Delete' }).click();
  await page.getByText('Token “ci pulls” deleted.').waitFor();

  await page.getByRole('button', { name: 'Service users' }).click();
  await page.getByRole('heading', { name: 'Service users' }).waitFor();
  await page.getByLabel('New service user').fill('nightly-scan');
  await page.getByRole('button', { name: 'Create' }).click();
  await page.getByRole('row', { name: /nightly-scan/ }).waitFor();
  await check(page, 'service-users');
  await page.getByRole('button', { name: 'Delete service user nightly-scan' }).click();
  await page.getByText('Service user deleted.').waitFor();
  // The message comes first; the list follows when it has been fetched again.
  await page.getByRole('row', { name: /nightly-scan/ }).waitFor({ state: 'detached' });

  await page.getByRole('button', { name: 'Audit log' }).click();
  await page.getByRole('heading', { name: 'Audit log' }).waitFor();
  assert.equal(new URL(page.url()).pathname, '/audit');
  await page.goBack();
  await page.getByRole('heading', { name: 'Service users' }).waitFor();
  await page.reload();
  await page.getByRole('heading', { name: 'Service users' }).waitFor();
  await page.goto(`${base}/audit`);
  const log = await page.locator('tbody').innerText();
  for (const action of ['service_user.delete', 'service_user.create', 'token.delete', 'token.products.sync', 'token.generate']) {
    assert.match(log, new RegExp(action.replace('.', '\\.')), `the audit log lists ${action}`);
  }
  assert.ok(log.indexOf('service_user.delete') < log.indexOf('token.generate'), 'newest first');
  await check(page, 'audit-log');
  assert.deepEqual(page.cspViolations, []);
});

test('the app works at 360 px and client-side routes fall back to the app', async () => {
  const page = await newPage(360);
  await page.goto(`${base}/some/client/route`);
  await page.getByRole('button', { name: /^Carol Admin/ }).click();
  await page.getByRole('heading', { name: 'Registry tokens' }).waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `the page scrolls sideways by ${overflow}px`);
  await check(page, 'tokens-narrow');
  const res = await fetch(`${base}/`);
  assert.match(res.headers.get('content-security-policy'), /script-src 'self' 'wasm-unsafe-eval'/);
  const api404 = await fetch(`${base}/api/v1/nothing`);
  assert.equal(api404.status, 404);
  assert.equal(api404.headers.get('content-type'), 'application/problem+json');
});

test('a subscription that ends within 30 days says so on every page, and each token when it ends', async () => {
  const me = await api('/api/v1/me', 'alice');
  const put = (endDate) => execFileSync(bin, ['project', 'put', '--key', 'acme', '--name', 'Acme Corp', '--end-date', endDate,
    ...me.subscription.products.flatMap((p) => ['--product', p.code])],
  { env: withoutDatabaseUrl({ ...process.env, TOLLGATE_DATA_DIR: data }) });
  const inAWeek = new Date(Date.now() + 7 * 86400000);
  const local = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
  put(local(inAWeek));
  try {
    await api('/api/v1/tokens', 'alice', { method: 'POST', body: JSON.stringify({ name: 'ending soon' }) });
    const page = await newPage();
    await signIn(page, 'Alice Admin');
    const banner = page.getByRole('status').filter({ hasText: 'ends on' });
    await banner.waitFor();
    assert.match(await banner.innerText(), /Acme Corp ends on .* \(in 7 days\): every token stops working then/);
    assert.match(await page.getByRole('row', { name: /ending soon/ }).innerText(), /expires in 7 days/);
    await check(page, 'subscription-ending');
    await page.getByRole('button', { name: 'Audit log' }).click();
    await banner.waitFor();
    await page.context().close();
  } finally {
    put(me.subscription.end_date);
  }
});
