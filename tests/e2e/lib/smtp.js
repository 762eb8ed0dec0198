// A real SMTP server for tests: Debian's aiosmtpd with its Mailbox handler,
// which writes each message it receives as a file under DIR/new/ (Maildir),
// with the envelope added as X-MailFrom / X-RcptTo headers.
//
//   const smtp = await startSmtp();            // smtp.url = 'smtp://127.0.0.1:PORT'
//   const [msg] = await smtp.waitFor(1);       // parsed messages
//   msg.headers.subject, msg.text, msg.rcpt, msg.raw
//   await smtp.stop();
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';

// A TCP port that was free a moment ago.
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  });
}

// Decode RFC 2047 encoded-words (B and Q) in a header value.
export function decodeHeader(v) {
  // whitespace between two encoded words is not part of the text
  v = v.replace(/(\?=)\s+(=\?)/g, '$1$2');
  return v.replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g, (_, cs, enc, text) => {
    let bytes;
    if (enc.toUpperCase() === 'B') bytes = Buffer.from(text, 'base64');
    else bytes = Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (m, h) => String.fromCharCode(parseInt(h, 16))), 'latin1');
    return new TextDecoder(cs.toLowerCase()).decode(bytes);
  });
}

// Decode a quoted-printable body into UTF-8 text.
export function decodeQP(s) {
  const soft = s.replace(/=\r?\n/g, '');
  const bytes = [];
  for (let i = 0; i < soft.length; i++) {
    const c = soft[i];
    if (c === '=' && /^[0-9A-Fa-f]{2}$/.test(soft.slice(i + 1, i + 3))) {
      bytes.push(parseInt(soft.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      for (const b of Buffer.from(c, 'utf8')) bytes.push(b);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

// Parse one RFC 5322 message: {raw, headers (lower-case names, decoded;
// repeated names joined with ', '), headerLines (raw, unfolded), body (raw),
// text (decoded body, LF line ends), rcpt, mailFrom}.
export function parseMessage(raw) {
  const sep = raw.search(/\r?\n\r?\n/);
  const head = sep < 0 ? raw : raw.slice(0, sep);
  const body = sep < 0 ? '' : raw.slice(raw.slice(sep).match(/^\r?\n\r?\n/)[0].length + sep);
  const headerLines = head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/).filter(Boolean);
  const headers = {};
  for (const line of headerLines) {
    const i = line.indexOf(':');
    if (i < 0) continue;
    const name = line.slice(0, i).trim().toLowerCase();
    const value = decodeHeader(line.slice(i + 1).trim());
    headers[name] = headers[name] ? `${headers[name]}, ${value}` : value;
  }
  const cte = (headers['content-transfer-encoding'] || '').toLowerCase();
  let text = body;
  if (cte === 'quoted-printable') text = decodeQP(body);
  else if (cte === 'base64') text = Buffer.from(body, 'base64').toString('utf8');
  text = text.replace(/\r\n/g, '\n');
  return { raw, headers, headerLines, body, text, rcpt: headers['x-rcptto'], mailFrom: headers['x-mailfrom'] };
}

// Start aiosmtpd on a free port (or opts.port). Resolves once it accepts connections.
export async function startSmtp(opts = {}) {
  // aiosmtpd makes the Maildir (tmp/, new/, cur/) only when DIR does not exist yet
  const root = opts.dir ? null : mkdtempSync(join(tmpdir(), 'atelier-smtp-'));
  const dir = opts.dir || join(root, 'maildir');
  const port = opts.port || await freePort();
  const proc = spawn('/usr/bin/python3', ['-m', 'aiosmtpd', '-n', '-l', `127.0.0.1:${port}`, '-c', 'aiosmtpd.handlers.Mailbox', dir],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((r) => proc.on('exit', (code, sig) => r({ code, sig })));
  const t0 = Date.now();
  while (!(await canConnect(port))) {
    if (proc.exitCode !== null) throw new Error(`aiosmtpd exited ${proc.exitCode}: ${stderr}`);
    if (Date.now() - t0 > 15000) { proc.kill(); throw new Error(`aiosmtpd did not listen in 15s: ${stderr}`); }
    await new Promise((r) => setTimeout(r, 50));
  }
  const files = () => {
    const d = join(dir, 'new');
    if (!existsSync(d)) return [];
    return readdirSync(d).sort().map((f) => join(d, f));
  };
  return {
    url: `smtp://127.0.0.1:${port}`, port, dir,
    // Every message received so far, parsed, oldest first.
    messages() { return files().map((f) => parseMessage(readFileSync(f, 'utf8'))); },
    // Wait until at least n messages (optionally those for rcpt) have arrived.
    async waitFor(n = 1, { timeoutMs = 15000, to } = {}) {
      const t = Date.now();
      for (;;) {
        const ms = this.messages().filter((m) => !to || (m.rcpt || '').includes(to) || (m.headers.to || '').includes(to));
        if (ms.length >= n) return ms;
        if (Date.now() - t > timeoutMs) throw new Error(`expected ${n} message(s)${to ? ' for ' + to : ''}, got ${ms.length} in ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
      if (!opts.keep && root) rmSync(root, { recursive: true, force: true });
    },
  };
}
