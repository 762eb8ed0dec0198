// The privacy notice and its companions render the live configuration, so
// they cannot promise what the server does not do.
// REQ: RET-3 (retention periods stated as configured), OPS-1 (sub-processors
// listed publicly), COOK-1 (only essential cookies), PRIV-12 (version and
// effective date shown).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, api, runCli } from './lib/server.js';

const noForeignAssets = (html) => {
  assert.doesNotMatch(html, /<(script|link|img|iframe)[^>]+(src|href)="(https?:)?\/\//i, 'no asset from another host');
  assert.doesNotMatch(html, /<script/i, 'legal pages need no script');
  assert.doesNotMatch(html, /style="/i, 'no inline style (the CSP forbids it)');
};

describe('legal pages from configuration', () => {
  test('the default notice states the default retention and no sub-processors (REQ: PRIV-9)', async () => {
    const srv = await startServer();
    try {
      const r = await api(srv.url, 'GET', '/privacy');
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type'), /^text\/html/);
      assert.match(r.text, /API usage logs<\/td><td>90 days</);
      assert.match(r.text, /Billing records<\/td><td>7 years/);
      assert.match(r.text, /Generated images<\/td><td>until you delete them/);
      assert.match(r.text, /Prompt cache<\/td><td>in memory only, up to 5 minutes after the answer, for your own next request; then wiped/);
      assert.match(r.text, /id="no-subprocessors"/);
      assert.match(r.text, /We do not sell personal data and do not share it with advertisers/);
      assert.match(r.text, /Version 1, effective <time datetime="2026-11-23">/);
      assert.doesNotMatch(r.text, /Coinbase/, 'payments are off: no payment processor named');
      noForeignAssets(r.text);
      const j = await api(srv.url, 'GET', '/legal/subprocessors.json');
      assert.deepEqual(j.json.subprocessors, []);
    } finally { await srv.stop(); }
  });

  test('changing the configuration changes the notice', async () => {
    const srv = await startServer({
      config: {
        privacy: { controller: 'Acme <Studio> & Co', contact_email: 'privacy@acme.test', policy_version: '3', policy_effective: '2027-01-15' },
        retention: { usage_logs: '45d', billing: '10y', images: 'ephemeral' },
        coinbase: { api_key: 'secret-key-value', webhook_secret: 'w' },
        mail: { smtp_url: 'smtp://user:pass@mail.acme.test:587' },
        'model.gpu': { backend: 'openai', base_url: 'https://gpu.acme.test/v1', api_key: 'upstream-secret' },
        'model.local': { backend: 'builtin', path: '/nonexistent/model.gguf', prefix_cache: 0 },
        'subprocessor.hetzner': { purpose: 'hosting', data: 'all data, encrypted', location: 'Germany', since: '2026-01-01' },
      },
    });
    try {
      const r = await api(srv.url, 'GET', '/privacy');
      assert.match(r.text, /API usage logs<\/td><td>45 days</);
      assert.match(r.text, /Billing records<\/td><td>10 years/);
      assert.match(r.text, /not kept unless you choose to keep one/);
      assert.match(r.text, /Prompt cache<\/td><td>none: wiped from memory as each answer ends/, 'prefix_cache = 0');
      assert.match(r.text, /Version 3, effective <time datetime="2027-01-15">/);
      assert.match(r.text, /Acme &lt;Studio&gt; &amp; Co/, 'configuration text is escaped');
      assert.match(r.text, /Coinbase Commerce/);
      assert.match(r.text, /Mail relay mail\.acme\.test:587/);
      assert.match(r.text, /Inference server gpu\.acme\.test/);
      assert.match(r.text, /hetzner/);
      for (const secret of ['secret-key-value', 'upstream-secret', 'user:pass']) assert.ok(!r.text.includes(secret), `no ${secret}`);
      noForeignAssets(r.text);
      const j = await api(srv.url, 'GET', '/legal/subprocessors.json');
      const names = j.json.subprocessors.map((s) => s.name);
      assert.deepEqual(names, ['Coinbase Commerce', 'Mail relay mail.acme.test:587', 'Inference server gpu.acme.test', 'hetzner']);
      assert.equal(j.json.version, '3');
    } finally { await srv.stop(); }
  });

  test('the cookie notice lists only the session cookie', async () => {
    const srv = await startServer();
    try {
      const r = await api(srv.url, 'GET', '/legal/cookies');
      assert.equal(r.status, 200);
      const rows = [...r.text.matchAll(/<tr><td>([^<]+)<\/td>/g)].map((m) => m[1]);
      assert.deepEqual(rows, ['atelier_session']);
      for (const p of ['/legal/subprocessors', '/legal/dpa']) {
        const x = await api(srv.url, 'GET', p);
        assert.equal(x.status, 200, p);
        noForeignAssets(x.text);
      }
    } finally { await srv.stop(); }
  });

  test('a bad effective date stops start-up', async () => {
    await assert.rejects(startServer({ config: { privacy: { policy_effective: 'soon' } } }), /policy_effective must be a date/);
  });
});

test('a policy published with the CLI is the version the notice shows (REQ: PRIV-12)', async () => {
  let srv = await startServer({ keepData: true });
  const dataDir = srv.dataDir;
  await srv.stop();
  const c = await runCli(['privacy', 'publish', '--version', '2', '--effective', '2027-02-01', '--data-dir', dataDir]);
  assert.equal(c.code, 0, c.stderr);
  srv = await startServer({ dataDir });
  try {
    const r = await api(srv.url, 'GET', '/privacy');
    assert.match(r.text, /Version 2, effective <time datetime="2027-02-01">/);
  } finally { await srv.stop(); }
});
