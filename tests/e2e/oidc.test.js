// Single sign-on with an OpenID provider (REQ: ACC-6), against a real one:
// npm's oidc-provider on a loopback port, with a test-driven login and
// consent, and the real atelier binary configured as its client. Each flow
// is walked hop by hop with plain HTTP requests and a hand-kept cookie jar.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { startServer, api, isOpenAIError, BIN } from './lib/server.js';
import { Client, person, birthDate, mails, waitMail, tokenIn, sleep, CHROME_WINDOWS } from './lib/accounts.js';
import { startProvider, freePort, Browser } from './lib/oidc.js';

const CLIENT_ID = 'atelier-e2e';
const CLIENT_SECRET = 'e2e-client-secret-9f8c2b7d1a';

function createUser(dataDir, { email, username, password, role }) {
  return new Promise((res) => {
    const p = spawn(BIN, ['admin', 'create-user', '--email', email, '--username', username,
      '--role', role, '--password-stdin', '--data-dir', dataDir]);
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    p.on('exit', (code) => res({ code, err }));
    p.stdin.end(password + '\n');
  });
}

// RFC 6238 TOTP, independent of the server's C code.
function totp(secret, step) {
  const alpha = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0, acc = 0;
  const key = [];
  for (const ch of secret) {
    acc = (acc << 5) | alpha.indexOf(ch);
    bits += 5;
    if (bits >= 8) { key.push((acc >> (bits - 8)) & 255); bits -= 8; }
  }
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', Buffer.from(key)).update(msg).digest();
  const off = mac[19] & 15;
  const bin = ((mac[off] & 0x7f) << 24) | (mac[off + 1] << 16) | (mac[off + 2] << 8) | mac[off + 3];
  return String(bin % 1e6).padStart(6, '0');
}
const stepNow = () => Math.floor(Date.now() / 1000 / 30);

