// The OpenAI-compatible text API against the real binary and the real
// engine (a random-weight model made by tools/make_test_models.py), with the
// official openai SDK as the client. Upstream chaining: one Atelier is the
// upstream of another.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { startServer, api, BIN } from './lib/server.js';
import { Client, person } from './lib/accounts.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A wider random model that takes a few milliseconds a token (its weights
// are read from memory for each), so a long answer is still being generated
// when a test's client leaves.
function makeWideModel() {
  const dir = mkdtempSync(join(tmpdir(), 'atelier-models-'));
  const r = spawnSync('/usr/bin/python3', ['-c',
    'import sys; sys.path.insert(0, sys.argv[1]); import make_test_models as m; '
    + 'm.write_model(sys.argv[2], "llama", "F32", dict(m.SMALL, dim=512, layers=4, heads=8, kv=4, ffn=1408, ctx=4096))',
    join(root, 'tools'), join(dir, 'wide.gguf')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return join(dir, 'wide.gguf');
}

function makeModel() {
  const dir = mkdtempSync(join(tmpdir(), 'atelier-models-'));
  const r = spawnSync('/usr/bin/python3', [join(root, 'tools/make_test_models.py'), dir, 'llama_f32'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return join(dir, 'llama_f32.gguf');
}

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

// A user made with the CLI, signed in, with an API key of the given scopes.
async function keyFor(srv, scopes = ['generate', 'read']) {
  const p = person();
  const r = await createUser(srv.dataDir, { ...p, role: 'user' });
  assert.equal(r.code, 0, r.err);
  const c = new Client(srv.url);
  assert.equal((await c.login(p.username, p.password)).status, 200);
  const k = await c.req('POST', '/api/keys', { name: 'test', scopes });
  assert.equal(k.status, 201, k.text);
  return { key: k.json.key, client: c };
}

const sdk = (srv, key) => new OpenAI({ apiKey: key, baseURL: srv.url + '/v1', maxRetries: 0, timeout: 60000 });

describe('text API (REQ: GEN-1, GEN-6, GEN-8, USE-1)', () => {
  let srv, key, ai, modelPath, owner;

  before(async () => {
    modelPath = makeModel();
    srv = await startServer({
      config: {
        server: { debug_routes: 'true', threads: 4 },
        'model.tiny': { kind: 'text', backend: 'builtin', path: modelPath, threads: 1, context: 256, max_queue: 64 },
        'model.dear': { kind: 'text', backend: 'builtin', path: modelPath, threads: 1, context: 256, price_prompt: '1000', price_completion: '1000' },
        'model.broken': { kind: 'text', backend: 'builtin', path: '/nonexistent/model.gguf' },
        'model.wide': { kind: 'text', backend: 'builtin', path: makeWideModel(), threads: 1, context: 4096 },
      },
    });
    ({ key, client: owner } = await keyFor(srv));
    ai = sdk(srv, key);
  });
  after(async () => { await srv?.stop(); });

  test('GET /v1/models lists configured models with availability; a missing file never crashes (REQ: GEN-8)', async () => {
    const list = await ai.models.list();
    const byId = Object.fromEntries(list.data.map((m) => [m.id, m]));
    assert.equal(byId.tiny.available, true);
    assert.equal(byId.broken.available, false);
    assert.match(byId.broken.unavailable_reason, /cannot load/);
    const e = await ai.chat.completions.create({ model: 'broken', messages: [{ role: 'user', content: 'hi' }] }).catch((x) => x);
    assert.equal(e.status, 503);
  });

  test('chat completion: shape, usage, finish_reason length', async () => {
    const r = await ai.chat.completions.create({ model: 'tiny', messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hello' }], max_tokens: 8, seed: 1 });
    assert.match(r.id, /^chatcmpl-/);
    assert.equal(r.object, 'chat.completion');
    assert.equal(r.model, 'tiny');
    assert.ok(r.created > 0 && r.system_fingerprint);
    assert.equal(r.choices.length, 1);
    assert.equal(r.choices[0].message.role, 'assistant');
    assert.equal(typeof r.choices[0].message.content, 'string');
    assert.ok(['length', 'stop'].includes(r.choices[0].finish_reason));
    assert.ok(r.usage.completion_tokens <= 8 && r.usage.completion_tokens >= 1);
    assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
  });

  test('completions: usage prompt_tokens matches the tokenizer count (byte-fallback vocabulary: BOS + bytes of "▁" + text)', async () => {
    const prompt = 'abc def';
    const r = await ai.completions.create({ model: 'tiny', prompt, max_tokens: 5, temperature: 0 });
    assert.equal(r.object, 'text_completion');
    assert.match(r.id, /^cmpl-/);
    const expected = 1 + Buffer.byteLength('▁' + prompt.replace(/ /g, '▁'));
    assert.equal(r.usage.prompt_tokens, expected);
    assert.equal(r.choices[0].finish_reason, 'length');
    assert.equal(r.usage.completion_tokens, 5);
  });

  test('same seed gives the same text; n > 1 gives n choices', async () => {
    const body = { model: 'tiny', messages: [{ role: 'user', content: 'tell me' }], max_tokens: 12, seed: 42, temperature: 1.0 };
    const a = await ai.chat.completions.create(body);
    const b = await ai.chat.completions.create(body);
    assert.equal(a.choices[0].message.content, b.choices[0].message.content);
    const many = await ai.chat.completions.create({ ...body, n: 3 });
    assert.equal(many.choices.length, 3);
    assert.deepEqual(many.choices.map((c) => c.index), [0, 1, 2]);
    assert.equal(many.choices[0].message.content, a.choices[0].message.content, 'choice 0 uses the seed itself');
  });

  test('prompt caching: a repeated prompt reports cached_tokens and gives the same text; only for the same account and end user', async () => {
    const content = `cache me ${Date.now()}`;
    const body = { model: 'tiny', messages: [{ role: 'user', content }], max_tokens: 6, seed: 3 };
    const first = await ai.chat.completions.create(body);
    // at most the chat template's opening, shared with this account's earlier requests
    assert.ok(first.usage.prompt_tokens_details.cached_tokens < first.usage.prompt_tokens - 8);
    const again = await ai.chat.completions.create(body);
    assert.equal(again.usage.prompt_tokens_details.cached_tokens, again.usage.prompt_tokens - 1);
    assert.equal(again.choices[0].message.content, first.choices[0].message.content);
    // the next turn of the chat resends the history: only the new part is computed
    const turn2 = await ai.chat.completions.create({ ...body, messages: [...body.messages,
      { role: 'assistant', content: first.choices[0].message.content }, { role: 'user', content: 'and then?' }] });
    assert.ok(turn2.usage.prompt_tokens_details.cached_tokens >= first.usage.prompt_tokens,
      `${turn2.usage.prompt_tokens_details.cached_tokens} of ${turn2.usage.prompt_tokens} cached`);
    // another account, or another end user of this one, never reuses it
    const other = sdk(srv, (await keyFor(srv)).key);
    const theirs = await other.chat.completions.create(body);
    assert.equal(theirs.usage.prompt_tokens_details.cached_tokens, 0);
    assert.equal(theirs.choices[0].message.content, first.choices[0].message.content);
    const endUser = await ai.chat.completions.create({ ...body, user: 'end-user-7' });
    assert.equal(endUser.usage.prompt_tokens_details.cached_tokens, 0);
    const endUserAgain = await ai.chat.completions.create({ ...body, user: 'end-user-7' });
    assert.equal(endUserAgain.usage.prompt_tokens_details.cached_tokens, endUserAgain.usage.prompt_tokens - 1);
    // streamed usage says the same
    const stream = await ai.chat.completions.create({ ...body, stream: true, stream_options: { include_usage: true } });
    let usage = null;
    for await (const c of stream) if (c.usage) usage = c.usage;
    assert.equal(usage.prompt_tokens_details.cached_tokens, usage.prompt_tokens - 1);
    // erasing the end user (REQ: PRIV-10) forgets their cache too; the account's own stays
    const pk = await owner.req('POST', '/api/keys', { name: 'privacy', scopes: ['privacy'] });
    assert.equal(pk.status, 201, pk.text);
    const er = await api(srv.url, 'DELETE', '/api/privacy/subjects/end-user-7', { headers: { Authorization: `Bearer ${pk.json.key}` } });
    assert.equal(er.status, 200, er.text);
    const afterErase = await ai.chat.completions.create({ ...body, user: 'end-user-7' });
    assert.equal(afterErase.usage.prompt_tokens_details.cached_tokens, 0);
    const own = await ai.chat.completions.create(body);
    assert.equal(own.usage.prompt_tokens_details.cached_tokens, own.usage.prompt_tokens - 1);
  });

  test('streamed chat: chunks, [DONE], include_usage (REQ: GEN-1)', async () => {
    const stream = await ai.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'stream it' }], max_tokens: 10, seed: 7, stream: true, stream_options: { include_usage: true } });
    let text = '', finish = null, usage = null, n = 0;
    for await (const c of stream) {
      n++;
      assert.equal(c.object, 'chat.completion.chunk');
      if (c.choices.length) {
        text += c.choices[0].delta.content || '';
        if (c.choices[0].finish_reason) finish = c.choices[0].finish_reason;
      }
      if (c.usage) usage = c.usage;
    }
    assert.ok(n >= 2);
    assert.ok(finish);
    assert.ok(usage && usage.completion_tokens >= 1);
    const whole = await ai.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'stream it' }], max_tokens: 10, seed: 7 });
    assert.equal(text, whole.choices[0].message.content, 'streamed and whole answers agree');
  });

  test('stop sequences end the text before the stop string', async () => {
    const base = { model: 'tiny', prompt: 'x', max_tokens: 40, seed: 3, temperature: 1 };
    const full = (await ai.completions.create(base)).choices[0].text;
    assert.ok(full.length >= 4, 'model produced text');
    const i = [...full].findIndex((ch, j) => j >= 1 && /[A-Za-z0-9]/.test(ch));
    assert.ok(i >= 1, 'an ASCII letter to stop at');
    const stop = [...full][i];
    const r = await ai.completions.create({ ...base, stop: [stop] });
    assert.equal(r.choices[0].finish_reason, 'stop');
    assert.equal(r.choices[0].text, full.slice(0, full.indexOf(stop)));
    assert.ok(!r.choices[0].text.includes(stop));
  });

  test('logprobs and top_logprobs', async () => {
    const r = await ai.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'x' }], max_tokens: 3, logprobs: true, top_logprobs: 2, seed: 5 });
    const lp = r.choices[0].logprobs.content;
    assert.ok(lp.length >= 1);
    assert.ok(lp[0].logprob <= 0);
    assert.equal(lp[0].top_logprobs.length, 2);
    assert.ok(lp[0].top_logprobs[0].logprob >= lp[0].top_logprobs[1].logprob);
  });

  test('bad input: OpenAI error shape through the SDK, server unaffected', async () => {
    const m = [{ role: 'user', content: 'hi' }];
    const cases = [
      [{ model: 'nope', messages: m }, 404, 'model_not_found', 'model'],
      [{ model: 'tiny', messages: [] }, 400, null, 'messages'],
      [{ model: 'tiny', messages: [{ role: 'wizard', content: 'x' }] }, 400, null, 'messages'],
      [{ model: 'tiny', messages: m, temperature: 'hot' }, 400, null, 'temperature'],
      [{ model: 'tiny', messages: m, temperature: 3 }, 400, null, 'temperature'],
      [{ model: 'tiny', messages: m, top_p: 2 }, 400, null, 'top_p'],
      [{ model: 'tiny', messages: m, max_tokens: 0 }, 400, null, 'max_tokens'],
      [{ model: 'tiny', messages: m, n: 9 }, 400, null, 'n'],
      [{ model: 'tiny', messages: m, stop: ['a', 'b', 'c', 'd', 'e'] }, 400, null, 'stop'],
      [{ model: 'tiny', messages: m, presence_penalty: 5 }, 400, null, 'presence_penalty'],
      [{ model: 'tiny', messages: m, seed: 1.5 }, 400, null, 'seed'],
      [{ model: 'tiny', messages: [{ role: 'user', content: 'word '.repeat(200) }] }, 400, 'context_length_exceeded', 'messages'],
    ];
    for (const [body, status, code, param] of cases) {
      const e = await ai.chat.completions.create(body).catch((x) => x);
      assert.ok(e instanceof OpenAI.APIError, JSON.stringify(body).slice(0, 80));
      assert.equal(e.status, status, JSON.stringify(body).slice(0, 80));
      if (code) assert.equal(e.code, code);
      assert.equal(e.param, param);
    }
    assert.ok((await ai.chat.completions.create({ model: 'nope', messages: m }).catch((x) => x)) instanceof OpenAI.NotFoundError);
    // invalid UTF-8 in the body
    const bad = Buffer.concat([Buffer.from('{"model":"tiny","messages":[{"role":"user","content":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}]}')]);
    let r = await fetch(srv.url + '/v1/chat/completions', { method: 'POST', headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' }, body: bad });
    assert.equal(r.status, 400);
    // oversized body: announced with Expect: 100-continue, so the 413 comes
    // before the body is sent (a server that refuses early closes the
    // connection, and a client still writing would see a reset instead)
    const status413 = await new Promise((resolveStatus, reject) => {
      const q = http.request(srv.url + '/v1/chat/completions', {
        method: 'POST', agent: false,
        headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json', 'Content-Length': String(3 << 20), Expect: '100-continue' },
      }, (res) => { res.resume(); resolveStatus(res.statusCode); });
      q.on('continue', () => q.end('x'.repeat(3 << 20)));
      q.on('error', reject);
      q.flushHeaders();
    });
    assert.equal(status413, 413);
    // missing and wrong key
    const anon = await sdk(srv, 'sk-' + 'A'.repeat(43)).chat.completions.create({ model: 'tiny', messages: m }).catch((x) => x);
    assert.ok(anon instanceof OpenAI.AuthenticationError);
    r = await fetch(srv.url + '/v1/chat/completions', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
    assert.equal(r.status, 401);
    // still serving
    const ok = await ai.chat.completions.create({ model: 'tiny', messages: m, max_tokens: 2 });
    assert.equal(ok.choices.length, 1);
  });

  test('a revoked key is refused', async () => {
    const { key: k2, client } = await keyFor(srv);
    const a2 = sdk(srv, k2);
    await a2.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'x' }], max_tokens: 1 });
    const id = (await client.req('GET', '/api/keys')).json.keys[0].id;
    assert.equal((await client.req('DELETE', `/api/keys/${id}`)).status, 204);
    const e = await a2.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'x' }], max_tokens: 1 }).catch((x) => x);
    assert.equal(e.status, 401);
  });

  test('402 insufficient_quota when the balance does not cover the worst case; nothing charged (REQ: PAY-5)', async () => {
    const e = await ai.chat.completions.create({ model: 'dear', messages: [{ role: 'user', content: 'x' }], max_tokens: 5 }).catch((x) => x);
    assert.equal(e.status, 402);
    assert.equal(e.code, 'insufficient_quota');
  });

  test('several parallel streams complete (continuous batching)', async () => {
    const runs = [];
    for (let i = 0; i < 6; i++) {
      runs.push((async () => {
        const s = await ai.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: `p${i}` }], max_tokens: 20, seed: i, stream: true });
        let t = '', fin = null;
        for await (const c of s) { if (c.choices[0]) { t += c.choices[0].delta.content || ''; fin = c.choices[0].finish_reason || fin; } }
        return { t, fin, i };
      })());
    }
    const res = await Promise.all(runs);
    for (const r of res) assert.ok(r.fin, `stream ${r.i} finished`);
    // a parallel stream gives the same text as the same request alone
    const alone = await ai.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'p3' }], max_tokens: 20, seed: 3 });
    assert.equal(res[3].t, alone.choices[0].message.content, 'batching does not change a sequence');
  });

  test('/metrics shows each builtin scheduler: steps, entries, widest batch, cache, active and queued', async () => {
    const m = (await api(srv.url, 'GET', '/metrics')).text;
    const val = (name, model) => {
      const r = m.match(new RegExp(`^${name}\\{model="${model}"\\} (\\d+)$`, 'm'));
      assert.ok(r, `${name}{model="${model}"} in /metrics`);
      return Number(r[1]);
    };
    const steps = val('atelier_textgen_steps_total', 'tiny');
    assert.ok(steps > 0);
    assert.ok(val('atelier_textgen_entries_total', 'tiny') > steps, 'prompts put several tokens in a step');
    assert.ok(val('atelier_textgen_max_batch', 'tiny') >= 2);
    assert.ok(val('atelier_textgen_cached_tokens_total', 'tiny') > 0, 'the prompt cache test reused prompts');
    assert.equal(val('atelier_textgen_active', 'tiny'), 0);
    assert.equal(val('atelier_textgen_queued', 'tiny'), 0);
    assert.equal(val('atelier_textgen_steps_total', 'dear'), 0, 'a model not yet asked has run nothing');
    assert.ok(!/model="broken"/.test(m), 'an unavailable model has no scheduler');
    assert.equal((m.match(/^# TYPE atelier_textgen_steps_total counter$/gm) || []).length, 1);
  });

  test('a client that disconnects stops its generation and frees the slot; usage row says 499 (REQ: USE-1)', async () => {
    // eight long neighbours make every step wide, so the aborted request is
    // still generating when its client leaves (the tiny model is fast alone)
    const neighbours = Array.from({ length: 8 }, (_, i) => ai.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: `n${i}` }], max_tokens: 220, temperature: 0 }));
    const ctl = new AbortController();
    const s = await ai.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'long' }], max_tokens: 220, temperature: 0, stream: true }, { signal: ctl.signal });
    let got = 0;
    try { for await (const c of s) { if (++got === 3) ctl.abort(); } } catch { /* aborted */ }
    await Promise.all(neighbours);
    await sleep(300);
    // all slots free again: 16 parallel requests complete
    const all = await Promise.all(Array.from({ length: 16 }, (_, i) => ai.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: `q${i}` }], max_tokens: 2 })));
    assert.equal(all.length, 16);
    const usage = await api(srv.url, 'GET', '/api/usage?format=csv', { headers: { Authorization: `Bearer ${key}` } });
    assert.equal(usage.status, 200, usage.text);
    assert.match(usage.text, /,499,/);
  });

  test('a non-streamed client that leaves stops its generation too; usage row says 499 (REQ: USE-1)', async () => {
    const { key: k2 } = await keyFor(srv); // its own usage rows
    const req = http.request(srv.url + '/v1/chat/completions', { method: 'POST', headers: { Authorization: `Bearer ${k2}`, 'Content-Type': 'application/json' } });
    req.on('error', () => {});
    req.end(JSON.stringify({ model: 'wide', messages: [{ role: 'user', content: 'long, then gone' }], max_tokens: 3000, temperature: 0 }));
    await sleep(400);
    req.destroy();
    await sleep(400);
    const csv = (await api(srv.url, 'GET', '/api/usage?format=csv', { headers: { Authorization: `Bearer ${k2}` } })).text.trim().split('\n');
    const col = csv[0].split(',');
    const row = csv[1].split(',');
    assert.equal(csv.length, 2, csv.join('\n'));
    assert.equal(row[col.indexOf('status')], '499', csv.join('\n'));
    assert.ok(Number(row[col.indexOf('completion_tokens')]) < 3000, 'stopped before max_tokens: ' + csv[1]);
  });

  test('no prompt or output in the logs', async () => {
    const secret = 'zebra-quasar-7731';
    await ai.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: secret }], max_tokens: 2, user: 'end-user-42' });
    await sleep(100);
    assert.ok(!srv.logs.join('\n').includes(secret));
    assert.ok(!srv.logs.join('\n').includes('end-user-42'));
  });
});

