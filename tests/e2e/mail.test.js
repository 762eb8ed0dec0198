// Mail: the outbox and its sender, against a real SMTP server (aiosmtpd).
// Messages are queued through the debug route POST /api/debug/mail, the way
// services queue them inside their transactions.
// REQ: ACC-3 (mail part), REQ: ACC-9 (mail delivery), REQ: SEC-3 (outbox sealed)
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, api } from './lib/server.js';
import { startSmtp, freePort, parseMessage } from './lib/smtp.js';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Everything the database files hold, as one string, to look for plaintext.
function dbBytes(dataDir) {
  return readdirSync(dataDir).filter((f) => f.startsWith('atelier.db'))
    .map((f) => readFileSync(join(dataDir, f)).toString('latin1')).join('');
}

async function waitLog(srv, re, timeoutMs = 15000) {
  const t = Date.now();
  while (Date.now() - t < timeoutMs) {
    const l = srv.logs.find((x) => re.test(x));
    if (l) return l;
    await sleep(50);
  }
  throw new Error(`no log line matching ${re} in ${timeoutMs} ms`);
}

describe('mail over SMTP', () => {
  let smtp, srv;
  before(async () => {
    smtp = await startSmtp();
    srv = await startServer({
      config: {
        server: { debug_routes: 'true' },
        mail: { smtp_url: smtp.url, from: 'Atelier Test <noreply@atelier.test>' },
      },
    });
  });
  after(async () => { await srv?.stop(); await smtp?.stop(); });

  test('REQ: ACC-9 a queued message arrives with proper RFC 5322 headers and body', async () => {
    const to = 'alice.smtp@example.org';
    const subject = 'Vérifiez votre adresse — 認証コード for your Atelier account, please';
    const body = 'Hello Alice,\n.a line starting with a dot\n\nnon-ASCII: é ü 漢字 🎨\ntrailing space \n' +
      'a long line ' + 'x'.repeat(150) + ' = sign\nThe end.';
    const r = await api(srv.url, 'POST', '/api/debug/mail', { body: { to, subject, body } });
    assert.equal(r.status, 202, r.text);
    const [m] = await smtp.waitFor(1, { to });
    assert.equal(m.rcpt, to, 'envelope recipient');
    assert.equal(m.mailFrom, 'noreply@atelier.test', 'envelope sender is the From address');
    assert.equal(m.headers.from, 'Atelier Test <noreply@atelier.test>');
    assert.equal(m.headers.to, to);
    assert.equal(m.headers.subject, subject, 'RFC 2047 subject decodes to the original');
    assert.match(m.raw, /^Subject: =\?UTF-8\?B\?/m, 'non-ASCII subject is encoded');
    const date = Date.parse(m.headers.date);
    assert.ok(Math.abs(date - Date.now()) < 120000, `Date header ${m.headers.date} is now`);
    assert.match(m.headers.date, /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d \+0000$/);
    assert.match(m.headers['message-id'], /^<[0-9a-f]{24}@atelier\.test>$/);
    assert.equal(m.headers['mime-version'], '1.0');
    assert.equal(m.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(m.headers['content-transfer-encoding'], 'quoted-printable');
    assert.equal(m.text.replace(/\n$/, ''), body, 'body decodes to exactly what was queued');
    for (const line of m.body.split(/\r?\n/)) assert.ok(line.length <= 76, `line over 76: ${line}`);
    await waitLog(srv, /"event":"mail.sent".*"via":"smtp"/);
  });

  test('REQ: SEC-3 the outbox holds no plaintext and the logs no address or content', async () => {
    const to = 'bob.private@example.org';
    const r = await api(srv.url, 'POST', '/api/debug/mail', { body: { to, subject: 'Secret subject zqx', body: 'Secret body kwv' } });
    assert.equal(r.status, 202);
    await smtp.waitFor(1, { to });
    const bytes = dbBytes(srv.dataDir);
    for (const s of [to, 'Secret subject zqx', 'Secret body kwv']) {
      assert.ok(!bytes.includes(s), `database files must not contain ${s}`);
      assert.ok(!srv.logs.join('\n').includes(s), `logs must not contain ${s}`);
    }
    assert.ok(!srv.logs.join('\n').includes('alice.smtp'), 'logs must not contain an address');
  });

  test('header injection and oversized input are refused with 400/413 and nothing is sent', async () => {
    const before = smtp.messages().length;
    const bad = [
      [{ to: 'eve@example.org\r\nBcc: victim@example.org', subject: 's', body: 'b' }, 400, 'to'],
      [{ to: 'eve@example.org, victim@example.org', subject: 's', body: 'b' }, 400, 'to'],
      [{ to: '<eve@example.org>', subject: 's', body: 'b' }, 400, 'to'],
      [{ to: 'not-an-address', subject: 's', body: 'b' }, 400, 'to'],
      [{ to: 'eve@example.org', subject: 'hi\r\nBcc: victim@example.org', body: 'b' }, 400, null],
      [{ to: 'eve@example.org', subject: 'x'.repeat(501), body: 'b' }, 413, null],
      [{ to: 'eve@example.org', subject: 's' }, 400, 'body'],
    ];
    for (const [b, status, param] of bad) {
      const r = await api(srv.url, 'POST', '/api/debug/mail', { body: b });
      assert.equal(r.status, status, `${JSON.stringify(b).slice(0, 80)} → ${r.text}`);
      if (param) assert.equal(r.json.error.param, param);
    }
    await sleep(500);
    assert.equal(smtp.messages().length, before, 'nothing was sent');
    assert.ok(!smtp.messages().some((m) => /victim/.test(m.raw)));
  });
});

describe('mail retries', () => {
  test('REQ: ACC-9 a message queued while the SMTP server is down is delivered once it is up', async () => {
    const port = await freePort();
    const srv = await startServer({
      config: { server: { debug_routes: 'true' }, mail: { smtp_url: `smtp://127.0.0.1:${port}`, retry_delay: '1s' } },
    });
    let smtp;
    try {
      const r = await api(srv.url, 'POST', '/api/debug/mail', { body: { to: 'carol@example.org', subject: 'Retry', body: 'Delivered late.' } });
      assert.equal(r.status, 202);
      const retry = await waitLog(srv, /"event":"mail.retry"/);
      assert.match(retry, /"reason":"connect"/);
      assert.ok(!retry.includes('carol'), 'retry log names no address');
      smtp = await startSmtp({ port });
      const [m] = await smtp.waitFor(1, { to: 'carol@example.org', timeoutMs: 20000 });
      assert.equal(m.headers.subject, 'Retry');
      assert.equal(m.text.trim(), 'Delivered late.');
      await sleep(300);
      assert.equal(smtp.messages().length, 1, 'delivered exactly once');
    } finally {
      await srv.stop();
      await smtp?.stop();
    }
  });
});

describe('mail without SMTP', () => {
  test('with no smtp_url each message is a 0600 .eml file under DATA_DIR/mail/', async () => {
    const srv = await startServer({ config: { server: { debug_routes: 'true' } } });
    try {
      const r = await api(srv.url, 'POST', '/api/debug/mail', { body: { to: 'dave@example.org', subject: 'Offline', body: 'Written to a file.' } });
      assert.equal(r.status, 202);
      const dir = join(srv.dataDir, 'mail');
      const t = Date.now();
      let files = [];
      while (Date.now() - t < 10000) {
        files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.eml')) : [];
        if (files.length) break;
        await sleep(50);
      }
      assert.equal(files.length, 1);
      assert.equal(statSync(dir).mode & 0o777, 0o700, 'mail directory is 0700');
      const path = join(dir, files[0]);
      assert.equal(statSync(path).mode & 0o777, 0o600, 'message file is 0600');
      const m = parseMessage(readFileSync(path, 'utf8'));
      assert.equal(m.headers.to, 'dave@example.org');
      assert.equal(m.headers.from, 'Atelier <atelier@localhost>');
      assert.equal(m.headers.subject, 'Offline');
      assert.equal(m.text.trim(), 'Written to a file.');
      assert.ok(!readdirSync(dir).some((f) => f.endsWith('.tmp')), 'no temporary file left');
    } finally {
      await srv.stop();
    }
  });

  test('a bad [mail] from or smtp_url refuses to start, naming the key', async () => {
    for (const [k, v] of [['from', 'not an address'], ['smtp_url', 'http://127.0.0.1:25']]) {
      await assert.rejects(startServer({ config: { mail: { [k]: v } } }), new RegExp(`\\[mail\\] ${k}`));
    }
  });
});
