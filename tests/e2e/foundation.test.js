// The foundation: the server answers, refuses bad input clearly, keeps
// answering afterwards, stops gracefully, and its configuration refuses typos.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import https from 'node:https';
import { execFileSync } from 'node:child_process';
import { statSync, existsSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, runCli, api, isOpenAIError, ini } from './lib/server.js';

// Send raw bytes on a socket; resolve with everything read until close or timeout.
function raw(port, chunks, { delayMs = 0, waitMs = 8000 } = {}) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let data = '';
    const t0 = Date.now();
    const timer = setTimeout(() => { s.destroy(); resolve({ data, closed: false, ms: Date.now() - t0 }); }, waitMs);
    s.on('data', (d) => (data += d));
    s.on('close', () => { clearTimeout(timer); resolve({ data, closed: true, ms: Date.now() - t0 }); });
    s.on('error', () => {});
    (async () => {
      for (const c of chunks) {
        if (s.destroyed) return;
        s.write(c);
        if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
      }
    })();
  });
}

describe('foundation server', () => {
  let srv;
  before(async () => {
    srv = await startServer({
      config: { server: { debug_routes: 'true', body_limit: '4KiB', upload_limit: '64KiB', request_timeout: '2s', idle_timeout: '2s', threads: 2 } },
    });
  });
  after(async () => { await srv.stop(); });

  const stillAlive = async () => {
    const r = await api(srv.url, 'GET', '/healthz');
    assert.equal(r.status, 200, 'server must still answer /healthz');
  };

  test('healthz answers with security headers and a request ID', async () => {
    const r = await api(srv.url, 'GET', '/healthz');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { status: 'ok' });
    assert.match(r.headers.get('x-request-id'), /^[0-9a-f]{16}$/);
    const csp = r.headers.get('content-security-policy');
    assert.match(csp, /frame-ancestors 'none'/);
    // no third-party source anywhere in the policy: every source is a keyword or data:/blob:
    for (const directive of csp.split(';')) {
      const [, ...sources] = directive.trim().split(/\s+/);
      for (const s of sources) assert.match(s, /^('self'|'none'|data:|blob:)$/, `CSP source ${s}`);
    }
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(r.headers.get('referrer-policy'), 'no-referrer');
    assert.equal(r.headers.get('strict-transport-security'), null, 'no HSTS over plain HTTP');
  });

  test('readyz reports the database', async () => {
    const r = await api(srv.url, 'GET', '/readyz');
    assert.equal(r.status, 200);
    assert.equal(r.json.database, 'ok');
    assert.ok(r.json.schema_version >= 1);
  });

  test('unknown route gives 404 in the OpenAI error shape', async () => {
    const r = await api(srv.url, 'GET', '/v1/nothing-here');
    assert.equal(r.status, 404);
    assert.ok(isOpenAIError(r.json), r.text);
    assert.equal(r.json.error.code, 'not_found');
    await stillAlive();
  });

  test('wrong method gives 405 with Allow', async () => {
    const r = await api(srv.url, 'DELETE', '/healthz');
    assert.equal(r.status, 405);
    assert.equal(r.headers.get('allow'), 'GET');
    assert.ok(isOpenAIError(r.json));
    await stillAlive();
  });

  test('malformed JSON gives 400 naming the position', async () => {
    const r = await api(srv.url, 'POST', '/api/debug/echo', { body: '{"a": 1,, "b": 2}', raw: true, headers: { 'Content-Type': 'application/json' } });
    assert.equal(r.status, 400);
    assert.ok(isOpenAIError(r.json));
    assert.equal(r.json.error.code, 'invalid_json');
    assert.match(r.json.error.message, /line 1, column \d+ \(byte \d+\)/);
    await stillAlive();
  });

  test('a JSON body that is not an object, an empty body, or another media type is refused', async () => {
    let r = await api(srv.url, 'POST', '/api/debug/echo', { body: [1, 2] });
    assert.equal(r.status, 400);
    assert.match(r.json.error.message, /JSON object/);
    r = await api(srv.url, 'POST', '/api/debug/echo', { body: '', raw: true, headers: { 'Content-Type': 'application/json' } });
    assert.equal(r.status, 400);
    r = await api(srv.url, 'POST', '/api/debug/echo', { body: 'a=1', raw: true, headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
    assert.equal(r.status, 415);
    r = await api(srv.url, 'POST', '/api/debug/echo', { body: '{"a":1,"a":2}', raw: true, headers: { 'Content-Type': 'application/json' } });
    assert.equal(r.status, 400, 'duplicate keys are ambiguous and refused');
  });

  test('a valid JSON body is parsed and echoed', async () => {
    const r = await api(srv.url, 'POST', '/api/debug/echo', { body: { hello: 'wörld', n: [1, 2] } });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json.echo, { hello: 'wörld', n: [1, 2] });
  });

  test('a body over the limit gives 413, announced or chunked', async () => {
    const big = JSON.stringify({ pad: 'x'.repeat(5000) });
    let r = await api(srv.url, 'POST', '/api/debug/echo', { body: big, raw: true, headers: { 'Content-Type': 'application/json' } });
    assert.equal(r.status, 413);
    assert.ok(isOpenAIError(r.json));
    // chunked: no Content-Length, so the limit applies while reading
    const body = 'x'.repeat(6000);
    const chunk = body.length.toString(16) + '\r\n' + body + '\r\n0\r\n\r\n';
    const res = await raw(srv.port, ['POST /api/debug/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n' + chunk]);
    assert.match(res.data, /^HTTP\/1\.1 413/);
    await stillAlive();
  });

  test('upload routes take a larger body than the default limit', async () => {
    const r = await api(srv.url, 'POST', '/api/debug/upload', { body: 'y'.repeat(20000), raw: true, headers: { 'Content-Type': 'application/octet-stream' } });
    assert.equal(r.status, 200);
    assert.equal(r.json.bytes, 20000);
    const r2 = await api(srv.url, 'POST', '/api/debug/upload', { body: 'y'.repeat(70000), raw: true, headers: { 'Content-Type': 'application/octet-stream' } });
    assert.equal(r2.status, 413);
  });

  test('headers over the limit are refused', async () => {
    const res = await raw(srv.port, ['GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ' + 'a'.repeat(100000) + '\r\n\r\n']);
    assert.match(res.data, /^HTTP\/1\.1 (431|413|400)/);
    await stillAlive();
  });

  test('a slow (trickled) request is closed by the timeout', async () => {
    const chunks = ['POST /api/debug/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n'];
    for (let i = 0; i < 40; i++) chunks.push('{');
    const res = await raw(srv.port, chunks, { delayMs: 250, waitMs: 9000 });
    assert.equal(res.closed, true, 'connection must be closed by the server');
    assert.ok(res.ms < 8000, `closed after ${res.ms} ms`);
    assert.doesNotMatch(res.data, /^HTTP\/1\.1 200/);
    await stillAlive();
  });

  test('an idle connection that never finishes its headers is closed', async () => {
    const res = await raw(srv.port, ['GET /healthz HTTP/1.1\r\nHost: x\r\n'], { waitMs: 9000 });
    assert.equal(res.closed, true);
    assert.ok(res.ms < 8000, `closed after ${res.ms} ms`);
  });

  test('routes that need a user refuse anonymous and bad credentials', async () => {
    let r = await api(srv.url, 'GET', '/api/debug/whoami');
    assert.equal(r.status, 401);
    assert.equal(r.json.error.type, 'authentication_error');
    r = await api(srv.url, 'GET', '/api/debug/whoami', { headers: { Authorization: 'Bearer sk-not-a-real-key' } });
    assert.equal(r.status, 401);
    // a public route ignores a bad credential rather than refusing
    r = await api(srv.url, 'GET', '/healthz', { headers: { Authorization: 'Bearer nonsense' } });
    assert.equal(r.status, 200);
  });

  test('X-Forwarded-For is ignored from untrusted peers', async () => {
    const r = await api(srv.url, 'POST', '/api/debug/echo', { body: {}, headers: { 'X-Forwarded-For': '203.0.113.9' } });
    assert.equal(r.json.client_ip, '127.0.0.1');
  });

  test('metrics count requests by route and status, with a histogram', async () => {
    await api(srv.url, 'GET', '/healthz');
    const r = await api(srv.url, 'GET', '/metrics');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^text\/plain/);
    assert.match(r.text, /atelier_http_requests_total\{method="GET",route="\/healthz",status="200"\} \d+/);
    assert.match(r.text, /atelier_http_requests_total\{route="unmatched",status="404"\} \d+/);
    assert.match(r.text, /atelier_http_request_duration_seconds_bucket\{method="GET",route="\/healthz",le="\+Inf"\} \d+/);
    assert.match(r.text, /atelier_http_requests_in_flight 1\n/, 'the metrics request itself is in flight');
    assert.doesNotMatch(r.text, /nothing-here/, 'paths never become labels');
  });

  test('openapi.json describes the routes with their guards', async () => {
    const r = await api(srv.url, 'GET', '/openapi.json');
    assert.equal(r.status, 200);
    assert.equal(r.json.openapi, '3.1.0');
    assert.ok(r.json.paths['/healthz'].get);
    assert.equal(r.json.paths['/healthz'].get['x-guard'], 'public');
    assert.equal(r.json.paths['/api/debug/echo'], undefined, 'test-only routes stay hidden');
  });

  test('the landing page is served from the binary under the strict CSP', async () => {
    const r = await fetch(srv.url + '/');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^text\/html/);
    const html = await r.text();
    assert.match(html, /Atelier/);
    assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//, 'no asset from another host');
    assert.doesNotMatch(html, /<script>(?!\s*<\/script>)/, 'no inline script (the CSP forbids it)');
    const etag = r.headers.get('etag');
    assert.ok(etag);
    const r2 = await fetch(srv.url + '/', { headers: { 'If-None-Match': etag } });
    assert.equal(r2.status, 304);
  });

  test('data directory: master key is 0600 and the database exists', async () => {
    const st = statSync(join(srv.dataDir, 'master.key'));
    assert.equal(st.mode & 0o777, 0o600);
    assert.equal(st.size, 32);
    assert.ok(existsSync(join(srv.dataDir, 'atelier.db')));
  });

  test('every log line is one JSON object and holds no request content', async () => {
    const marker = 'MARKER-' + Math.random().toString(36).slice(2);
    await api(srv.url, 'POST', '/api/debug/echo', { body: { secret: marker } });
    await api(srv.url, 'GET', '/healthz?token=' + marker);
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(srv.logs.length > 5);
    for (const line of srv.logs) {
      const j = JSON.parse(line);
      assert.ok(j.time && j.level && j.event, line);
    }
    const all = srv.logs.join('\n');
    assert.ok(!all.includes(marker), 'request content or query must not be logged');
    assert.match(all, /"event":"http.request","rid":"[0-9a-f]{16}","method":"POST","route":"\/api\/debug\/echo","status":200/);
  });
});

