// Browser tests of the portal: Debian's chromium driven by playwright-core against a real
// `tollgate serve` (fresh SQLite database, demo mode). Screenshots go to e2e/screenshots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bin, check, freePort, launch, newPage as pageOf, waitReady } from './browser.mjs';

let server, base, browser, data, receiver, receiverBase;

const withoutDatabaseUrl = (env) => { delete env.TOLLGATE_DATABASE_URL; return env; };

before(async () => {
  data = mkdtempSync(join(tmpdir(), 'tollgate-e2e-'));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  // The portal built into the binary (`make e2e` builds the app first), served by a binary
  // started away from the repository: no TOLLGATE_WEB_DIR.
  // Webhooks go to a receiver on this machine (its own process, verifying signatures with the
  // standardwebhooks package); uses are written every 200 ms.
  receiver = spawn('node', [join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, 'webhooks/receiver.mjs')],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  receiverBase = await new Promise((resolve) => receiver.stdout.once('data', (d) => resolve(String(d).trim().replace(/^ready /, ''))));
  const env = { ...process.env, TOLLGATE_LISTEN: `127.0.0.1:${port}`, TOLLGATE_DATA_DIR: data, TOLLGATE_DEMO: 'true',
    TOLLGATE_LOG: 'warn', TOLLGATE_WEBHOOK_ALLOW_PRIVATE: 'true', TOLLGATE_LAST_USED_FLUSH_MS: '200' };
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
  receiver?.kill('SIGTERM');
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

test('alice adds a webhook, sees its deliveries and sends one again, and reads a token\'s usage', async () => {
  const page = await newPage();
  await signIn(page, 'Alice Admin');
  await page.getByRole('button', { name: 'Webhooks' }).click();
  await page.getByRole('heading', { name: 'Webhooks' }).waitFor();
  assert.equal(new URL(page.url()).pathname, '/webhooks');
  await page.getByText('No webhooks yet.').waitFor();
  const url = `${receiverBase}/hooks/portal`;
  await page.getByLabel('Payload URL').fill(url);
  await page.getByLabel(/token\.created/).check();
  await page.getByLabel(/token\.deleted/).check();
  await check(page, 'webhooks-form');
  await page.getByRole('button', { name: 'Add webhook' }).click();
  const added = page.getByRole('dialog', { name: 'Webhook added' });
  await added.waitFor();
  const secret = (await added.locator('.secret code').innerText()).trim();
  assert.match(secret, /^whsec_[A-Za-z0-9+/]+=*$/);
  await check(page, 'webhook-secret');
  await added.getByRole('button', { name: 'Done' }).click();
  await fetch(`${receiverBase}/control/portal`, { method: 'PUT', body: JSON.stringify({ secret, mode: 'ok' }) });
  const row = page.getByRole('row', { name: new RegExp(url.replace(/[.]/g, '\\.')) });
  await row.waitFor();
  assert.match(await row.innerText(), /token\.created, token\.deleted/);
  assert.ok(!(await page.content()).includes(secret.slice(6)), 'the secret is not on the page once the dialog is closed');

  // A change is delivered, signed; the log shows it, and "Send again" sends the same message.
  const issued = await api('/api/v1/tokens', 'alice', { method: 'POST', body: JSON.stringify({ name: 'hooked' }) });
  const received = async (n) => {
    for (let i = 0; i < 100; i++) {
      const all = (await (await fetch(`${receiverBase}/received`)).json()).filter((r) => r.hook === 'portal');
      if (all.length >= n) return all;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`the receiver did not get ${n} deliveries`);
  };
  const [first] = await received(1);
  assert.equal(first.verified, true);
  assert.equal(first.type, 'token.created');
  await page.getByRole('button', { name: `Deliveries to ${url}` }).click();
  const log = page.getByRole('table', { name: 'Delivery log' });
  await log.getByText('Delivered').waitFor();
  assert.match(await log.innerText(), /token\.created\s+Delivered \(1 attempt\)\s+HTTP 204/);
  await check(page, 'webhook-deliveries');
  await log.getByRole('button', { name: 'Send again: the token.created delivery' }).click();
  await page.getByText('Sent again').waitFor();
  const both = await received(2);
  assert.equal(both[1].id, first.id, 'the same message id');
  assert.equal(both[1].verified, true);

  // Usage: two checks through the gateway, then the chart and the last use.
  for (let i = 0; i < 2; i++) {
    const res = await fetch(`${base}/oauth2/introspect`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from('registry-gateway:demo-gateway-secret').toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: issued.secret }),
    });
    assert.equal((await res.json()).active, true);
  }
  await new Promise((r) => setTimeout(r, 600));
  // A token made 100 days ago and never used is marked (set behind the server's back).
  const old = await api('/api/v1/tokens', 'alice', { method: 'POST', body: JSON.stringify({ name: 'forgotten' }) });
  const past = new Date(Date.now() - 100 * 86400000).toISOString().replace('T', ' ').replace('Z', '');
  execFileSync('python3', ['-c', `import sqlite3,sys; c=sqlite3.connect(sys.argv[1], timeout=10); c.execute("UPDATE tokens SET created_at=? WHERE id=?", (sys.argv[2], sys.argv[3])); c.commit()`,
    join(data, 'tollgate.db'), past, old.token.id]);
  await page.getByRole('button', { name: 'Registry tokens' }).click();
  const forgotten = page.getByRole('row', { name: /forgotten/ });
  await forgotten.getByText('Unused for 90+ days').waitFor();
  assert.doesNotMatch(await page.getByRole('row', { name: /hooked/ }).innerText(), /Unused/);
  await page.getByRole('button', { name: 'Usage of hooked' }).click();
  const usage = page.getByRole('dialog', { name: 'Token usage' });
  await usage.getByTestId('usage-summary').waitFor();
  assert.match(await usage.getByTestId('last-use').innerText(), /Last used .* from 127\.0\.0\.1\./);
  assert.match(await usage.getByTestId('usage-summary').innerText(), /2 in total, most on .* \(2\)/);
  assert.equal(await usage.locator('.bars .bar').count(), 30);
  assert.match(await usage.getByRole('img').getAttribute('aria-label'), /2 in total/);
  await check(page, 'token-usage');
  await usage.getByRole('button', { name: 'Done' }).click();

  // Deleting the webhook: nothing more is sent.
  await page.getByRole('button', { name: 'Webhooks' }).click();
  await page.getByRole('button', { name: `Delete the webhook to ${url}` }).click();
  await page.getByText(`Webhook to ${url} deleted.`).waitFor();
  await page.getByText('No webhooks yet.').waitFor();
  assert.deepEqual(page.cspViolations, []);
  await page.context().close();
});
