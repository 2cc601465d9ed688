// Browser tests of the portal signing in with a real OpenID Provider: the certified
// `oidc-provider` package (e2e/oidc/provider.mjs) on a loopback port, and a real `tollgate
// serve` configured for it as docs/identity.md says (no demo mode). Debian's chromium through
// playwright-core signs in on the provider's own login and consent pages.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bin, check, freePort, launch, newPage as pageOf, root, waitReady } from './browser.mjs';

// Short-lived access tokens, so that renewal happens while the tests run.
const ACCESS_TTL = 20;
let server, quiet, provider, providerPort, issuer, base, quietBase, browser, data;

/** Starts the provider (again) on its port with its key: a restart forgets its sessions and refresh tokens. */
async function startProvider() {
  provider = spawn('node', [join(root, 'e2e', 'oidc', 'provider.mjs'), '--port', String(providerPort),
    '--key', join(data, 'provider-key.json'), '--redirect', `${base}/`, '--redirect', `${quietBase}/`, '--refresh',
    '--access-ttl', String(ACCESS_TTL)],
  { stdio: ['ignore', 'pipe', 'ignore'] });
  const lines = createInterface({ input: provider.stdout });
  for await (const line of lines) {
    if (line.startsWith('ready ')) { issuer = line.slice(6).trim(); return; }
  }
  throw new Error('the identity provider did not start');
}

async function stopProvider() {
  const exited = new Promise((ok) => provider.once('exit', ok));
  provider.kill('SIGTERM');
  await exited;
}