describe('upstream backend: Atelier in front of Atelier (REQ: GEN-8)', () => {
  let up, gw, ai, upKey;
  before(async () => {
    const modelPath = makeModel();
    up = await startServer({ config: { 'model.tiny': { kind: 'text', backend: 'builtin', path: modelPath, threads: 1, context: 256 } } });
    ({ key: upKey } = await keyFor(up));
    gw = await startServer({
      config: {
        'model.remote': { kind: 'text', backend: 'openai', base_url: up.url + '/v1', api_key: upKey, upstream_model: 'tiny' },
        'model.gone': { kind: 'text', backend: 'openai', base_url: 'http://127.0.0.1:9/v1', api_key: 'x' },
      },
    });
    const { key } = await keyFor(gw);
    ai = sdk(gw, key);
  });
  after(async () => { await gw?.stop(); await up?.stop(); });

  test('plain and streamed requests pass through; same seed, same text as the upstream', async () => {
    const body = { model: 'remote', messages: [{ role: 'user', content: 'via gateway' }], max_tokens: 8, seed: 11 };
    const r = await ai.chat.completions.create(body);
    assert.equal(r.choices.length, 1);
    assert.equal(r.model, 'remote', 'our model name, as in streamed chunks');
    assert.ok(r.usage.completion_tokens >= 1);
    const direct = await sdk(up, upKey).chat.completions.create({ ...body, model: 'tiny' });
    assert.equal(r.choices[0].message.content, direct.choices[0].message.content);
    const s = await ai.chat.completions.create({ ...body, stream: true });
    let t = '';
    for await (const c of s) { assert.equal(c.model, 'remote'); assert.ok(!c.usage, 'no usage chunk unless asked'); t += c.choices[0]?.delta?.content || ''; }
    assert.equal(t, direct.choices[0].message.content);
    const list = await ai.models.list();
    const byId = Object.fromEntries(list.data.map((m) => [m.id, m]));
    assert.equal(byId.remote.available, true);
    assert.equal(byId.gone.available, false);
  });

  test('the upstream caches prompts per caller: the gateway sends a pseudonym, never the end user', async () => {
    const body = { model: 'remote', messages: [{ role: 'user', content: `via gateway, cached ${Date.now()}` }], max_tokens: 4, seed: 2 };
    const first = await ai.chat.completions.create(body);
    const again = await ai.chat.completions.create(body);
    assert.equal(again.usage.prompt_tokens_details.cached_tokens, again.usage.prompt_tokens - 1, 'the same caller reuses its prompt upstream');
    assert.equal(again.choices[0].message.content, first.choices[0].message.content);
    // another account of the gateway, and another end user of this one, share the
    // gateway's upstream key but not its cache
    const other = sdk(gw, (await keyFor(gw)).key);
    assert.equal((await other.chat.completions.create(body)).usage.prompt_tokens_details.cached_tokens, 0);
    assert.equal((await ai.chat.completions.create({ ...body, user: 'someone' })).usage.prompt_tokens_details.cached_tokens, 0);
    // what the upstream recorded: a hash of the pseudonym, never the end user's name
    const csv = await api(up.url, 'GET', '/api/usage?format=csv', { headers: { Authorization: `Bearer ${upKey}` } });
    assert.equal(csv.status, 200, csv.text);
    assert.ok(!csv.text.includes('someone'));
  });

  test('upstream errors keep the OpenAI shape; unreachable upstream is 503', async () => {
    const e = await ai.chat.completions.create({ model: 'remote', messages: [{ role: 'user', content: 'x' }], temperature: 1.5, top_p: 0 + 1, n: 1, max_tokens: 100000 }).catch((x) => x);
    assert.ok(e instanceof OpenAI.APIError || e.choices, 'answer or OpenAI error');
    const g = await ai.chat.completions.create({ model: 'gone', messages: [{ role: 'user', content: 'x' }] }).catch((x) => x);
    assert.equal(g.status, 503);
    assert.match(g.message, /cannot be reached/);
  });
});