describe('trusted proxy', () => {
  test('X-Forwarded-For is believed only from a configured proxy', async () => {
    const srv = await startServer({ config: { server: { debug_routes: 'true', trusted_proxies: '127.0.0.1' } } });
    try {
      const r = await api(srv.url, 'POST', '/api/debug/echo', { body: {}, headers: { 'X-Forwarded-For': '198.51.100.7, 127.0.0.1' } });
      assert.equal(r.json.client_ip, '198.51.100.7');
      const bad = await api(srv.url, 'POST', '/api/debug/echo', { body: {}, headers: { 'X-Forwarded-For': 'not-an-ip' } });
      assert.equal(bad.json.client_ip, '127.0.0.1');
    } finally { await srv.stop(); }
  });
});

describe('graceful stop', () => {
  test('SIGTERM finishes requests in flight, then exits 0', async () => {
    const srv = await startServer({ config: { server: { debug_routes: 'true' } } });
    const pending = api(srv.url, 'GET', '/api/debug/slow?ms=1500');
    await new Promise((r) => setTimeout(r, 300));
    srv.proc.kill('SIGTERM');
    const r = await pending;
    assert.equal(r.status, 200, 'the request in flight completes');
    assert.equal(r.json.slept_ms, 1500);
    const { code } = await srv.stop();
    assert.equal(code, 0);
    await assert.rejects(fetch(srv.url + '/healthz'), 'no longer accepting');
    assert.ok(srv.logs.some((l) => l.includes('"event":"server.stopped"')));
  });
});

