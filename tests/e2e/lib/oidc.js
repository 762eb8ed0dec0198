// A real OpenID provider (npm's oidc-provider) on a free loopback port, for
// the single sign-on tests, and a small browser: plain HTTP requests that
// follow redirects and carry cookies by hand, as a browser would.
//
// The provider's interaction (its login and consent pages) is answered by
// code: it signs in the account the test chose (provider.account) and grants
// what the client asked, or refuses (provider.refuse) as a user pressing
// "cancel" would.
import { createServer } from 'node:http';
import { createServer as netServer } from 'node:net';
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

// A port free right now on 127.0.0.1.
export function freePort() {
  return new Promise((res, rej) => {
    const s = netServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

// Start a provider. accounts: {sub: {email, email_verified}}. Returns
// {issuer, provider, server, stop(), account, refuse, tamper}.
// port: reuse one (a provider restarted with a new signing key).
export async function startProvider({ clientId, clientSecret, redirectUri, accounts, authMethod = 'client_secret_basic', port, kid = 'test-key-1' }) {
  port = port || await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid, use: 'sig', alg: 'RS256' };
  const provider = new Provider(issuer, {
    clients: [{
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: authMethod,
    }],
    jwks: { keys: [jwk] },
    // what discovery lists: only the client's own method, so a relying
    // party that ignored the list would fail
    clientAuthMethods: [authMethod],
    pkce: { required: () => true },
    features: { devInteractions: { enabled: false } },
    // Google puts the email in the ID token of the code flow; so does this
    conformIdTokenClaims: false,
    claims: { openid: ['sub'], email: ['email', 'email_verified'] },
    findAccount: async (ctx, sub) => (accounts[sub]
      ? { accountId: sub, claims: async () => ({ sub, ...accounts[sub] }) }
      : undefined),
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    cookies: { keys: ['oidc-e2e-cookie-key'] },
    ttl: { Interaction: 600, Session: 600, Grant: 600, AuthorizationCode: 60, AccessToken: 600, IdToken: 600 },
  });
  const ctl = { issuer, provider, account: Object.keys(accounts)[0], refuse: false, tamper: null, tokenRequests: [] };
  const handle = provider.callback();
  const server = createServer(async (req, res) => {
    if (req.url.startsWith('/interaction/')) {
      try {
        const details = await provider.interactionDetails(req, res);
        if (ctl.refuse) {
          await provider.interactionFinished(req, res,
            { error: 'access_denied', error_description: 'the user cancelled' }, { mergeWithLastSubmission: false });
        } else if (details.prompt.name === 'login') {
          await provider.interactionFinished(req, res, { login: { accountId: ctl.account } }, { mergeWithLastSubmission: false });
        } else if (details.prompt.name === 'consent') {
          const { missingOIDCScope = [], missingOIDCClaims = [] } = details.prompt.details;
          const grant = details.grantId
            ? await provider.Grant.find(details.grantId)
            : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
          if (missingOIDCScope.length) grant.addOIDCScope(missingOIDCScope.join(' '));
          if (missingOIDCClaims.length) grant.addOIDCClaims(missingOIDCClaims);
          const grantId = await grant.save();
          await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
        } else {
          res.statusCode = 500;
          res.end(`unexpected prompt ${details.prompt.name}`);
        }
      } catch (err) {
        res.statusCode = 500;
        res.end(String(err && err.stack));
      }
      return;
    }
    if (req.url.startsWith('/token')) {
      ctl.tokenRequests.push({ authorization: req.headers.authorization || null });
      if (ctl.tamper) {
        // rewrite the token endpoint's answer as it leaves (same length, so
        // Content-Length stays right)
        const end = res.end.bind(res);
        const tamper = ctl.tamper;
        res.end = (chunk, ...rest) => {
          if (chunk) {
            const j = JSON.parse(chunk.toString());
            if (j.id_token) j.id_token = tamper(j.id_token);
            chunk = JSON.stringify(j);
          }
          return end(chunk, ...rest);
        };
      }
    }
    handle(req, res);
  });
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  ctl.server = server;
  ctl.stop = () => new Promise((r) => { server.closeAllConnections?.(); server.close(() => r()); });
  return ctl;
}

// A browser: a cookie jar per host (ports share cookies, as in browsers)
// and manual redirects, so each hop can be looked at.
export class Browser {
  constructor({ ua = 'Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0' } = {}) {
    this.ua = ua;
    this.jar = new Map(); // host -> Map(name -> value)
  }

  cookies(url) {
    const m = this.jar.get(new URL(url).hostname);
    return m ? [...m].map(([k, v]) => `${k}=${v}`).join('; ') : '';
  }

  cookie(url, name) {
    const m = this.jar.get(new URL(url).hostname);
    return m ? m.get(name) : undefined;
  }

  store(url, res) {
    const host = new URL(url).hostname;
    if (!this.jar.has(host)) this.jar.set(host, new Map());
    const m = this.jar.get(host);
    for (const c of res.headers.getSetCookie()) {
      const [pair, ...attrs] = c.split(';');
      const i = pair.indexOf('=');
      const name = pair.slice(0, i).trim();
      const value = pair.slice(i + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a) || /^\s*expires=Thu, 01 Jan 1970/i.test(a));
      if (!value || expired) m.delete(name);
      else m.set(name, value);
    }
  }

  // One request; returns {status, location, headers, text, json, url}.
  async get(url, { method = 'GET', body, headers = {} } = {}) {
    const h = { 'User-Agent': this.ua, ...headers };
    const c = this.cookies(url);
    if (c) h.Cookie = c;
    const r = await fetch(url, { method, body, headers: h, redirect: 'manual' });
    this.store(url, r);
    const text = await r.text();
    let json = null;
    try { json = JSON.parse(text); } catch { /* not JSON */ }
    const loc = r.headers.get('location');
    return { status: r.status, headers: r.headers, text, json, url, location: loc ? new URL(loc, url).href : null };
  }

  // Follow redirects from url while stop(hop) is false; returns every hop.
  async follow(url, { stop = () => false, max = 20 } = {}) {
    const hops = [];
    for (let i = 0; i < max; i++) {
      const r = await this.get(url);
      hops.push(r);
      if (!r.location || ![301, 302, 303, 307, 308].includes(r.status) || stop(r)) return hops;
      url = r.location;
    }
    throw new Error(`more than ${max} redirects: ${hops.map((h) => `${h.status} ${h.url}`).join('\n')}`);
  }
}
