// Credits with real accounts: the welcome grant, buying through the payment
// provider (a local HTTP server stands in for Coinbase Commerce, which cannot
// be reached from here, and checks exactly what the real API would
// receive), webhooks credited once, receipts, manual grants by admins, and
// usage downloads.
// REQ: PAY-1, PAY-2, PAY-3, PAY-4, PAY-5, USE-2
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHmac } from 'node:crypto';
import { startServer, api, runCli } from './lib/server.js';
import { person } from './lib/accounts.js';
import { createUser, signupVerified, signedIn } from './lib/users.js';

// The stand-in for the provider's charges API: records each request, answers
// like the real one.
function startProvider() {
  const seen = [];
  let n = 0;
  const srv = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      n++;
      const code = `CODE${n}`;
      res.writeHead(201, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ data: { id: `id-${n}`, code, hosted_url: `https://commerce.coinbase.com/charges/${code}`, pricing: {} } }));
    });
  });
  return new Promise((r) => srv.listen(0, '127.0.0.1', () => r({ srv, seen, port: srv.address().port })));
}

const SECRET = 'whsec-credits-e2e';
function webhook(srv, event) {
  const body = JSON.stringify({ id: 7, event });
  const sig = createHmac('sha256', SECRET).update(body).digest('hex');
  return api(srv.url, 'POST', '/webhooks/coinbase', { body, raw: true, headers: { 'Content-Type': 'application/json', 'X-CC-Webhook-Signature': sig } });
}