async function clientToken(client) {
  const res = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${client}:${client}-secret`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials&scope=tollgate',
  });
  return (await res.json()).access_token;
}

before(async () => {
  data = mkdtempSync(join(tmpdir(), 'tollgate-oidc-'));
  const port = await freePort();
  const quietPort = await freePort();
  providerPort = await freePort();
  base = `http://127.0.0.1:${port}`;
  quietBase = `http://127.0.0.1:${quietPort}`;
  await startProvider();
  // Two nodes on one database: the second signs in with a client that gets no refresh token.
  const serve = async (listen, clientId) => {
    const env = { ...process.env, TOLLGATE_LISTEN: listen, TOLLGATE_DATA_DIR: data, TOLLGATE_LOG: 'warn',
      TOLLGATE_ISSUER: issuer, TOLLGATE_AUDIENCE: 'urn:tollgate', TOLLGATE_OIDC_CLIENT_ID: clientId,
      TOLLGATE_OIDC_SCOPES: 'openid profile email', TOLLGATE_CLAIM_ROLE: 'groups',
      TOLLGATE_ROLE_VALUES: 'customer_admin=tollgate-admins,customer=tollgate-users',
      TOLLGATE_OPERATOR_SUBJECTS: 'subscriptions' };
    for (const key of ['TOLLGATE_DATABASE_URL', 'TOLLGATE_DEMO', 'TOLLGATE_WEB_DIR', 'TOLLGATE_JWKS_URL']) delete env[key];
    const child = spawn(bin, ['serve'], { env, cwd: data, stdio: ['ignore', 'ignore', 'inherit'] });
    await waitReady(`http://${listen}/readyz`);
    return child;
  };
  server = await serve(`127.0.0.1:${port}`, 'tollgate-portal');
  quiet = await serve(`127.0.0.1:${quietPort}`, 'tollgate-portal-norefresh');
  // The vendor's subscription system creates the projects through the operator API.
  const operator = await clientToken('subscriptions');
  for (const [key, name, products] of [['acme', 'Acme Corp', ['wso2am']], ['globex', 'Globex', ['wso2mi']]]) {
    const res = await fetch(`${base}/api/v1/projects/${key}`, {
      method: 'PUT', headers: { authorization: `Bearer ${operator}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name, subscription: { end_date: '2031-12-31', products: products.map((code) => ({ code })) } }),
    });
    assert.equal(res.status, 201, await res.text());
  }
  browser = await launch();
});

after(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
  quiet?.kill('SIGTERM');
  provider?.kill('SIGTERM');
  rmSync(data, { recursive: true, force: true });
});

const newPage = () => pageOf(browser);

/** The provider's own login page, then its consent page when it asks. */
async function providerLogin(page, login) {
  await page.locator('input[name="login"]').waitFor();
  assert.ok(page.url().startsWith(issuer), `on the provider's page: ${page.url()}`);
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill('any password');
  await page.getByRole('button', { name: 'Sign-in' }).click();
  const consent = page.getByRole('button', { name: 'Continue' });
  await Promise.race([consent.waitFor().then(() => consent.click()), page.waitForURL(`${base}/**`)]);
}

const storage = (page) => page.evaluate(() => ({
  bearer: sessionStorage.getItem('tollgate.bearer'), local: localStorage.length,
}));

test('alice signs in at the provider, comes back where she was, generates a token, stays signed in, and signs out everywhere', async () => {
  const page = await newPage();
  await page.goto(`${base}/service-users`);
  const signIn = page.getByRole('button', { name: 'Sign in' });
  await signIn.waitFor();
  assert.match(await page.locator('main').innerText(), /127\.0\.0\.1/);
  await check(page, 'oidc-sign-in');
  await signIn.click();
  await providerLogin(page, 'alice');

  await page.getByRole('heading', { name: 'Service users' }).waitFor();
  assert.equal(page.url(), `${base}/service-users`, 'the code and state left the address bar');
  assert.match(await page.locator('header').innerText(), /Alice Admin · Customer admin · Acme Corp/);
  assert.doesNotMatch(await page.locator('body').innerText(), /Demo mode/);
  const first = await storage(page);
  assert.ok(first.bearer, 'the access token is in session storage');
  assert.equal(first.local, 0, 'nothing in local storage');

  await page.getByRole('button', { name: 'Registry tokens' }).click();
  await page.getByRole('button', { name: 'Generate token' }).click();
  const dialog = page.getByRole('dialog', { name: 'Generate token' });
  await dialog.getByLabel('Token name').fill('cluster');
  await dialog.getByRole('button', { name: 'Generate' }).click();
  const secretDialog = page.getByRole('dialog', { name: 'Your new secret' });
  await secretDialog.waitFor();
  assert.match((await page.getByTestId('secret').innerText()).trim(), /^tgr_/);
  await secretDialog.getByRole('button', { name: 'Done' }).click();
  await page.getByRole('row', { name: /cluster/ }).waitFor();
  await check(page, 'oidc-tokens');

  // The session is renewed with the refresh token before the access token expires, and the
  // renewed token works.
  await page.waitForFunction((old) => sessionStorage.getItem('tollgate.bearer') !== old, first.bearer,
    { timeout: ACCESS_TTL * 1000 });
  await page.waitForTimeout(ACCESS_TTL * 1000 * 0.5);
  await page.getByRole('button', { name: 'Audit log' }).click();
  await page.getByRole('cell', { name: 'cluster' }).first().waitFor();
  assert.ok(!(await page.getByRole('alert').count()), 'no error after the renewal');

  // Sign-out ends the provider's session too: signing in again asks for the login.
  await page.getByRole('button', { name: 'Sign out' }).click();
  const confirm = page.getByRole('button', { name: /sign me out/i });
  await confirm.waitFor();
  await confirm.click();
  await page.waitForURL(`${base}/**`);
  await signIn.waitFor();
  assert.equal((await storage(page)).bearer, null);
  await signIn.click();
  await page.locator('input[name="login"]').waitFor();
  assert.deepEqual(page.cspViolations, []);
  await page.context().close();
});

test('a session the provider no longer honours lands on sign-in with a message, and so does a refused one', async () => {
  const page = await newPage();
  await page.goto(base);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await providerLogin(page, 'dave');
  await page.getByRole('heading', { name: 'Registry tokens' }).waitFor();
  assert.match(await page.locator('header').innerText(), /Dave Customer · Customer · Acme Corp/);

  // The provider restarts and forgets its refresh tokens: the renewal is refused.
  await stopProvider();
  await startProvider();
  const notice = page.getByRole('alert');
  await notice.waitFor({ timeout: ACCESS_TTL * 1000 });
  assert.match(await notice.innerText(), /session has ended.*Sign in again/s);
  await page.getByRole('button', { name: 'Sign in' }).waitFor();
  assert.equal((await storage(page)).bearer, null);
  await check(page, 'oidc-session-ended');

  // Someone the provider signs in but whose groups map to no role of Tollgate.
  await page.getByRole('button', { name: 'Sign in' }).click();
  await providerLogin(page, 'nobody');
  await notice.waitFor();
  assert.match(await notice.innerText(), /`groups` claim maps to no role/);
  assert.equal(await page.getByRole('heading', { name: 'Registry tokens' }).count(), 0);
  assert.deepEqual(page.cspViolations, []);
  await page.context().close();
});

test('without a refresh token, the session is renewed by a new sign-in that returns to the same page', async () => {
  const page = await newPage();
  await page.goto(`${quietBase}/audit`);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await providerLogin(page, 'gina');
  await page.getByRole('heading', { name: 'Audit log' }).waitFor();
  assert.equal(page.url(), `${quietBase}/audit`);
  const first = await storage(page);
  assert.equal(await page.evaluate(() => sessionStorage.getItem('tollgate.refresh')), null, 'no refresh token given');
  // Before the token expires, the portal goes through the provider (whose session is still
  // open) and comes back to the audit log with a new token, with no login form on the way.
  await page.waitForFunction((old) => {
    const now = sessionStorage.getItem('tollgate.bearer');
    return now && now !== old && location.pathname === '/audit';
  }, first.bearer, { timeout: ACCESS_TTL * 1000 });
  await page.getByRole('heading', { name: 'Audit log' }).waitFor();
  assert.match(await page.locator('header').innerText(), /Gina Globex · Customer admin · Globex/);
  assert.equal(await page.getByRole('alert').count(), 0);
  await page.context().close();
});
