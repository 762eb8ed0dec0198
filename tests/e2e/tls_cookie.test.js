// Under native TLS the session cookie is __Host- prefixed and Secure, on
// top of HttpOnly and SameSite=Lax (REQ: ACC-4, COOK-1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, api } from './lib/server.js';
import { person } from './lib/accounts.js';
import { createUser } from './lib/users.js';

test('the session cookie under TLS is __Host-, Secure, HttpOnly, SameSite=Lax', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'atelier-tlsc-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
  const srv = await startServer({ config: { server: { tls_cert: join(dir, 'cert.pem'), tls_key: join(dir, 'key.pem') } } });
  try {
    const p = person();
    const r = await createUser(srv.dataDir, { ...p, role: 'user' });
    assert.equal(r.code, 0, r.err);
    const l = await api(srv.url, 'POST', '/api/auth/login', { body: { login: p.username, password: p.password } });
    assert.equal(l.status, 200, l.text);
    const cookies = l.headers.getSetCookie();
    assert.equal(cookies.length, 1, cookies.join(' | '));
    const c = cookies[0];
    assert.match(c, /^__Host-atelier_session=[A-Za-z0-9_-]{43};/);
    for (const attr of [/;\s*Secure/i, /;\s*HttpOnly/i, /;\s*SameSite=Lax/i, /;\s*Path=\//]) assert.match(c, attr);
    assert.doesNotMatch(c, /Domain=/i, '__Host- cookies carry no Domain');
    const value = c.split(';')[0];
    const me = await api(srv.url, 'GET', '/api/me', { headers: { Cookie: value } });
    assert.equal(me.status, 200, me.text);
    // the unprefixed name is not accepted over TLS
    const plain = await api(srv.url, 'GET', '/api/me', { headers: { Cookie: value.replace('__Host-', '') } });
    assert.equal(plain.status, 401);
  } finally { await srv.stop(); }
});