// A local stand-in for a slow OpenAI-compatible server: it checks what a real
// one would receive and answers after a delay, so the gateway's handling of
// calls in flight can be watched.
describe('gateway: non-streamed calls wait without holding a server thread', () => {
  let fake, gw, ai, gwKey, seen = [];
  before(async () => {
    fake = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        const j = JSON.parse(body);
        seen.push({ auth: req.headers.authorization, body: j });
        const reply = j.messages[0].content === 'not json'
          ? () => { res.writeHead(500, { 'Content-Type': 'text/plain' }); res.end('upstream exploded'); }
          : () => { res.writeHead(200, { 'Content-Type': 'application/json' }); res.end(JSON.stringify({ id: 'x', object: 'chat.completion', created: 1, model: 'their-name', choices: [{ index: 0, message: { role: 'assistant', content: 'slow answer' }, finish_reason: 'stop' }], usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } })); };
        setTimeout(reply, 1500);
      });
    });
    await new Promise((r) => fake.listen(0, '127.0.0.1', r));
    gw = await startServer({
      config: {
        server: { threads: 2 },
        'model.slow': { kind: 'text', backend: 'openai', base_url: `http://127.0.0.1:${fake.address().port}/v1`, api_key: 'fake-upstream-key' },
      },
    });
    gwKey = (await keyFor(gw)).key;
    ai = sdk(gw, gwKey);
  });
  after(async () => { await gw?.stop(); fake?.close(); });

  test('six slow calls on a two-thread server: the server answers others meanwhile, then each its real status', async () => {
    const calls = Array.from({ length: 6 }, () => ai.chat.completions.create({ model: 'slow', messages: [{ role: 'user', content: 'hi' }], user: 'end-user-1' }));
    await sleep(300);
    const t0 = performance.now();
    const h = await api(gw.url, 'GET', '/healthz');
    const took = performance.now() - t0;
    assert.equal(h.status, 200);
    assert.ok(took < 700, `healthz took ${took.toFixed(0)} ms while six upstream calls were in flight`);
    for (const r of await Promise.all(calls)) {
      assert.equal(r.choices[0].message.content, 'slow answer');
      assert.equal(r.model, 'slow', 'our model name');
      assert.equal(r.usage.completion_tokens, 2);
    }
    // charged and recorded before the answer was sent: a client that has its
    // answer finds the usage row at once
    const csv = (await api(gw.url, 'GET', '/api/usage?format=csv', { headers: { Authorization: `Bearer ${gwKey}` } })).text.trim().split('\n');
    assert.equal(csv.length, 7, csv.join('\n'));
    assert.ok(csv.slice(1).every((l) => l.split(',')[csv[0].split(',').indexOf('status')] === '200'), csv.join('\n'));
    assert.equal(seen[0].auth, 'Bearer fake-upstream-key');
    assert.match(seen[0].body.user, /^atelier-[0-9a-f]+$/, 'a pseudonym, not the end user');
    // an upstream failure that is not JSON is a 502 in the OpenAI shape, not a 200
    const e = await ai.chat.completions.create({ model: 'slow', messages: [{ role: 'user', content: 'not json' }] }).catch((x) => x);
    assert.equal(e.status, 502);
    assert.equal(e.code, 'upstream_error');
  });
});
