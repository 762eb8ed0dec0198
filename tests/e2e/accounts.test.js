// Accounts: sign-up, ages, verification, passwords, sessions, CSRF, API keys,
// roles, audit, brute-force protection and security alerts, against the real
// binary. Mail is read from DATA_DIR/mail/ (no SMTP server configured).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { startServer, runCli, api, isOpenAIError, BIN } from './lib/server.js';
import {
  Client, person, birthDate, mails, waitMail, tokenIn, dbBytes, median, sleep,
  FIREFOX_LINUX, CHROME_WINDOWS,
} from './lib/accounts.js';

// Make a staff account with the CLI, the password on stdin.
function createUser(dataDir, { email, username, password, role }) {
  return new Promise((res) => {
    const p = spawn(BIN, ['admin', 'create-user', '--email', email, '--username', username,
      '--role', role, '--password-stdin', '--data-dir', dataDir]);
    let out = '', err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('exit', (code) => res({ code, out, err }));
    p.stdin.end(password + '\n');
  });
}

// Sign up p and confirm the email with the mailed link; returns the user ID.
async function signupVerified(srv, p) {
  const r = await api(srv.url, 'POST', '/api/auth/signup', { body: p });
  assert.equal(r.status, 201, r.text);
  const m = await waitMail(srv.dataDir, p.email, /Confirm your email/);
  const v = await api(srv.url, 'POST', '/api/auth/verify', { body: { token: tokenIn(m) } });
  assert.equal(v.status, 200, v.text);
  return r.json.id;
}

async function signedIn(srv, p, opts) {
  const c = new Client(srv.url, opts);
  const r = await c.login(p.username, p.password);
  assert.equal(r.status, 200, r.text);
  return c;
}

