// The privacy center against the real binary, with real SMTP (aiosmtpd):
// export, erasure with receipt, backups that keep the erased erased,
// restriction, consents and DNT/GPC, cookies, requests and children,
// API customers' end users, email change, staff access to my data.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { startServer, runCli, api, isOpenAIError, BIN } from './lib/server.js';
import { startSmtp } from './lib/smtp.js';
import { Client, person, birthDate, tokenIn, sleep } from './lib/accounts.js';

const sql = (dataDir, q) => execFileSync('sqlite3', [join(dataDir, 'atelier.db'), q], { encoding: 'utf8' }).trim();

// Every file under dir, recursively, as one latin1 string per file.
function filesUnder(dir) {
  const out = [];
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    const st = statSync(p);
    if (st.isDirectory()) out.push(...filesUnder(p));
    else out.push({ path: p, bytes: readFileSync(p).toString('latin1') });
  }
  return out;
}

// GET with the client's cookie, as raw bytes.
function getBinary(c, path) {
  const u = new URL(c.base + path);
  return new Promise((resolve, reject) => {
    const req = http.request(u, { method: 'GET', agent: false, headers: { Cookie: c.cookie || '' } }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

function unzipTo(buf) {
  const dir = mkdtempSync(join(tmpdir(), 'atelier-export-'));
  writeFileSync(join(dir, 'x.zip'), buf);
  execFileSync('unzip', ['-q', join(dir, 'x.zip'), '-d', join(dir, 'x')]);
  return join(dir, 'x');
}

function createStaff(dataDir, p, role) {
  return new Promise((res) => {
    const proc = spawn(BIN, ['admin', 'create-user', '--email', p.email, '--username', p.username,
      '--role', role, '--password-stdin', '--data-dir', dataDir]);
    let err = '';
    proc.stderr.on('data', (d) => (err += d));
    proc.on('exit', (code) => res({ code, err }));
    proc.stdin.end(p.password + '\n');
  });
}

describe('privacy center', () => {
  let smtp, srv, dataDir;
  const keepDir = mkdtempSync(join(tmpdir(), 'atelier-priv-'));
  const config = (smtpUrl) => ({
    server: { debug_routes: 'true', threads: 4 },
    mail: { smtp_url: smtpUrl, from: 'Atelier <noreply@atelier.test>' },
    auth: { ip_free_failures: 100000 },
    privacy: { marketing: 'true' },
  });

  before(async () => {
    smtp = await startSmtp();
    dataDir = join(keepDir, 'data');
    srv = await startServer({ config: config(smtp.url), dataDir });
  });
  after(async () => { await srv.stop(); await smtp.stop(); rmSync(keepDir, { recursive: true, force: true }); });

  // The first message to `to` whose subject matches re.
  async function waitSubject(to, re, timeoutMs = 20000) {
    const t = Date.now();
    for (;;) {
      const m = smtp.messages().find((x) => ((x.rcpt || '') + (x.headers.to || '')).includes(to) && re.test(x.headers.subject || ''));
      if (m) return m;
      if (Date.now() - t > timeoutMs) throw new Error(`no mail to ${to} matching ${re}`);
      await sleep(50);
    }
  }

  async function signup(fields = {}) {
    const p = person(fields);
    const r = await api(srv.url, 'POST', '/api/auth/signup', { body: p });
    assert.equal(r.status, 201, r.text);
    const [m] = await smtp.waitFor(1, { to: p.email.toLowerCase() });
    const v = await api(srv.url, 'POST', '/api/auth/verify', { body: { token: tokenIn(m) } });
    assert.equal(v.status, 200, v.text);
    const c = new Client(srv.url);
    const l = await c.login(p.username, p.password);
    assert.equal(l.status, 200, l.text);
    return { p, c, id: r.json.id };
  }

  test('export: a ZIP of every personal datum, sealed at rest, only for its owner, until it expires (REQ: PRIV-1, REQ: PRIV-2)', async () => {
    const { p, c, id } = await signup({ name: 'Export Marker Person', company: 'Marker Co' });
    await c.req('POST', '/api/privacy/objections', { purpose: 'analytics', note: 'exported-note-text' });
    await c.req('POST', '/api/keys', { name: 'k1', scopes: ['read'] });
    await c.req('PUT', '/api/privacy/consents', { data_sharing: true });
    const before = smtp.messages().length;
    const r = await c.req('POST', '/api/privacy/export');
    assert.equal(r.status, 202, r.text);
    const again = await c.req('POST', '/api/privacy/export');
    assert.ok(again.status === 429 || again.status === 202, again.text);
    const mail = await waitSubject(p.email.toLowerCase(), /export is ready/);
    assert.ok(mail, 'the user is mailed when the export is ready');
    assert.ok(!mail.text.includes('Export Marker Person'), 'the mail holds a link, not the data');
    assert.ok(smtp.messages().length > before);
    // sealed at rest: the file under exports/ holds nothing readable
    const files = readdirSync(join(dataDir, 'exports'));
    assert.ok(files.some((f) => f.startsWith(r.json.id)));
    for (const f of files) {
      const bytes = readFileSync(join(dataDir, 'exports', f)).toString('latin1');
      assert.ok(!bytes.includes('Export Marker') && !bytes.includes('PK\x03\x04'), 'export sealed at rest');
    }
    const z = await getBinary(c, `/api/privacy/exports/${r.json.id}`);
    assert.equal(z.status, 200);
    assert.equal(z.headers['content-type'], 'application/zip');
    const dir = unzipTo(z.body);
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    assert.equal(manifest.schema_version, 1);
    assert.equal(manifest.account, id);
    assert.ok(readFileSync(join(dir, 'README.txt'), 'utf8').includes('data/profile.json'));
    for (const f of manifest.files) {
      const body = readFileSync(join(dir, f.path));
      assert.equal(createHash('sha256').update(body).digest('hex'), f.sha256, `sha256 of ${f.path}`);
      assert.equal(JSON.parse(body.toString('utf8')).length, f.rows, `rows of ${f.path}`);
    }
    const profile = JSON.parse(readFileSync(join(dir, 'data/profile.json'), 'utf8'))[0];
    assert.equal(profile.email, p.email.toLowerCase());
    assert.equal(profile.name, 'Export Marker Person');
    assert.equal(profile.company, 'Marker Co');
    assert.ok(!('password_hash' in profile));
    const obj = JSON.parse(readFileSync(join(dir, 'data/objections.json'), 'utf8'));
    assert.equal(obj[0].note, 'exported-note-text');

    // the schema walk: every table with an owner-like column, and what the
    // database holds there for this user, appears in the export
    const tables = sql(dataDir, "SELECT m.name || '|' || p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p " +
      "WHERE m.type='table' AND p.name IN ('owner','user_id','subject','actor','customer','end_user','owner_id','account_id')").split('\n');
    const notExported = { owner_keys: 'key material, destroyed at erasure', erasures: 'written at erasure only' };
    const held = {};
    for (const row of tables) {
      const [t, col] = row.split('|');
      if (col === 'end_user' || col === 'customer') continue; // hashes and customer IDs, not this user
      const n = Number(sql(dataDir, `SELECT COUNT(*) FROM "${t}" WHERE "${col}" = '${id}'`));
      held[t] = Math.max(held[t] || 0, n);
    }
    held.audit = Number(sql(dataDir, `SELECT COUNT(*) FROM audit WHERE actor='${id}' OR subject='${id}'`));
    held.users = 1;
    const exported = {};
    for (const f of manifest.files) exported[f.table] = (exported[f.table] || 0) + f.rows;
    for (const [t, n] of Object.entries(held)) {
      if (notExported[t]) continue;
      assert.ok(t in exported, `table ${t} has an owner column but is not in the export`);
      // the export's own rows: the export job is created before the build; audit grows by the download
      // (privacy_exports: the second request above may add a row after this ZIP was built)
      const slack = t === 'audit' ? 2 : t === 'privacy_exports' ? 1 : 0;
      assert.ok(exported[t] >= n - slack, `table ${t}: database holds ${n}, export has ${exported[t]}`);
      if (n > 0) assert.ok(exported[t] > 0, `table ${t}: rows held but none exported`);
    }

    // another account: 404, the same as a missing export
    const other = await signup();
    const o = await getBinary(other.c, `/api/privacy/exports/${r.json.id}`);
    assert.equal(o.status, 404);
    const missing = await getBinary(other.c, '/api/privacy/exports/ex_000000000000000000000000');
    assert.equal(missing.status, 404);
    // after expiry: gone
    const ex = await api(srv.url, 'POST', `/api/debug/privacy/exports/${r.json.id}/expire`);
    assert.equal(ex.status, 200);
    const late = await getBinary(c, `/api/privacy/exports/${r.json.id}`);
    assert.equal(late.status, 404);
  });

  test('erasure: one transaction, signed receipt mailed, nothing readable left, not even in a restored backup (REQ: PRIV-4, REQ: PRIV-5, REQ: SEC-6, REQ: PAY-4)', async () => {
    const MARK = 'Zq7MarkerXy';
    const { p, c, id } = await signup({ name: `${MARK}-profile` });
    const keeper = await signup({ name: 'Keeper Person' });
    let r = await c.req('POST', '/api/privacy/objections', { purpose: 'other', note: `${MARK}-prompt-like` });
    assert.equal(r.status, 201, r.text);
    r = await c.req('POST', '/api/privacy/export');
    assert.equal(r.status, 202);
    await waitSubject(p.email.toLowerCase(), /export is ready/);
    for (let i = 0; i < 100 && !(await c.req('GET', '/api/privacy/exports')).json.exports.some((x) => x.status === 'ready'); i++) await sleep(50);
    // a billing record that must stay (PAY-4)
    sql(dataDir, `INSERT INTO receipts(id, owner, charge_code, credits, amount_cents, currency, issued_at) VALUES ('rc_test', '${id}', 'CODE1', 5, 500, 'EUR', 1)`);
    sql(dataDir, `INSERT INTO ledger(owner, at, kind, amount, idem) VALUES ('${id}', 1, 'purchase', 5000000, 'idem-${id}')`);

    // an online backup, made before the erasure
    const backup = join(keepDir, 'before.bak');
    let cli = await runCli(['backup', backup, '--data-dir', dataDir]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.ok(!readFileSync(backup).toString('latin1').includes(MARK), 'the backup is encrypted');

    // wrong password: refused, nothing changes
    r = await c.req('DELETE', '/api/me', { password: 'not-my-password-at-all' });
    assert.equal(r.status, 403, r.text);
    assert.equal(sql(dataDir, `SELECT COUNT(*) FROM users WHERE id='${id}'`), '1');
    // someone else's account cannot be erased through this route: it takes no ID
    r = await keeper.c.req('DELETE', '/api/me', { password: 'wrong' });
    assert.equal(r.status, 403);

    r = await c.req('DELETE', '/api/me', { password: p.password, mail_receipt: true });
    assert.equal(r.status, 200, r.text);
    const receipt = r.json;
    assert.equal(receipt.type, 'account_erasure');
    assert.equal(receipt.account, id);
    assert.match(receipt.receipt_id, /^er_/);
    assert.ok(receipt.removed.profile === 1 && receipt.removed.objections === 1 && receipt.removed.keys === 1, JSON.stringify(receipt));
    assert.ok(receipt.removed.sessions >= 1);
    assert.equal(receipt.billing_records_kept.pseudonymized.billing_receipts, 1);
    assert.ok(receipt.signature && receipt.signature.alg === 'Ed25519');
    const rf = join(keepDir, 'receipt.json');
    writeFileSync(rf, JSON.stringify(receipt));
    cli = await runCli(['privacy', 'verify-receipt', rf, '--data-dir', dataDir]);
    assert.equal(cli.code, 0, cli.stdout);
    writeFileSync(rf, JSON.stringify({ ...receipt, removed: { ...receipt.removed, objections: 0 } }));
    cli = await runCli(['privacy', 'verify-receipt', rf, '--data-dir', dataDir]);
    assert.equal(cli.code, 1, 'a forged receipt is refused');

    // the receipt is mailed to the address being erased
    const rm = await waitSubject(p.email.toLowerCase(), /account was deleted/);
    assert.ok(rm.text.includes(receipt.receipt_id));

    // a second erasure: the session is gone
    r = await c.req('DELETE', '/api/me', { password: p.password });
    assert.equal(r.status, 401);
    r = await new Client(srv.url).login(p.username, p.password);
    assert.equal(r.status, 401);
    // billing kept, pseudonymized
    const owner = sql(dataDir, "SELECT owner || '|' || (pseudonymized_at IS NOT NULL) FROM receipts WHERE id='rc_test'");
    assert.match(owner, /^pn_[0-9a-f]{24}\|1$/);
    assert.match(sql(dataDir, `SELECT owner FROM ledger WHERE idem='idem-${id}'`), /^pn_/);
    assert.equal(sql(dataDir, `SELECT COUNT(*) FROM ledger WHERE owner='${id}'`), '0');

    // nothing of the marker anywhere under the data directory, WAL included
    await sleep(300);
    for (const f of filesUnder(dataDir)) {
      assert.ok(!f.bytes.includes(MARK), `${MARK} found in ${f.path}`);
      assert.ok(!f.bytes.includes(p.username), `username found in ${f.path}`);
    }
    assert.equal(readdirSync(join(dataDir, 'exports')).filter((f) => f.includes('.sealed')).length >= 0, true);
    assert.equal(sql(dataDir, `SELECT COUNT(*) FROM owner_keys WHERE owner='${id}'`), '0');

    // restore the backup made before the erasure: the person stays erased
    await srv.stop();
    cli = await runCli(['restore', backup, '--data-dir', dataDir]);
    assert.equal(cli.code, 1, 'an existing database is not replaced without --force');
    cli = await runCli(['restore', backup, '--force', '--data-dir', dataDir]);
    assert.equal(cli.code, 0, cli.stderr + cli.stdout);
    assert.match(cli.stdout, /1 unreadable/);
    assert.equal(sql(dataDir, `SELECT COUNT(*) FROM users WHERE id='${id}'`), '0');
    assert.equal(sql(dataDir, `SELECT COUNT(*) FROM owner_keys WHERE owner='${id}'`), '0');
    assert.equal(sql(dataDir, `SELECT COUNT(*) FROM privacy_objections WHERE user_id='${id}'`), '0');
    for (const f of filesUnder(dataDir)) assert.ok(!f.bytes.includes(MARK), `${MARK} found in ${f.path} after restore`);
    srv = await startServer({ config: config(smtp.url), dataDir });
    r = await new Client(srv.url).login(p.username, p.password);
    assert.equal(r.status, 401, 'the erased person cannot sign in after a restore');
    // everyone else's content opens: the escrow gave their keys back
    const k = new Client(srv.url);
    assert.equal((await k.login(keeper.p.username, keeper.p.password)).status, 200);
    const me = await k.req('GET', '/api/me');
    assert.equal(me.json.name, 'Keeper Person');
  });

  test('restriction: generation refused with processing_restricted until lifted; objections recorded (REQ: PRIV-6)', async () => {
    const me = await signup();
    const { c } = me;
    let r = await c.req('POST', '/api/debug/privacy/generate');
    assert.equal(r.status, 200);
    r = await c.req('POST', '/api/privacy/restriction');
    assert.equal(r.status, 200, r.text);
    r = await c.req('POST', '/api/debug/privacy/generate');
    assert.equal(r.status, 403);
    assert.equal(r.json.error.code, 'processing_restricted');
    assert.ok(isOpenAIError(r.json));
    r = await c.req('GET', '/api/me');
    assert.equal(r.status, 200, 'the data is kept and readable by its owner');
    // no mail but about the restriction: a new key would send an alert
    const who = me.p;
    const mailsBefore = smtp.messages().filter((m) => (m.rcpt || m.headers.to || '').includes(who.email.toLowerCase())).length;
    r = await c.req('POST', '/api/keys', { name: 'while restricted', scopes: ['read'] });
    assert.equal(r.status, 201, r.text);
    await sleep(1500);
    const mailsAfter = smtp.messages().filter((m) => (m.rcpt || m.headers.to || '').includes(who.email.toLowerCase()));
    const fresh = mailsAfter.slice(mailsBefore);
    assert.ok(!fresh.some((m) => /API key/i.test(m.headers.subject || '')), 'no key alert while restricted: ' + fresh.map((m) => m.headers.subject).join('; '));
    r = await c.req('DELETE', '/api/privacy/restriction');
    assert.equal(r.status, 200);
    r = await c.req('POST', '/api/debug/privacy/generate');
    assert.equal(r.status, 200);
    r = await c.req('POST', '/api/privacy/objections', { purpose: 'marketing' });
    assert.equal(r.status, 201);
    r = await c.req('GET', '/api/privacy/consents');
    assert.equal(r.json.current.marketing, false);
    r = await c.req('POST', '/api/privacy/objections', { purpose: 'selling' });
    assert.equal(r.status, 400);
    // the person sees their own requests, with deadlines (REQ: PRIV-11); nobody else's
    const mine = await c.req('GET', '/api/privacy/requests');
    assert.equal(mine.status, 200, mine.text);
    const kinds = mine.json.requests.map((x) => x.kind);
    assert.ok(kinds.includes('restriction') && kinds.includes('objection'), kinds.join());
    for (const x of mine.json.requests) assert.ok(x.due_at && x.received_at);
    const other = await signup();
    const theirs = await other.c.req('GET', '/api/privacy/requests');
    assert.deepEqual(theirs.json.requests, []);
  });

  test('consents: a ledger, off by default, withdrawn at once; DNT/GPC cannot turn optional processing on; policy changes mailed and accepted (REQ: PRIV-7, REQ: PRIV-8, REQ: PRIV-12, REQ: COOK-2)', async () => {
    const { p, c } = await signup();
    let r = await c.req('GET', '/api/privacy/consents');
    assert.equal(r.status, 200);
    assert.equal(r.json.current.marketing, false);
    assert.equal(r.json.current.data_sharing, false);
    assert.equal(r.json.ledger[0].kind, 'terms');
    r = await c.req('PUT', '/api/privacy/consents', { marketing: true }, { headers: { 'Sec-GPC': '1' } });
    assert.equal(r.status, 403, r.text);
    r = await c.req('PUT', '/api/privacy/consents', { data_sharing: true }, { headers: { DNT: '1' } });
    assert.equal(r.status, 403);
    r = await c.req('PUT', '/api/privacy/consents', { marketing: false }, { headers: { DNT: '1' } });
    assert.equal(r.status, 200, 'withdrawal is always possible');
    r = await c.req('PUT', '/api/privacy/consents', { marketing: true, data_sharing: true });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.current.marketing, true);
    r = await c.req('PUT', '/api/privacy/consents', { data_sharing: false });
    assert.equal(r.json.current.data_sharing, false);
    assert.ok(r.json.ledger.filter((x) => x.kind === 'data_sharing').length === 2);
    assert.ok(r.json.ledger.every((x) => x.at && x.source));
    r = await c.req('PUT', '/api/privacy/consents', { selling: true });
    assert.equal(r.status, 400);

    const cli = await runCli(['privacy', 'publish', '--version', '2099.1', '--effective', '2099-01-01', '--data-dir', dataDir]);
    assert.equal(cli.code, 0, cli.stderr);
    await srv.stop();
    srv = await startServer({ config: config(smtp.url), dataDir }); // sends what the CLI queued
    const m = await waitSubject(p.email.toLowerCase(), /Changes to our privacy notice/);
    assert.match(m.text, /2099-01-01/);
    const c2 = new Client(srv.url);
    await c2.login(p.username, p.password);
    r = await c2.req('GET', '/api/privacy/consents');
    assert.deepEqual([r.json.policy.version, r.json.policy.accepted], ['2099.1', false]);
    r = await c2.req('PUT', '/api/privacy/consents', { privacy_notice: true });
    assert.equal(r.json.policy.accepted, true);
    assert.ok(r.json.ledger.some((x) => x.kind === 'privacy_notice' && x.policy_version === '2099.1'));
  });

  test('no cookie but the essential session cookie, from any route (REQ: COOK-1)', async () => {
    const { c } = await signup();
    const routes = JSON.parse(execFileSync(BIN, ['routes', '--json'], { encoding: 'utf8' }));
    const seen = new Set();
    for (const rt of routes) {
      if (rt.method === 'DELETE' && rt.path === '/api/me') continue; // would end the account used here
      const path = rt.path.replace(/\{[^}]+\}/g, 'x1');
      for (const who of [null, c]) {
        const h = { 'Content-Type': 'application/json' };
        if (who) { h.Cookie = who.cookie; h['X-CSRF-Token'] = who.csrf; }
        const r = await api(srv.url, rt.method, path, { body: rt.method === 'GET' ? undefined : {}, headers: h });
        for (const sc of r.headers.getSetCookie()) seen.add(sc.split('=')[0]);
      }
    }
    for (const name of seen) assert.match(name, /^(__Host-)?atelier_session$/, `cookie ${name} set`);
  });

  test('requests: a parent deletes a child\'s account through a mailed link; staff see deadlines and erase a child at once (REQ: AGE-3, REQ: PRIV-11, REQ: OPS-6)', async () => {
    const parentEmail = `parent.${Date.now()}@example.org`;
    const kid = await signup({ birth_date: birthDate(15), parent_email: parentEmail, parent_consent: true });
    let r = await api(srv.url, 'POST', '/api/privacy/requests', { body: { child: kid.p.username, parent_email: parentEmail } });
    assert.equal(r.status, 202, r.text);
    const nobody = await api(srv.url, 'POST', '/api/privacy/requests', { body: { child: 'no_such_child_x', parent_email: 'x@example.org' } });
    assert.equal(nobody.status, 202, 'the same answer whether or not the child exists');
    let msg;
    for (let i = 0; i < 200 && !msg; i++) {
      msg = smtp.messages().find((m) => (m.rcpt || '').includes(parentEmail) && /Confirm your request/.test(m.headers.subject));
      if (!msg) await sleep(50);
    }
    assert.ok(msg);
    r = await api(srv.url, 'POST', '/api/privacy/requests/verify', { body: { token: tokenIn(msg) } });
    assert.equal(r.status, 200, r.text);
    assert.match(r.json.status, /deleted/);
    assert.equal(sql(dataDir, `SELECT COUNT(*) FROM users WHERE id='${kid.id}'`), '0');
    r = await api(srv.url, 'POST', '/api/privacy/requests/verify', { body: { token: tokenIn(msg) } });
    assert.equal(r.status, 400, 'a link works once');

    const sup = person({ username: `sup_${Date.now()}` });
    assert.equal((await createStaff(dataDir, sup, 'support')).code, 0);
    const s = new Client(srv.url);
    assert.equal((await s.login(sup.username, sup.password)).status, 200);
    r = await s.req('POST', '/api/admin/privacy/requests', { kind: 'access', contact_email: 'writer@example.org' });
    assert.equal(r.status, 201, r.text);
    r = await s.req('GET', '/api/admin/privacy/requests');
    assert.equal(r.status, 200);
    const mine = r.json.requests.find((x) => x.channel === 'mail');
    assert.ok(mine && mine.status === 'open' && mine.days_left >= 29 && mine.due_at, JSON.stringify(mine));
    assert.ok(r.json.requests.some((x) => x.channel === 'parent' && x.status === 'done'));
    r = await s.req('POST', `/api/admin/privacy/requests/${mine.id}/close`, { status: 'done', outcome: 'sent export' });
    assert.equal(r.status, 200);

    const kid2 = await signup({ birth_date: birthDate(14), parent_email: `p2.${Date.now()}@example.org`, parent_consent: true });
    const adult = await signup();
    r = await s.req('DELETE', `/api/admin/users/${adult.id}`);
    assert.equal(r.status, 403, 'support may not erase an adult account');
    r = await s.req('DELETE', `/api/admin/users/${kid2.id}`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.type, 'account_erasure');
    r = await s.req('DELETE', `/api/admin/users/${kid2.id}`);
    assert.equal(r.status, 404, 'a second erasure finds nobody');
    r = await adult.c.req('GET', '/api/admin/privacy/requests');
    assert.equal(r.status, 403);
  });

  test('API customers act on their end users: export and erase by the user they send, with a signed receipt (REQ: PRIV-10)', async () => {
    const { c } = await signup();
    let r = await c.req('POST', '/api/keys', { name: 'priv', scopes: ['privacy'] });
    assert.equal(r.status, 201, r.text);
    const key = r.json.key || r.json.secret;
    r = await c.req('POST', '/api/keys', { name: 'gen', scopes: ['generate'] });
    const genKey = r.json.key || r.json.secret;
    const auth = { Authorization: `Bearer ${key}` };
    for (let i = 0; i < 3; i++) await api(srv.url, 'POST', '/api/debug/privacy/usage', { body: { user: 'end-user-42' }, headers: auth });
    await api(srv.url, 'POST', '/api/debug/privacy/usage', { body: { user: 'end-user-7' }, headers: auth });
    r = await api(srv.url, 'GET', '/api/privacy/subjects/end-user-42/export', { headers: auth });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.data.usage.length, 3);
    r = await api(srv.url, 'GET', '/api/privacy/subjects/end-user-42/export', { headers: { Authorization: `Bearer ${genKey}` } });
    assert.equal(r.status, 403, 'a key without the privacy scope');
    r = await c.req('DELETE', '/api/privacy/subjects/end-user-42');
    assert.equal(r.status, 403, 'an API key only');
    r = await api(srv.url, 'DELETE', '/api/privacy/subjects/end-user-42', { headers: auth });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.type, 'end_user_erasure');
    assert.equal(r.json.removed.usage, 3);
    assert.ok(r.json.signature);
    r = await api(srv.url, 'DELETE', '/api/privacy/subjects/end-user-42', { headers: auth });
    assert.equal(r.status, 404, 'a second erasure');
    r = await api(srv.url, 'GET', '/api/privacy/subjects/end-user-7/export', { headers: auth });
    assert.equal(r.json.data.usage.length, 1, 'other end users untouched');
    // another customer's key cannot reach this customer's end users
    const other = await signup();
    const ok = await other.c.req('POST', '/api/keys', { name: 'priv', scopes: ['privacy'] });
    const otherKey = ok.json.key || ok.json.secret;
    r = await api(srv.url, 'DELETE', '/api/privacy/subjects/end-user-7', { headers: { Authorization: `Bearer ${otherKey}` } });
    assert.equal(r.status, 404);
    r = await api(srv.url, 'GET', '/api/privacy/subjects/end-user-7/export', { headers: auth });
    assert.equal(r.json.data.usage.length, 1);
  });

  test('staff access to my data: the user reads when staff acted on it, with their role and reason, never who (REQ: SEC-5)', async () => {
    const me = await signup();
    const other = await signup();
    const adm = person({ username: `adm_${Date.now()}` });
    assert.equal((await createStaff(dataDir, adm, 'admin')).code, 0);
    const a = new Client(srv.url);
    assert.equal((await a.login(adm.username, adm.password)).status, 200);
    let r = await me.c.req('GET', '/api/privacy/access-log');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.events, [], 'my own sign-up and sign-in are not staff access');
    r = await a.req('GET', `/api/admin/audit?subject=${me.id}`);
    assert.equal(r.status, 200, r.text);
    r = await a.req('POST', `/api/admin/users/${me.id}/credits`, { credits: '2', reason: 'outage goodwill' });
    assert.equal(r.status, 200, r.text);
    r = await me.c.req('GET', '/api/privacy/access-log');
    assert.equal(r.status, 200, r.text);
    const ev = r.json.events;
    assert.deepEqual(ev.map((x) => x.event), ['credits.granted', 'admin.audit_viewed'], 'newest first');
    assert.deepEqual(ev.map((x) => x.actor_role), ['admin', 'admin']);
    assert.equal(ev[0].reason, 'outage goodwill');
    assert.equal(ev[1].reason, null);
    assert.ok(ev.every((x) => /^\d{4}-\d{2}-\d{2}T/.test(x.at)), JSON.stringify(ev));
    const text = JSON.stringify(r.json);
    assert.ok(!text.includes(adm.username) && !text.includes(adm.email.toLowerCase()), 'the staff member is not named');
    const staffId = (await a.req('GET', '/api/me')).json.id;
    assert.ok(!text.includes(staffId) && !/"ip"|"actor"/.test(text), 'nor identified by id or address');
    r = await other.c.req('GET', '/api/privacy/access-log');
    assert.deepEqual(r.json.events, [], 'someone else\'s log is not mine');
    // an API key needs the privacy scope, like the other privacy reads
    r = await me.c.req('POST', '/api/keys', { name: 'gen only', scopes: ['generate'] });
    const gen = r.json.key || r.json.secret;
    r = await api(srv.url, 'GET', '/api/privacy/access-log', { headers: { Authorization: `Bearer ${gen}` } });
    assert.equal(r.status, 403);
    r = await api(srv.url, 'GET', '/api/privacy/access-log');
    assert.equal(r.status, 401);
  });

  test('rectification: a new email takes effect only once confirmed from it (REQ: PRIV-3)', async () => {
    const { p, c } = await signup();
    const newEmail = `renamed.${Date.now()}@example.org`;
    let r = await c.req('POST', '/api/me/email', { email: newEmail });
    assert.equal(r.status, 202, r.text);
    r = await c.req('GET', '/api/me');
    assert.equal(r.json.email, p.email.toLowerCase());
    const [m] = await smtp.waitFor(1, { to: newEmail });
    r = await api(srv.url, 'POST', '/api/auth/email/confirm', { body: { token: tokenIn(m) } });
    assert.equal(r.status, 200, r.text);
    r = await c.req('GET', '/api/me');
    assert.equal(r.json.email, newEmail);
    r = await api(srv.url, 'POST', '/api/auth/email/confirm', { body: { token: tokenIn(m) } });
    assert.equal(r.status, 400);
    r = await c.req('PATCH', '/api/me', { name: 'Corrected Name' });
    assert.equal(r.status, 200);
    assert.equal(r.json.name, 'Corrected Name');
  });
});
