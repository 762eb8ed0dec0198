// The images API against the real binary and the committed default model
// (models/shapes-diffusion.safetensors, 32x32), with the official openai SDK
// as the client: generations (url and b64_json), jobs and their progress,
// the gallery, who may see an image, credits, bad input, a crash with jobs
// queued, ephemeral retention, export and erasure, and one Atelier as the
// upstream of another. Few sampling steps where the test does not care.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, readFileSync, readdirSync, existsSync, writeFileSync } from 'node:fs';
import { inflateSync, deflateSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI, { toFile } from 'openai';
import { startServer, runCli, api } from './lib/server.js';
import { person, sleep } from './lib/accounts.js';
import { createUser, signedIn } from './lib/users.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const MODEL = join(root, 'models/shapes-diffusion.safetensors');
const sql = (dataDir, q) => execFileSync('sqlite3', [join(dataDir, 'atelier.db'), q], { encoding: 'utf8' }).trim();
const sdk = (url, key) => new OpenAI({ apiKey: key, baseURL: url + '/v1', maxRetries: 0, timeout: 120000 });

// price: 1 credit an image, 0.1 credit per step beyond 25
const shapes = { kind: 'image', path: MODEL, threads: 1, max_queue: 64, price_image: '1', price_step: '0.1' };

// Decode a PNG enough to know it is whole: chunks, IHDR, inflated IDAT of
// the right length for 8-bit RGB. Returns {w, h, rgb rows}.
function decodePng(buf) {
  assert.ok(buf.subarray(0, 8).equals(Buffer.from([137, 80, 78, 71, 13, 10, 26, 10])), 'PNG signature');
  let off = 8, w = 0, h = 0, depth = 0, type = 0;
  const idat = [];
  while (off < buf.length) {
    const len = buf.readUInt32BE(off);
    const kind = buf.toString('latin1', off + 4, off + 8);
    const data = buf.subarray(off + 8, off + 8 + len);
    if (kind === 'IHDR') { w = data.readUInt32BE(0); h = data.readUInt32BE(4); depth = data[8]; type = data[9]; }
    if (kind === 'IDAT') idat.push(data);
    off += 12 + len;
    if (kind === 'IEND') break;
  }
  assert.equal(depth, 8);
  assert.equal(type, 2, 'RGB');
  const raw = inflateSync(Buffer.concat(idat));
  assert.equal(raw.length, h * (1 + w * 3), 'pixel data complete');
  return { w, h };
}

// The pixels of an 8-bit RGB PNG, unfiltered: [h][w][3] as one Buffer.
function pngPixels(buf) {
  const { w, h } = decodePng(buf);
  let off = 8;
  const idat = [];
  while (off < buf.length) {
    const len = buf.readUInt32BE(off);
    if (buf.toString('latin1', off + 4, off + 8) === 'IDAT') idat.push(buf.subarray(off + 8, off + 8 + len));
    off += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat)), stride = w * 3, out = Buffer.alloc(h * stride);
  for (let y = 0; y < h; y++) {
    const f = raw[y * (stride + 1)], src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const a = x >= 3 ? out[y * stride + x - 3] : 0, b = y ? out[(y - 1) * stride + x] : 0;
      const c = x >= 3 && y ? out[(y - 1) * stride + x - 3] : 0;
      const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
      const pred = [0, a, b, (a + b) >> 1, pa <= pb && pa <= pc ? a : pb <= pc ? b : c][f];
      out[y * stride + x] = (src[x] + pred) & 0xff;
    }
  }
  return { w, h, px: out };
}

async function user(srv, { credits = 0, role = 'user' } = {}) {
  const p = person();
  const r = await createUser(srv.dataDir, { ...p, role });
  assert.equal(r.code, 0, r.err);
  const c = await signedIn(srv, p);
  const me = await c.req('GET', '/api/me');
  const id = me.json.id || me.json.user?.id;
  assert.ok(id, me.text);
  if (credits) {
    const g = await runCli(['admin', 'grant', '--user', id, '--credits', String(credits), '--reason', 'test', '--data-dir', srv.dataDir]);
    assert.equal(g.code, 0, g.stderr);
  }
  let key = null;
  if (role === 'user') {
    const k = await c.req('POST', '/api/keys', { name: 'k', scopes: ['generate', 'read'] });
    assert.equal(k.status, 201, k.text);
    key = k.json.key;
  }
  return { c, key, id, p };
}

const balance = async (u) => (await u.c.req('GET', '/api/billing/balance')).json.credits;

function gen(url, key, body, path = '/v1/images/generations') {
  return fetch(url + path, {
    method: 'POST',
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  }).then(async (r) => ({ status: r.status, headers: r.headers, text: await r.text() }))
    .then((r) => { try { r.json = JSON.parse(r.text); } catch { r.json = null; } return r; });
}

// GET as raw bytes, with a key or a client's cookie.
async function getBytes(url, auth) {
  const headers = auth?.key ? { Authorization: `Bearer ${auth.key}` } : auth?.c ? { Cookie: auth.c.cookie } : {};
  const r = await fetch(url, { headers });
  return { status: r.status, headers: r.headers, body: Buffer.from(await r.arrayBuffer()) };
}

async function waitJob(url, key, id, timeoutMs = 120000) {
  const t = Date.now();
  for (;;) {
    const r = await api(url, 'GET', `/api/images/jobs/${id}`, { headers: { Authorization: `Bearer ${key}` } });
    assert.equal(r.status, 200, r.text);
    if (r.json.status === 'done' || r.json.status === 'failed') return r.json;
    if (Date.now() - t > timeoutMs) throw new Error(`job ${id} still ${r.json.status}`);
    await sleep(50);
  }
}

// A PNG file from chunks, with real CRCs.
const CRC = new Int32Array(256).map((_, n) => { let c = n; for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; return c; });
function crc32(b) { let c = -1; for (const x of b) c = CRC[(c ^ x) & 0xff] ^ (c >>> 8); return (c ^ -1) >>> 0; }
function chunk(kind, data) {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(kind, 4, 'latin1');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}
// A PNG whose header declares w x h with a few bytes of pixel data (a bomb).
function pngHeader(w, h) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4); ihdr[8] = 8; ihdr[9] = 2;
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', Buffer.from([120, 156, 3, 0, 0, 0, 0, 1])), chunk('IEND', Buffer.alloc(0))]);
}

