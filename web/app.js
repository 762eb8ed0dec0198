// app.js: the studio's entry module. Hash routes (#/chat, #/keys …) so that
// the links the server mails (#/verify?token=…, #/reset?token=…) open the
// right page and the server needs no route per page. Each page module
// exports render(view, ctx) and may return a cleanup function, called when
// the user leaves the page (chat uses it to stop a running generation).
import { api, setCsrf, ApiError, offers } from './studio/api.js';
import { h } from './studio/ui.js';
import * as auth from './studio/auth.js';
import * as chat from './studio/chat.js';
import * as credits from './studio/credits.js';
import * as keys from './studio/keys.js';
import * as privacy from './studio/privacy.js';
import * as account from './studio/account.js';
import * as admin from './studio/admin.js';
import * as images from './studio/images.js';

// who: 'guest' (signed-out only), 'any', 'user' (signed in), 'staff'
// (support or admin; the console shows each role what its API allows).
const routes = {
  '/': { title: 'Welcome', who: 'any', render: home },
  '/signin': { title: 'Sign in', who: 'guest', render: auth.signin },
  '/signup': { title: 'Create an account', who: 'guest', render: auth.signup },
  '/2fa': { title: 'Two-step sign-in', who: 'guest', render: auth.twofa },
  '/verify': { title: 'Confirm your email', who: 'any', render: auth.verify },
  '/forgot': { title: 'Forgotten password', who: 'any', render: auth.forgot },
  '/reset': { title: 'Choose a new password', who: 'any', render: auth.reset },
  '/chat': { title: 'Chat', who: 'user', render: chat.render },
  '/images': { title: 'Image studio', who: 'user', render: images.render },
  '/gallery': { title: 'Gallery', who: 'user', render: images.galleryPage },
  '/credits': { title: 'Credits and usage', who: 'user', render: credits.render },
  '/keys': { title: 'API keys', who: 'user', render: keys.render },
  '/privacy': { title: 'Privacy center', who: 'user', render: privacy.render },
  '/deleted': { title: 'Account deleted', who: 'any', render: privacy.deleted },
  '/account': { title: 'Account', who: 'user', render: account.render },
  '/confirm-email': { title: 'Confirm your new email', who: 'any', render: account.confirmEmail },
  '/privacy/parent': { title: 'A parent\'s request', who: 'any', render: privacy.parent },
  '/admin': { title: 'Admin', who: 'staff', render: admin.render },
};

const ctx = {
  me: null,
  images: false, // whether this server generates images (its API is in /openapi.json)
  /* Ask the server who is signed in (401 = nobody); keeps the CSRF token. */
  async refreshMe() {
    try {
      ctx.me = await api('GET', '/api/me');
      setCsrf(ctx.me.csrf);
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 401) throw err;
      ctx.me = null;
      setCsrf('');
    }
    renderNav();
    return ctx.me;
  },
  /* Open the page at path; message, if any, is shown on it. */
  go(path, message) {
    pending = message || '';
    if (location.hash === `#${path}`) route();
    else location.hash = `#${path}`;
  },
  flash(text) {
    const f = document.getElementById('flash');
    f.textContent = text;
    f.hidden = !text;
  },
  signedOut(message, path = '/signin') {
    ctx.me = null;
    setCsrf('');
    renderNav();
    ctx.go(path, message || 'You are signed out.');
  },
};

const isStaff = () => !!ctx.me && (ctx.me.role === 'admin' || ctx.me.role === 'support');

