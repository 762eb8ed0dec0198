// The studio's opt-in chat history (issues #5 and #9) against the real
// binary: off by default and refused while off; on, conversations are
// stored sealed, listed, fetched, replaced and deleted; another user sees
// none of them; switching off deletes them all; the data export holds them
// and account erasure removes them; bad input is refused by the field.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, api } from './lib/server.js';
import { person, sleep, dbBytes } from './lib/accounts.js';
import { createUser, signedIn } from './lib/users.js';

const sql = (dataDir, q) => execFileSync('sqlite3', [join(dataDir, 'atelier.db'), q], { encoding: 'utf8' }).trim();

async function user(srv, { role = 'user' } = {}) {
  const p = person();
  const r = await createUser(srv.dataDir, { ...p, role });
  assert.equal(r.code, 0, r.err);
  const c = await signedIn(srv, p);
  const me = await c.req('GET', '/api/me');
  const id = me.json.id || me.json.user?.id;
  assert.ok(id, me.text);
  return { c, id, p };
}

const on = async (u) => {
  const r = await u.c.req('PUT', '/api/chat/settings', { history: true });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { history: true });
};

const convo = (phrase) => ({
  title: `Trip ${phrase}`,
  messages: [
    { role: 'system', content: 'You are a helpful assistant.' },
    { role: 'user', content: `Plan a walk past ${phrase}` },
    { role: 'assistant', content: `Start at ${phrase}, then go north.` },
  ],
});

