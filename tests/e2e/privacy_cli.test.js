// Operator privacy tools: retention dry run, and receipt verification
// against this server's key. REQ: PRIV-5 (deletion confirmed by a signed
// receipt anyone can check), RET-1 (retention enforced, inspectable).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createPublicKey, verify } from 'node:crypto';
import { startServer, api, runCli } from './lib/server.js';

test('a signed receipt verifies against this server, independently and with the CLI', async () => {
  const srv = await startServer({ config: { server: { debug_routes: 'true' } }, keepData: true });
  try {
    const r = await api(srv.url, 'POST', '/api/debug/receipt', { body: { type: 'account_erasure', removed: { images: 2 } } });
    assert.equal(r.status, 200);
    const receipt = r.json;
    const k = await api(srv.url, 'GET', '/.well-known/atelier-receipt-key');
    assert.equal(k.json.key, receipt.signature.key);

    // independent check with Node's crypto: Ed25519 over the canonical JSON
    // (compact, keys sorted, without "signature")
    const canon = (v) => Array.isArray(v) ? `[${v.map(canon).join(',')}]`
      : v && typeof v === 'object' ? `{${Object.keys(v).sort().map((x) => `${JSON.stringify(x)}:${canon(v[x])}`).join(',')}}`
      : JSON.stringify(v);
    const { signature, ...body } = receipt;
    const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(signature.key, 'base64')]);
    const pub = createPublicKey({ key: spki, format: 'der', type: 'spki' });
    assert.ok(verify(null, Buffer.from(canon(body)), pub, Buffer.from(signature.value, 'base64')));

    const file = join(srv.dataDir, 'receipt.json');
    writeFileSync(file, JSON.stringify(receipt));
    let c = await runCli(['privacy', 'verify-receipt', file, '--data-dir', srv.dataDir]);
    assert.equal(c.code, 0, c.stdout + c.stderr);
    assert.match(c.stdout, /valid: signed by this server/);

    receipt.removed.images = 0; // tampered
    writeFileSync(file, JSON.stringify(receipt));
    c = await runCli(['privacy', 'verify-receipt', file, '--data-dir', srv.dataDir]);
    assert.equal(c.code, 1);
    assert.match(c.stdout, /INVALID/);

    writeFileSync(file, '{"type":"account_erasure"}');
    c = await runCli(['privacy', 'verify-receipt', file, '--data-dir', srv.dataDir]);
    assert.equal(c.code, 1);
    assert.match(c.stdout, /not a signed receipt/);
    writeFileSync(file, 'not json');
    c = await runCli(['privacy', 'verify-receipt', file, '--data-dir', srv.dataDir]);
    assert.equal(c.code, 2);
  } finally { await srv.stop(); }
});

test('retention dry run lists every category with its configured period', async () => {
  const srv = await startServer({ keepData: true });
  await srv.stop();
  const c = await runCli(['privacy', 'retention', '--dry-run', '--data-dir', srv.dataDir], { ATELIER_RETENTION_USAGE_LOGS: '45d' });
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stdout, /usage_logs\s+45\s+0/);
  assert.match(c.stdout, /mail_outbox\s+7\s+0/);
  assert.match(c.stdout, /would remove/);
  const bad = await runCli(['privacy', 'frobnicate']);
  assert.equal(bad.code, 2);
});
