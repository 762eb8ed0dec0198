// privacy.js: the privacy center. Active sessions with device and
// approximate place, each of which can be ended (ACC-10); links to the
// notices; the data-rights actions appear here as the server offers them.
import { api, offers } from './api.js';
import { h, table, title, when } from './ui.js';

export async function render(view, ctx) {
  const box = h('section', { class: 'card', 'aria-labelledby': 'sess-h' });
  const note = h('p', { class: 'hint', 'aria-live': 'polite' });

  async function end(s, btn) {
    const msg = s.current ? 'End this session? You will be signed out here.' : `End the session on ${s.browser} (${s.os})?`;
    if (!window.confirm(msg)) return;
    btn.disabled = true;
    try {
      await api('DELETE', `/api/me/sessions/${encodeURIComponent(s.id)}`);
      if (s.current) { ctx.signedOut('This session is ended; you are signed out.'); return; }
      await refresh();
      note.textContent = `The session on ${s.browser} (${s.os}) is ended.`;
    } catch (err) {
      btn.disabled = false;
      note.textContent = err.message;
    }
  }

  async function refresh() {
    const r = await api('GET', '/api/me/sessions');
    const place = (s) => (s.place && s.place.network ? s.place.network : 'unknown');
    box.replaceChildren(h('h2', { id: 'sess-h', text: 'Where you are signed in' }),
      h('p', { class: 'hint', text: 'Place is approximate: the network your address belongs to. End any session you do not recognise, then change your password.' }),
      table('Active sessions', [
        { label: 'Browser', cell: (s) => [s.browser || 'unknown', s.current ? h('span', { class: 'tag', text: 'this device' }) : null] },
        { label: 'System', cell: (s) => s.os || 'unknown' },
        { label: 'Approximate place', cell: place },
        { label: 'Signed in', cell: (s) => when(s.created_at) },
        { label: 'Last seen', cell: (s) => when(s.last_seen) },
        { label: 'Actions', cell: (s) => h('button', { type: 'button', class: 'danger', 'data-session': s.id,
          'aria-label': s.current ? 'End this session (sign out)' : `End session on ${s.browser} ${s.os}`,
          text: s.current ? 'Sign out here' : 'End', onclick: (ev) => end(s, ev.target) }) },
      ], r.sessions, 'No active session.'), note);
  }

  const rights = h('section', { class: 'card', 'aria-labelledby': 'rights-h' },
    h('h2', { id: 'rights-h', text: 'Your data and rights' }),
    h('ul', { class: 'links' },
      h('li', null, h('a', { href: '/privacy', text: 'Privacy notice' }), ': what we keep, why, and for how long'),
      h('li', null, h('a', { href: '/legal/cookies', text: 'Cookies' }), ': only the session cookie, nothing else'),
      h('li', null, h('a', { href: '/legal/subprocessors', text: 'Sub-processors' })),
      h('li', null, h('a', { href: '#/account', text: 'Correct your profile' }), ' (account page)')));
  const available = await Promise.all([
    offers('POST', '/api/privacy/export'), offers('GET', '/api/privacy/consents'),
    offers('POST', '/api/privacy/restriction'), offers('DELETE', '/api/me')]);
  if (!available.some(Boolean)) {
    rights.append(h('p', { class: 'hint', text: 'Export, consent choices, restriction and account deletion will appear here when this server offers them; until then, ask through the contact in the privacy notice.' }));
  }
  view.append(...title('Privacy center'), box, rights);
  await refresh();
}
