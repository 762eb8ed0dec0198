// Making users for end-to-end tests: staff through the CLI, people through
// sign-up and the mailed verification link, and signed-in clients.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { api, BIN } from './server.js';
import { Client, waitMail, tokenIn } from './accounts.js';

// Make an account with the CLI (password on stdin); resolves {code, out, err}.
export function createUser(dataDir, { email, username, password, role = 'user' }) {
  return new Promise((res) => {
    const p = spawn(BIN, ['admin', 'create-user', '--email', email, '--username', username,
      '--role', role, '--password-stdin', '--data-dir', dataDir]);
    let out = '', err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('exit', (code) => res({ code, out, err }));
    p.stdin.end(password + '\n');
  });
}

// Sign up p and confirm the email with the mailed link; returns the user ID.
export async function signupVerified(srv, p) {
  const r = await api(srv.url, 'POST', '/api/auth/signup', { body: p });
  assert.equal(r.status, 201, r.text);
  const m = await waitMail(srv.dataDir, p.email, /Confirm your email/);
  const v = await api(srv.url, 'POST', '/api/auth/verify', { body: { token: tokenIn(m) } });
  assert.equal(v.status, 200, v.text);
  return r.json.id;
}

// A client signed in as p (username and password).
export async function signedIn(srv, p, opts) {
  const c = new Client(srv.url, opts);
  const r = await c.login(p.username, p.password);
  assert.equal(r.status, 200, r.text);
  return c;
}