// A real w x w RGB PNG (a gradient), made here.
function pngHeaderless(w) {
  const rows = [];
  for (let y = 0; y < w; y++) {
    const row = Buffer.alloc(1 + w * 3);
    for (let x = 0; x < w; x++) { row[1 + x * 3] = x * 4; row[2 + x * 3] = y * 4; row[3 + x * 3] = 128; }
    rows.push(row);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(w, 4); ihdr[8] = 8; ihdr[9] = 2;
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.concat(rows))), chunk('IEND', Buffer.alloc(0))]);
}

// An RGBA PNG mask: transparent (repaint) on the left half, opaque on the right.
function halfMask(w) {
  const rows = [];
  for (let y = 0; y < w; y++) {
    const row = Buffer.alloc(1 + w * 4);
    for (let x = 0; x < w; x++) row[4 + x * 4] = x < w / 2 ? 0 : 255;
    rows.push(row);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(w, 4); ihdr[8] = 8; ihdr[9] = 6;
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.concat(rows))), chunk('IEND', Buffer.alloc(0))]);
}

// POST a multipart form to /v1/images/edits.
function edit(url, key, fields, file) {
  const fd = new FormData();
  for (const [k, v] of Object.entries(fields)) fd.append(k, String(v));
  if (file) fd.append('image', new Blob([file.data], { type: file.type || 'application/octet-stream' }), file.name);
  return fetch(url + '/v1/images/edits', { method: 'POST', headers: { Authorization: `Bearer ${key}` }, body: fd })
    .then(async (r) => { const text = await r.text(); let json = null; try { json = JSON.parse(text); } catch {} return { status: r.status, text, json }; });
}

const dbText = (dataDir) => readdirSync(dataDir).filter((f) => f.startsWith('atelier.db'))
  .map((f) => readFileSync(join(dataDir, f)).toString('latin1')).join('');