describe('accounts', () => {
  let srv;
  const secrets = []; // emails, passwords and tokens that must never reach a log line
  let admin, adminClient;

  before(async () => {
    srv = await startServer({
      config: {
        server: { debug_routes: 'true', threads: 4 },
        auth: { ip_free_failures: 100000 },
      },
    });
    admin = person({ username: 'root_admin' });
    const r = await createUser(srv.dataDir, { ...admin, role: 'admin' });
    assert.equal(r.code, 0, r.err);
    adminClient = await signedIn(srv, admin);
    secrets.push(admin.email, admin.password);
  });
  after(async () => { await srv.stop(); });

  const users = async () => {
    const r = await adminClient.req('GET', '/api/admin/users?limit=500');
    assert.equal(r.status, 200, r.text);
    return r.json.users;
  };

  test('sign-up stores the email sealed and mails a single-use verification link (REQ: ACC-1, REQ: ACC-3, REQ: SEC-3)', async () => {
    const p = person({ email: '  Mixed.Case@Example.ORG ', name: 'Ada Lovelace-Unique', phone: '+44 20 7946 0000',
      company: 'Analytical Engines Ltd', billing_address: '12 Example Street\nLondon' });
    secrets.push(p.password, 'mixed.case@example.org');
    const r = await api(srv.url, 'POST', '/api/auth/signup', { body: p });
    assert.equal(r.status, 201, r.text);
    assert.match(r.json.id, /^u_[0-9a-f]{24}$/);
    const m = await waitMail(srv.dataDir, 'mixed.case@example.org', /Confirm your email/);
    const token = tokenIn(m);
    secrets.push(token);
    // the email, the profile and the birth date are nowhere in the database in clear
    const bytes = dbBytes(srv.dataDir);
    for (const s of ['mixed.case@example.org', 'Ada Lovelace-Unique', 'Analytical Engines', '7946 0000', '1990-05-17'])
      assert.ok(!bytes.includes(s), `${s} is stored in clear`);
    const c = await signedIn(srv, p);
    let me = await c.req('GET', '/api/me');
    assert.equal(me.status, 200);
    assert.equal(me.json.email, 'mixed.case@example.org', 'email normalized: trimmed, lower-cased');
    assert.equal(me.json.username, p.username.toLowerCase());
    assert.equal(me.json.email_verified, false);
    assert.equal(me.json.name, 'Ada Lovelace-Unique');
    assert.equal(me.json.billing_address, '12 Example Street\nLondon');
    assert.equal(me.json.role, 'user');
    assert.equal(me.json.age_group, 'adult');
    assert.ok(!('birth_date' in me.json));
    let v = await api(srv.url, 'POST', '/api/auth/verify', { body: { token } });
    assert.equal(v.status, 200, v.text);
    me = await c.req('GET', '/api/me');
    assert.equal(me.json.email_verified, true);
    v = await api(srv.url, 'POST', '/api/auth/verify', { body: { token } });
    assert.equal(v.status, 400, 'a verification token works once');
    assert.match(v.json.error.message, /already been used/);
    v = await api(srv.url, 'POST', '/api/auth/verify', { body: { token: 'A'.repeat(43) } });
    assert.equal(v.status, 400);
  });

  test('under 13: refused with 422, and nothing about the person is stored or logged (REQ: AGE-1)', async () => {
    const before = (await users()).length;
    const personal = async () => (await adminClient.req('GET', '/api/admin/audit?limit=1000')).json.events
      .filter((e) => !e.event.startsWith('admin.')).length;
    const auditBefore = await personal();
    const mailBefore = mails(srv.dataDir).length;
    const p = person({ birth_date: birthDate(13, 1), email: 'young.child.unique@example.org', username: 'young_child_unique' });
    const r = await api(srv.url, 'POST', '/api/auth/signup', { body: { ...p, parent_email: 'mum@example.org', parent_consent: true } });
    assert.equal(r.status, 422, r.text);
    assert.ok(isOpenAIError(r.json));
    assert.equal(r.json.error.param, 'birth_date');
    assert.match(r.json.error.message, /at least 13/);
    assert.equal((await users()).length, before, 'no account row');
    assert.equal(await personal(), auditBefore, 'no audit row about the refused person');
    await sleep(300);
    assert.equal(mails(srv.dataDir).length, mailBefore, 'no mail queued');
    const bytes = dbBytes(srv.dataDir);
    assert.ok(!bytes.includes('young_child_unique') && !bytes.includes('young.child.unique'), 'no trace in the database files');
    assert.ok(!srv.logs.some((l) => /young|mum@example/.test(l)), 'no trace in the log');
  });

  test('13 to 17: a parent or guardian email and consent are required and recorded; the birth date is not kept (REQ: AGE-2, REQ: SEC-7)', async () => {
    const p = person({ birth_date: birthDate(13) });
    let r = await api(srv.url, 'POST', '/api/auth/signup', { body: p });
    assert.equal(r.status, 422);
    assert.equal(r.json.error.param, 'parent_email');
    r = await api(srv.url, 'POST', '/api/auth/signup', { body: { ...p, parent_email: 'guardian.x@example.org' } });
    assert.equal(r.status, 422);
    assert.equal(r.json.error.param, 'parent_consent');
    r = await api(srv.url, 'POST', '/api/auth/signup', { body: { ...p, parent_email: p.email, parent_consent: true } });
    assert.equal(r.status, 422, 'the parent email must not be the child\'s own');
    r = await api(srv.url, 'POST', '/api/auth/signup', { body: { ...p, parent_email: 'Guardian.X@example.org', parent_consent: true } });
    assert.equal(r.status, 201, r.text);
    const m = await waitMail(srv.dataDir, 'guardian.x@example.org', /consent/);
    assert.match(m.text, new RegExp(p.username));
    const c = await signedIn(srv, p);
    const me = await c.req('GET', '/api/me');
    assert.equal(me.json.age_group, 'minor');
    const bytes = dbBytes(srv.dataDir);
    assert.ok(!bytes.includes(p.birth_date), 'birth date not stored');
    assert.ok(!bytes.includes('guardian.x@example.org'), 'parent email sealed');
    const ev = (await adminClient.req('GET', `/api/admin/audit?subject=${r.json.id}&event=account.signup`)).json.events;
    assert.equal(ev.length, 1);
    assert.equal(ev[0].detail.age_group, 'minor');
  });

  test('bad sign-up input gets a specific 4xx and stores nothing (REQ: ACC-1)', async () => {
    const before = (await users()).length;
    const cases = [
      [{ email: 'not-an-email' }, 400, 'email'],
      [{ email: 'a@b' }, 400, 'email'],
      [{ email: 'x y@example.org' }, 400, 'email'],
      [{ username: 'ab' }, 400, 'username'],
      [{ username: 'a'.repeat(33) }, 400, 'username'],
      [{ username: 'has space' }, 400, 'username'],
      [{ username: 'émile' }, 400, 'username'],
      [{ birth_date: '1990-02-30' }, 400, 'birth_date'],
      [{ birth_date: '17/05/1990' }, 400, 'birth_date'],
      [{ birth_date: birthDate(-1) }, 400, 'birth_date'],
      [{ birth_date: undefined }, 400, 'birth_date'],
      [{ password: 12345678 }, 400, 'password'],
      [{ role: 'admin' }, 400, 'role'],
      [{ email_verified: true }, 400, 'email_verified'],
      [{ phone: 'call me maybe' }, 400, 'phone'],
      [{ name: 'x'.repeat(101) }, 400, 'name'],
    ];
    for (const [over, status, param] of cases) {
      const r = await api(srv.url, 'POST', '/api/auth/signup', { body: person(over) });
      assert.equal(r.status, status, `${JSON.stringify(over)}: ${r.text}`);
      assert.equal(r.json.error.param, param, JSON.stringify(over));
    }
    assert.equal((await users()).length, before);
  });

  test('duplicate email or username is refused with 409 and changes nothing (REQ: ACC-1)', async () => {
    const p = person();
    let r = await api(srv.url, 'POST', '/api/auth/signup', { body: p });
    assert.equal(r.status, 201);
    const before = (await users()).length;
    r = await api(srv.url, 'POST', '/api/auth/signup', { body: person({ email: ` ${p.email.toUpperCase()} ` }) });
    assert.equal(r.status, 409, r.text);
    assert.equal(r.json.error.param, 'email');
    // the answer does not say more than a sign-up form must: no ID, no username
    assert.ok(!r.text.includes(p.username) && !r.text.includes('u_'));
    r = await api(srv.url, 'POST', '/api/auth/signup', { body: person({ username: p.username.toUpperCase() }) });
    assert.equal(r.status, 409, 'usernames are unique case-insensitively');
    assert.equal(r.json.error.param, 'username');
    assert.equal((await users()).length, before);
  });

  test('passwords: at least 8 characters, long ones allowed, exact bytes, common ones refused (REQ: ACC-2)', async () => {
    const refuse = async (password, re) => {
      const r = await api(srv.url, 'POST', '/api/auth/signup', { body: person({ password }) });
      assert.equal(r.status, 422, `${password.slice(0, 20)}: ${r.text}`);
      assert.equal(r.json.error.param, 'password');
      assert.match(r.json.error.message, re);
    };
    await refuse('short7!', /at least 8/);
    await refuse('password', /common/);
    await refuse('Sunshine', /common/, 'case-insensitive list check');
    await refuse('qwertyuiop', /common/);
    await refuse('x'.repeat(1025), /longer than 1024/);
    const p0 = person();
    const r0 = await api(srv.url, 'POST', '/api/auth/signup', { body: { ...p0, password: p0.username.toUpperCase() } });
    assert.equal(r0.status, 422, 'the username is no password');
    assert.match(r0.json.error.message, /username or email/);

    // 100 characters: accepted, and every byte counts (no truncation)
    const long = person({ password: 'Ünïcödé-' + 'k7'.repeat(46) });
    assert.equal([...long.password].length, 100);
    let r = await api(srv.url, 'POST', '/api/auth/signup', { body: long });
    assert.equal(r.status, 201, r.text);
    const c = new Client(srv.url);
    r = await c.login(long.username, long.password.slice(0, -1));
    assert.equal(r.status, 401, 'a prefix of the password does not sign in');
    r = await c.login(long.username, long.password.slice(0, -1) + '8');
    assert.equal(r.status, 401, 'the last byte counts');
    r = await c.login(long.username, long.password);
    assert.equal(r.status, 200, r.text);
    // never stored in clear: the hash is Argon2id
    const bytes = dbBytes(srv.dataDir);
    assert.ok(!bytes.includes(long.password.slice(8)));
    assert.match(bytes, /\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    secrets.push(long.password);
  });

  test('sign-in sets an essential HttpOnly SameSite session cookie and a CSRF token (REQ: ACC-4, REQ: COOK-1)', async () => {
    const p = person();
    await signupVerified(srv, p);
    const c = new Client(srv.url);
    const r = await c.login(p.email.toUpperCase(), p.password);
    assert.equal(r.status, 200, r.text);
    assert.equal(c.setCookies.length, 1, 'one cookie, the session');
    const sc = c.setCookies[0];
    assert.match(sc, /^atelier_session=[A-Za-z0-9_-]{43}; /);
    assert.match(sc, /; HttpOnly/);
    assert.match(sc, /; SameSite=Lax/);
    assert.match(sc, /; Path=\//);
    assert.ok(!/Secure/.test(sc), 'no Secure over plain HTTP');
    assert.match(r.json.csrf, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(r.json.two_factor_required, false);
    const t = await c.req('GET', '/api/auth/csrf');
    assert.equal(t.json.csrf, r.json.csrf);
    const me = await c.req('GET', '/api/me');
    assert.equal(me.json.csrf, r.json.csrf);
    // by username too
    assert.equal((await new Client(srv.url).login(p.username, p.password)).status, 200);
    // the cookie value is stored only hashed
    assert.ok(!dbBytes(srv.dataDir).includes(c.cookie.split('=')[1]));
  });

  test('state changes with the cookie need the CSRF token; forged or missing gets 403 and changes nothing (REQ: ACC-4)', async () => {
    const p = person({ name: 'Before' });
    await signupVerified(srv, p);
    const c = await signedIn(srv, p);
    let r = await c.req('PATCH', '/api/me', { name: 'After' }, { csrf: false });
    assert.equal(r.status, 403);
    assert.equal(r.json.error.code, 'csrf_failed');
    r = await c.req('PATCH', '/api/me', { name: 'After' }, { csrf: false, headers: { 'X-CSRF-Token': 'A'.repeat(43) } });
    assert.equal(r.status, 403);
    // another session's token does not work either
    const other = await signedIn(srv, p);
    r = await c.req('PATCH', '/api/me', { name: 'After' }, { csrf: false, headers: { 'X-CSRF-Token': other.csrf } });
    assert.equal(r.status, 403);
    assert.equal((await c.req('GET', '/api/me')).json.name, 'Before');
    r = await c.req('POST', '/api/auth/logout', undefined, { csrf: false });
    assert.equal(r.status, 403, 'logout is a state change too');
    r = await c.req('PATCH', '/api/me', { name: 'After' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.name, 'After');
  });

  test('a tampered, unknown or signed-out session cookie gets 401 (REQ: ACC-4)', async () => {
    const p = person();
    await signupVerified(srv, p);
    const c = await signedIn(srv, p);
    const good = c.cookie;
    const value = good.split('=')[1];
    const flipped = value.slice(0, 10) + (value[10] === 'A' ? 'B' : 'A') + value.slice(11);
    for (const bad of [`atelier_session=${flipped}`, 'atelier_session=short', `atelier_session=${value}x`]) {
      const r = await api(srv.url, 'GET', '/api/me', { headers: { Cookie: bad } });
      assert.equal(r.status, 401, bad);
      assert.equal(r.json.error.code, 'invalid_credentials');
    }
    // public routes still answer a caller with a bad cookie
    assert.equal((await api(srv.url, 'GET', '/healthz', { headers: { Cookie: `atelier_session=${flipped}` } })).status, 200);
    const r = await c.req('POST', '/api/auth/logout');
    assert.equal(r.status, 200);
    assert.match(c.setCookies[0], /Max-Age=0/);
    assert.equal((await api(srv.url, 'GET', '/api/me', { headers: { Cookie: good } })).status, 401, 'signed-out cookie is dead');
  });

  test('sign-in always issues a new session ID; the one the browser came with ends (REQ: ACC-4)', async () => {
    const p = person();
    await signupVerified(srv, p);
    const c = await signedIn(srv, p);
    const first = c.cookie;
    const sid1 = (await c.req('GET', '/api/me/sessions')).json.sessions.find((s) => s.current).id;
    const r = await c.login(p.username, p.password);
    assert.equal(r.status, 200);
    assert.notEqual(c.cookie, first);
    assert.notEqual(r.json.session_id, sid1);
    assert.equal((await api(srv.url, 'GET', '/api/me', { headers: { Cookie: first } })).status, 401);
  });

  test('a user sees their sessions with browser, OS and approximate place, and ends one (REQ: ACC-10)', async () => {
    const p = person();
    await signupVerified(srv, p);
    const a = await signedIn(srv, p, { ua: FIREFOX_LINUX });
    const b = await signedIn(srv, p, { ua: CHROME_WINDOWS });
    const r = await a.req('GET', '/api/me/sessions');
    assert.equal(r.status, 200);
    assert.equal(r.json.sessions.length, 2);
    const mine = r.json.sessions.find((s) => s.current);
    const theirs = r.json.sessions.find((s) => !s.current);
    assert.equal(mine.browser, 'Firefox');
    assert.equal(mine.os, 'Linux');
    assert.equal(theirs.browser, 'Chrome');
    assert.equal(theirs.os, 'Windows');
    assert.equal(mine.place.network, '127.0.0.0/24');
    assert.match(mine.place.note, /approximate/);
    assert.ok(mine.last_seen && mine.created_at);
    // another user cannot end it
    const q = person();
    await signupVerified(srv, q);
    const stranger = await signedIn(srv, q);
    assert.equal((await stranger.req('DELETE', `/api/me/sessions/${theirs.id}`)).status, 404);
    assert.equal((await b.req('GET', '/api/me')).status, 200);
    assert.equal((await a.req('DELETE', `/api/me/sessions/${theirs.id}`)).status, 204);
    assert.equal((await b.req('GET', '/api/me')).status, 401, 'the ended session is refused at once');
    assert.equal((await a.req('DELETE', `/api/me/sessions/${theirs.id}`)).status, 404);
    assert.equal((await a.req('GET', '/api/me/sessions')).json.sessions.length, 1);
  });

  test('PATCH /api/me changes only profile fields; role, email, credits … are refused naming the field (REQ: ACC-1, REQ: ACC-8)', async () => {
    const p = person();
    const id = await signupVerified(srv, p);
    const c = await signedIn(srv, p);
    for (const [field, value] of [['role', 'admin'], ['email', 'x@example.org'], ['credits', 1000000],
      ['id', 'u_0'], ['email_verified', true], ['two_factor_enabled', false], ['owner', 'u_1']]) {
      const r = await c.req('PATCH', '/api/me', { name: 'Sneaky', [field]: value });
      assert.equal(r.status, 400, `${field}: ${r.text}`);
      assert.equal(r.json.error.param, field);
    }
    let me = (await c.req('GET', '/api/me')).json;
    assert.equal(me.role, 'user');
    assert.equal(me.name, null, 'the whole request was refused, nothing half-done');
    assert.equal(me.id, id);
    let r = await c.req('PATCH', '/api/me', { name: 'Grace', phone: '+1 (555) 010-0000', company: null, username: `${p.username}_x` });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.name, 'Grace');
    assert.equal(r.json.username, `${p.username}_x`);
    r = await c.req('PATCH', '/api/me', { username: admin.username });
    assert.equal(r.status, 409);
    r = await c.req('PATCH', '/api/me', { name: null });
    assert.equal(r.json.name, null, 'null clears an optional field');
    r = await c.req('PATCH', '/api/me', { phone: 42 });
    assert.equal(r.status, 400);
    me = (await c.req('GET', '/api/me')).json;
    assert.equal(me.phone, '+1 (555) 010-0000');
  });

  test('API keys: shown once, stored hashed, scoped, last use visible, revoked at once (REQ: ACC-7)', async () => {
    const p = person();
    await signupVerified(srv, p);
    const c = await signedIn(srv, p);
    let r = await c.req('POST', '/api/keys', { name: 'ci', scopes: ['read', 'generate'] });
    assert.equal(r.status, 201, r.text);
    const key = r.json.key;
    secrets.push(key);
    assert.match(key, /^sk-[A-Za-z0-9_-]{43}$/);
    assert.equal(r.json.prefix, key.slice(0, 8));
    assert.deepEqual(r.json.scopes, ['generate', 'read']);
    assert.ok(!dbBytes(srv.dataDir).includes(key.slice(3)), 'the secret is stored only hashed');
    let list = (await c.req('GET', '/api/keys')).json.keys;
    assert.equal(list.length, 1);
    assert.ok(!JSON.stringify(list).includes(key), 'never listed again');
    assert.equal(list[0].last_used, null);
    const bearer = { Authorization: `Bearer ${key}` };
    r = await api(srv.url, 'GET', '/api/me', { headers: bearer });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.username, p.username);
    assert.ok(!('csrf' in r.json), 'keys have no CSRF token');
    list = (await c.req('GET', '/api/keys')).json.keys;
    assert.ok(list[0].last_used, 'last use is visible');
    // a key may not manage keys or the profile (studio-only routes)
    assert.equal((await api(srv.url, 'GET', '/api/keys', { headers: bearer })).status, 403);
    assert.equal((await api(srv.url, 'PATCH', '/api/me', { headers: bearer, body: { name: 'k' } })).status, 403);
    // a key without the route's scope
    r = await c.req('POST', '/api/keys', { name: 'gen only', scopes: ['generate'] });
    const genOnly = r.json.key;
    r = await api(srv.url, 'GET', '/api/me', { headers: { Authorization: `Bearer ${genOnly}` } });
    assert.equal(r.status, 403);
    assert.equal(r.json.error.code, 'insufficient_scope');
    // bad input
    for (const body of [{ name: '', scopes: ['read'] }, { name: 'x', scopes: [] }, { name: 'x', scopes: ['admin'] },
      { name: 'x', scopes: ['read'], expires_at: '2001-01-01' }, { name: 'x', scopes: ['read'], expires_at: 'soon' },
      { name: 'x', scopes: ['read'], user_id: 'u_0' }]) {
      assert.equal((await c.req('POST', '/api/keys', body)).status, 400, JSON.stringify(body));
    }
    // revoke: at once
    const id = (await c.req('GET', '/api/keys')).json.keys.find((k) => k.prefix === key.slice(0, 8)).id;
    const q = person();
    await signupVerified(srv, q);
    const stranger = await signedIn(srv, q);
    assert.equal((await stranger.req('DELETE', `/api/keys/${id}`)).status, 404, 'only the owner revokes');
    assert.equal((await c.req('DELETE', `/api/keys/${id}`)).status, 204);
    r = await api(srv.url, 'GET', '/api/me', { headers: bearer });
    assert.equal(r.status, 401, 'a revoked key is refused');
    assert.equal((await c.req('DELETE', `/api/keys/${id}`)).status, 404);
    const events = (await adminClient.req('GET', `/api/admin/audit?subject=${(await c.req('GET', '/api/me')).json.id}`)).json.events.map((e) => e.event);
    assert.ok(events.includes('key.created') && events.includes('key.revoked'), events.join());
  });

  test('an expired key is refused (REQ: ACC-7)', async () => {
    const p = person();
    await signupVerified(srv, p);
    const c = await signedIn(srv, p);
    const r = await c.req('POST', '/api/keys', { name: 'brief', scopes: ['read'], expires_at: Math.floor(Date.now() / 1000) + 2 });
    assert.equal(r.status, 201, r.text);
    assert.equal((await api(srv.url, 'GET', '/api/me', { headers: { Authorization: `Bearer ${r.json.key}` } })).status, 200);
    await sleep(3100);
    assert.equal((await api(srv.url, 'GET', '/api/me', { headers: { Authorization: `Bearer ${r.json.key}` } })).status, 401);
  });

  test('a malformed Authorization header gets 401 (REQ: ACC-7)', async () => {
    for (const h of ['Basic dXNlcjpwYXNz', 'Bearer', 'Bearer ', 'Bearer abc', 'Bearer sk-short',
      `Bearer sk-${'A'.repeat(43)}`, `Bearer pk-${'A'.repeat(43)}`, `Bearer sk-${'A'.repeat(42)}!`]) {
      const r = await api(srv.url, 'GET', '/api/me', { headers: { Authorization: h } });
      assert.equal(r.status, 401, h);
      assert.ok(isOpenAIError(r.json));
    }
  });

  test('password reset: same answer whether or not the email exists; single-use token; sessions end (REQ: ACC-3, REQ: ACC-9)', async () => {
    const p = person();
    await signupVerified(srv, p);
    const c = await signedIn(srv, p);
    const times = { yes: [], no: [] };
    let yesBody, noBody;
    for (let i = 0; i < 3; i++) {
      let t = Date.now();
      const a = await api(srv.url, 'POST', '/api/auth/password/forgot', { body: { email: p.email } });
      times.yes.push(Date.now() - t);
      t = Date.now();
      const b = await api(srv.url, 'POST', '/api/auth/password/forgot', { body: { email: `nobody.${i}@example.org` } });
      times.no.push(Date.now() - t);
      assert.equal(a.status, 202);
      assert.equal(b.status, 202);
      yesBody = a.text;
      noBody = b.text;
    }
    assert.equal(yesBody, noBody, 'the same body');
    assert.ok(Math.abs(median(times.yes) - median(times.no)) < 100, `similar timing: ${times.yes} vs ${times.no}`);
    const m = await waitMail(srv.dataDir, p.email, /Reset your Atelier password/);
    assert.equal(mails(srv.dataDir).filter((x) => (x.headers.to || '').includes(p.email) && /Reset/.test(x.headers.subject)).length, 1,
      'one reset mail a minute, however often asked');
    const token = tokenIn(m);
    secrets.push(token);
    // a weak password is refused and leaves the token usable
    let r = await api(srv.url, 'POST', '/api/auth/password/reset', { body: { token, password: 'password' } });
    assert.equal(r.status, 422);
    const fresh = `new-${p.password}-2`;
    secrets.push(fresh);
    r = await api(srv.url, 'POST', '/api/auth/password/reset', { body: { token, password: fresh } });
    assert.equal(r.status, 200, r.text);
    assert.equal((await c.req('GET', '/api/me')).status, 401, 'sessions end at a reset');
    r = await api(srv.url, 'POST', '/api/auth/password/reset', { body: { token, password: `${fresh}-3` } });
    assert.equal(r.status, 400, 'the token works once');
    assert.match(r.json.error.message, /already been used/);
    assert.equal((await new Client(srv.url).login(p.username, p.password)).status, 401, 'the old password is gone');
    assert.equal((await new Client(srv.url).login(p.username, fresh)).status, 200);
    await waitMail(srv.dataDir, p.email, /password was changed/);
    r = await api(srv.url, 'POST', '/api/auth/password/reset', { body: { token: 'x', password: fresh } });
    assert.equal(r.status, 400);
  });

  test('password change needs the current password, ends other sessions and sends an alert (REQ: ACC-2, REQ: ACC-9)', async () => {
    const p = person();
    await signupVerified(srv, p);
    const a = await signedIn(srv, p);
    const b = await signedIn(srv, p);
    const before = mails(srv.dataDir).length;
    let r = await a.req('POST', '/api/auth/password/change', { current_password: 'wrong-wrong-wrong', new_password: `${p.password}-new` });
    assert.equal(r.status, 403);
    assert.equal(r.json.error.param, 'current_password');
    r = await a.req('POST', '/api/auth/password/change', { current_password: p.password, new_password: 'iloveyou' });
    assert.equal(r.status, 422);
    r = await a.req('POST', '/api/auth/password/change', { current_password: p.password, new_password: `${p.password}-new` });
    assert.equal(r.status, 200, r.text);
    assert.equal((await a.req('GET', '/api/me')).status, 200, 'this session stays');
    assert.equal((await b.req('GET', '/api/me')).status, 401, 'the others end');
    await waitMail(srv.dataDir, p.email, /password was changed/, { after: before });
  });

  test('security alerts: new device sign-in and new API key, not a known device (REQ: ACC-9)', async () => {
    const p = person();
    const r0 = await api(srv.url, 'POST', '/api/auth/signup', { body: p, headers: { 'User-Agent': FIREFOX_LINUX } });
    assert.equal(r0.status, 201);
    const start = mails(srv.dataDir).length;
    const a = await signedIn(srv, p, { ua: FIREFOX_LINUX });
    await sleep(400);
    assert.ok(!mails(srv.dataDir).slice(start).some((m) => /New sign-in/.test(m.headers.subject)), 'the sign-up device is known');
    await signedIn(srv, p, { ua: CHROME_WINDOWS });
    const m = await waitMail(srv.dataDir, p.email, /New sign-in/, { after: start });
    assert.match(m.text, /Chrome on Windows/);
    assert.match(m.text, /127\.0\.0\.0\/24/);
    const n = mails(srv.dataDir).length;
    await signedIn(srv, p, { ua: CHROME_WINDOWS });
    await sleep(400);
    assert.ok(!mails(srv.dataDir).slice(n).some((x) => /New sign-in/.test(x.headers.subject)), 'a known device sends nothing');
    await a.req('POST', '/api/keys', { name: 'deploy', scopes: ['generate'] });
    const k = await waitMail(srv.dataDir, p.email, /API key/, { after: n });
    assert.match(k.text, /deploy/);
    assert.ok(!/sk-[A-Za-z0-9_-]{20}/.test(k.text), 'the secret is never mailed');
  });

  test('sign-in failure says nothing about whether the account exists: same status, body and similar time (REQ: ACC-2)', async () => {
    const accounts = [];
    for (let i = 0; i < 5; i++) {
      const p = person();
      const r = await api(srv.url, 'POST', '/api/auth/signup', { body: p });
      assert.equal(r.status, 201);
      accounts.push(p);
    }
    const t = { known: [], unknown: [] };
    let kb, ub;
    for (let i = 0; i < accounts.length; i++) {
      let s = Date.now();
      const a = await api(srv.url, 'POST', '/api/auth/login', { body: { login: accounts[i].email, password: 'wrong-password-123' } });
      t.known.push(Date.now() - s);
      s = Date.now();
      const b = await api(srv.url, 'POST', '/api/auth/login', { body: { login: `ghost.${i}.${Date.now()}@example.org`, password: 'wrong-password-123' } });
      t.unknown.push(Date.now() - s);
      assert.equal(a.status, 401);
      assert.equal(b.status, 401);
      kb = a.json; ub = b.json;
    }
    assert.deepEqual(kb, ub);
    const mk = median(t.known), mu = median(t.unknown);
    assert.ok(Math.abs(mk - mu) < Math.max(mk, mu) * 0.5 + 10, `similar timing: ${t.known} vs ${t.unknown}`);
    assert.ok(mu >= 5, `an unknown account still pays an Argon2id hash (${mu} ms)`);
  });

  test('repeated failures lock the account out for a while, the same for unknown accounts (REQ: ACC-2, REQ: SEC-4)', async () => {
    const p = person();
    await signupVerified(srv, p);
    const ghost = `ghost.lock.${Date.now()}@example.org`;
    const seq = async (login, password) => {
      const out = [];
      for (let i = 0; i < 6; i++) out.push((await api(srv.url, 'POST', '/api/auth/login', { body: { login, password } })).status);
      return out;
    };
    const real = await seq(p.email, 'not-the-password');
    const fake = await seq(ghost, 'not-the-password');
    assert.deepEqual(real, [401, 401, 401, 401, 401, 429], real.join());
    assert.deepEqual(fake, real, 'an unknown account is throttled the same way');
    const r = await api(srv.url, 'POST', '/api/auth/login', { body: { login: p.email, password: p.password } });
    assert.equal(r.status, 429, 'even the right password waits out the delay');
    const ra = Number(r.headers.get('retry-after'));
    assert.ok(ra >= 1 && ra <= 2, `Retry-After ${ra}`);
    assert.equal(r.json.error.code, 'too_many_attempts');
    await sleep(ra * 1000 + 200);
    assert.equal((await api(srv.url, 'POST', '/api/auth/login', { body: { login: p.email, password: p.password } })).status, 200);
    const ev = (await adminClient.req('GET', '/api/admin/audit?event=auth.login_failed&limit=1000')).json.events;
    assert.ok(ev.length >= 10);
    assert.ok(ev.every((e) => e.detail === null), 'no login, email or password in the audit');
  });

  test('roles: admins change roles (audited, sessions renewed); support may search but not change roles (REQ: ACC-8, REQ: SEC-5)', async () => {
    const p = person();
    const id = await signupVerified(srv, p);
    const c = await signedIn(srv, p);
    assert.equal((await c.req('GET', '/api/admin/users')).status, 403);
    assert.equal((await c.req('PATCH', `/api/admin/users/${id}`, { role: 'admin' })).status, 403, 'no self-promotion');
    let r = await adminClient.req('GET', `/api/admin/users?q=${p.username.slice(0, 12)}`);
    assert.equal(r.status, 200);
    assert.ok(r.json.users.some((u) => u.id === id));
    assert.ok(!JSON.stringify(r.json).includes(p.email), 'no email in the list');
    r = await adminClient.req('GET', `/api/admin/users?email=${encodeURIComponent(p.email.toUpperCase())}`);
    assert.equal(r.json.users.length, 1);
    assert.equal(r.json.users[0].id, id);
    r = await adminClient.req('PATCH', `/api/admin/users/${id}`, { role: 'superuser' });
    assert.equal(r.status, 400);
    r = await adminClient.req('PATCH', `/api/admin/users/${id}`, { role: 'support', credits: 5 });
    assert.equal(r.status, 400);
    r = await adminClient.req('PATCH', '/api/admin/users/u_000000000000000000000000', { role: 'support' });
    assert.equal(r.status, 404);
    r = await adminClient.req('PATCH', `/api/admin/users/${id}`, { role: 'support' });
    assert.equal(r.status, 200, r.text);
    assert.equal((await c.req('GET', '/api/me')).status, 401, 'a change of privilege ends the sessions');
    const s = await signedIn(srv, p);
    assert.equal((await s.req('GET', '/api/me')).json.role, 'support');
    assert.equal((await s.req('GET', '/api/admin/users')).status, 200, 'support can search');
    assert.equal((await s.req('PATCH', `/api/admin/users/${id}`, { role: 'admin' })).status, 403, 'support cannot change roles');
    assert.equal((await s.req('GET', '/api/admin/audit')).status, 403);
    const adminId = (await adminClient.req('GET', '/api/me')).json.id;
    r = await adminClient.req('PATCH', `/api/admin/users/${adminId}`, { role: 'user' });
    assert.equal(r.status, 403, 'no one changes their own role');
    const ev = (await adminClient.req('GET', `/api/admin/audit?subject=${id}&event=admin.role_changed`)).json.events;
    assert.equal(ev.length, 1);
    assert.deepEqual(ev[0].detail, { from: 'user', to: 'support' });
    assert.equal(ev[0].actor, adminId);
    const searches = (await adminClient.req('GET', '/api/admin/audit?event=admin.users_searched')).json.events;
    assert.ok(searches.some((e) => e.actor === id), 'staff searches are audited with who searched');
  });

  test('every non-public route refuses the wrong caller (REQ: ACC-8, REQ: ACC-4, REQ: ACC-7)', async () => {
    const routes = JSON.parse((await runCli(['routes', '--json'])).stdout);
    const u = person();
    await signupVerified(srv, u);
    const user = await signedIn(srv, u);
    const all = (await user.req('POST', '/api/keys', { name: 'all', scopes: ['generate', 'read', 'privacy'] })).json.key;
    const keyWith = {};
    for (const s of ['generate', 'read', 'privacy']) {
      const others = ['generate', 'read', 'privacy'].filter((x) => x !== s);
      keyWith[s] = (await user.req('POST', '/api/keys', { name: `no-${s}`, scopes: others })).json.key;
    }
    let checked = 0;
    for (const rt of routes) {
      if (rt.guard === 'public') continue;
      const path = rt.path.replace(/\{[^}]+\}/g, 'x_0');
      const body = rt.method === 'GET' ? undefined : {};
      const what = `${rt.method} ${rt.path}`;
      let r = await api(srv.url, rt.method, path, { body });
      assert.equal(r.status, 401, `${what} anonymous`);
      if (rt.guard === 'support' || rt.guard === 'admin') {
        r = await user.req(rt.method, path, body);
        assert.equal(r.status, 403, `${what} as a user`);
      }
      if (['session', 'support', 'admin'].includes(rt.guard)) {
        r = await api(srv.url, rt.method, path, { body, headers: { Authorization: `Bearer ${all}` } });
        assert.equal(r.status, 403, `${what} with an API key`);
      }
      if ((rt.guard === 'user' || rt.guard === 'key') && rt.scope !== '-') {
        for (const s of rt.scope.split(',')) {
          r = await api(srv.url, rt.method, path, { body, headers: { Authorization: `Bearer ${keyWith[s]}` } });
          assert.equal(r.status, 403, `${what} with a key lacking ${s}`);
        }
      }
      if (rt.method !== 'GET' && rt.guard !== 'key') {
        r = await adminClient.req(rt.method, path, body, { csrf: false });
        assert.equal(r.status, 403, `${what} without CSRF`);
        assert.equal(r.json.error.code, 'csrf_failed', what);
      }
      checked++;
    }
    assert.ok(checked >= 12, `walked ${checked} routes`);
  });

  test('atelier admin create-user: password from a file or stdin, never argv; policy applies (REQ: ACC-8)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'atelier-cli-'));
    const pwfile = join(dir, 'pw');
    writeFileSync(pwfile, 'support-staff-secret-9\n', { mode: 0o600 });
    let r = await runCli(['admin', 'create-user', '--email', 'help@example.org', '--username', 'helpdesk', '--role', 'support',
      '--password', 'support-staff-secret-9', '--data-dir', srv.dataDir]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /never taken on the command line/);
    r = await createUser(srv.dataDir, { email: 'weak@example.org', username: 'weakstaff', password: 'password', role: 'admin' });
    assert.notEqual(r.code, 0);
    assert.match(r.err, /common/);
    r = await runCli(['admin', 'create-user', '--email', 'help@example.org', '--username', 'helpdesk', '--role', 'support',
      '--password-file', pwfile, '--data-dir', srv.dataDir]);
    assert.equal(r.code, 0, r.stderr);
    const c = new Client(srv.url);
    assert.equal((await c.login('helpdesk', 'support-staff-secret-9')).status, 200);
    const me = (await c.req('GET', '/api/me')).json;
    assert.equal(me.role, 'support');
    assert.equal(me.email_verified, true);
    r = await runCli(['admin', 'create-user', '--email', 'x@example.org', '--username', 'xx_role', '--role', 'root',
      '--password-file', pwfile, '--data-dir', srv.dataDir]);
    assert.notEqual(r.code, 0);
  });

  test('no log line holds an email, password, token or key (REQ: ACC-2, REQ: USE-3)', async () => {
    await sleep(200);
    const all = srv.logs.join('\n');
    for (const s of secrets) assert.ok(!all.includes(s), `a secret reached the log: ${s.slice(0, 6)}…`);
    assert.ok(!/@example\.org/.test(all), 'no email in the log');
    for (const l of srv.logs) JSON.parse(l);
  });
});