describe('chat history', () => {
  let srv;
  before(async () => { srv = await startServer({}); });
  after(async () => { await srv.stop(); });

  test('issue 5: history is off by default and nothing is stored while off (409 history_off)', async () => {
    const u = await user(srv);
    const s = await u.c.req('GET', '/api/chat/settings');
    assert.equal(s.status, 200, s.text);
    assert.deepEqual(s.json, { history: false });
    for (const [m, path, body] of [
      ['GET', '/api/chat/conversations'],
      ['POST', '/api/chat/conversations', convo('the off switch')],
      ['GET', '/api/chat/conversations/conv_x'],
      ['PUT', '/api/chat/conversations/conv_x', convo('the off switch')],
      ['DELETE', '/api/chat/conversations/conv_x'],
    ]) {
      const r = await u.c.req(m, path, body);
      assert.equal(r.status, 409, `${m} ${path}: ${r.text}`);
      assert.equal(r.json.error.code, 'history_off');
      assert.match(r.json.error.message, /history is off/);
    }
    assert.equal(sql(srv.dataDir, `SELECT COUNT(*) FROM chat_conversations WHERE owner = '${u.id}'`), '0');
  });

  test('issue 5: switched on, a conversation is saved, listed, fetched, replaced and deleted; sealed at rest (REQ: SEC-3)', async () => {
    const u = await user(srv);
    await on(u);
    const phrase = `marmalade-lighthouse-${Date.now()}`;
    const c = await u.c.req('POST', '/api/chat/conversations', convo(phrase));
    assert.equal(c.status, 201, c.text);
    const id = c.json.id;
    assert.match(id, /^conv_/);
    assert.equal(c.json.title, `Trip ${phrase}`);
    assert.equal(c.json.message_count, 3);
    assert.equal(c.json.messages[1].content, `Plan a walk past ${phrase}`);

    const second = await u.c.req('POST', '/api/chat/conversations', { messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(second.status, 201, second.text);
    assert.equal(second.json.title, null);

    let l = await u.c.req('GET', '/api/chat/conversations');
    assert.equal(l.status, 200, l.text);
    assert.deepEqual(new Set(l.json.data.map((x) => x.id)), new Set([id, second.json.id]));
    assert.equal(l.json.data.length, 2);
    const row = l.json.data.find((x) => x.id === id);
    assert.equal(row.title, `Trip ${phrase}`);
    assert.equal(row.message_count, 3);
    assert.ok(row.updated_at);
    const page = await u.c.req('GET', '/api/chat/conversations?limit=1');
    assert.equal(page.json.data.length, 1);
    assert.ok(page.json.next);
    const rest = await u.c.req('GET', `/api/chat/conversations?limit=1&before=${page.json.next}`);
    assert.equal(rest.json.data.length, 1);
    assert.notEqual(rest.json.data[0].id, page.json.data[0].id);
    assert.equal(rest.json.next, null);

    // replaced: the messages of the PUT, in one go; the newest first in the list
    await sleep(1100);
    const more = convo(phrase);
    more.messages.push({ role: 'user', content: 'And back?' }, { role: 'assistant', content: 'The same way.' });
    const put = await u.c.req('PUT', `/api/chat/conversations/${id}`, { messages: more.messages });
    assert.equal(put.status, 200, put.text);
    assert.equal(put.json.message_count, 5);
    assert.equal(put.json.title, `Trip ${phrase}`, 'a PUT without title keeps it');
    const g = await u.c.req('GET', `/api/chat/conversations/${id}`);
    assert.equal(g.status, 200, g.text);
    assert.deepEqual(g.json.messages, more.messages);
    l = await u.c.req('GET', '/api/chat/conversations');
    assert.equal(l.json.data[0].id, id, 'most recently updated first');
    assert.equal(sql(srv.dataDir, `SELECT COUNT(*) FROM chat_messages WHERE conversation = '${id}'`), '5');

    // sealed: neither the title nor a message is in the database files
    const bytes = dbBytes(srv.dataDir);
    assert.ok(!bytes.includes(phrase), 'the phrase is not stored in the clear');
    assert.ok(!bytes.includes('The same way.'));

    const d = await u.c.req('DELETE', `/api/chat/conversations/${id}`);
    assert.equal(d.status, 200, d.text);
    assert.equal((await u.c.req('GET', `/api/chat/conversations/${id}`)).status, 404);
    assert.equal((await u.c.req('DELETE', `/api/chat/conversations/${id}`)).status, 404);
    assert.equal(sql(srv.dataDir, `SELECT COUNT(*) FROM chat_messages WHERE conversation = '${id}'`), '0');
  });

  test('issue 5: another user, staff included, gets 404 for a conversation that is not theirs', async () => {
    const a = await user(srv), b = await user(srv), admin = await user(srv, { role: 'admin' });
    await on(a);
    await on(b);
    await on(admin);
    const c = await a.c.req('POST', '/api/chat/conversations', convo('a private lake'));
    assert.equal(c.status, 201, c.text);
    for (const who of [b, admin]) {
      assert.equal((await who.c.req('GET', `/api/chat/conversations/${c.json.id}`)).status, 404);
      assert.equal((await who.c.req('PUT', `/api/chat/conversations/${c.json.id}`, { title: 'mine' })).status, 404);
      assert.equal((await who.c.req('DELETE', `/api/chat/conversations/${c.json.id}`)).status, 404);
      assert.equal((await who.c.req('GET', '/api/chat/conversations')).json.data.length, 0);
    }
    assert.equal((await a.c.req('GET', `/api/chat/conversations/${c.json.id}`)).json.title, 'Trip a private lake');
  });

  test('issue 5: an API key with the read and generate scopes reaches the conversations; the switch is session-only', async () => {
    const u = await user(srv);
    await on(u);
    const k = await u.c.req('POST', '/api/keys', { name: 'k', scopes: ['generate', 'read'] });
    assert.equal(k.status, 201, k.text);
    const h = { Authorization: `Bearer ${k.json.key}` };
    const c = await api(srv.url, 'POST', '/api/chat/conversations', { body: convo('a key'), headers: h });
    assert.equal(c.status, 201, c.text);
    assert.equal((await api(srv.url, 'GET', '/api/chat/conversations', { headers: h })).json.data.length, 1);
    const s = await api(srv.url, 'PUT', '/api/chat/settings', { body: { history: false }, headers: h });
    assert.ok(s.status === 401 || s.status === 403, s.text);
    const noCsrf = await u.c.req('PUT', '/api/chat/settings', { history: false }, { csrf: false });
    assert.equal(noCsrf.status, 403, noCsrf.text);
  });

  test('issue 5: switching history off deletes every stored conversation and says how many', async () => {
    const u = await user(srv);
    await on(u);
    for (let i = 0; i < 3; i++)
      assert.equal((await u.c.req('POST', '/api/chat/conversations', convo(`bridge ${i}`))).status, 201);
    const off = await u.c.req('PUT', '/api/chat/settings', { history: false });
    assert.equal(off.status, 200, off.text);
    assert.deepEqual(off.json, { history: false, deleted: 3 });
    assert.equal(sql(srv.dataDir, `SELECT COUNT(*) FROM chat_conversations WHERE owner = '${u.id}'`), '0');
    assert.equal(sql(srv.dataDir, `SELECT COUNT(*) FROM chat_messages WHERE owner = '${u.id}'`), '0');
    assert.equal((await u.c.req('GET', '/api/chat/conversations')).status, 409);
    await on(u);
    const l = await u.c.req('GET', '/api/chat/conversations');
    assert.equal(l.json.data.length, 0, 'switching on again brings nothing back');
  });

  test('issue 5: the data export holds the conversations; erasing the account removes them (REQ: PRIV-1, PRIV-2, PRIV-4)', async () => {
    const u = await user(srv);
    await on(u);
    const c = await u.c.req('POST', '/api/chat/conversations', convo('the old mill'));
    assert.equal(c.status, 201, c.text);
    const x = await u.c.req('POST', '/api/privacy/export');
    assert.ok(x.status === 201 || x.status === 202, x.text);
    let z;
    for (const t = Date.now(); Date.now() - t < 60000; await sleep(100)) {
      const r = await fetch(`${srv.url}/api/privacy/exports/${x.json.id}`, { headers: { Cookie: u.c.cookie } });
      z = { status: r.status, body: Buffer.from(await r.arrayBuffer()) };
      if (z.status === 200) break;
    }
    assert.equal(z.status, 200);
    const dir = mkdtempSync(join(tmpdir(), 'atelier-chatexp-'));
    writeFileSync(join(dir, 'x.zip'), z.body);
    execFileSync('unzip', ['-q', join(dir, 'x.zip'), '-d', join(dir, 'x')]);
    const convs = JSON.parse(readFileSync(join(dir, 'x', 'data', 'chat_conversations.json'), 'utf8'));
    assert.deepEqual(convs.map((v) => [v.id, v.title]), [[c.json.id, 'Trip the old mill']]);
    const msgs = JSON.parse(readFileSync(join(dir, 'x', 'data', 'chat_messages.json'), 'utf8'));
    assert.deepEqual(msgs.map((m) => [m.conversation, m.role, m.content]),
      convo('the old mill').messages.map((m) => [c.json.id, m.role, m.content]));
    const settings = JSON.parse(readFileSync(join(dir, 'x', 'data', 'chat_settings.json'), 'utf8'));
    assert.equal(settings[0].history, true);

    const del = await u.c.req('DELETE', '/api/me', { password: u.p.password });
    assert.equal(del.status, 200, del.text);
    for (const t of ['chat_conversations', 'chat_messages', 'chat_settings'])
      assert.equal(sql(srv.dataDir, `SELECT COUNT(*) FROM ${t} WHERE owner = '${u.id}'`), '0', t);
  });

  test('issue 5: the privacy notice says chat history is kept only when switched on, sealed, deleted when off', async () => {
    const r = await api(srv.url, 'GET', '/privacy');
    assert.equal(r.status, 200);
    assert.match(r.text, /Chat history<\/strong>: the studio's chats are not stored unless you turn on/);
    assert.match(r.text, /sealed at rest with your key; turning it off deletes every stored conversation/);
    assert.match(r.text, /<td>Chat history<\/td>/);
  });

  test('issue 5: bad input is refused with 400 naming the field', async () => {
    const u = await user(srv);
    const bad = await u.c.req('PUT', '/api/chat/settings', { history: 'yes' });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.param, 'history');
    const extra = await u.c.req('PUT', '/api/chat/settings', { history: true, keep: 1 });
    assert.equal(extra.status, 400);
    assert.equal(extra.json.error.param, 'keep');
    await on(u);
    const ok = { role: 'user', content: 'x' };
    const cases = [
      [{ messages: [ok], owner: 'someone' }, 'owner'],
      [{}, 'messages'],
      [{ messages: 'hi' }, 'messages'],
      [{ messages: [{ role: 'tool', content: 'x' }] }, 'messages[0].role'],
      [{ messages: [ok, { role: 'user', content: 5 }] }, 'messages[1].content'],
      [{ messages: [{ role: 'user', content: 'x', name: 'n' }] }, 'messages[0].name'],
      [{ messages: [{ role: 'user', content: 'é'.repeat(100001) }] }, 'messages[0].content'],
      [{ messages: Array(501).fill(ok) }, 'messages'],
      [{ messages: [ok], title: 't'.repeat(201) }, 'title'],
      [{ messages: [ok], title: 7 }, 'title'],
    ];
    for (const [body, field] of cases) {
      const r = await u.c.req('POST', '/api/chat/conversations', body);
      assert.equal(r.status, 400, `${field}: ${r.text}`);
      assert.equal(r.json.error.param, field, r.text);
    }
    // the limits themselves are allowed
    const edge = await u.c.req('POST', '/api/chat/conversations',
      { title: 'é'.repeat(200), messages: [{ role: 'user', content: 'é'.repeat(100000) }] });
    assert.equal(edge.status, 201, edge.text);
    assert.equal((await u.c.req('GET', '/api/chat/conversations?limit=0')).json.error.param, 'limit');
    assert.equal((await u.c.req('GET', '/api/chat/conversations?before=conv_nope')).json.error.param, 'before');
  });
});
