// Buying credits in chromium (PAY-1, PAY-2): the studio asks the server for
// a charge, the browser goes to the payment provider's hosted page, the
// provider's signed webhook credits the account once, and the studio shows
// the new balance and the receipt. Coinbase cannot be reached from here, so
// a local HTTP server plays its API, as in the e2e suite, and the browser's
// visit to the hosted page (https only, the server insists) is answered by
// the test in Coinbase's place.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHmac } from 'node:crypto';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer, runCli, api } from '../e2e/lib/server.js';

const here = dirname(fileURLToPath(import.meta.url));
const SHOTS = join(resolve(here, '../..'), 'tests/artifacts/screenshots');
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const SECRET = 'whsec-studio-checkout';
const HOSTED = 'https://commerce.coinbase.com/charges/';

// The provider: POST /charges answers a charge whose hosted page is served here too.
function startProvider() {
  const seen = [];
  let n = 0;
  const srv = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/charges') {
        seen.push(JSON.parse(body));
        const code = `STUDIO${++n}`;
        res.writeHead(201, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ data: { id: `id-${n}`, code, hosted_url: `https://commerce.coinbase.com/charges/${code}`, pricing: {} } }));
        return;
      }
      res.writeHead(404);
      res.end();
    });
  });
  return new Promise((r) => srv.listen(0, '127.0.0.1', () => r({ srv, seen, origin: `http://127.0.0.1:${srv.address().port}` })));
}

describe('buying credits in chromium', () => {
  let provider, srv, tmp, context, page;
  const requests = [];
  const consoleErrors = [];
  const who = { username: 'buyer_one', email: 'buyer.one@example.org', password: 'credits for everyone 77' };

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    tmp = mkdtempSync(join(tmpdir(), 'atelier-checkout-'));
    provider = await startProvider();
    srv = await startServer({
      config: {
        coinbase: { api_url: provider.origin, api_key: 'cc-test-key', webhook_secret: SECRET },
      },
    });
    writeFileSync(join(tmp, 'pw'), who.password);
    const c = await runCli(['admin', 'create-user', '--email', who.email, '--username', who.username, '--role', 'user',
      '--password-file', join(tmp, 'pw'), '--data-dir', srv.dataDir]);
    assert.equal(c.code, 0, c.stderr);
    context = await chromium.launchPersistentContext(join(tmp, 'profile'), {
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: ARGS,
    });
    context.on('request', (r) => requests.push(r.url()));
    page = context.pages()[0] || await context.newPage();
    await page.route(`${HOSTED}**`, (r) => r.fulfill({ contentType: 'text/html', body: '<!doctype html><title>Pay</title><h1>Hosted checkout</h1>' }));
    page.on('console', (m) => {
      if (m.type() === 'error' && !/^Failed to load resource: the server responded with a status of 4\d\d/.test(m.text())) consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(e.message));
  });

  after(async () => {
    if (context) await context.close();
    if (srv) await srv.stop();
    if (provider) provider.srv.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test('buy: amount checked by the server next to the field, hosted page, webhook, new balance and receipt (REQ: PAY-1, REQ: PAY-2)', async () => {
    await page.goto(`${srv.url}/#/signin`);
    await page.getByLabel('Email or username').fill(who.username);
    await page.getByLabel('Password').fill(who.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('link', { name: 'Credits' }).click();
    await page.getByRole('heading', { name: 'Buy credits' }).waitFor();
    assert.equal(await page.locator('#balance').textContent(), '0 credits', 'accounts made by the CLI get no sign-up grant');
    // an amount the server refuses: its message sits under the field
    await page.getByLabel(/^Amount/).fill('0.001');
    await page.getByRole('button', { name: 'Continue to payment' }).click();
    await page.locator('[data-field="amount"] .field-error').waitFor();
    assert.equal(provider.seen.length, 0, 'nothing was sent to the provider');
    await page.getByLabel(/^Amount/).fill('12.50');
    assert.match(await page.getByText(/^You get/).textContent(), /You get 1250 credits/);
    await page.getByRole('button', { name: 'Continue to payment' }).click();
    await page.waitForURL(HOSTED + 'STUDIO1');
    assert.deepEqual(provider.seen[0].local_price, { amount: '12.50', currency: 'USD' });
    // the provider confirms the charge with a signed webhook
    const body = JSON.stringify({ id: 1, event: { id: 'evt-studio-1', type: 'charge:confirmed', data: { code: 'STUDIO1', metadata: {} } } });
    const sig = createHmac('sha256', SECRET).update(body).digest('hex');
    const w = await api(srv.url, 'POST', '/webhooks/coinbase', { body, raw: true, headers: { 'Content-Type': 'application/json', 'X-CC-Webhook-Signature': sig } });
    assert.equal(w.status, 200, w.text);
    await page.goto(`${srv.url}/#/credits`);
    await page.getByRole('heading', { name: 'Receipts' }).waitFor();
    await page.waitForLoadState('networkidle');
    assert.equal(await page.locator('#balance').textContent(), '1250 credits');
    const receipt = page.locator('table', { hasText: 'Receipts of purchases' });
    assert.match(await receipt.textContent(), /1250/);
    assert.match(await receipt.textContent(), /12\.50 USD/);
    assert.match(await receipt.textContent(), /STUDIO1/);
    await page.screenshot({ path: join(SHOTS, 'credits-bought.png'), fullPage: true });
  });

  test('only the server and, when the user chose to pay, the payment page were visited; no console error', () => {
    const allowed = [`${srv.url}/`, HOSTED];
    assert.deepEqual(requests.filter((u) => !allowed.some((a) => u.startsWith(a))), []);
    assert.deepEqual(consoleErrors, []);
  });
});