describe('single sign-on with an OpenID provider', () => {
  let op, srv, base, callbackUrl, adminClient;
  const secrets = [CLIENT_SECRET]; // must never reach atelier's log
  const tag = `${process.pid.toString(36)}${Date.now().toString(36)}`;
  const who = {
    alice: { email: `alice.${tag}@example.org`, email_verified: true },   // has a confirmed account
    bob: { email: `bob.${tag}@example.org`, email_verified: true },       // has no account
    kid: { email: `kid.${tag}@example.org`, email_verified: true },       // no account, too young
    eve: { email: `eve.${tag}@example.org`, email_verified: false },      // provider has not verified
    mallory: { email: `mallory.${tag}@example.org`, email_verified: true }, // local account never confirmed
    tfa: { email: `tfa.${tag}@example.org`, email_verified: true },       // account with two-factor on
  };
  const alice = person({ email: who.alice.email });

  before(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    callbackUrl = `${base}/api/auth/oidc/google/callback`;
    op = await startProvider({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUri: callbackUrl, accounts: who });
    srv = await startServer({
      args: ['--listen', `127.0.0.1:${port}`],
      config: {
        server: { threads: 4 },
        auth: { ip_free_failures: 100000 },
        oidc: { issuer: op.issuer, client_id: CLIENT_ID, client_secret: CLIENT_SECRET, redirect_url: callbackUrl },
      },
    });
    assert.equal(srv.url, base);
    const admin = person({ username: `sso_admin_${tag}` });
    assert.equal((await createUser(srv.dataDir, { ...admin, role: 'admin' })).code, 0);
    adminClient = new Client(base);
    assert.equal((await adminClient.login(admin.username, admin.password)).status, 200);
    // alice signed up with a password and confirmed her email
    const r = await api(base, 'POST', '/api/auth/signup', { body: alice });
    assert.equal(r.status, 201, r.text);
    const v = await api(base, 'POST', '/api/auth/verify', { body: { token: tokenIn(await waitMail(srv.dataDir, alice.email, /Confirm your email/)) } });
    assert.equal(v.status, 200, v.text);
    secrets.push(...Object.values(who).map((w) => w.email));
  });

  after(async () => {
    if (srv) {
      await srv.stop();
      for (const s of secrets) assert.ok(!srv.logs.some((l) => l.includes(s)), `a secret or email reached the log: ${s.slice(0, 6)}…`);
    }
    if (op) await op.stop();
  });

  // Walk from start to the provider and back, stopping before atelier's
  // callback is requested: returns the browser and the callback URL.
  async function toCallback(account, { browser = new Browser(), rewriteAuthorize } = {}) {
    op.account = account;
    const start = await browser.get(`${base}/api/auth/oidc/google/start`);
    assert.equal(start.status, 302, start.text);
    let next = start.location;
    if (rewriteAuthorize) next = rewriteAuthorize(new URL(next)).href;
    const hops = await browser.follow(next, { stop: (h) => h.location.startsWith(callbackUrl) });
    const last = hops[hops.length - 1];
    assert.ok(last.location && last.location.startsWith(callbackUrl), `the provider sends the browser back: ${hops.map((h) => `${h.status} ${h.url}`).join(' → ')} ${last.text.slice(0, 300)}`);
    const cb = new URL(last.location);
    if (cb.searchParams.get('code')) secrets.push(cb.searchParams.get('code'));
    if (cb.searchParams.get('state')) secrets.push(cb.searchParams.get('state'));
    return { browser, callback: cb };
  }

  const me = (browser) => browser.get(`${base}/api/me`);
  const sessionCookie = (browser) => browser.cookie(base, 'atelier_session');
  const audit = async (event) => (await adminClient.req('GET', `/api/admin/audit?event=${event}&limit=1000`)).json.events;

  test('the studio can ask whether Google sign-in is offered', async () => {
    const r = await api(base, 'GET', '/api/auth/methods');
    assert.equal(r.status, 200);
    assert.equal(r.json.google, true);
    assert.equal(r.json.google_start, '/api/auth/oidc/google/start');
  });

  test('start redirects to the authorization endpoint with code, PKCE S256, state and nonce (REQ: ACC-6)', async () => {
    const b = new Browser();
    const r1 = await b.get(`${base}/api/auth/oidc/google/start`);
    const r2 = await b.get(`${base}/api/auth/oidc/google/start`);
    assert.equal(r1.status, 302);
    assert.equal(r1.headers.get('cache-control'), 'no-store');
    const u = new URL(r1.location), u2 = new URL(r2.location);
    assert.equal(`${u.origin}${u.pathname}`, `${op.issuer}/auth`, 'the endpoint from discovery');
    const q = Object.fromEntries(u.searchParams);
    assert.equal(q.response_type, 'code');
    assert.equal(q.scope, 'openid email', 'only the email is asked for');
    assert.equal(q.client_id, CLIENT_ID);
    assert.equal(q.redirect_uri, callbackUrl);
    assert.equal(q.code_challenge_method, 'S256');
    assert.match(q.code_challenge, /^[A-Za-z0-9_-]{43}$/);
    assert.match(q.state, /^[A-Za-z0-9_-]{43}$/);
    assert.match(q.nonce, /^[A-Za-z0-9_-]{43}$/);
    assert.ok(!('client_secret' in q));
    for (const k of ['state', 'nonce', 'code_challenge']) assert.notEqual(q[k], u2.searchParams.get(k), `a fresh ${k} per sign-in`);
  });

  test('a confirmed account signs in through the provider: session, CSRF, new-device alert (REQ: ACC-6, REQ: ACC-9)', async () => {
    const { browser, callback } = await toCallback('alice', { browser: new Browser({ ua: CHROME_WINDOWS }) });
    const before = mails(srv.dataDir).length;
    const r = await browser.get(callback.href);
    assert.equal(r.status, 302, r.text);
    assert.equal(r.location, `${base}/`);
    assert.ok(sessionCookie(browser), 'a session cookie is set');
    const setCookie = r.headers.getSetCookie().join();
    assert.match(setCookie, /HttpOnly/);
    assert.match(setCookie, /SameSite=Lax/);
    const m = await me(browser);
    assert.equal(m.status, 200, m.text);
    assert.equal(m.json.email, alice.email);
    assert.equal(m.json.username, alice.username);
    assert.match(m.json.csrf, /^[A-Za-z0-9_-]{43}$/, 'the session has its CSRF token');
    // a state change with the cookie needs that token
    const c = new Client(base, { ua: CHROME_WINDOWS });
    c.cookie = `atelier_session=${sessionCookie(browser)}`;
    assert.equal((await c.req('POST', '/api/auth/logout', undefined, { csrf: false })).status, 403);
    // the client authenticated with HTTP Basic (the discovery document lists it)
    assert.match(op.tokenRequests.at(-1).authorization || '', /^Basic /);
    // a new browser: alert by mail, as a password sign-in would
    const alert = await waitMail(srv.dataDir, alice.email, /New sign-in/, { after: before });
    assert.match(alert.text, /Chrome on Windows/);
    const ev = (await audit('auth.login')).filter((e) => e.detail && e.detail.via === 'oidc');
    assert.ok(ev.length >= 1, 'the SSO sign-in is audited');

    // the same callback again (a replayed state) is refused and signs nobody in
    const again = await new Browser().get(callback.href);
    assert.equal(again.status, 400, again.text);
    assert.ok(isOpenAIError(again.json));
    assert.match(again.json.error.message, /already used|unknown|expired/);
    assert.deepEqual(again.headers.getSetCookie(), []);
  });

  test('no account: redirected to sign-up with a token that proves the email; sign-up needs no mail (REQ: ACC-6, REQ: ACC-3)', async () => {
    const { browser, callback } = await toCallback('bob');
    const r = await browser.get(callback.href);
    assert.equal(r.status, 302, r.text);
    const loc = new URL(r.location);
    assert.equal(loc.pathname, '/');
    const m = loc.hash.match(/^#\/signup\?sso_token=([A-Za-z0-9_-]{43})$/);
    assert.ok(m, `to the studio's sign-up: ${loc.hash.slice(0, 20)}`);
    const token = m[1];
    secrets.push(token);
    assert.equal(sessionCookie(browser), undefined, 'nobody is signed in');
    assert.equal((await me(browser)).status, 401);
    // nothing was created silently
    const users = async () => (await adminClient.req('GET', `/api/admin/users?email=${encodeURIComponent(who.bob.email)}`)).json.users;
    assert.deepEqual(await users(), []);

    // the studio pre-fills the form
    const p = await api(base, 'POST', '/api/auth/oidc/google/pending', { body: { sso_token: token } });
    assert.equal(p.status, 200, p.text);
    assert.equal(p.json.email, who.bob.email);
    // a token for another email cannot be bent to this one
    const mine = person({ email: `someone.else.${tag}@example.org` });
    let s = await api(base, 'POST', '/api/auth/signup', { body: { ...mine, sso_token: token } });
    assert.equal(s.status, 400, s.text);
    assert.equal(s.json.error.param, 'email');

    const mailsBefore = mails(srv.dataDir).length;
    const bob = person({ email: undefined, username: `bob_${tag}` });
    delete bob.email;
    s = await api(base, 'POST', '/api/auth/signup', { body: { ...bob, sso_token: token } });
    assert.equal(s.status, 201, s.text);
    assert.equal(s.json.email_verification, 'not_needed');
    // used once
    const s2 = await api(base, 'POST', '/api/auth/signup', { body: { ...person(), email: who.bob.email, sso_token: token } });
    assert.equal(s2.status, 400, s2.text);
    assert.equal((await api(base, 'POST', '/api/auth/oidc/google/pending', { body: { sso_token: token } })).status, 400);
    await sleep(300);
    assert.ok(!mails(srv.dataDir).slice(mailsBefore).some((x) => /Confirm your email/.test(x.headers.subject || '')), 'no verification mail');

    // the account is verified: password sign-in works and says so
    const c = new Client(base);
    assert.equal((await c.login(bob.username, bob.password)).status, 200);
    const mm = await c.req('GET', '/api/me');
    assert.equal(mm.json.email, who.bob.email);
    assert.equal(mm.json.email_verified, true);
    assert.equal((await users()).length, 1);
    // and the next Google sign-in finds it
    const again = await toCallback('bob');
    const r2 = await again.browser.get(again.callback.href);
    assert.equal(r2.status, 302, r2.text);
    assert.equal(r2.location, `${base}/`);
    assert.equal((await me(again.browser)).json.username, bob.username);
    const offered = await audit('auth.sso_signup_offered');
    assert.ok(offered.length >= 1);
    assert.ok(offered.every((e) => !JSON.stringify(e).includes('@')), 'no email in the audit');
  });

  test('two-factor authentication is still asked after the provider (REQ: ACC-6, REQ: ACC-5)', async () => {
    const u = person({ email: who.tfa.email });
    assert.equal((await api(base, 'POST', '/api/auth/signup', { body: u })).status, 201);
    const v = await api(base, 'POST', '/api/auth/verify', { body: { token: tokenIn(await waitMail(srv.dataDir, u.email, /Confirm your email/)) } });
    assert.equal(v.status, 200);
    const c = new Client(base);
    assert.equal((await c.login(u.username, u.password)).status, 200);
    const en = await c.req('POST', '/api/auth/2fa/enroll');
    assert.equal(en.status, 200, en.text);
    const step = stepNow();
    assert.equal((await c.req('POST', '/api/auth/2fa/confirm', { code: totp(en.json.secret, step) })).status, 200);

    const t = await toCallback('tfa');
    const r = await t.browser.get(t.callback.href);
    assert.equal(r.status, 302, r.text);
    const m = new URL(r.location).hash.match(/^#\/2fa\?challenge=([A-Za-z0-9_-]{43})$/);
    assert.ok(m, 'to the studio\'s second step');
    secrets.push(m[1]);
    assert.equal(sessionCookie(t.browser), undefined, 'no session before the second factor');
    assert.equal((await me(t.browser)).status, 401);
    const f = await api(base, 'POST', '/api/auth/2fa/verify', { body: { challenge: m[1], code: totp(en.json.secret, step + 1) } });
    assert.equal(f.status, 200, f.text);
    assert.equal(f.json.two_factor_required, false);
  });

  test('a sign-up token does not get round the age rules, and an under-13 refusal keeps nothing (REQ: ACC-6, REQ: AGE-1)', async () => {
    const { browser, callback } = await toCallback('kid');
    const r = await browser.get(callback.href);
    const token = new URL(r.location).hash.match(/sso_token=([A-Za-z0-9_-]{43})/)[1];
    secrets.push(token);
    const s = await api(base, 'POST', '/api/auth/signup', { body: { ...person({ birth_date: birthDate(12) }), email: undefined, sso_token: token } });
    assert.equal(s.status, 422, s.text);
    // the verified email the provider gave is gone with the refusal
    const p = await api(base, 'POST', '/api/auth/oidc/google/pending', { body: { sso_token: token } });
    assert.equal(p.status, 400, p.text);
    // 13 to 17 still need a parent's consent
    const t2 = await toCallback('kid');
    const r2 = await t2.browser.get(t2.callback.href);
    const token2 = new URL(r2.location).hash.match(/sso_token=([A-Za-z0-9_-]{43})/)[1];
    secrets.push(token2);
    const s2 = await api(base, 'POST', '/api/auth/signup', { body: { ...person({ birth_date: birthDate(15) }), email: undefined, sso_token: token2 } });
    assert.equal(s2.status, 422, s2.text);
    assert.equal(s2.json.error.param, 'parent_email');
    assert.equal((await api(base, 'POST', '/api/auth/oidc/google/pending', { body: { sso_token: token2 } })).status, 200, 'still usable with consent');
  });

  test('an unknown or missing state is refused with 400 and nothing stored (REQ: ACC-6)', async () => {
    const { browser, callback } = await toCallback('alice');
    const forged = new URL(callback.href);
    forged.searchParams.set('state', 'A'.repeat(43));
    let r = await browser.get(forged.href);
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error.param, 'state');
    forged.searchParams.delete('state');
    r = await browser.get(forged.href);
    assert.equal(r.status, 400, r.text);
    assert.equal(sessionCookie(browser), undefined);
    // the real state still works once: the forged tries did not use it up
    r = await browser.get(callback.href);
    assert.equal(r.status, 302, r.text);
    assert.ok(sessionCookie(browser));
  });

  test('a code from another flow is refused: PKCE binds it to its own sign-in (REQ: ACC-6)', async () => {
    const a = await toCallback('alice');
    const b = await toCallback('alice');
    const forged = new URL(b.callback.href);
    forged.searchParams.set('code', a.callback.searchParams.get('code'));
    const r = await b.browser.get(forged.href);
    assert.equal(r.status, 400, r.text);
    assert.match(r.json.error.message, /refused the authorization code/);
    assert.equal(sessionCookie(b.browser), undefined);
    assert.equal((await me(b.browser)).status, 401);
    // b's state went with the attempt: its own code cannot follow
    const r2 = await b.browser.get(b.callback.href);
    assert.equal(r2.status, 400, r2.text);
    assert.equal(r2.json.error.param, 'state');
  });

  test('an error from the provider is a clear 400 and uses the state up (REQ: ACC-6)', async () => {
    op.refuse = true;
    let t;
    try {
      t = await toCallback('alice');
    } finally {
      op.refuse = false;
    }
    assert.equal(t.callback.searchParams.get('error'), 'access_denied');
    assert.equal(t.callback.searchParams.get('code'), null);
    const r = await t.browser.get(t.callback.href);
    assert.equal(r.status, 400, r.text);
    assert.match(r.json.error.message, /access_denied/);
    assert.equal(sessionCookie(t.browser), undefined);
    const ev = await audit('auth.sso_refused');
    assert.ok(ev.some((e) => e.detail && e.detail.reason === 'provider_error'), 'refusals are audited');
  });

  test('an ID token for another nonce is refused (REQ: ACC-6)', async () => {
    const t = await toCallback('alice', {
      rewriteAuthorize: (u) => { u.searchParams.set('nonce', 'n'.repeat(43)); return u; },
    });
    const r = await t.browser.get(t.callback.href);
    assert.equal(r.status, 401, r.text);
    assert.match(r.json.error.message, /nonce/);
    assert.equal(sessionCookie(t.browser), undefined);
  });

  test('a tampered ID token is refused (REQ: ACC-6)', async () => {
    const flip = (jwt) => {
      const [h, p, s] = jwt.split('.');
      const i = 20;
      return `${h}.${p}.${s.slice(0, i)}${s[i] === 'A' ? 'B' : 'A'}${s.slice(i + 1)}`;
    };
    const swapEmail = (jwt) => {
      // a payload naming someone else, same length, old signature
      const [h, p, s] = jwt.split('.');
      const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
      claims.email = claims.email.replace('alice', 'bobby');
      return `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
    };
    for (const tamper of [flip, swapEmail]) {
      const t = await toCallback('alice');
      op.tamper = tamper;
      let r;
      try {
        r = await t.browser.get(t.callback.href);
      } finally {
        op.tamper = null;
      }
      assert.equal(r.status, 401, r.text);
      assert.match(r.json.error.message, /signature/);
      assert.equal(sessionCookie(t.browser), undefined);
    }
  });

  test('an email the provider has not verified is refused (REQ: ACC-6)', async () => {
    const t = await toCallback('eve');
    const r = await t.browser.get(t.callback.href);
    assert.equal(r.status, 403, r.text);
    assert.match(r.json.error.message, /not verified/);
    assert.equal(sessionCookie(t.browser), undefined);
  });

  test('an account whose email was never confirmed is not handed over (account pre-hijacking) (REQ: ACC-6)', async () => {
    // someone signed up with mallory's address and never confirmed it
    const squatter = person({ email: who.mallory.email });
    assert.equal((await api(base, 'POST', '/api/auth/signup', { body: squatter })).status, 201);
    const t = await toCallback('mallory');
    const r = await t.browser.get(t.callback.href);
    assert.equal(r.status, 403, r.text);
    assert.match(r.json.error.message, /never confirmed/);
    assert.equal(sessionCookie(t.browser), undefined);
    const ev = await audit('auth.sso_refused');
    assert.ok(ev.some((e) => e.detail && e.detail.reason === 'unconfirmed_account'));
    assert.ok(ev.every((e) => !JSON.stringify(e).includes('@')), 'no email in the audit');
  });
});

describe('single sign-on switched off', () => {
  let srv;
  before(async () => { srv = await startServer({}); });
  after(async () => { await srv.stop(); });

  test('with no client_id the SSO routes answer 404 and the studio hides the button (REQ: ACC-6)', async () => {
    const m = await api(srv.url, 'GET', '/api/auth/methods');
    assert.equal(m.status, 200);
    assert.equal(m.json.google, false);
    assert.equal(m.json.password, true);
    for (const path of ['/api/auth/oidc/google/start', `/api/auth/oidc/google/callback?code=x&state=${'A'.repeat(43)}`]) {
      const r = await fetch(srv.url + path, { redirect: 'manual' });
      assert.equal(r.status, 404, path);
    }
    const p = await api(srv.url, 'POST', '/api/auth/oidc/google/pending', { body: { sso_token: 'A'.repeat(43) } });
    assert.equal(p.status, 404);
    const s = await api(srv.url, 'POST', '/api/auth/signup', { body: { ...person(), sso_token: 'A'.repeat(43) } });
    assert.equal(s.status, 400, 'an SSO token means nothing here');
  });
});

describe('single sign-on: client_secret_post and discovery checks', () => {
  let op, srv, base, callbackUrl;
  const email = `post.${process.pid.toString(36)}@example.org`;

  before(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    callbackUrl = `${base}/api/auth/oidc/google/callback`;
    op = await startProvider({
      clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUri: callbackUrl,
      accounts: { post: { email, email_verified: true } }, authMethod: 'client_secret_post',
    });
    srv = await startServer({
      args: ['--listen', `127.0.0.1:${port}`],
      config: { oidc: { issuer: op.issuer, client_id: CLIENT_ID, client_secret: CLIENT_SECRET, redirect_url: callbackUrl } },
    });
  });
  after(async () => {
    await srv.stop();
    await op.stop();
  });

  test('a provider that takes only client_secret_post gets the secret in the form (REQ: ACC-6)', async () => {
    const u = person({ email });
    assert.equal((await api(base, 'POST', '/api/auth/signup', { body: u })).status, 201);
    const v = await api(base, 'POST', '/api/auth/verify', { body: { token: tokenIn(await waitMail(srv.dataDir, email, /Confirm your email/)) } });
    assert.equal(v.status, 200);
    const b = new Browser();
    const hops = await b.follow(`${base}/api/auth/oidc/google/start`);
    const cb = hops.find((h) => h.url.startsWith(callbackUrl));
    assert.ok(cb, hops.map((h) => `${h.status} ${h.url}`).join(' → '));
    assert.equal(cb.status, 302, cb.text);
    assert.equal(cb.location, `${base}/`);
    assert.equal(op.tokenRequests.length, 1);
    assert.equal(op.tokenRequests[0].authorization, null, 'no Basic header');
    const m = await b.get(`${base}/api/me`);
    assert.equal(m.status, 200, m.text);
    assert.equal(m.json.username, u.username);
  });

  test('a provider that rotates its signing key: the JWKS is fetched again for the new kid (REQ: ACC-6)', async () => {
    const opts = {
      clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUri: callbackUrl,
      accounts: { post: { email, email_verified: true } }, authMethod: 'client_secret_post',
    };
    const port = Number(new URL(op.issuer).port);
    await op.stop();
    op = await startProvider({ ...opts, port, kid: 'rotated-key-2' });
    const b = new Browser();
    const hops = await b.follow(`${base}/api/auth/oidc/google/start`);
    const cb = hops.find((h) => h.url.startsWith(callbackUrl));
    assert.equal(cb.status, 302, cb.text);
    assert.equal(cb.location, `${base}/`);
    assert.equal((await b.get(`${base}/api/me`)).status, 200);
  });

  test('a discovery document naming another issuer is refused (REQ: ACC-6)', async () => {
    // the same provider reached as "localhost": its document says 127.0.0.1
    const other = await startServer({
      config: { oidc: { issuer: op.issuer.replace('127.0.0.1', 'localhost'), client_id: CLIENT_ID, client_secret: CLIENT_SECRET, redirect_url: callbackUrl } },
    });
    try {
      const r = await fetch(`${other.url}/api/auth/oidc/google/start`, { redirect: 'manual' });
      assert.equal(r.status, 422);
      assert.match((await r.json()).error.message, /another issuer/);
    } finally {
      await other.stop();
    }
  });
});
