// Helpers for account tests: a cookie-keeping client, sign-up data, and the
// mail the server writes under DATA_DIR/mail/ when no SMTP server is set.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { api } from './server.js';
import { parseMessage } from './smtp.js';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export const FIREFOX_LINUX = 'Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0';
export const CHROME_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';

let seq = 0;
// A fresh, valid sign-up body; fields override.
export function person(fields = {}) {
  seq++;
  const tag = `${process.pid.toString(36)}${seq}${Math.random().toString(36).slice(2, 6)}`;
  return {
    email: `user.${tag}@example.org`,
    username: `user_${tag}`,
    password: `violet-kettle-${tag}-staircase`,
    birth_date: '1990-05-17',
    ...fields,
  };
}

// YYYY-MM-DD of the day `years` years ago, shifted by `days`.
export function birthDate(years, days = 0) {
  const d = new Date();
  d.setUTCFullYear(d.getUTCFullYear() - years);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

// A browser-like client: keeps the session cookie and the CSRF token.
export class Client {
  constructor(base, { ua = FIREFOX_LINUX } = {}) {
    this.base = base;
    this.ua = ua;
    this.cookie = null; // "name=value"
    this.csrf = null;
    this.setCookies = [];
  }

  async req(method, path, body, { csrf = true, headers = {} } = {}) {
    const h = { 'User-Agent': this.ua, ...headers };
    if (this.cookie) h.Cookie = this.cookie;
    if (csrf && this.csrf && method !== 'GET') h['X-CSRF-Token'] = this.csrf;
    const r = await api(this.base, method, path, { body, headers: h });
    const sc = r.headers.getSetCookie ? r.headers.getSetCookie() : [];
    this.setCookies = sc;
    for (const c of sc) {
      const [pair] = c.split(';');
      const [name, value] = pair.split('=');
      if (/atelier_session$/.test(name)) this.cookie = value ? `${name}=${value}` : null;
    }
    return r;
  }

  async login(login, password) {
    const r = await this.req('POST', '/api/auth/login', { login, password });
    if (r.status === 200 && r.json.csrf) this.csrf = r.json.csrf;
    return r;
  }
}

// Every message written under DATA_DIR/mail/, parsed, oldest first.
export function mails(dataDir) {
  const dir = join(dataDir, 'mail');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.endsWith('.eml')).sort()
    .map((f) => parseMessage(readFileSync(join(dir, f), 'utf8')));
}

// Wait for a message to `to` whose subject matches re; resolves with it.
export async function waitMail(dataDir, to, re, { timeoutMs = 10000, after = 0 } = {}) {
  const t = Date.now();
  for (;;) {
    const m = mails(dataDir).slice(after).find((x) => (x.headers.to || '').includes(to) && re.test(x.headers.subject || ''));
    if (m) return m;
    if (Date.now() - t > timeoutMs) throw new Error(`no mail to ${to} matching ${re} in ${timeoutMs} ms`);
    await sleep(50);
  }
}

export function tokenIn(msg) {
  const m = msg.text.match(/token=([A-Za-z0-9_-]{43})/);
  if (!m) throw new Error('no token in mail: ' + msg.text);
  return m[1];
}

// The database files as one latin1 string, to look for plaintext.
export function dbBytes(dataDir) {
  return readdirSync(dataDir).filter((f) => f.startsWith('atelier.db'))
    .map((f) => readFileSync(join(dataDir, f)).toString('latin1')).join('');
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