describe('images API (REQ: GEN-2, GEN-4, GEN-5, GEN-6, SEC-3, SEC-5, PAY-1, PAY-5, USE-1)', () => {
  let srv, alice, ai;

  before(async () => {
    srv = await startServer({ config: { server: { threads: 4 }, 'model.shapes': shapes } });
    alice = await user(srv, { credits: 1000 });
    ai = sdk(srv.url, alice.key);
  });
  after(async () => { await srv?.stop(); });

  test('SDK images.generate with url: 32x32 PNGs behind signed links that work for the owner (REQ: GEN-2)', async () => {
    const before = await balance(alice);
    const r = await ai.images.generate({ model: 'shapes', prompt: 'two red circles on a blue background, top left', n: 2, size: '32x32', steps: 3, seed: 11 });
    assert.ok(r.created > 0);
    assert.equal(r.data.length, 2);
    for (const [i, d] of r.data.entries()) {
      assert.match(d.url, /^http:\/\/127\.0\.0\.1:\d+\/api\/images\/img_[\w]+\/file\?exp=\d+&sig=[0-9a-f]{64}$/);
      assert.match(d.id, /^img_/);
      assert.equal(d.seed, 11 + i);
      assert.equal(d.revised_prompt, 'two red circles on a blue background, top left');
      const f = await getBytes(d.url, alice);
      assert.equal(f.status, 200);
      assert.equal(f.headers.get('content-type'), 'image/png');
      assert.deepEqual(decodePng(f.body), { w: 32, h: 32 });
    }
    // 2 images at 3 steps: 2 credits, charged once the job is done
    assert.equal(Number(before) - Number(await balance(alice)), 2);
    // the usage row: images counted, never the prompt (REQ: USE-1)
    const rows = sql(srv.dataDir, `SELECT endpoint || '|' || model || '|' || images || '|' || status FROM usage WHERE owner = '${alice.id}'`);
    assert.match(rows, /\/v1\/images\/generations\|shapes\|2\|200/);
  });

  test('SDK b64_json: the same seed gives identical bytes; another seed differs', async () => {
    const body = { model: 'shapes', prompt: 'a yellow square on a black background, center', response_format: 'b64_json', steps: 4, seed: 1234 };
    const a = await ai.images.generate(body);
    const b = await ai.images.generate(body);
    const c = await ai.images.generate({ ...body, seed: 99 });
    const pa = Buffer.from(a.data[0].b64_json, 'base64');
    assert.deepEqual(decodePng(pa), { w: 32, h: 32 });
    assert.ok(pa.equals(Buffer.from(b.data[0].b64_json, 'base64')), 'same seed, same PNG');
    assert.ok(!pa.equals(Buffer.from(c.data[0].b64_json, 'base64')), 'another seed, another PNG');
    // the gallery holds the same bytes
    const f = await getBytes(`${srv.url}/api/images/${a.data[0].id}/file`, alice);
    assert.ok(f.body.equals(pa));
  });

  test('negative_prompt steers the built-in engine: it changes the picture, an empty one changes nothing, a bad one is 400 (issue 8)', async () => {
    const body = { prompt: 'two red circles on a white background, top left', response_format: 'b64_json', steps: 4, seed: 77 };
    const png = async (b) => {
      const r = await gen(srv.url, alice.key, b);
      assert.equal(r.status, 200, r.text);
      return { id: r.json.data[0].id, png: Buffer.from(r.json.data[0].b64_json, 'base64') };
    };
    const plain = await png(body);
    const empty = await png({ ...body, negative_prompt: '' });
    const neg = await png({ ...body, negative_prompt: 'red circles, bottom right' });
    assert.deepEqual(decodePng(neg.png), { w: 32, h: 32 });
    assert.ok(empty.png.equals(plain.png), 'an empty negative prompt gives the same bytes as none');
    assert.ok(!neg.png.equals(plain.png), 'a negative prompt changes the picture (same seed)');
    assert.ok(neg.png.equals((await png({ ...body, negative_prompt: 'red circles, bottom right' })).png), 'and is deterministic');
    const meta = await api(srv.url, 'GET', `/api/images/${neg.id}`, { headers: { Authorization: `Bearer ${alice.key}` } });
    assert.equal(meta.json.negative_prompt, 'red circles, bottom right');
    // image to image (multipart) takes it too
    const start = pngHeaderless(32);
    const fields = { prompt: 'a blue square on a white background, center', response_format: 'b64_json', strength: 0.75, steps: 4, seed: 5 };
    const e1 = await edit(srv.url, alice.key, fields, { name: 'a.png', data: start, type: 'image/png' });
    const e2 = await edit(srv.url, alice.key, { ...fields, negative_prompt: 'blue square' }, { name: 'a.png', data: start, type: 'image/png' });
    assert.equal(e1.status, 200, e1.text);
    assert.equal(e2.status, 200, e2.text);
    assert.ok(!Buffer.from(e1.json.data[0].b64_json, 'base64').equals(Buffer.from(e2.json.data[0].b64_json, 'base64')),
      'the edit with a negative prompt differs');
    // bad values are refused by name, before any work or charge
    const u = await user(srv, { credits: 10 });
    const before = await balance(u);
    for (const bad of [42, ['no'], { a: 1 }, true, 'x'.repeat(1001)]) {
      const r = await gen(srv.url, u.key, { prompt: body.prompt, steps: 1, negative_prompt: bad });
      assert.equal(r.status, 400, `${JSON.stringify(bad).slice(0, 40)}: ${r.text}`);
      assert.equal(r.json.error.param, 'negative_prompt', r.text);
      assert.match(r.json.error.message, /negative_prompt must be/);
    }
    const r = await edit(srv.url, u.key, { ...fields, steps: 1, negative_prompt: 'é'.repeat(1001) }, { name: 'a.png', data: start, type: 'image/png' });
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error.param, 'negative_prompt');
    // 1000 characters (2000 bytes of UTF-8) is the limit, and accepted
    const ok = await gen(srv.url, u.key, { prompt: body.prompt, steps: 1, negative_prompt: 'é'.repeat(1000) });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(Number(before) - Number(await balance(u)), 1, 'only the good request was charged');
  });

  test('async: 202 with a job; progress observed moving step by step, then done with its images', async () => {
    const r = await gen(srv.url, alice.key, { prompt: 'three green triangles on a white background, bottom right', steps: 40, n: 2, async: true, seed: 5 });
    assert.equal(r.status, 202, r.text);
    assert.equal(r.json.object, 'image.job');
    assert.match(r.json.id, /^imgjob_/);
    assert.equal(r.headers.get('location'), `/api/images/jobs/${r.json.id}`);
    const seen = new Set();
    let last;
    for (const t = Date.now(); Date.now() - t < 120000;) {
      last = (await api(srv.url, 'GET', `/api/images/jobs/${r.json.id}`, { headers: { Authorization: `Bearer ${alice.key}` } })).json;
      if (last.status === 'running') seen.add(`${last.image_index}:${last.step}`);
      if (last.status === 'done' || last.status === 'failed') break;
      await sleep(10);
    }
    assert.equal(last.status, 'done', JSON.stringify(last));
    assert.equal(last.steps, 40);
    assert.equal(last.n, 2);
    assert.equal(last.images.length, 2);
    const mids = [...seen].filter((s) => { const st = Number(s.split(':')[1]); return st > 0 && st < 40; });
    assert.ok(mids.length >= 2, `progress seen between the first and last step: ${[...seen]}`);
    // another user cannot read the job (REQ: GEN-5)
    const bob = await user(srv);
    const other = await api(srv.url, 'GET', `/api/images/jobs/${r.json.id}`, { headers: { Authorization: `Bearer ${bob.key}` } });
    assert.equal(other.status, 404);
  });

  test('gallery: list with paging, metadata, download, delete, bulk delete all-or-nothing (REQ: GEN-4)', async () => {
    const u = await user(srv, { credits: 100 });
    const made = [];
    for (let i = 0; i < 5; i++) {
      const r = await gen(srv.url, u.key, { prompt: `a purple circle on a gray background, center`, steps: 2, seed: 100 + i, guidance: 2.5 });
      assert.equal(r.status, 200, r.text);
      made.push(r.json.data[0].id);
    }
    const p1 = await u.c.req('GET', '/api/images?limit=2');
    assert.equal(p1.status, 200, p1.text);
    assert.deepEqual(p1.json.data.map((x) => x.id), [made[4], made[3]], 'newest first');
    assert.equal(p1.json.next, made[3]);
    const p2 = await u.c.req('GET', `/api/images?limit=2&before=${p1.json.next}`);
    assert.deepEqual(p2.json.data.map((x) => x.id), [made[2], made[1]]);
    const p3 = await u.c.req('GET', `/api/images?limit=2&before=${p2.json.next}`);
    assert.deepEqual(p3.json.data.map((x) => x.id), [made[0]]);
    assert.equal(p3.json.next, null);
    assert.equal((await u.c.req('GET', '/api/images?limit=0')).status, 400);

    const m = await u.c.req('GET', `/api/images/${made[0]}`);
    assert.equal(m.status, 200);
    assert.equal(m.json.prompt, 'a purple circle on a gray background, center');
    assert.equal(m.json.model, 'shapes');
    assert.equal(m.json.seed, 100);
    assert.equal(m.json.size, '32x32');
    assert.equal(m.json.steps, 2);
    assert.equal(m.json.guidance, 2.5);
    assert.match(m.json.created_at, /^\d{4}-\d\d-\d\dT/);

    const dl = await getBytes(`${srv.url}/api/images/${made[0]}/file?download=1`, u);
    assert.equal(dl.status, 200);
    assert.match(dl.headers.get('content-disposition'), new RegExp(`^attachment; filename="${made[0]}\\.png"$`));

    assert.equal((await u.c.req('DELETE', `/api/images/${made[4]}`)).status, 200);
    assert.equal((await u.c.req('GET', `/api/images/${made[4]}`)).status, 404);
    assert.equal((await u.c.req('DELETE', `/api/images/${made[4]}`)).status, 404);

    // one ID that is not theirs: nothing is deleted
    const foreign = (await ai.images.generate({ prompt: 'a red square on a white background, top right', steps: 1 })).data[0].id;
    const bad = await u.c.req('POST', '/api/images/delete', { ids: [made[0], foreign] });
    assert.equal(bad.status, 404, bad.text);
    assert.equal((await u.c.req('GET', `/api/images/${made[0]}`)).status, 200, 'all or nothing');
    assert.equal((await api(srv.url, 'GET', `/api/images/${foreign}`, { headers: { Authorization: `Bearer ${alice.key}` } })).status, 200);
    const ok = await u.c.req('POST', '/api/images/delete', { ids: [made[0], made[1]] });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.deleted, 2);
    assert.deepEqual((await u.c.req('GET', '/api/images')).json.data.map((x) => x.id), [made[3], made[2]]);
    assert.equal((await u.c.req('POST', '/api/images/delete', { ids: [] })).status, 400);
  });

  test('another user, support and admin get 404 on the image, its file and its signed link (REQ: GEN-5, SEC-5)', async () => {
    const r = await ai.images.generate({ prompt: 'one blue triangle on a black background, center', steps: 2 });
    const { id, url } = r.data[0];
    const bob = await user(srv);
    const support = await user(srv, { role: 'support' });
    const admin = await user(srv, { role: 'admin' });
    for (const who of [bob, support, admin]) {
      assert.equal((await getBytes(url, who)).status, 404, 'signed link, another caller');
      assert.equal((await getBytes(`${srv.url}/api/images/${id}/file`, who)).status, 404);
      assert.equal((await who.c.req('GET', `/api/images/${id}`)).status, 404);
      assert.equal((await who.c.req('DELETE', `/api/images/${id}`)).status, 404);
    }
    assert.equal((await getBytes(`${srv.url}/api/images/${id}/file`, { key: bob.key })).status, 404);
    assert.equal((await getBytes(url)).status, 401, 'a link alone opens nothing');
    // the owner: a forged or expired signature fails too
    // (the first character of the signature changed, whatever it was)
    const forged = url.replace(/sig=(.)/, (_, ch) => `sig=${ch === '0' ? '1' : '0'}`);
    assert.notEqual(forged, url);
    assert.equal((await getBytes(forged, alice)).status, 404);
    const expired = url.replace(/exp=\d+/, 'exp=1000');
    assert.equal((await getBytes(expired, alice)).status, 404);
    assert.equal((await getBytes(url, alice)).status, 200);
  });

  test('staff view of a user\'s images: admin only, reason required, audited (REQ: SEC-5)', async () => {
    const admin = await user(srv, { role: 'admin' });
    const support = await user(srv, { role: 'support' });
    const noReason = await admin.c.req('GET', `/api/admin/users/${alice.id}/images`);
    assert.equal(noReason.status, 400);
    assert.equal(noReason.json.error.param, 'reason');
    assert.equal((await support.c.req('GET', `/api/admin/users/${alice.id}/images?reason=ticket%2042`)).status, 403);
    const ok = await admin.c.req('GET', `/api/admin/users/${alice.id}/images?reason=abuse%20report%20ticket%2042`);
    assert.equal(ok.status, 200, ok.text);
    assert.ok(ok.json.data.length > 0);
    const audit = await admin.c.req('GET', `/api/admin/audit?subject=${alice.id}&event=staff.images_viewed`);
    assert.equal(audit.status, 200, audit.text);
    const text = JSON.stringify(audit.json);
    assert.ok(text.includes('abuse report ticket 42'), text);
    assert.ok(text.includes(admin.id), 'the actor is named');
  });

  test('the database holds no prompt in plain text (REQ: SEC-3)', async () => {
    const marker = 'zebramarker' + Date.now();
    await ai.images.generate({ prompt: `two orange squares on a white background, ${marker}`, negative_prompt: `neg${marker}`, steps: 1 });
    const a = await gen(srv.url, alice.key, { prompt: `queued ${marker}`, steps: 1, async: true });
    await waitJob(srv.url, alice.key, a.json.id);
    const text = dbText(srv.dataDir);
    assert.ok(!text.includes(marker), 'prompt not stored in the clear');
    // and it is there, sealed: the owner reads it back
    const list = await api(srv.url, 'GET', '/api/images?limit=2', { headers: { Authorization: `Bearer ${alice.key}` } });
    assert.ok(list.json.data.some((x) => x.prompt.includes(marker)));
    assert.ok(list.json.data.some((x) => x.negative_prompt === `neg${marker}`));
  });

  test('bad input: a clear 4xx, nothing stored, nothing charged', async () => {
    const u = await user(srv, { credits: 10 });
    const before = await balance(u);
    const P = 'a red circle on a black background, center';
    const cases = [
      [{ prompt: P, size: '1024x1024' }, 400, 'size', /32x32/],
      [{ prompt: P, n: 0 }, 400, 'n', /1 to 4/],
      [{ prompt: P, n: 9 }, 400, 'n', /1 to 4/],
      [{ prompt: '' }, 400, 'prompt', /1 to 1000/],
      [{ prompt: 'x'.repeat(2000) }, 400, 'prompt', /1 to 1000/],
      [{ n: 1 }, 400, 'prompt', /required/],
      [{ prompt: P, steps: 0 }, 400, 'steps', /1 to 150/],
      [{ prompt: P, steps: 151 }, 400, 'steps', /1 to 150/],
      [{ prompt: P, guidance: 31 }, 400, 'guidance', /0 to 30/],
      [{ prompt: P, sampler: 'plms' }, 400, 'sampler', /ddim or euler/],
      [{ prompt: P, response_format: 'jpeg' }, 400, 'response_format', /url or b64_json/],
      [{ prompt: P, colour: 'red' }, 400, 'colour', /not accepted/],
      [{ prompt: P, model: 'nope' }, 404, 'model', /does not exist/],
    ];
    for (const [body, status, param, re] of cases) {
      const r = await gen(srv.url, u.key, body);
      assert.equal(r.status, status, `${JSON.stringify(body).slice(0, 80)}: ${r.text}`);
      assert.equal(r.json.error.param, param);
      assert.match(r.json.error.message, re);
    }
    const e = await ai.images.generate({ prompt: P, size: '256x256' }).catch((x) => x);
    assert.equal(e.status, 400, 'the SDK sees the 400');
    assert.equal(await balance(u), before, 'nothing charged');
    assert.equal(sql(srv.dataDir, `SELECT COUNT(*) FROM images WHERE owner = '${u.id}'`), '0');
    assert.equal(sql(srv.dataDir, `SELECT COUNT(*) FROM image_jobs WHERE owner = '${u.id}'`), '0');
    assert.equal(sql(srv.dataDir, `SELECT COUNT(*) FROM credit_holds WHERE owner = '${u.id}'`), '0');
  });

  test('402 insufficient_quota before any work when the balance is short (REQ: PAY-1)', async () => {
    const u = await user(srv, { credits: 1 });
    const r = await gen(srv.url, u.key, { prompt: 'two blue circles on a white background, center', n: 2, steps: 1 });
    assert.equal(r.status, 402, r.text);
    assert.equal(r.json.error.code, 'insufficient_quota');
    const dear = await gen(srv.url, u.key, { prompt: 'two blue circles on a white background, center', steps: 30 });
    assert.equal(dear.status, 402, 'steps beyond 25 cost more: 1 + 5 x 0.1');
    assert.equal(Number(await balance(u)), 1);
    assert.equal(sql(srv.dataDir, `SELECT COUNT(*) FROM image_jobs WHERE owner = '${u.id}'`), '0');
    const ok = await gen(srv.url, u.key, { prompt: 'two blue circles on a white background, center', steps: 25 });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(Number(await balance(u)), 0);
  });

  test('a restricted account cannot generate; its queued jobs stop, credits returned (REQ: PRIV-6)', async () => {
    const u = await user(srv, { credits: 5 });
    // A runs (or is about to), B waits behind it; then processing is restricted
    const a = await gen(srv.url, u.key, { prompt: 'a red circle on a black background, center', steps: 25, async: true });
    const b = await gen(srv.url, u.key, { prompt: 'a red circle on a black background, center', steps: 1, async: true });
    assert.equal((await u.c.req('POST', '/api/privacy/restriction')).status < 300, true);
    const jb = await waitJob(srv.url, u.key, b.json.id);
    assert.equal(jb.status, 'failed');
    assert.equal(jb.error, 'processing_restricted');
    const ja = await waitJob(srv.url, u.key, a.json.id);
    assert.equal(Number(await balance(u)), ja.status === 'done' ? 4 : 5);
    const r = await gen(srv.url, u.key, { prompt: 'a red circle on a black background, center', steps: 1 });
    assert.equal(r.status, 403, r.text);
    assert.equal(r.json.error.code, 'processing_restricted');
  });

  test('SDK images.edit: image to image from an upload or a gallery image (REQ: GEN-3)', async () => {
    const src = await ai.images.generate({ prompt: 'two red squares on a white background, top left', steps: 3, seed: 21, response_format: 'b64_json' });
    const png = Buffer.from(src.data[0].b64_json, 'base64');
    const body = { prompt: 'two blue squares on a white background, top left', n: 1, size: '32x32', response_format: 'b64_json', strength: 0.5, steps: 4, seed: 3 };
    const a = await ai.images.edit({ ...body, image: await toFile(png, 'start.png', { type: 'image/png' }) });
    const out = Buffer.from(a.data[0].b64_json, 'base64');
    assert.deepEqual(decodePng(out), { w: 32, h: 32 });
    const b = await ai.images.edit({ ...body, image: await toFile(png, 'again.png', { type: 'image/png' }) });
    assert.ok(out.equals(Buffer.from(b.data[0].b64_json, 'base64')), 'same start, seed and strength: same picture');
    const meta = await api(srv.url, 'GET', `/api/images/${a.data[0].id}`, { headers: { Authorization: `Bearer ${alice.key}` } });
    assert.equal(meta.json.strength, 0.5);
    // the same start picture taken from the gallery by its ID
    const byId = await edit(srv.url, alice.key, { ...body, image_id: src.data[0].id });
    assert.equal(byId.status, 200, byId.text);
    assert.ok(out.equals(Buffer.from(byId.json.data[0].b64_json, 'base64')));
    // a larger upload is fitted to the model's size
    const big = await ai.images.edit({ ...body, response_format: 'url', image: await toFile(pngHeaderless(64), 'big.png', { type: 'image/png' }) });
    assert.equal((await getBytes(big.data[0].url, alice)).status, 200);
    // another user's gallery image is not a start picture for anyone else
    const bob = await user(srv, { credits: 5 });
    const stolen = await edit(srv.url, bob.key, { ...body, image_id: src.data[0].id });
    assert.equal(stolen.status, 404, stolen.text);
  });

  test('SDK images.edit with a mask repaints only where the mask is transparent (REQ: GEN-3)', async () => {
    const start = pngHeaderless(32);
    const r = await ai.images.edit({
      image: await toFile(start, 'start.png', { type: 'image/png' }),
      mask: await toFile(halfMask(32), 'mask.png', { type: 'image/png' }),
      prompt: 'a red circle on a black background, center', response_format: 'b64_json', strength: 1, steps: 4, seed: 8,
    });
    const out = pngPixels(Buffer.from(r.data[0].b64_json, 'base64'));
    const inp = pngPixels(start);
    let leftChanged = false;
    for (let y = 0; y < 32; y++) {
      const row = y * 96;
      assert.ok(out.px.subarray(row + 48, row + 96).equals(inp.px.subarray(row + 48, row + 96)), `row ${y}: the kept half is the input`);
      if (!out.px.subarray(row, row + 48).equals(inp.px.subarray(row, row + 48))) leftChanged = true;
    }
    assert.ok(leftChanged, 'the transparent half was repainted');
    // a mask without transparency, or of another size, is refused
    const fd = async (mask) => {
      const f = new FormData();
      f.append('prompt', 'a red circle'); f.append('steps', '1');
      f.append('image', new Blob([start]), 'a.png');
      f.append('mask', new Blob([mask]), 'm.png');
      const x = await fetch(srv.url + '/v1/images/edits', { method: 'POST', headers: { Authorization: `Bearer ${alice.key}` }, body: f });
      return { status: x.status, json: await x.json() };
    };
    let e = await fd(start);
    assert.equal(e.status, 400);
    assert.equal(e.json.error.param, 'mask');
    e = await fd(halfMask(16));
    assert.equal(e.status, 400);
    assert.match(e.json.error.message, /16x16 but the image is 32x32/);
  });

  test('edits refuse bad uploads with a clear 4xx: nothing stored, nothing charged (REQ: GEN-3)', async () => {
    const u = await user(srv, { credits: 10 });
    const before = await balance(u);
    const P = { prompt: 'a red circle on a black background, center', steps: 2 };
    const good = pngHeaderless(32);
    const cases = [
      [P, { name: 'notes.txt', data: Buffer.from('this is not an image at all, just text\n'), type: 'image/png' }, 400, 'image'],
      [P, { name: 'cut.png', data: good.subarray(0, good.length - 30), type: 'image/png' }, 400, 'image'],
      [P, { name: 'bomb.png', data: pngHeader(20000, 20000), type: 'image/png' }, 413, 'image'],
      [P, null, 400, 'image'],
      [{ ...P, strength: 0 }, { name: 'a.png', data: good }, 400, 'strength'],
      [{ ...P, strength: 1.5 }, { name: 'a.png', data: good }, 400, 'strength'],
      [{ ...P, size: '512x512' }, { name: 'a.png', data: good }, 400, 'size'],
      [{ ...P, image_id: 'img_nope' }, { name: 'a.png', data: good }, 400, 'image'],
    ];
    for (const [fields, file, status, param] of cases) {
      const r = await edit(srv.url, u.key, fields, file);
      assert.equal(r.status, status, `${file?.name}: ${r.text}`);
      assert.equal(r.json.error.param, param, r.text);
      assert.ok(r.json.error.message.length > 10, r.text);
    }
    assert.equal(await balance(u), before, 'nothing charged');
    assert.equal(sql(srv.dataDir, `SELECT COUNT(*) FROM images WHERE owner = '${u.id}'`), '0');
    assert.equal(sql(srv.dataDir, `SELECT COUNT(*) FROM image_jobs WHERE owner = '${u.id}'`), '0');
  });

  test('an API customer exports and erases its end user\'s images by the user it sends (REQ: PRIV-10)', async () => {
    const u = await user(srv, { credits: 10 });
    const k = await u.c.req('POST', '/api/keys', { name: 'priv', scopes: ['privacy'] });
    const auth = { Authorization: `Bearer ${k.json.key}` };
    for (const who of ['end-user-a', 'end-user-a', 'end-user-b']) {
      const r = await gen(srv.url, u.key, { prompt: 'a red circle on a black background, center', steps: 1, user: who });
      assert.equal(r.status, 200, r.text);
    }
    let r = await api(srv.url, 'GET', '/api/privacy/subjects/end-user-a/export', { headers: auth });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.data.images.length, 2);
    r = await api(srv.url, 'DELETE', '/api/privacy/subjects/end-user-a', { headers: auth });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.removed.images, 2);
    assert.equal(sql(srv.dataDir, `SELECT COUNT(*) FROM images WHERE owner = '${u.id}'`), '1', 'the other end user keeps theirs');
  });

  test('GET /v1/models lists the image model with its size and prices (REQ: GEN-8)', async () => {
    const list = await ai.models.list();
    const m = list.data.find((x) => x.id === 'shapes');
    assert.equal(m.kind, 'image');
    assert.deepEqual(m.sizes, ['32x32']);
    assert.equal(m.pricing.image, '1000000');
    assert.equal(m.available, true);
  });

  test('export holds each image as a PNG with its metadata; erasure removes images and jobs (REQ: PRIV-1, PRIV-4)', async () => {
    const u = await user(srv, { credits: 10 });
    const r = await gen(srv.url, u.key, { prompt: 'one green circle on a gray background, top left', steps: 2, response_format: 'b64_json' });
    assert.equal(r.status, 200, r.text);
    const id = r.json.data[0].id;
    const x = await u.c.req('POST', '/api/privacy/export');
    assert.ok(x.status === 201 || x.status === 202, x.text);
    let z;
    for (const t = Date.now(); Date.now() - t < 60000; await sleep(100)) {
      z = await getBytes(`${srv.url}/api/privacy/exports/${x.json.id}`, { c: u.c });
      if (z.status === 200) break;
    }
    assert.equal(z.status, 200);
    const dir = mkdtempSync(join(tmpdir(), 'atelier-imgexp-'));
    writeFileSync(join(dir, 'x.zip'), z.body);
    execFileSync('unzip', ['-q', join(dir, 'x.zip'), '-d', join(dir, 'x')]);
    const png = readFileSync(join(dir, 'x', 'images', `${id}.png`));
    assert.ok(png.equals(Buffer.from(r.json.data[0].b64_json, 'base64')));
    const meta = JSON.parse(readFileSync(join(dir, 'x', 'data', 'images.json'), 'utf8'));
    assert.equal(meta[0].prompt, 'one green circle on a gray background, top left');
    assert.equal(meta[0].file, `images/${id}.png`);

    const del = await u.c.req('DELETE', '/api/me', { password: u.p.password });
    assert.equal(del.status, 200, del.text);
    assert.equal(sql(srv.dataDir, `SELECT COUNT(*) FROM images WHERE owner = '${u.id}'`), '0');
    assert.equal(sql(srv.dataDir, `SELECT COUNT(*) FROM image_jobs WHERE owner = '${u.id}'`), '0');
  });
});

