// The admin console's two staff endpoints against the real binary: a
// restriction of processing applied and lifted by an admin for a person who
// asked by letter or through support (PRIV-6), audited with its reason and
// shown in the person's own access log (SEC-5); and the metrics summary,
// figures only, readable by support and admins.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, api, isOpenAIError } from './lib/server.js';
import { person, sleep } from './lib/accounts.js';
import { createUser, signedIn } from './lib/users.js';

describe('admin console', () => {
  let srv, admin, support, plain, adminId;
  const people = {};

  // An account made with the CLI, signed in; returns {p, c, id}.
  async function account(role) {
    const p = person();
    const r = await createUser(srv.dataDir, { ...p, role });
    assert.equal(r.code, 0, r.err);
    const c = await signedIn(srv, p);
    const me = await c.req('GET', '/api/me');
    assert.equal(me.status, 200, me.text);
    return { p, c, id: me.json.id };
  }

  before(async () => {
    srv = await startServer({ config: { server: { debug_routes: 'true', threads: 4 }, auth: { ip_free_failures: 100000 } } });
    people.admin = await account('admin');
    people.support = await account('support');
    people.plain = await account('user');
    admin = people.admin.c;
    support = people.support.c;
    plain = people.plain.c;
    adminId = people.admin.id;
  });
  after(async () => { if (srv) await srv.stop(); });

  const restrictPath = (id) => `/api/admin/users/${encodeURIComponent(id)}/restriction`;

  test('an admin restricts a user who asked by letter: generation refused until lifted; the user reads role and reason (REQ: PRIV-6, REQ: SEC-5)', async () => {
    const u = await account('user');
    let r = await u.c.req('POST', '/api/debug/privacy/generate');
    assert.equal(r.status, 200, 'generation works before');
    r = await admin.req('POST', restrictPath(u.id), { reason: 'asked by letter of 20 November' });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { id: u.id, restricted: true, changed: true });
    r = await u.c.req('POST', '/api/debug/privacy/generate');
    assert.equal(r.status, 403, 'generation refused while restricted');
    assert.equal(r.json.error.code, 'processing_restricted');
    assert.ok(isOpenAIError(r.json));
    // the same state as restricting oneself: the privacy center shows it
    r = await u.c.req('GET', '/api/privacy/requests');
    assert.ok(r.json.requests.some((x) => x.kind === 'restriction' && x.channel === 'staff' && x.status === 'done'), r.text);
    // asked again: nothing changes, nothing is written twice
    r = await admin.req('POST', restrictPath(u.id), { reason: 'a second letter' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.changed, false);

    r = await admin.req('DELETE', restrictPath(u.id), { reason: 'the person wrote to lift it' });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { id: u.id, restricted: false, changed: true });
    r = await u.c.req('POST', '/api/debug/privacy/generate');
    assert.equal(r.status, 200, 'generation works again once lifted');

    // SEC-5: the user sees both, newest first, by role and with the reason, never who
    r = await u.c.req('GET', '/api/privacy/access-log');
    assert.equal(r.status, 200, r.text);
    const mine = r.json.events.filter((x) => /^privacy\.(un)?restricted$/.test(x.event));
    assert.deepEqual(mine.map((x) => [x.event, x.actor_role, x.reason]), [
      ['privacy.unrestricted', 'admin', 'the person wrote to lift it'],
      ['privacy.restricted', 'admin', 'asked by letter of 20 November'],
    ]);
    assert.ok(!r.text.includes(adminId) && !r.text.includes(people.admin.p.username), 'the staff member is not named');
    // the audit log keeps who did it, and why
    r = await admin.req('GET', `/api/admin/audit?subject=${u.id}&event=privacy.restricted`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.events.length, 1, r.text);
    assert.equal(r.json.events[0].actor, adminId);
    assert.equal(r.json.events[0].detail.reason, 'asked by letter of 20 November');
  });

  test('a restriction needs a reason, named by its field; unknown fields refused; unknown user 404 (REQ: PRIV-6)', async () => {
    const u = await account('user');
    const bad = async (method, body, param, why) => {
      const r = await admin.req(method, restrictPath(u.id), body);
      assert.equal(r.status, 400, `${why}: ${r.text}`);
      assert.ok(isOpenAIError(r.json));
      assert.equal(r.json.error.param, param, `${why}: ${r.text}`);
    };
    await bad('POST', {}, 'reason', 'no reason');
    await bad('POST', { reason: '' }, 'reason', 'empty reason');
    await bad('POST', { reason: '   ' }, 'reason', 'blank reason');
    await bad('POST', { reason: 'x'.repeat(501) }, 'reason', 'reason too long');
    await bad('POST', { reason: 42 }, 'reason', 'reason not a string');
    await bad('DELETE', {}, 'reason', 'lifting without a reason');
    await bad('POST', { reason: 'letter', until: 'tomorrow' }, 'until', 'unknown field');
    let r = await admin.req('POST', restrictPath(u.id));
    assert.equal(r.status, 400, 'no body: ' + r.text);
    r = await u.c.req('POST', '/api/debug/privacy/generate');
    assert.equal(r.status, 200, 'nothing was restricted by a refused request');
    // 500 characters (not bytes) is the limit
    r = await admin.req('POST', restrictPath(u.id), { reason: 'é'.repeat(500) });
    assert.equal(r.status, 200, r.text);
    r = await admin.req('DELETE', restrictPath(u.id), { reason: 'done' });
    assert.equal(r.status, 200, r.text);
    r = await admin.req('POST', restrictPath('usr_nobody'), { reason: 'letter' });
    assert.equal(r.status, 404, r.text);
    r = await admin.req('DELETE', restrictPath('usr_nobody'), { reason: 'letter' });
    assert.equal(r.status, 404, r.text);
  });

  test('only admins restrict or lift: support and plain users 403, no session 401 (REQ: PRIV-6, REQ: SEC-5)', async () => {
    const u = await account('user');
    for (const [who, c] of [['support', support], ['user', plain], ['the user themself', u.c]]) {
      for (const method of ['POST', 'DELETE']) {
        const r = await c.req(method, restrictPath(u.id), { reason: 'trying' });
        assert.equal(r.status, 403, `${who} ${method}: ${r.text}`);
      }
    }
    const r = await api(srv.url, 'POST', restrictPath(u.id), { body: { reason: 'trying' } });
    assert.equal(r.status, 401, r.text);
    assert.equal((await u.c.req('POST', '/api/debug/privacy/generate')).status, 200, 'still not restricted');
    const log = await u.c.req('GET', '/api/privacy/access-log');
    assert.deepEqual(log.json.events, [], 'a refused attempt is no access');
  });

  test('metrics: figures only, for support and admins; the counts move (REQ: SEC-5, REQ: USE-4)', async () => {
    const read = async (c = admin) => {
      const r = await c.req('GET', '/api/admin/metrics');
      assert.equal(r.status, 200, r.text);
      return r;
    };
    let r = await read();
    const m0 = r.json;
    assert.deepEqual(Object.keys(m0).sort(), ['active_sessions', 'image_jobs', 'privacy_requests', 'requests',
      'started_at', 'uptime_seconds', 'users']);
    assert.deepEqual(Object.keys(m0.requests).sort(), ['2xx', '3xx', '4xx', '5xx', 'in_flight', 'total']);
    assert.deepEqual(Object.keys(m0.image_jobs).sort(), ['queued', 'running']);
    assert.deepEqual(Object.keys(m0.privacy_requests).sort(), ['open', 'overdue']);
    for (const v of [m0.uptime_seconds, m0.users, m0.active_sessions, ...Object.values(m0.requests),
      ...Object.values(m0.image_jobs), ...Object.values(m0.privacy_requests)]) {
      assert.ok(Number.isInteger(v) && v >= 0, JSON.stringify(m0));
    }
    assert.ok(m0.requests['2xx'] > 0 && m0.requests.in_flight >= 1, 'this request is in flight: ' + JSON.stringify(m0.requests));
    assert.ok(m0.requests.total >= m0.requests['2xx'] + m0.requests['4xx'] + m0.requests['5xx']);
    assert.ok(m0.users >= 3 && m0.active_sessions >= 3, JSON.stringify(m0));
    assert.match(m0.started_at, /^\d{4}-\d{2}-\d{2}T/);
    // no person in it
    for (const p of Object.values(people)) {
      assert.ok(!r.text.includes(p.id) && !r.text.includes(p.p.username) && !r.text.includes(p.p.email), 'no personal data');
    }

    // a new user: +1; a new session: +1
    const u = await account('user');
    const m1 = (await read()).json;
    assert.equal(m1.users, m0.users + 1, 'users count');
    assert.equal(m1.active_sessions, m0.active_sessions + 1, 'sessions count');
    // a 404: +1 in 4xx (the server counts a request once it has answered it, so wait for it)
    const nf = await api(srv.url, 'GET', '/api/no-such-thing');
    assert.equal(nf.status, 404);
    let m2;
    for (let i = 0; i < 40; i++) {
      m2 = (await read()).json;
      if (m2.requests['4xx'] > m1.requests['4xx']) break;
      await sleep(50);
    }
    assert.equal(m2.requests['4xx'], m1.requests['4xx'] + 1, '4xx count');
    assert.ok(m2.requests['2xx'] > m1.requests['2xx'], '2xx count');
    // an open privacy request: +1
    r = await support.req('POST', '/api/admin/privacy/requests', { kind: 'access', user_id: u.id });
    assert.equal(r.status, 201, r.text);
    const m3 = (await read(support)).json;
    assert.equal(m3.privacy_requests.open, m2.privacy_requests.open + 1, 'open requests count');
    assert.ok(m3.uptime_seconds >= m0.uptime_seconds);

    // the operator's Prometheus figures are aggregates too: routes by their
    // pattern (the restriction calls above named users by id), no person
    const prom = await api(srv.url, 'GET', '/metrics');
    assert.equal(prom.status, 200);
    assert.match(prom.text, /route="\/api\/admin\/users\/\{id\}\/restriction"/);
    for (const p of [...Object.values(people), { id: u.id, p: {} }]) {
      for (const v of [p.id, p.p.username, p.p.email].filter(Boolean)) assert.ok(!prom.text.includes(v), 'no personal data in /metrics');
    }

    // list limits: a whole number in range, or 400 naming limit
    for (const q of ['/api/admin/users?limit=0', '/api/admin/users?limit=501', '/api/admin/users?limit=5x',
      '/api/admin/users?limit=', '/api/admin/audit?limit=1001', '/api/admin/audit?limit=-1']) {
      r = await admin.req('GET', q);
      assert.equal(r.status, 400, q + ' ' + r.text);
      assert.equal(r.json.error.param, 'limit', q);
    }
    assert.equal((await admin.req('GET', '/api/admin/users?limit=500')).status, 200);
    assert.equal((await admin.req('GET', '/api/admin/audit?limit=1')).json.events.length, 1);

    // support reads it; a plain user and nobody cannot
    r = await plain.req('GET', '/api/admin/metrics');
    assert.equal(r.status, 403, r.text);
    r = await api(srv.url, 'GET', '/api/admin/metrics');
    assert.equal(r.status, 401, r.text);
  });
});
