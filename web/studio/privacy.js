// privacy.js: the privacy center. Active sessions with device and
// approximate place, each of which can be ended (ACC-10); links to the
// notices; the data-rights actions appear here as the server offers them.
import { api, offers } from './api.js';
import { h, field, submitting, table, title, values, when } from './ui.js';

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
  const [canExport, canConsent, canRestrict, canDelete] = await Promise.all([
    offers('POST', '/api/privacy/export'), offers('GET', '/api/privacy/consents'),
    offers('POST', '/api/privacy/restriction'), offers('DELETE', '/api/me')]);
  const sections = [];
  if (canConsent) sections.push(await consents());
  if (canExport) sections.push(await exports());
  if (canRestrict) sections.push(restriction());
  if (canDelete) sections.push(erase(ctx));
  if (!sections.length) {
    rights.append(h('p', { class: 'hint', text: 'Export, consent choices, restriction and account deletion will appear here when this server offers them; until then, ask through the contact in the privacy notice.' }));
  }
  view.append(...title('Privacy center'), box, ...sections, rights);
  await refresh();
}

const CONSENTS = {
  marketing: 'Product news by email (marketing)',
  data_sharing: 'Let my prompts and results improve the models (training)',
};

/* Consents (PRIV-7, PRIV-8): off by default, each one a checkbox saved at
 * once; withdrawing is always possible. The ledger shows every change. */
async function consents() {
  const box = h('section', { class: 'card', 'aria-labelledby': 'cons-h' });
  const draw = (c) => {
    const form = h('form', { novalidate: true },
      h('fieldset', { class: 'field group', dataset: { field: 'consents' } }, h('legend', { text: 'Optional uses of your data' }),
        Object.entries(CONSENTS).filter(([k]) => k in c.current).map(([k, label]) => h('div', { class: 'check' },
          h('input', { type: 'checkbox', id: `c-${k}`, name: k, checked: !!c.current[k] }),
          h('label', { for: `c-${k}`, text: label }))),
        h('p', { class: 'field-error', id: 'f-consents-err' })),
      c.privacy_signal ? h('p', { class: 'hint', text: 'Your browser sends Do Not Track or Global Privacy Control: optional uses stay off.' }) : null,
      c.policy && c.policy.version && !c.policy.accepted
        ? h('p', null, `The privacy notice changed (version ${c.policy.version}). `, h('a', { href: '/privacy', text: 'Read it' }), ', then ',
          h('button', { type: 'button', class: 'secondary', text: 'Accept it', onclick: () => save({ privacy_notice: true }) }))
        : null,
      h('p', { class: 'hint', role: 'status', id: 'consent-status' }),
      h('details', null, h('summary', { text: 'History of your choices' }),
        h('ul', { class: 'ledger' }, (c.ledger || []).map((x) => h('li', { text: `${when(typeof x.at === 'number' ? new Date(x.at * 1000).toISOString() : x.at)}: ${x.kind} ${x.granted === false ? 'withdrawn' : 'given'}${x.source ? ` (${x.source})` : ''}` })))));
    for (const cb of form.querySelectorAll('input[type=checkbox]')) {
      cb.addEventListener('change', () => save({ [cb.name]: cb.checked }, cb));
    }
    box.replaceChildren(h('h2', { id: 'cons-h', text: 'Consents' }), form);
  };
  async function save(change, cb) {
    try {
      const c = await api('PUT', '/api/privacy/consents', change);
      draw(c);
      box.querySelector('#consent-status').textContent = 'Saved.';
    } catch (err) {
      if (cb) cb.checked = !cb.checked;
      box.querySelector('#f-consents-err').textContent = err.message;
    }
  }
  draw(await api('GET', '/api/privacy/consents'));
  return box;
}

