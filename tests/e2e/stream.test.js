// Server-sent events over suspended connections: events arrive as they are
// produced, no server thread waits, a client that leaves stops the producer,
// and a stop signal ends open streams cleanly.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startServer, api } from './lib/server.js';

// Read an SSE response; resolve with [{t, data}] and whether it ended.
function readEvents(url, { abortAfter } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const events = [];
    let buf = '';
    const req = http.get(url, { agent: false }, (res) => {
      assert.equal(res.headers['content-type'], 'text/event-stream');
      res.on('data', (d) => {
        buf += d;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const data = block.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
          events.push({ t: Date.now() - t0, data });
          if (abortAfter && events.length === abortAfter) { req.destroy(); resolve({ events, ended: false }); }
        }
      });
      res.on('end', () => resolve({ events, ended: true }));
      res.on('error', () => resolve({ events, ended: false }));
    });
    req.on('error', (e) => (abortAfter ? resolve({ events, ended: false }) : reject(e)));
  });
}

describe('streaming', () => {
  let srv;
  before(async () => { srv = await startServer({ config: { server: { debug_routes: 'true', threads: 1 } } }); });
  after(async () => { await srv.stop(); });

  test('events arrive as they are produced and end with [DONE]', async () => {
    const { events, ended } = await readEvents(srv.url + '/api/debug/stream?n=5&ms=150');
    assert.equal(ended, true);
    assert.deepEqual(events.map((e) => e.data), ['{"i":0}', '{"i":1}', '{"i":2}', '{"i":3}', '{"i":4}', '[DONE]']);
    assert.ok(events[4].t - events[0].t >= 450, 'spread over time, not buffered to the end');
  });

  test('a stream does not hold the only server thread', async () => {
    // threads = 1: while a slow stream is open, other requests are answered
    const slow = readEvents(srv.url + '/api/debug/stream?n=10&ms=100');
    await new Promise((r) => setTimeout(r, 150));
    const t0 = Date.now();
    const r = await api(srv.url, 'GET', '/healthz');
    assert.equal(r.status, 200);
    assert.ok(Date.now() - t0 < 300, 'healthz answered while the stream is open');
    const { ended } = await slow;
    assert.equal(ended, true);
  });

  test('a client that disconnects stops the producer', async () => {
    const { events } = await readEvents(srv.url + '/api/debug/stream?n=200&ms=50', { abortAfter: 3 });
    assert.equal(events.length, 3);
    await new Promise((r) => setTimeout(r, 400));
    const s = await api(srv.url, 'GET', '/api/debug/stream/stats');
    assert.equal(s.json.stopped_early, true);
    assert.ok(s.json.last_sent <= 8, `producer stopped after ${s.json.last_sent} events`);
  });
});

test('SIGTERM ends open streams and the server exits 0', async () => {
  const srv = await startServer({ config: { server: { debug_routes: 'true', shutdown_grace: '1s' } } });
  const reading = readEvents(srv.url + '/api/debug/stream?n=1000&ms=100');
  await new Promise((r) => setTimeout(r, 300));
  srv.proc.kill('SIGTERM');
  const { events } = await reading;
  assert.ok(events.length >= 2);
  const { code } = await srv.stop();
  assert.equal(code, 0);
});
