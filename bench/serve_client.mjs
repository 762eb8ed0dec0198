// bench/serve_client.mjs: N concurrent streaming clients against one
// Atelier; prints aggregate tokens/s, time to first token p50/p99 and
// inter-token latency p99 (`stream`: ROUNDS requests per client; `steady`:
// requests for SECONDS, counted after a warm-up). Or, with `overhead`, p50/p99
// latency of small non-streamed requests to two URLs (gateway vs upstream),
// interleaved.
import http from 'node:http';

const [, , mode, ...rest] = process.argv;
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(s.length * p))] || 0; };

// node:http rather than fetch: undici's web streams cost the client several
// times the CPU per event, and the client shares this machine's cores with the
// server it measures.
function stream(url, key, model, maxTokens, seed) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const body = JSON.stringify({ model, messages: [{ role: 'user', content: 'Tell me a story about a garden.' }], max_tokens: maxTokens, seed, stream: true, stream_options: { include_usage: true } });
    const req = http.request(url + '/v1/chat/completions', { method: 'POST', agent, headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } }, (res) => {
      res.setEncoding('utf8');
      let buf = '', first = 0, last = 0, tokens = 0;
      const gaps = [], times = [];
      res.on('data', (chunk) => {
        const now = performance.now();
        buf += chunk;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const ev = buf.slice(0, i); buf = buf.slice(i + 2);
          if (!ev.startsWith('data: {')) continue;
          /* only the usage event is parsed; a content event is counted */
          if (ev.includes('"usage":{')) { tokens = JSON.parse(ev.slice(6)).usage.completion_tokens; continue; }
          if (!first) first = now; else gaps.push(now - last);
          last = now;
          times.push(now);
        }
      });
      res.on('end', () => resolve({ start: t0, ttft: first - t0, gaps, times, tokens, end: performance.now() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

if (mode === 'stream') {
  const [url, key, model, n, maxTokens, rounds] = rest;
  const N = Number(n), R = Number(rounds || 2);
  const t0 = performance.now();
  const all = await Promise.all(Array.from({ length: N }, async (_, c) => {
    const out = [];
    for (let k = 0; k < R; k++) out.push(await stream(url, key, model, Number(maxTokens), c * 100 + k));
    return out;
  }));
  const flat = all.flat();
  const secs = (performance.now() - t0) / 1000;
  const tok = flat.reduce((a, x) => a + x.tokens, 0);
  const ttft = flat.map((x) => x.ttft), gaps = flat.flatMap((x) => x.gaps);
  console.log(`clients=${N} tokens=${tok} secs=${secs.toFixed(2)} tok_s=${(tok / secs).toFixed(1)} ttft_p50_ms=${pct(ttft, 0.5).toFixed(1)} ttft_p99_ms=${pct(ttft, 0.99).toFixed(1)} itl_p99_ms=${pct(gaps, 0.99).toFixed(1)}`);
} else if (mode === 'steady') {
  // Steady state: every client sends request after request for SECONDS; the
  // figures count only what happens after the first WARM seconds and before
  // the end, so neither the ramp-up nor the last stragglers (a batch shrinking
  // as clients finish) are in them. Tokens are content events (one per token).
  const [url, key, model, n, maxTokens, seconds, warm] = rest;
  const N = Number(n), S = Number(seconds || 4), W = Number(warm || 0.5);
  const t0 = performance.now(), from = t0 + W * 1000, to = t0 + S * 1000;
  const all = await Promise.all(Array.from({ length: N }, async (_, c) => {
    const out = [];
    for (let k = 0; performance.now() < to; k++) out.push(await stream(url, key, model, Number(maxTokens), c * 1000 + k));
    return out;
  }));
  const flat = all.flat();
  const inw = (t) => t >= from && t < to;
  const tok = flat.reduce((a, x) => a + x.times.filter(inw).length, 0);
  const ttft = flat.filter((x) => inw(x.start)).map((x) => x.ttft);
  const gaps = flat.flatMap((x) => x.gaps.filter((g, i) => inw(x.times[i + 1])));
  const secs = (to - from) / 1000;
  console.log(`clients=${N} tokens=${tok} secs=${secs.toFixed(2)} tok_s=${(tok / secs).toFixed(1)} ttft_p50_ms=${pct(ttft, 0.5).toFixed(1)} ttft_p99_ms=${pct(ttft, 0.99).toFixed(1)} itl_p99_ms=${pct(gaps, 0.99).toFixed(1)} requests=${flat.length}`);
} else if (mode === 'overhead') {
  const [gwUrl, gwKey, gwModel, upUrl, upKey, upModel, count] = rest;
  const one = async (url, key, model) => {
    const t0 = performance.now();
    const r = await fetch(url + '/v1/chat/completions', { method: 'POST', headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 1, seed: 1 }) });
    await r.text();
    return performance.now() - t0;
  };
  const g = [], u = [];
  for (let i = 0; i < 10; i++) { await one(gwUrl, gwKey, gwModel); await one(upUrl, upKey, upModel); }
  for (let i = 0; i < Number(count); i++) { g.push(await one(gwUrl, gwKey, gwModel)); u.push(await one(upUrl, upKey, upModel)); }
  console.log(`direct p50_ms=${pct(u, 0.5).toFixed(2)} p99_ms=${pct(u, 0.99).toFixed(2)}`);
  console.log(`gateway p50_ms=${pct(g, 0.5).toFixed(2)} p99_ms=${pct(g, 0.99).toFixed(2)}`);
  console.log(`gateway_overhead p50_ms=${(pct(g, 0.5) - pct(u, 0.5)).toFixed(2)} p99_ms=${(pct(g, 0.99) - pct(u, 0.99)).toFixed(2)}`);
}
