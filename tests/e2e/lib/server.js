// Starts the real atelier binary on a free port with a fresh data directory,
// and gives tests its URL, its log lines and a way to stop it.
import { spawn } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const BIN = process.env.ATELIER_BIN || resolve(here, '../../../build/atelier');

// Turn {server: {threads: 2}} into INI text.
export function ini(sections) {
  let out = '';
  for (const [name, keys] of Object.entries(sections)) {
    out += `[${name}]\n`;
    for (const [k, v] of Object.entries(keys)) out += `${k} = ${v}\n`;
  }
  return out;
}

// Run `atelier serve` and resolve once it prints its URL.
// opts: config (sections object), env (extra env), args (extra args), dataDir.
export async function startServer(opts = {}) {
  const dataDir = opts.dataDir || mkdtempSync(join(tmpdir(), 'atelier-e2e-'));
  const args = ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir];
  if (opts.config) {
    const path = join(dataDir, '..', `atelier-${process.pid}-${Date.now()}-${Math.random().toString(16).slice(2)}.ini`);
    writeFileSync(path, ini(opts.config));
    args.push('--config', path);
  }
  args.push(...(opts.args || []));
  const proc = spawn(BIN, args, {
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs = [];
  let stdout = '';
  let errBuf = '';
  proc.stderr.on('data', (d) => {
    errBuf += d.toString();
    let i;
    while ((i = errBuf.indexOf('\n')) >= 0) {
      logs.push(errBuf.slice(0, i));
      errBuf = errBuf.slice(i + 1);
    }
  });
  const url = await new Promise((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error('server did not start in 20s: ' + logs.join('\n'))), 20000);
    proc.stdout.on('data', (d) => {
      stdout += d.toString();
      const m = stdout.match(/serving on (https?:\/\/[^\s/]+)\//);
      if (m) { clearTimeout(timer); resolveUrl(m[1]); }
    });
    proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`server exited ${code}: ${logs.join('\n')}`)); });
  });
  proc.removeAllListeners('exit');
  let stopping = false;
  const exited = new Promise((r) => proc.on('exit', (code, sig) => {
    // a server that dies on its own (a crash, a sanitizer report) says why
    if (!stopping && (code || (sig && sig !== 'SIGKILL' && sig !== 'SIGTERM'))) {
      process.stderr.write(`atelier exited by itself (code ${code}, signal ${sig}); last log lines:\n${logs.slice(-80).join('\n')}\n${errBuf}\n`);
    }
    r({ code, sig });
  }));
  return {
    url, dataDir, proc, logs, exited,
    port: Number(new URL(url).port),
    async stop(signal = 'SIGTERM') {
      stopping = true;
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      const r = await exited;
      if (!opts.keepData && !opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
      return r;
    },
  };
}

// Run the binary to completion: {code, stdout, stderr}.
export function runCli(args, env = {}) {
  return new Promise((res) => {
    const p = spawn(BIN, args, { env: { ...process.env, ...env } });
    let stdout = '', stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('exit', (code) => res({ code, stdout, stderr }));
  });
}

// One HTTP request on a connection of its own (no keep-alive pool, so a
// connection the server closed for idleness is never reused by surprise);
// returns status, headers (a fetch Headers), text and parsed JSON.
export function api(base, method, path, { body, headers = {}, raw } = {}) {
  const u = new URL(base + path);
  const mod = u.protocol === 'https:' ? https : http;
  const h = { ...headers };
  let payload;
  if (body !== undefined) {
    payload = Buffer.from(raw ? body : JSON.stringify(body));
    if (!raw && !Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) h['Content-Type'] = 'application/json';
    h['Content-Length'] = String(payload.length);
  }
  return new Promise((resolve, reject) => {
    const req = mod.request(u, { method, headers: h, agent: false, rejectUnauthorized: false }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const pairs = [];
        for (let i = 0; i < res.rawHeaders.length; i += 2) pairs.push([res.rawHeaders[i], res.rawHeaders[i + 1]]);
        let json = null;
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode, headers: new Headers(pairs), text, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (payload) req.write(payload);
    req.end();
  });
}

// Assert the OpenAI error shape.
export function isOpenAIError(j) {
  return j && j.error && typeof j.error.message === 'string' && typeof j.error.type === 'string' &&
    'code' in j.error && 'param' in j.error;
}