describe('TLS', () => {
  test('native TLS serves HTTPS with HSTS when a certificate is configured (REQ: SEC-1)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'atelier-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
    const srv = await startServer({ config: { server: { tls_cert: join(dir, 'cert.pem'), tls_key: join(dir, 'key.pem') } } });
    try {
      assert.match(srv.url, /^https:/);
      const { status, headers, body } = await new Promise((resolve, reject) => {
        https.get(srv.url + '/healthz', { rejectUnauthorized: false }, (res) => {
          let b = '';
          res.on('data', (d) => (b += d));
          res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: b }));
        }).on('error', reject);
      });
      assert.equal(status, 200);
      assert.equal(JSON.parse(body).status, 'ok');
      assert.match(headers['strict-transport-security'], /max-age=\d+/);
    } finally { await srv.stop(); }
  });
});

describe('configuration', () => {
  const cfgFile = (text) => {
    const d = mkdtempSync(join(tmpdir(), 'atelier-cfg-'));
    const p = join(d, 'atelier.ini');
    writeFileSync(p, text);
    return { p, d };
  };

  test('an unknown key stops start-up, naming the key', async () => {
    const { p, d } = cfgFile(ini({ server: { treads: 4 } }));
    const r = await runCli(['serve', '--config', p, '--data-dir', d, '--listen', '127.0.0.1:0']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown key 'treads' in \[server\]/);
  });

  test('an unknown section stops start-up', async () => {
    const { p, d } = cfgFile('[srever]\nlisten = 127.0.0.1:0\n');
    const r = await runCli(['serve', '--config', p, '--data-dir', d]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown section \[srever\]/);
  });

  test('a bad value stops start-up, naming the key', async () => {
    const { p, d } = cfgFile(ini({ server: { body_limit: 'lots' } }));
    const r = await runCli(['serve', '--config', p, '--data-dir', d]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /\[server\] body_limit/);
    const { p: p2 } = cfgFile(ini({ server: { threads: 0 } }));
    const r2 = await runCli(['serve', '--config', p2, '--data-dir', d]);
    assert.equal(r2.code, 2);
    assert.match(r2.stderr, /threads = 0 is out of range/);
  });

  test('an environment override is checked like the file', async () => {
    const d = mkdtempSync(join(tmpdir(), 'atelier-env-'));
    const r = await runCli(['serve', '--data-dir', d, '--listen', '127.0.0.1:0'], { ATELIER_DATABASE_BACKEND: 'oracle' });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /\[database\] backend must be one of sqlite\|postgres \(from ATELIER_DATABASE_BACKEND\)/);
  });

  test('an environment override takes effect', async () => {
    const srv = await startServer({ env: { ATELIER_SERVER_DEBUG_ROUTES: 'true' } });
    try {
      const r = await api(srv.url, 'POST', '/api/debug/echo', { body: { a: 1 } });
      assert.equal(r.status, 200);
    } finally { await srv.stop(); }
  });

  test('a missing config file and bad flags are usage errors', async () => {
    let r = await runCli(['serve', '--config', '/nonexistent/atelier.ini']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /cannot open \/nonexistent\/atelier.ini/);
    r = await runCli(['serve', '--bogus']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown option '--bogus'/);
    r = await runCli(['serve', '--listen']);
    assert.equal(r.code, 2);
    r = await runCli(['frobnicate']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown command 'frobnicate'/);
  });

  test('a group-readable master key is refused', async () => {
    const d = mkdtempSync(join(tmpdir(), 'atelier-key-'));
    writeFileSync(join(d, 'master.key'), Buffer.alloc(32, 7), { mode: 0o644 });
    const r = await runCli(['serve', '--data-dir', d, '--listen', '127.0.0.1:0']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /must not be readable by group or others/);
  });
});

describe('command line', () => {
  test('version, help and routes', async () => {
    let r = await runCli(['version']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^atelier \d+\.\d+\.\d+/);
    r = await runCli(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /serve/);
    r = await runCli(['routes']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /GET\s+\/healthz\s+public/);
    r = await runCli(['routes', '--json']);
    const rows = JSON.parse(r.stdout);
    assert.ok(rows.every((x) => x.method && x.path && x.guard));
  });

  test('config prints the effective configuration and hides secrets', async () => {
    const r = await runCli(['config'], { ATELIER_COINBASE_API_KEY: 'cc-secret-value', ATELIER_SERVER_THREADS: '7' });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\[server\]\nlisten = 127\.0\.0\.1:8080\n/);
    assert.match(r.stdout, /threads = 7\n/);
    assert.match(r.stdout, /api_key = \(set\)/);
    assert.ok(!r.stdout.includes('cc-secret-value'));
    const bad = await runCli(['config'], { ATELIER_SERVER_THREADS: 'many' });
    assert.equal(bad.code, 2);
  });
});