describe('credits with accounts', () => {
  let srv, provider, alice, aliceClient, aliceId, admin, adminClient;

  before(async () => {
    provider = await startProvider();
    srv = await startServer({
      config: {
        coinbase: { api_url: `http://127.0.0.1:${provider.port}`, api_key: 'cc-test-key', webhook_secret: SECRET },
        credits: { signup_grant: '10' },
        auth: { ip_free_failures: 100000 },
      },
      keepData: true,
    });
    alice = person();
    aliceId = await signupVerified(srv, alice);
    aliceClient = await signedIn(srv, alice);
    admin = person({ username: 'billing_admin' });
    const r = await createUser(srv.dataDir, { ...admin, role: 'admin' });
    assert.equal(r.code, 0, r.err);
    adminClient = await signedIn(srv, admin);
  });
  after(async () => { await srv.stop(); provider.srv.close(); });

  const balance = async (c) => {
    const r = await c.req('GET', '/api/billing/balance');
    assert.equal(r.status, 200, r.text);
    return r.json.credits;
  };

  test('a verified sign-up receives the welcome grant once', async () => {
    assert.equal(await balance(aliceClient), '10.000000');
  });

  test('checkout sends the provider only the amount, the email and a reference', async () => {
    const r = await aliceClient.req('POST', '/api/billing/checkout', { amount: '12.50', currency: 'USD' });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.hosted_url, 'https://commerce.coinbase.com/charges/CODE1');
    assert.equal(r.json.credits, '1250.000000');
    const req = provider.seen.at(-1);
    assert.equal(req.method, 'POST');
    assert.equal(req.url, '/charges');
    assert.equal(req.headers['x-cc-api-key'], 'cc-test-key');
    assert.equal(req.headers['x-cc-version'], '2018-03-22');
    const b = JSON.parse(req.body);
    assert.deepEqual(Object.keys(b).sort(), ['description', 'local_price', 'metadata', 'name', 'pricing_type']);
    assert.deepEqual(b.local_price, { amount: '12.50', currency: 'USD' });
    assert.deepEqual(Object.keys(b.metadata).sort(), ['customer_email', 'ref']);
    assert.equal(b.metadata.customer_email, alice.email);
    assert.ok(!req.body.includes(aliceId), 'no internal identifier leaves');
    assert.ok(!req.body.includes(alice.username), 'no username leaves');
  });

  test('bad checkouts are refused with the field named, and nothing is sent', async () => {
    const before = provider.seen.length;
    const cases = [
      [{ amount: '-5', currency: 'USD' }, 'amount'],
      [{ amount: '0', currency: 'USD' }, 'amount'],
      [{ amount: '1000000', currency: 'USD' }, 'amount'],
      [{ amount: '10', currency: 'DOGE' }, 'currency'],
      [{ amount: 10.5, currency: 'USD' }, 'amount'],
      [{ amount: '10', currency: 'USD', credits: 999 }, 'credits'],
    ];
    for (const [body, param] of cases) {
      const r = await aliceClient.req('POST', '/api/billing/checkout', body);
      assert.equal(r.status, 400, JSON.stringify(body) + r.text);
      assert.equal(r.json.error.param, param, JSON.stringify(body));
    }
    const noCsrf = await aliceClient.req('POST', '/api/billing/checkout', { amount: '5' }, { csrf: false });
    assert.equal(noCsrf.status, 403);
    assert.equal(provider.seen.length, before);
  });

  test('a confirmed charge credits once, even delivered 5 times in parallel', async () => {
    const ev = { id: 'evt-a', type: 'charge:confirmed', data: { code: 'CODE1', metadata: {} } };
    const results = await Promise.all([1, 2, 3, 4, 5].map(() => webhook(srv, ev)));
    assert.deepEqual(results.map((r) => r.status), [200, 200, 200, 200, 200]);
    assert.equal(results.filter((r) => r.json.result === 'credited').length, 1);
    const resolved = await webhook(srv, { id: 'evt-b', type: 'charge:resolved', data: { code: 'CODE1' } });
    assert.equal(resolved.json.result, 'repeat');
    assert.equal(await balance(aliceClient), '1260.000000');
    const rc = await aliceClient.req('GET', '/api/billing/receipts');
    assert.equal(rc.json.receipts.length, 1);
    assert.equal(rc.json.receipts[0].amount, '12.50');
    assert.equal(rc.json.receipts[0].charge, 'CODE1');
  });

  test('admins grant credits by hand, audited; others may not', async () => {
    const no = await aliceClient.req('POST', `/api/admin/users/${aliceId}/credits`, { credits: '5', reason: 'self' });
    assert.equal(no.status, 403);
    const bad = await adminClient.req('POST', `/api/admin/users/${aliceId}/credits`, { credits: '-5', reason: 'x' });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.param, 'credits');
    const ghost = await adminClient.req('POST', '/api/admin/users/nobody/credits', { credits: '5', reason: 'x' });
    assert.equal(ghost.status, 404);
    const ok = await adminClient.req('POST', `/api/admin/users/${aliceId}/credits`, { credits: '2.5', reason: 'support case 17' });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.balance, '1262.500000');
    const audit = await adminClient.req('GET', `/api/admin/audit?subject=${aliceId}`);
    assert.equal(audit.status, 200, audit.text);
    assert.ok(JSON.stringify(audit.json).includes('credits.granted'));
  });

  test('the CLI grants credits too, and refuses nonsense', async () => {
    let c = await runCli(['admin', 'grant', '--user', aliceId, '--credits', '1', '--reason', 'cli test', '--data-dir', srv.dataDir]);
    assert.equal(c.code, 0, c.stderr);
    assert.equal(await balance(aliceClient), '1263.500000');
    c = await runCli(['admin', 'grant', '--user', aliceId, '--credits', 'lots', '--reason', 'x', '--data-dir', srv.dataDir]);
    assert.equal(c.code, 2);
    c = await runCli(['admin', 'grant', '--user', 'nobody', '--credits', '1', '--reason', 'x', '--data-dir', srv.dataDir]);
    assert.equal(c.code, 1);
  });

  test('usage is the caller\'s own, as JSON and as a CSV download', async () => {
    const j = await aliceClient.req('GET', '/api/usage?from=2026-01-01&to=2026-12-31');
    assert.equal(j.status, 200, j.text);
    assert.ok(Array.isArray(j.json.days));
    assert.equal(j.json.totals.calls, 0);
    const c = await aliceClient.req('GET', '/api/usage?format=csv');
    assert.equal(c.status, 200);
    assert.match(c.headers.get('content-type'), /^text\/csv/);
    assert.match(c.headers.get('content-disposition'), /attachment/);
    assert.match(c.text, /^time,endpoint,model,key_id,prompt_tokens,completion_tokens/);
    for (const q of ['?format=xml', '?from=yesterday', '?from=2026-05-01&to=2026-01-01']) {
      const r = await aliceClient.req('GET', '/api/usage' + q);
      assert.equal(r.status, 400, q);
    }
  });
});

test('signup_grant = 0 turns the welcome grant off', async () => {
  const srv = await startServer({ config: { credits: { signup_grant: '0' } } });
  try {
    const p = person();
    await signupVerified(srv, p);
    const c = await signedIn(srv, p);
    const r = await c.req('GET', '/api/billing/balance');
    assert.equal(r.json.credits, '0.000000');
  } finally { await srv.stop(); }
});
