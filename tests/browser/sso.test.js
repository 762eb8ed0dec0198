// Google sign-in in the studio (ACC-6), through a real OpenID provider
// (npm's oidc-provider, started by tests/e2e/lib/oidc.js, which answers its
// own login and consent pages by code), in Debian's chromium.
// The e2e suite's packages provide oidc-provider: scripts/check.sh runs
// `npm ci` in tests/e2e before this suite.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer } from '../e2e/lib/server.js';
import { startProvider, freePort } from '../e2e/lib/oidc.js';

const here = dirname(fileURLToPath(import.meta.url));
const SHOTS = join(resolve(here, '../..'), 'tests/artifacts/screenshots');
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const CLIENT_ID = 'atelier-studio-test';
const CLIENT_SECRET = 'studio-test-secret-0123456789';

describe('Google sign-in in chromium', () => {
  let op, srv, tmp, context, page;
  const requests = [];
  const consoleErrors = [];
  const email = 'ada.sso@example.org';

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    tmp = mkdtempSync(join(tmpdir(), 'atelier-sso-'));
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const callback = `${base}/api/auth/oidc/google/callback`;
    op = await startProvider({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUri: callback,
      accounts: { ada: { email, email_verified: true } } });
    srv = await startServer({
      args: ['--listen', `127.0.0.1:${port}`],
      config: { oidc: { issuer: op.issuer, client_id: CLIENT_ID, client_secret: CLIENT_SECRET, redirect_url: callback } },
    });
    context = await chromium.launchPersistentContext(join(tmp, 'profile'), {
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: ARGS,
    });
    context.on('request', (r) => requests.push(r.url()));
    page = context.pages()[0] || await context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error' && !/^Failed to load resource: the server responded with a status of 4\d\d/.test(m.text())) consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(e.message));
  });

  after(async () => {
    if (context) await context.close();
    if (srv) await srv.stop();
    if (op) await op.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test('no account yet: Google brings the verified email to sign-up; then Google signs in (REQ: ACC-6)', async () => {
    await page.goto(`${srv.url}/#/signin`);
    const google = page.getByRole('link', { name: 'Sign in with Google' });
    await google.waitFor();
    assert.equal(await google.getAttribute('href'), '/api/auth/oidc/google/start');
    await google.click();
    // provider and back: the studio's sign-up, the email shown as confirmed
    await page.getByText(`Email: ${email}, confirmed by Google.`).waitFor();
    assert.ok(!page.url().includes('sso_token'), 'the token leaves the address bar');
    assert.equal(await page.getByLabel('Email', { exact: true }).count(), 0, 'the email is not asked for');
    await page.getByLabel('Username').fill('ada_sso');
    await page.getByLabel('Password').fill('analytical engine notes 1843');
    await page.getByLabel('Date of birth').fill('1985-12-10');
    await page.screenshot({ path: join(SHOTS, 'sso-signup.png'), fullPage: true });
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('heading', { name: 'Account created' }).waitFor();
    await page.getByRole('link', { name: 'Go to sign in' }).click();
    await page.getByRole('link', { name: 'Sign in with Google' }).click();
    await page.getByRole('heading', { name: 'Chat' }).waitFor();
    const me = await page.evaluate(async () => (await fetch('/api/me')).json());
    assert.equal(me.email, email);
    assert.equal(me.username, 'ada_sso');
    assert.equal(me.email_verified, true);
    const studio = (await context.cookies(srv.url)).filter((c) => c.name.startsWith('atelier'));
    assert.deepEqual(studio.map((c) => c.name), ['atelier_session']);
    await page.screenshot({ path: join(SHOTS, 'sso-signed-in.png'), fullPage: true });
  });

  test('only the server and the configured provider were contacted; no console error', () => {
    const allowed = [`${srv.url}/`, `${op.issuer}/`];
    assert.deepEqual(requests.filter((u) => !allowed.some((a) => u.startsWith(a))), []);
    assert.ok(requests.some((u) => u.startsWith(op.issuer)), 'the provider was visited');
    assert.deepEqual(consoleErrors, []);
  });
});