test('with no image model configured, the default "shapes" draws (make run needs no setup)', async () => {
  const srv = await startServer({});
  try {
    const u = await user(srv);
    const list = await sdk(srv.url, u.key).models.list();
    assert.ok(list.data.some((m) => m.id === 'shapes' && m.kind === 'image' && m.available));
    const r = await gen(srv.url, u.key, { prompt: 'a red circle on a black background, center', steps: 1, response_format: 'b64_json' });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(decodePng(Buffer.from(r.json.data[0].b64_json, 'base64')), { w: 32, h: 32 });
  } finally {
    await srv.stop();
  }
});

test('restart with jobs queued and running: they finish after the crash, charged exactly once (REQ: PAY-5)', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'atelier-imgcrash-'));
  const config = { 'model.shapes': { ...shapes, max_queue: 8 } };
  let srv = await startServer({ config, dataDir });
  let u;
  const ids = [];
  try {
    u = await user(srv, { credits: 100 });
    // 3 jobs of 2 images at 30 steps: 2 x (1 + 5 x 0.1) = 3 credits each
    for (let i = 0; i < 3; i++) {
      const r = await gen(srv.url, u.key, { prompt: 'three yellow circles on a black background, bottom left', n: 2, steps: 30, seed: i, async: true });
      assert.equal(r.status, 202, r.text);
      ids.push(r.json.id);
    }
    for (const t = Date.now(); Date.now() - t < 60000; await sleep(20)) {
      const j = (await api(srv.url, 'GET', `/api/images/jobs/${ids[0]}`, { headers: { Authorization: `Bearer ${u.key}` } })).json;
      if (j.status === 'running' && j.step > 0) break;
    }
  } finally {
    await srv.stop('SIGKILL');
  }
  const states = sql(dataDir, `SELECT state FROM image_jobs ORDER BY created_at`).split('\n');
  assert.ok(states.includes('running') || states.includes('queued'), `jobs were still pending: ${states}`);
  assert.equal(sql(dataDir, `SELECT COUNT(*) FROM credit_holds WHERE owner = '${u.id}' AND state = 'open'`) !== '0', true);

  srv = await startServer({ config, dataDir });
  try {
    for (const id of ids) {
      const j = await waitJob(srv.url, u.key, id);
      assert.equal(j.status, 'done', JSON.stringify(j));
      assert.equal(j.images.length, 2);
    }
    const c = await signedIn(srv, u.p);
    const bal = (await c.req('GET', '/api/billing/balance')).json.credits;
    assert.equal(Number(bal), 100 - 9, 'three jobs, charged once each');
    assert.equal(sql(dataDir, `SELECT COUNT(*) FROM ledger WHERE owner = '${u.id}' AND kind = 'spend'`), '3');
    assert.equal(sql(dataDir, `SELECT COUNT(*) FROM credit_holds WHERE owner = '${u.id}' AND state = 'open'`), '0');
    assert.equal(sql(dataDir, `SELECT COUNT(*) FROM images WHERE owner = '${u.id}'`), '6');
  } finally {
    await srv.stop();
  }
});