function renderNav() {
  const nav = document.getElementById('nav');
  const here = location.hash.replace(/^#/, '').split('?')[0] || '/';
  const link = (path, text) => h('a', { href: `#${path}`, 'aria-current': here === path ? 'page' : null, text });
  nav.replaceChildren();
  if (!ctx.me) {
    nav.append(link('/signin', 'Sign in'), link('/signup', 'Create account'));
    return;
  }
  nav.append(link('/chat', 'Chat'));
  if (ctx.images) nav.append(link('/images', 'Images'), link('/gallery', 'Gallery'));
  nav.append(link('/credits', 'Credits'), link('/keys', 'API keys'),
    link('/privacy', 'Privacy'), link('/account', 'Account'));
  if (isStaff()) nav.append(link('/admin', 'Admin'));
  nav.append(h('button', { type: 'button', class: 'link', id: 'signout', onclick: signOut, text: 'Sign out' }));
}

async function signOut() {
  try {
    await api('POST', '/api/auth/logout');
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 401) { ctx.flash(err.message); return; }
  }
  ctx.signedOut('You are signed out.');
}

function home(view) {
  if (ctx.me) { ctx.go('/chat'); return; }
  view.append(h('section', { class: 'hero' },
    h('h1', { tabindex: '-1', text: 'Private AI generation' }),
    h('p', { text: 'Text, images and audio, generated on this company\'s own servers. Your prompts and results are sealed with a key of your own, never used for training unless you opt in, and erased for real when you ask.' }),
    h('p', { class: 'actions' },
      h('a', { class: 'button', href: '#/signup', text: 'Create an account' }),
      h('a', { class: 'button secondary', href: '#/signin', text: 'Sign in' }))));
}

let cleanup = null;
let pending = ''; // the message for the page being opened

async function route() {
  const raw = location.hash.replace(/^#/, '');
  if (raw && !raw.startsWith('/')) return; // an in-page anchor, not a route
  const [path, qs] = (raw || '/').split('?');
  const page = routes[path] || { title: 'Not found', who: 'any', render: notFound };
  if (cleanup) { try { cleanup(); } catch { /* leaving anyway */ } cleanup = null; }
  ctx.flash(pending);
  pending = '';
  if (page.who === 'guest' && ctx.me) { ctx.go('/chat'); return; }
  if ((page.who === 'user' || page.who === 'staff') && !ctx.me) {
    ctx.go('/signin', 'Sign in to continue.');
    return;
  }
  if (page.who === 'staff' && !isStaff()) { ctx.go('/chat'); return; }
  const main = document.getElementById('main');
  const view = h('div', { class: `page page-${path.slice(1).replace(/[^a-z0-9]+/g, '-') || 'home'}` });
  main.replaceChildren(view);
  document.title = `${page.title} · Atelier`;
  renderNav();
  try {
    const c = await page.render(view, ctx, new URLSearchParams(qs || ''));
    if (typeof c === 'function') cleanup = c;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) { ctx.signedOut('Your session has ended; sign in again.'); return; }
    view.append(h('p', { class: 'form-error', role: 'alert', text: err.message }));
  }
  const heading = view.querySelector('h1');
  if (heading && !view.contains(document.activeElement)) heading.focus({ preventScroll: true });
}

function notFound(view) {
  view.append(h('h1', { tabindex: '-1', text: 'Page not found' }), h('p', null, h('a', { href: '#/', text: 'Back to the start' })));
}

// the skip link moves focus to the page without touching the route
document.querySelector('.skip').addEventListener('click', (ev) => {
  ev.preventDefault();
  const main = document.getElementById('main');
  (main.querySelector('h1') || main).focus();
});

window.addEventListener('hashchange', route);
// a 401 while signed in: ask the server whether the session still stands
let checking = false;
window.addEventListener('atelier:unauthorized', async () => {
  if (!ctx.me || checking) return;
  checking = true;
  try {
    await api('GET', '/api/me');
  } catch (err) {
    if (err instanceof ApiError && err.status === 401 && ctx.me) ctx.signedOut('Your session has ended; sign in again.');
  } finally { checking = false; }
});
offers('POST', '/v1/images/generations')
  .then((yes) => { ctx.images = yes; }, () => {})
  .then(() => ctx.refreshMe())
  .catch(() => { ctx.me = null; })
  .then(route);
