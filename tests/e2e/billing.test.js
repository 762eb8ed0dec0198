// Prices, and the payment provider's webhook as the outside world sees it.
// REQ: PAY-1 (published prices), PAY-2 (signature checked, bad ones refused).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { startServer, api, isOpenAIError } from './lib/server.js';

describe('billing', () => {
  let srv;
  before(async () => {
    srv = await startServer({
      config: {
        coinbase: { webhook_secret: 'whsec-e2e', api_key: 'k' },
        'model.tiny': { path: 'models/none.gguf', price_prompt: '0.5', price_completion: '1.5' },
        'model.shapes': { kind: 'image', path: 'x.safetensors', price_image: '2' },
      },
    });
  });
  after(async () => { await srv.stop(); });

  test('GET /api/prices publishes every model price from configuration', async () => {
    const r = await api(srv.url, 'GET', '/api/prices');
    assert.equal(r.status, 200);
    const tiny = r.json.models.find((m) => m.model === 'tiny');
    assert.equal(tiny.kind, 'text');
    assert.equal(tiny.price.prompt_per_1k_tokens, '0.500000');
    assert.equal(tiny.price.completion_per_1k_tokens, '1.500000');
    const shapes = r.json.models.find((m) => m.model === 'shapes');
    assert.equal(shapes.price.per_image, '2.000000');
    assert.equal(r.json.purchase.currency, 'USD');
  });

  test('a webhook with a bad or missing signature is refused with 400 and credits nothing', async () => {
    const body = JSON.stringify({ event: { id: 'e1', type: 'charge:confirmed', data: { code: 'X' } } });
    let r = await api(srv.url, 'POST', '/webhooks/coinbase', { body, raw: true, headers: { 'Content-Type': 'application/json' } });
    assert.equal(r.status, 400);
    assert.ok(isOpenAIError(r.json));
    assert.equal(r.json.error.code, 'bad_signature');
    r = await api(srv.url, 'POST', '/webhooks/coinbase', { body, raw: true, headers: { 'Content-Type': 'application/json', 'X-CC-Webhook-Signature': 'ab'.repeat(32) } });
    assert.equal(r.status, 400);
  });

  test('a correctly signed webhook for an unknown charge is refused', async () => {
    const body = JSON.stringify({ event: { id: 'e2', type: 'charge:confirmed', data: { code: 'UNKNOWN' } } });
    const sig = createHmac('sha256', 'whsec-e2e').update(body).digest('hex');
    const r = await api(srv.url, 'POST', '/webhooks/coinbase', { body, raw: true, headers: { 'Content-Type': 'application/json', 'X-CC-Webhook-Signature': sig } });
    assert.equal(r.status, 400);
    assert.equal(r.json.error.code, 'not_found');
  });

  test('balance, receipts and usage need a signed-in caller', async () => {
    for (const p of ['/api/billing/balance', '/api/billing/receipts', '/api/usage', '/api/usage?format=csv']) {
      const r = await api(srv.url, 'GET', p);
      assert.equal(r.status, 401, p);
    }
  });
});