test('after a restart, jobs of a model no longer offered fail and their credits come back (REQ: PAY-5)', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'atelier-imgorphan-'));
  let srv = await startServer({ config: { 'model.old': shapes }, dataDir });
  let u;
  const ids = [];
  try {
    u = await user(srv, { credits: 200 });
    // 4 images at 150 steps: 4 x (1 + 125 x 0.1) = 54 credits each
    for (let i = 0; i < 2; i++) {
      const r = await gen(srv.url, u.key, { model: 'old', prompt: 'a red circle on a black background, center', n: 4, steps: 150, async: true });
      assert.equal(r.status, 202, r.text);
      ids.push(r.json.id);
    }
  } finally {
    await srv.stop('SIGKILL');
  }
  srv = await startServer({ config: { 'model.shapes': shapes }, dataDir });
  try {
    for (const id of ids) {
      const j = (await api(srv.url, 'GET', `/api/images/jobs/${id}`, { headers: { Authorization: `Bearer ${u.key}` } })).json;
      assert.equal(j.status, 'failed', JSON.stringify(j));
      assert.equal(j.error, 'model_unavailable');
    }
    const c = await signedIn(srv, u.p);
    assert.equal(Number((await c.req('GET', '/api/billing/balance')).json.credits), 200);
  } finally {
    await srv.stop();
  }
});