describe('session timeouts and expiring tokens', () => {
  let srv;
  before(async () => {
    srv = await startServer({ config: { auth: { session_idle: '2s', session_absolute: '4s', reset_ttl: '1s' } } });
  });
  after(async () => { await srv.stop(); });

  test('a session ends after the idle timeout (REQ: ACC-4)', async () => {
    const p = person();
    await signupVerified(srv, p);
    const c = await signedIn(srv, p);
    assert.equal((await c.req('GET', '/api/me')).status, 200);
    await sleep(2600);
    assert.equal((await c.req('GET', '/api/me')).status, 401);
  });

  test('a session ends at the absolute timeout even when in use (REQ: ACC-4)', async () => {
    const p = person();
    await signupVerified(srv, p);
    const c = await signedIn(srv, p);
    const t0 = Date.now();
    while (Date.now() - t0 < 3000) {
      assert.equal((await c.req('GET', '/api/me')).status, 200, `alive at ${Date.now() - t0} ms`);
      await sleep(700);
    }
    await sleep(Math.max(0, 4300 - (Date.now() - t0)));
    assert.equal((await c.req('GET', '/api/me')).status, 401);
  });

  test('an expired reset token is refused and the password stays (REQ: ACC-3)', async () => {
    const p = person();
    await signupVerified(srv, p);
    await api(srv.url, 'POST', '/api/auth/password/forgot', { body: { email: p.email } });
    const token = tokenIn(await waitMail(srv.dataDir, p.email, /Reset/));
    await sleep(2100);
    const r = await api(srv.url, 'POST', '/api/auth/password/reset', { body: { token, password: `${p.password}-later` } });
    assert.equal(r.status, 400);
    assert.match(r.json.error.message, /expired/);
    assert.equal((await new Client(srv.url).login(p.username, p.password)).status, 200);
  });
});

