// Two-factor authentication end to end: sign up (mail through aiosmtpd),
// enrol with the otpauth secret, confirm, sign in with a code, replay,
// recovery codes, disable, and the rate limit. REQ: ACC-5, REQ: ACC-9
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { startServer, api } from './lib/server.js';
import { startSmtp } from './lib/smtp.js';

function base32Decode(s) {
  const alpha = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0, acc = 0;
  const out = [];
  for (const ch of s.toUpperCase()) {
    acc = (acc << 5) | alpha.indexOf(ch);
    bits += 5;
    if (bits >= 8) { out.push((acc >> (bits - 8)) & 255); bits -= 8; }
  }
  return Buffer.from(out);
}

// RFC 4226 HOTP, written here independently of the server's C code.
function totp(secret, step) {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', base32Decode(secret)).update(msg).digest();
  const off = mac[19] & 15;
  const bin = ((mac[off] & 0x7f) << 24) | (mac[off + 1] << 16) | (mac[off + 2] << 8) | mac[off + 3];
  return String(bin % 1e6).padStart(6, '0');
}
const stepNow = () => Math.floor(Date.now() / 1000 / 30);

describe('two-factor authentication', () => {
  let smtp, srv;
  const email = 'tfa.user@example.org', username = 'tfauser', password = 'violet-harbor-candle-93';
  let secret, recovery, cookie, csrf;

  const call = (method, path, body, { auth = true } = {}) =>
    api(srv.url, method, path, { body, headers: auth && cookie ? { Cookie: cookie, 'X-CSRF-Token': csrf } : {} });

  async function login() {
    const r = await api(srv.url, 'POST', '/api/auth/login', { body: { login: username, password } });
    assert.equal(r.status, 200, r.text);
    return r;
  }
  function takeCookie(r) {
    const sc = r.headers.get('set-cookie');
    assert.ok(sc, 'a session cookie is set');
    cookie = sc.split(';')[0];
    csrf = r.json.csrf;
  }

  before(async () => {
    smtp = await startSmtp();
    srv = await startServer({ config: { mail: { smtp_url: smtp.url } } });
    const r = await api(srv.url, 'POST', '/api/auth/signup', { body: { email, username, password, birth_date: '1990-04-01' } });
    assert.equal(r.status, 201, r.text);
    const [m] = await smtp.waitFor(1, { to: email });
    const token = m.text.match(/verify\?token=([A-Za-z0-9_-]+)/)[1];
    assert.equal((await api(srv.url, 'POST', '/api/auth/verify', { body: { token } })).status, 200);
    const l = await login();
    assert.equal(l.json.two_factor_required, false);
    takeCookie(l);
  });
  after(async () => { await srv?.stop(); await smtp?.stop(); });

  test('enroll needs a session', async () => {
    const r = await api(srv.url, 'POST', '/api/auth/2fa/enroll', {});
    assert.equal(r.status, 401);
  });

  test('REQ: ACC-5 enroll returns an otpauth URI and a QR code; a wrong first code is refused', async () => {
    const r = await call('POST', '/api/auth/2fa/enroll');
    assert.equal(r.status, 200, r.text);
    assert.match(r.json.otpauth_uri, /^otpauth:\/\/totp\/Atelier:tfauser\?secret=[A-Z2-7]{32}&issuer=Atelier&algorithm=SHA1&digits=6&period=30$/);
    assert.match(r.json.qr_svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    secret = r.json.secret;
    assert.equal(secret, new URL(r.json.otpauth_uri.replace('otpauth:', 'http:')).searchParams.get('secret'));
    const wrong = String((Number(totp(secret, stepNow())) + 1) % 1e6).padStart(6, '0');
    const bad = await call('POST', '/api/auth/2fa/confirm', { code: wrong });
    assert.equal(bad.status, 401, bad.text);
    const malformed = await call('POST', '/api/auth/2fa/confirm', { code: 123456 });
    assert.equal(malformed.status, 400);
    // still off: signing in needs no second factor
    const l = await login();
    assert.equal(l.json.two_factor_required, false);
    takeCookie(l);
  });

  test('REQ: ACC-5 confirm turns it on and returns ten recovery codes; an alert is mailed (ACC-9)', async () => {
    const before = smtp.messages().length;
    const r = await call('POST', '/api/auth/2fa/confirm', { code: totp(secret, stepNow()) });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.enabled, true);
    recovery = r.json.recovery_codes;
    assert.equal(recovery.length, 10);
    assert.equal(new Set(recovery).size, 10);
    for (const c of recovery) assert.match(c, /^[a-z2-7]{5}-[a-z2-7]{5}$/);
    // other mail to the same address (the welcome) may still be arriving:
    // wait for the alert itself
    let alert;
    for (let n = before + 1; !alert && n <= before + 4; n++) {
      const msgs = await smtp.waitFor(n, { to: email });
      alert = msgs.find((m) => /[Tt]wo-factor/.test(m.text));
    }
    assert.ok(alert, 'a two-factor alert was mailed');
    assert.ok(!srv.logs.some((l) => l.includes(secret) || recovery.some((c) => l.includes(c))), 'no secret or code in the logs');
  });

  test('REQ: ACC-5 sign-in needs the code: wrong 401, next step accepted, replay refused', async () => {
    const l = await login();
    assert.equal(l.json.two_factor_required, true);
    assert.ok(!l.headers.get('set-cookie'), 'no session before the second factor');
    const challenge = l.json.challenge;
    const wrong = await api(srv.url, 'POST', '/api/auth/2fa/verify', { body: { challenge, code: '000000' === totp(secret, stepNow()) ? '111111' : '000000' } });
    assert.equal(wrong.status, 401);
    const bogus = await api(srv.url, 'POST', '/api/auth/2fa/verify', { body: { challenge: 'x'.repeat(43), code: totp(secret, stepNow() + 1) } });
    assert.equal(bogus.status, 401, 'unknown challenge');
    // the step confirmed at enrolment is used; one step ahead is inside the window
    const code = totp(secret, stepNow() + 1);
    const ok = await api(srv.url, 'POST', '/api/auth/2fa/verify', { body: { challenge, code } });
    assert.equal(ok.status, 200, ok.text);
    assert.ok(ok.headers.get('set-cookie').includes('HttpOnly'));
    const again = await api(srv.url, 'POST', '/api/auth/2fa/verify', { body: { challenge, code } });
    assert.equal(again.status, 401, 'a used challenge cannot be used twice');
    // a new sign-in with the same code: the step was used, refused
    const l2 = await login();
    const replay = await api(srv.url, 'POST', '/api/auth/2fa/verify', { body: { challenge: l2.json.challenge, code } });
    assert.equal(replay.status, 401, 'replayed code refused');
    // two steps away: outside the window
    const far = await api(srv.url, 'POST', '/api/auth/2fa/verify', { body: { challenge: l2.json.challenge, code: totp(secret, stepNow() + 3) } });
    assert.equal(far.status, 401);
  });

  test('REQ: ACC-5 a recovery code signs in once', async () => {
    const l = await login();
    const r = await api(srv.url, 'POST', '/api/auth/2fa/verify', { body: { challenge: l.json.challenge, recovery_code: recovery[0].toUpperCase().replace('-', ' ') } });
    assert.equal(r.status, 200, r.text);
    takeCookie(r);
    const l2 = await login();
    const again = await api(srv.url, 'POST', '/api/auth/2fa/verify', { body: { challenge: l2.json.challenge, recovery_code: recovery[0] } });
    assert.equal(again.status, 401, 'recovery code is single-use');
  });

  test('REQ: ACC-5 disable needs both the password and a code', async () => {
    const wrongPw = await call('POST', '/api/auth/2fa/disable', { password: 'not-the-password-1', code: totp(secret, stepNow() + 1) });
    assert.equal(wrongPw.status, 401, wrongPw.text);
    const noCode = await call('POST', '/api/auth/2fa/disable', { password });
    assert.equal(noCode.status, 400);
    const wrongCode = await call('POST', '/api/auth/2fa/disable', { password, recovery_code: 'aaaaa-aaaaa' });
    assert.equal(wrongCode.status, 401);
    // still on
    assert.equal((await login()).json.two_factor_required, true);
    const ok = await call('POST', '/api/auth/2fa/disable', { password, recovery_code: recovery[1] });
    assert.equal(ok.status, 200, ok.text);
    const l = await login();
    assert.equal(l.json.two_factor_required, false, 'off after disable');
    takeCookie(l);
  });

  test('REQ: ACC-5 wrong codes are rate limited: 429 even for the right code afterwards', async () => {
    const e = await call('POST', '/api/auth/2fa/enroll');
    assert.equal(e.status, 200);
    const s = e.json.secret;
    const right = totp(s, stepNow());
    const wrong = right === '000000' ? '111111' : '000000';
    for (let i = 0; i < 5; i++) assert.equal((await call('POST', '/api/auth/2fa/confirm', { code: wrong })).status, 401);
    const r = await call('POST', '/api/auth/2fa/confirm', { code: right });
    assert.equal(r.status, 429, r.text);
    assert.ok(r.headers.get('retry-after'));
    assert.equal((await login()).json.two_factor_required, false, 'nothing was turned on');
  });
});