test('ephemeral retention: images are not kept unless asked; url images live until the link expires (REQ: GEN-4, RET-1)', async () => {
  const srv = await startServer({
    config: { 'model.shapes': shapes, retention: { images: 'ephemeral', image_links: '3s', sweep_interval: '1s' } },
  });
  try {
    const u = await user(srv, { credits: 20 });
    const P = 'a blue square on a white background, center';
    // b64_json: the answer is the only copy
    const b = await gen(srv.url, u.key, { prompt: P, steps: 1, response_format: 'b64_json' });
    assert.equal(b.status, 200, b.text);
    assert.deepEqual(decodePng(Buffer.from(b.json.data[0].b64_json, 'base64')), { w: 32, h: 32 });
    assert.equal((await u.c.req('GET', `/api/images/${b.json.data[0].id}`)).status, 404);
    // url: there until the link expires; keep one of two
    const r = await gen(srv.url, u.key, { prompt: P, steps: 1, n: 2 });
    assert.equal(r.status, 200, r.text);
    const [gone, kept] = r.json.data;
    assert.equal((await getBytes(gone.url, u)).status, 200);
    const meta = await u.c.req('GET', `/api/images/${gone.id}`);
    assert.equal(meta.json.kept, false);
    assert.ok(meta.json.expires_at);
    const k = await u.c.req('POST', `/api/images/${kept.id}/keep`);
    assert.equal(k.status, 200, k.text);
    assert.equal(k.json.kept, true);
    assert.equal(k.json.expires_at, null);
    // keep: true at generation time keeps it too
    const asked = await gen(srv.url, u.key, { prompt: P, steps: 1, keep: true, response_format: 'b64_json' });
    assert.equal((await u.c.req('GET', `/api/images/${asked.json.data[0].id}`)).status, 200);
    await sleep(5500); // the link's 3 s, then a sweep
    assert.equal((await getBytes(gone.url, u)).status, 404);
    assert.equal(sql(srv.dataDir, `SELECT COUNT(*) FROM images WHERE id = '${gone.id}'`), '0', 'purged by the sweep');
    assert.equal(sql(srv.dataDir, `SELECT COUNT(*) FROM images WHERE id = '${kept.id}'`), '1');
    const notice = await api(srv.url, 'GET', '/privacy');
    assert.match(notice.text, /not kept unless you choose to keep one \(an image you receive as a link is held until the link expires/);
  } finally {
    await srv.stop();
  }
});

test('upstream backend: one Atelier forwards images to another and stores them like its own (REQ: GEN-8)', async () => {
  const up = await startServer({ config: { 'model.shapes': { ...shapes, price_image: '0', price_step: '0' } } });
  const upUser = await user(up);
  const gw = await startServer({
    config: {
      'model.remote': { kind: 'image', backend: 'openai', base_url: up.url + '/v1', api_key: upUser.key, upstream_model: 'shapes', size: 32, price_image: '2' },
    },
  });
  try {
    const u = await user(gw, { credits: 10 });
    const ai = sdk(gw.url, u.key);
    const r = await ai.images.generate({ model: 'remote', prompt: 'two purple triangles on a gray background, top right', n: 2, steps: 2, seed: 3 });
    assert.equal(r.data.length, 2);
    const f = await getBytes(r.data[0].url, u);
    assert.equal(f.status, 200);
    assert.deepEqual(decodePng(f.body), { w: 32, h: 32 });
    assert.equal(Number((await u.c.req('GET', '/api/billing/balance')).json.credits), 6);
    // the same seed upstream gives the same picture
    const direct = await gen(up.url, upUser.key, { prompt: 'two purple triangles on a gray background, top right', steps: 2, seed: 3, response_format: 'b64_json' });
    assert.ok(f.body.equals(Buffer.from(direct.json.data[0].b64_json, 'base64')));
    const bad = await ai.images.generate({ model: 'remote', prompt: 'x', size: '64x64' }).catch((x) => x);
    assert.equal(bad.status, 400);
  } finally {
    await gw.stop();
    await up.stop();
  }
});

// An upstream image server that is down in the way a crashed GPU backend is:
// it answers every request with a 500. A model routed to it passes the
// start-up check (it has a base_url) and fails when a job runs.
function brokenUpstream() {
  const s = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(500, { 'Content-Type': 'application/json' });
      res.end('{"error":{"message":"CUDA error: out of memory","type":"server_error"}}');
    });
  });
  return new Promise((r) => s.listen(0, '127.0.0.1', () => r({ url: `http://127.0.0.1:${s.address().port}`, close: () => s.close() })));
}

