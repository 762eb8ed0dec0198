// api.js: the studio's one door to the server. Same-origin fetch only (the
// CSP's connect-src is 'self'); the session cookie travels on its own, and
// every state change carries the session's CSRF token in X-CSRF-Token
// (ACC-4). Errors come back in OpenAI's shape and are thrown as ApiError,
// whose `param` names the field the message concerns.

let csrf = '';

/* Remember the CSRF token the server handed out (sign-in, /api/me). */
export function setCsrf(token) { csrf = token || ''; }
export function csrfToken() { return csrf; }

export class ApiError extends Error {
  constructor(status, body, text) {
    const e = (body && body.error) || {};
    super(e.message || (text && text.length < 200 ? text : '') || `The server answered ${status}.`);
    this.status = status;
    this.param = e.param || null;
    this.code = e.code || null;
    this.type = e.type || null;
  }
}

/* Headers for a request: JSON, and the CSRF token on anything but GET. */
export function headers(method, json) {
  const h = { Accept: 'application/json' };
  if (json) h['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && csrf) h['X-CSRF-Token'] = csrf;
  return h;
}

/* One JSON call: resolves to the parsed body (null for 204), or throws ApiError. */
export function api(method, path, body, opts = {}) {
  return send(path, {
    method,
    headers: headers(method, body !== undefined),
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: opts.signal,
  });
}

/* A multipart POST (a file upload): form is a FormData; the browser writes
 * the Content-Type with its boundary. Answers as api() does. */
export function upload(path, form, opts = {}) {
  return send(path, { method: 'POST', headers: headers('POST', false), body: form, signal: opts.signal });
}

async function send(path, init) {
  let r;
  try {
    r = await fetch(path, { ...init, credentials: 'same-origin', cache: 'no-store' });
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new ApiError(0, null, 'The server cannot be reached; check the connection and retry.');
  }
  if (r.status === 204) return null;
  const text = await r.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  if (!r.ok) {
    const err = new ApiError(r.status, json, text);
    unauthorized(err);
    throw err;
  }
  return json;
}

/* A 401 that names no field may mean the session is gone (ended elsewhere,
 * expired): the app hears of it, checks, and signs out here. A 401 about a
 * field (a wrong password or code) is the form's business, not this. */
export function unauthorized(err) {
  if (err.status === 401 && !err.param) window.dispatchEvent(new CustomEvent('atelier:unauthorized'));
}

let spec = null;
/* Whether the server offers METHOD PATH (from /openapi.json, fetched once):
 * pages show a feature only when its API exists on this server. */
export async function offers(method, path) {
  if (!spec) spec = api('GET', '/openapi.json').catch(() => ({ paths: {} }));
  const s = await spec;
  const p = s.paths && s.paths[path];
  return !!(p && p[method.toLowerCase()]);
}
