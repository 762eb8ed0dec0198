// Paid generation through the ledger, under concurrency and a crash.
// REQ: PAY-1 (generation spends credits at the published price), PAY-5 (no
// credit lost or spent twice: 50 parallel generations against a balance for
// 10; kill -9 mid-generation, then restart).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, runCli } from './lib/server.js';
import { person } from './lib/accounts.js';
import { createUser, signedIn } from './lib/users.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function makeModel() {
  const dir = mkdtempSync(join(tmpdir(), 'atelier-paid-'));
  const r = spawnSync('/usr/bin/python3', [join(root, 'tools/make_test_models.py'), dir, 'llama_f32'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return join(dir, 'llama_f32.gguf');
}

// 1 credit per prompt token, completions free: every call of the same prompt
// costs exactly the same, whatever it generates, so "a balance for 10" is
// exact whatever the timing.
const model = (path) => ({ kind: 'text', path, threads: 1, context: 256, max_queue: 128, price_prompt: '1000', price_completion: '0' });

async function user(srv, credits) {
  const p = person();
  const r = await createUser(srv.dataDir, { ...p, role: 'user' });
  assert.equal(r.code, 0, r.err);
  const c = await signedIn(srv, p);
  const me = await c.req('GET', '/api/me');
  const id = me.json.id || me.json.user?.id;
  assert.ok(id, me.text);
  if (credits) {
    const g = await runCli(['admin', 'grant', '--user', id, '--credits', String(credits), '--reason', 'test', '--data-dir', srv.dataDir]);
    assert.equal(g.code, 0, g.stderr);
  }
  const k = await c.req('POST', '/api/keys', { name: 'k', scopes: ['generate', 'read'] });
  assert.equal(k.status, 201, k.text);
  return { c, key: k.json.key, id, p };
}

function chat(srv, key, body) {
  return fetch(srv.url + '/v1/chat/completions', {
    method: 'POST',
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ model: 'paid', messages: [{ role: 'user', content: 'count to three' }], max_tokens: 4, ...body }),
  });
}

const credits = async (c) => Number((await c.req('GET', '/api/billing/balance')).json.credits);

describe('paid generation', () => {
  let srv, modelPath, cost;
  before(async () => {
    modelPath = makeModel();
    srv = await startServer({ config: { 'model.paid': model(modelPath), credits: { signup_grant: '0' }, auth: { ip_free_failures: 100000 } }, keepData: true });
  });
  after(async () => { await srv.stop(); });

  test('a generation is charged its published price and shows in usage', async () => {
    const u = await user(srv, 100);
    const r = await chat(srv, u.key, {});
    assert.equal(r.status, 200);
    const j = await r.json();
    cost = j.usage.prompt_tokens; // 1 credit per prompt token
    assert.ok(cost > 0);
    assert.equal(await credits(u.c), 100 - cost);
    const usage = await u.c.req('GET', '/api/usage');
    assert.equal(usage.json.totals.calls, 1);
    assert.equal(usage.json.totals.credits, cost);
  });

  test('50 parallel generations against a balance for 10 succeed exactly 10 times', async () => {
    const u = await user(srv, 10 * cost);
    const rs = await Promise.all(Array.from({ length: 50 }, () => chat(srv, u.key, {}).then(async (r) => ({ status: r.status, body: await r.text() }))));
    const ok = rs.filter((r) => r.status === 200).length;
    const refused = rs.filter((r) => r.status === 402);
    assert.equal(ok, 10, JSON.stringify(rs.map((r) => r.status)));
    assert.equal(refused.length, 40);
    assert.equal(JSON.parse(refused[0].body).error.code, 'insufficient_quota');
    assert.equal(await credits(u.c), 0);
  });
});

test('kill -9 in the middle of generations loses no credit', async () => {
  const modelPath = makeModel();
  const cfg = { 'model.paid': { ...model(modelPath), price_completion: '1000' }, credits: { signup_grant: '0' }, auth: { ip_free_failures: 100000 } };
  let srv = await startServer({ config: cfg, keepData: true });
  const dataDir = srv.dataDir;
  const u = await user(srv, 100000);
  const before = await credits(u.c);
  // a dozen long streamed generations; kill the server once tokens flow, so
  // some are generating and others wait in the queue, their worst case held
  let first;
  const started = new Promise((r) => (first = r));
  for (let i = 0; i < 12; i++) {
    const req = http.request(srv.url + '/v1/chat/completions', {
      method: 'POST', agent: false,
      headers: { Authorization: `Bearer ${u.key}`, 'Content-Type': 'application/json' },
    }, (res) => { res.once('data', () => first()); res.on('error', () => {}); });
    req.on('error', () => {});
    req.end(JSON.stringify({ model: 'paid', stream: true, max_tokens: 200, messages: [{ role: 'user', content: `tell a long story ${i}` }] }));
  }
  await started;
  assert.ok(await credits(u.c) < before, 'the worst cases are held while generating');
  srv.proc.kill('SIGKILL');
  await srv.exited;
  srv = await startServer({ config: cfg, dataDir });
  try {
    assert.ok(srv.logs.some((l) => l.includes('"event":"credits.recovered"')), 'open holds are found at start-up');
    const c = await signedIn(srv, u.p);
    const after = await credits(c);
    // what finished before the kill was settled and metered; the rest was
    // released: the balance is what it was, less exactly what was used
    const used = (await c.req('GET', '/api/usage')).json.totals.credits;
    assert.ok(Math.abs(after - (before - used)) < 1e-6, `balance ${after}, before ${before}, used ${used}`);
    assert.ok(after > before - 12 * 300, 'not every worst case was kept');
  } finally { await srv.stop(); }
});