describe('synchronous generations are answered when the job ends, with its status (deferred answers)', () => {
  let srv, up, u;
  before(async () => {
    up = await brokenUpstream();
    srv = await startServer({
      config: {
        server: { threads: 2 },
        'model.shapes': shapes,
        'model.broken': { kind: 'image', backend: 'openai', base_url: up.url + '/v1', api_key: 'sk-x', upstream_model: 'shapes', size: 32, price_image: '1' },
      },
    });
    u = await user(srv, { credits: 100 });
  });
  after(async () => { await srv?.stop(); up?.close(); });

  test('success: 200 with the images as JSON, nothing written before the answer', async () => {
    for (const response_format of ['b64_json', 'url']) {
      const r = await gen(srv.url, u.key, { prompt: 'a red circle on a black background, center', steps: 2, response_format });
      assert.equal(r.status, 200, r.text);
      assert.match(r.headers.get('content-type'), /^application\/json/);
      assert.ok(r.headers.get('x-request-id'));
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(r.text[0], '{', 'no keep-alive whitespace before the JSON');
      assert.equal(r.json.data.length, 1);
      assert.ok(response_format === 'url' ? r.json.data[0].url : r.json.data[0].b64_json);
    }
  });

  test('a job that fails is a 500 OpenAI error the SDK raises, nothing charged, the job marked failed', async () => {
    const before = Number(await balance(u));
    const r = await gen(srv.url, u.key, { model: 'broken', prompt: 'a red circle on a black background, center', steps: 2 });
    assert.equal(r.status, 500, r.text);
    assert.equal(r.json.error.type, 'server_error');
    assert.equal(r.json.error.code, 'engine_error');
    const job = r.json.error.message.match(/job (\S+?)\)/)?.[1];
    assert.ok(job, r.json.error.message);
    const j = await waitJob(srv.url, u.key, job);
    assert.equal(j.status, 'failed');
    assert.equal(Number(await balance(u)), before, 'the hold was released');
    const err = await sdk(srv.url, u.key).images.generate({ model: 'broken', prompt: 'a red circle', steps: 2 }).catch((x) => x);
    assert.equal(err.status, 500, String(err));
    assert.equal(err.code, 'engine_error');
    assert.equal((await api(srv.url, 'GET', '/healthz')).status, 200);
  });

  test('restricted while the job waits in the queue: 403 processing_restricted, nothing charged (REQ: PRIV-6)', async () => {
    const v = await user(srv, { credits: 20 });
    // A runs for seconds; B, synchronous, waits behind it; then processing is restricted
    const a = await gen(srv.url, v.key, { prompt: 'a red circle on a black background, center', steps: 150, async: true });
    assert.equal(a.status, 202, a.text);
    const pb = gen(srv.url, v.key, { prompt: 'a red circle on a black background, center', steps: 1 });
    await sleep(300);
    assert.ok((await v.c.req('POST', '/api/privacy/restriction')).status < 300);
    const b = await pb;
    assert.equal(b.status, 403, b.text);
    assert.equal(b.json.error.code, 'processing_restricted');
    await waitJob(srv.url, v.key, a.json.id);
  });

  test('a client that leaves mid-wait: the server carries on, the image lands in the gallery, charged once', async () => {
    const v = await user(srv, { credits: 10 });
    const ac = new AbortController();
    const p = fetch(srv.url + '/v1/images/generations', {
      method: 'POST', signal: ac.signal,
      headers: { Authorization: `Bearer ${v.key}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ prompt: 'a green square on a white background, center', steps: 30 }),
    });
    await sleep(300);
    ac.abort();
    await assert.rejects(p);
    assert.equal((await api(srv.url, 'GET', '/healthz')).status, 200);
    let list;
    for (const t = Date.now(); Date.now() - t < 60000; await sleep(100)) {
      list = (await v.c.req('GET', '/api/images')).json;
      if (list.data.length) break;
    }
    assert.equal(list.data.length, 1, 'the image is in the gallery');
    // 1 credit an image, 0.1 a step beyond 25: 1.5 for 30 steps
    assert.equal(Number(await balance(v)), 10 - 1.5);
    // the server still answers synchronous generations
    const r = await gen(srv.url, v.key, { prompt: 'a green square on a white background, center', steps: 1 });
    assert.equal(r.status, 200, r.text);
  });
});

test('shutdown while a synchronous generation waits: 503 server_stopping, a clean exit, the job runs after restart', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'atelier-imgstop-'));
  const config = { server: { shutdown_grace: '1s' }, 'model.shapes': shapes };
  let srv = await startServer({ config, dataDir });
  const u = await user(srv, { credits: 60 });
  // two images of 150 steps on one thread: seconds, longer than the grace
  // (60 steps of one image ended within it on a fast machine)
  const p = gen(srv.url, u.key, { prompt: 'a blue square on a white background, center', steps: 150, n: 2 });
  await sleep(500);
  const [r, exit] = await Promise.all([p, srv.stop()]);
  assert.equal(r.status, 503, r.text);
  assert.equal(r.json.error.code, 'server_stopping');
  assert.ok(Number(r.headers.get('retry-after')) >= 1);
  assert.deepEqual(exit, { code: 0, sig: null }, 'a clean exit');
  srv = await startServer({ config, dataDir });
  try {
    let list;
    for (const t = Date.now(); Date.now() - t < 120000; await sleep(200)) {
      list = (await api(srv.url, 'GET', '/api/images', { headers: { Authorization: `Bearer ${u.key}` } })).json;
      if (list?.data?.length >= 2) break;
    }
    assert.equal(list.data.length, 2, `the paid job ran after the restart (jobs: ${sql(dataDir, 'SELECT state FROM image_jobs')})`);
  } finally {
    await srv.stop();
  }
});