describe('brute force per address', () => {
  let srv;
  before(async () => {
    srv = await startServer({ config: { auth: { ip_free_failures: 4, login_free_failures: 100 } } });
  });
  after(async () => { await srv.stop(); });

  test('failures from one address across many accounts slow that address down (REQ: SEC-2, REQ: ACC-2)', async () => {
    const p = person();
    const r0 = await api(srv.url, 'POST', '/api/auth/signup', { body: p });
    assert.equal(r0.status, 201, r0.text);
    const statuses = [];
    for (let i = 0; i < 4; i++)
      statuses.push((await api(srv.url, 'POST', '/api/auth/login', { body: { login: `spray${i}@example.org`, password: 'Summer2024!' } })).status);
    assert.deepEqual(statuses, [401, 401, 401, 401]);
    const r = await api(srv.url, 'POST', '/api/auth/login', { body: { login: p.username, password: p.password } });
    assert.equal(r.status, 429, 'the address waits, whatever account it tries');
    assert.ok(Number(r.headers.get('retry-after')) >= 1);
    await sleep(Number(r.headers.get('retry-after')) * 1000 + 200);
    assert.equal((await api(srv.url, 'POST', '/api/auth/login', { body: { login: p.username, password: p.password } })).status, 200);
  });
});

describe('the Argon2id cap', () => {
  let srv;
  before(async () => {
    srv = await startServer({
      config: {
        server: { threads: 10 },
        // one hash takes well over the 2 s a caller waits for a slot, on any
        // machine, so the other callers are turned away whatever the load
        auth: { argon2_memlimit: '1GiB', argon2_opslimit: 8, hash_concurrency: 1 },
      },
    });
  });
  after(async () => { await srv.stop(); });

  test('a flood of sign-ins runs at most hash_concurrency Argon2id hashes; the rest get 503 with Retry-After (REQ: ACC-2)', async () => {
    const t0 = Date.now();
    // The callers arrive together. Sign-ins hash on the server's worker pool,
    // not on the connection thread that accepted them (libmicrohttpd accepts
    // up to 10 connections per wake-up), so each waits for a hash slot on its
    // own and none waits behind another's hash before it can ask for one.
    const rs = await Promise.all(Array.from({ length: 8 }, (_, i) =>
      api(srv.url, 'POST', '/api/auth/login', { body: { login: `flood${i}@example.org`, password: 'whatever-123' } })));
    const st = rs.map((r) => r.status);
    assert.ok(st.every((s) => s === 401 || s === 503), st.join());
    assert.ok(st.includes(503), `some callers are turned away: ${st.join()} in ${Date.now() - t0} ms`);
    for (const r of rs.filter((x) => x.status === 503)) assert.equal(r.headers.get('retry-after'), '1');
    assert.equal((await api(srv.url, 'GET', '/healthz')).status, 200);
  });
});