/* Export (PRIV-1, PRIV-2): a ZIP of everything held, built in the background. */
async function exports() {
  const box = h('section', { class: 'card', 'aria-labelledby': 'exp-h' });
  const status = h('p', { class: 'hint', role: 'status' });
  const list = h('div');
  let timer = null;
  async function refresh() {
    const r = await api('GET', '/api/privacy/exports');
    const rows = r.exports || [];
    list.replaceChildren(table('Your exports', [
      { label: 'Asked', cell: (x) => when(new Date(x.created_at * 1000).toISOString()) },
      { label: 'Status', cell: (x) => (x.status === 'ready' ? 'ready' : [h('progress', { 'aria-label': 'Preparing' }), ` ${x.status}`]) },
      { label: 'Download', cell: (x) => (x.status === 'ready'
        ? h('a', { href: `/api/privacy/exports/${encodeURIComponent(x.id)}`, download: '', text: `ZIP (${Math.max(1, Math.round(x.bytes / 1024))} KB)` })
        : '—') },
      { label: 'Available until', cell: (x) => (x.expires_at ? when(new Date(x.expires_at * 1000).toISOString()) : '—') },
    ], rows, 'No export yet.'));
    clearTimeout(timer);
    if (rows.some((x) => x.status !== 'ready' && x.status !== 'expired' && x.status !== 'failed') && box.isConnected !== false) {
      timer = setTimeout(() => { if (box.isConnected) refresh().catch(() => {}); }, 1000);
    }
  }
  const btn = h('button', { type: 'button', text: 'Export my data', onclick: async () => {
    btn.disabled = true;
    try {
      const r = await api('POST', '/api/privacy/export');
      status.textContent = `Export asked: ${r.note}.`;
      await refresh();
    } catch (err) {
      status.textContent = err.message;
    } finally { btn.disabled = false; }
  } });
  box.append(h('h2', { id: 'exp-h', text: 'Your data, to take with you' }),
    h('p', { class: 'hint', text: 'A ZIP with your account, usage, keys, consents and content, in JSON.' }), btn, status, list);
  await refresh();
  return box;
}

/* Restriction of processing (PRIV-6). */
function restriction() {
  const status = h('p', { class: 'hint', role: 'status' });
  const call = (method) => async () => {
    try {
      const r = await api(method, '/api/privacy/restriction');
      status.textContent = r.restricted ? 'Processing is restricted: generation and optional uses are stopped until you lift it.' : 'The restriction is lifted.';
    } catch (err) { status.textContent = err.message; }
  };
  return h('section', { class: 'card', 'aria-labelledby': 'res-h' },
    h('h2', { id: 'res-h', text: 'Restrict processing' }),
    h('p', { class: 'hint', text: 'While restricted, we keep your data but do nothing else with it.' }),
    h('p', { class: 'actions' },
      h('button', { type: 'button', class: 'secondary', text: 'Restrict', onclick: call('POST') }),
      h('button', { type: 'button', class: 'secondary', text: 'Lift the restriction', onclick: call('DELETE') })),
    status);
}

/* Account deletion (PRIV-4, PRIV-5): password, a confirmation, the signed receipt. */
function erase(ctx) {
  const form = h('form', { class: 'narrow', novalidate: true },
    field({ name: 'password', id: 'del-password', label: 'Your password', type: 'password', required: true, autocomplete: 'current-password' }),
    field({ name: 'mail_receipt', id: 'del-mail', label: 'Mail me the deletion receipt', type: 'checkbox', value: true }),
    h('button', { type: 'submit', class: 'danger', text: 'Delete my account', 'data-busy': 'Deleting…' }));
  const box = h('section', { class: 'card', 'aria-labelledby': 'del-h' },
    h('h2', { id: 'del-h', text: 'Delete your account' }),
    h('p', { class: 'hint', text: 'Everything goes at once: account, content, keys, usage. Billing records the law requires are kept under a pseudonym. This cannot be undone.' }),
    form);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (!window.confirm('Delete your account and all its data now?')) return;
    submitting(form, async () => {
      const v = values(form);
      const receipt = await api('DELETE', '/api/me', { password: v.password, mail_receipt: v.mail_receipt === true });
      ctx.receipt = receipt;
      ctx.signedOut('Your account was deleted.', '/deleted');
    });
  });
  return box;
}

/* #/deleted: the signed receipt of an erasure just made (PRIV-5). */
export function deleted(view, ctx) {
  view.append(...title('Account deleted', 'Everything about you is gone from this server.'));
  if (!ctx.receipt) { view.append(h('p', null, h('a', { href: '#/', text: 'Back to the start' }))); return; }
  view.append(h('section', { class: 'card', 'aria-labelledby': 'rcpt-h' },
    h('h2', { id: 'rcpt-h', text: 'Deletion receipt' }),
    h('p', { class: 'hint', text: 'Signed by the server; keep it as proof. Verify it with the key at /.well-known/atelier-receipt-key.' }),
    h('pre', { class: 'receipt', text: JSON.stringify(ctx.receipt, null, 2) })));
}