describe('password hashing runs beside the connection threads', () => {
  let srv;
  before(async () => {
    srv = await startServer({
      config: {
        server: { threads: 2 }, // and the default 4 workers
        // a hash of a few hundred ms, two at a time: the two cores are busy
        auth: { argon2_memlimit: '256MiB', argon2_opslimit: 3, hash_concurrency: 2 },
      },
    });
  });
  after(async () => { await srv.stop(); });

  test('while a burst of sign-ins hashes, /healthz keeps answering at once (no head-of-line blocking)', async (t) => {
    const login = (i) => api(srv.url, 'POST', '/api/auth/login', { body: { login: `burst${i}@example.org`, password: 'whatever-123' } });
    const health = async () => {
      const t = performance.now();
      const r = await api(srv.url, 'GET', '/healthz');
      assert.equal(r.status, 200);
      return performance.now() - t;
    };
    // the time of one hash, alone (an unknown login hashes a dummy, ACC-2)
    const t0 = performance.now();
    assert.equal((await login('x')).status, 401);
    const hash = performance.now() - t0;
    // waves of two sign-ins and a health check arriving together, as on a
    // busy server: a connection thread accepts all it sees at once, so with
    // the hashes run inline a check waits behind its wave's hashes, and
    // later waves find both threads hashing
    const waves = [];
    for (let w = 0; w < 5; w++) {
      waves.push(Promise.all([login(`${w}a`), login(`${w}b`), sleep(1).then(health)]));
      await sleep(120);
    }
    const res = await Promise.all(waves);
    const st = res.flatMap((r) => [r[0].status, r[1].status]);
    assert.ok(st.every((s) => s === 401 || s === 503), st.join());
    const lat = res.map((r) => r[2]);
    const worst = Math.max(...lat);
    t.diagnostic(`one hash ${hash.toFixed(0)} ms; healthz ${lat.map((x) => x.toFixed(0)).join(' ')} ms`);
    assert.ok(worst < hash / 2, `healthz took up to ${worst.toFixed(0)} ms while one hash takes ${hash.toFixed(0)} ms (${lat.map((x) => x.toFixed(0)).join(' ')})`);
  });
});
