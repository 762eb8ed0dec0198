// privacy.js: the privacy center. Active sessions with device and
// approximate place, each of which can be ended (ACC-10); links to the
// notices; the data-rights actions appear here as the server offers them:
// consents, export, restriction and objection, privacy requests with their
// deadlines, when staff accessed my data (SEC-5), account deletion. Also
// #/privacy/parent, a parent's request to delete a child's account (AGE-3).
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
      h('li', null, h('a', { href: '#/account', text: 'Correct your profile or email' }), ' (account page)'),
      h('li', null, h('a', { href: '#/privacy/parent', text: 'A parent or guardian\'s request' }), ': to delete a child\'s account')));
  const [canExport, canConsent, canRestrict, canObject, canRequest, canLog, canDelete] = await Promise.all([
    offers('POST', '/api/privacy/export'), offers('GET', '/api/privacy/consents'),
    offers('POST', '/api/privacy/restriction'), offers('POST', '/api/privacy/objections'),
    offers('GET', '/api/privacy/requests'), offers('GET', '/api/privacy/access-log'), offers('DELETE', '/api/me')]);
  const sections = [];
  const cons = canConsent ? await consents() : null;
  const reqs = canRequest ? await requests() : null;
  if (cons) sections.push(cons);
  if (canExport) sections.push(await exports());
  if (canRestrict) sections.push(restriction());
  // an objection to marketing or training also withdraws that consent, and
  // is itself a request answered at once: both boxes are redrawn
  if (canObject) sections.push(objection(() => Promise.all([cons && cons.refresh(), reqs && reqs.refresh()])));
  if (reqs) sections.push(reqs);
  if (canLog) sections.push(await accessLog());
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
  box.refresh = async () => draw(await api('GET', '/api/privacy/consents'));
  await box.refresh();
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

const PURPOSES = [
  { value: 'marketing', label: 'Marketing (product news by email)' },
  { value: 'model_improvement', label: 'Improving the models with my data' },
  { value: 'analytics', label: 'Usage statistics (analytics)' },
  { value: 'profiling', label: 'Profiling' },
  { value: 'other', label: 'Something else (say what in the note)' },
];

/* The right to object (PRIV-6): a purpose, an optional note; the server's
 * answer is shown as it gives it. */
function objection(changed) {
  const status = h('p', { class: 'hint', role: 'status', id: 'obj-status' });
  const form = h('form', { class: 'narrow', novalidate: true, 'aria-labelledby': 'obj-h' },
    field({ name: 'purpose', id: 'obj-purpose', label: 'I object to my data being used for', type: 'select',
      options: [{ value: '', label: 'Choose a purpose' }, ...PURPOSES] }),
    field({ name: 'note', id: 'obj-note', label: 'Note (optional)', type: 'textarea', rows: 2, maxlength: 4000,
      hint: 'Why, or what exactly; kept sealed with your key.' }),
    h('button', { type: 'submit', class: 'secondary', text: 'Object', 'data-busy': 'Sending…' }));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    status.textContent = '';
    submitting(form, async () => {
      const v = values(form);
      const body = { purpose: v.purpose };
      if (v.note) body.note = v.note;
      const r = await api('POST', '/api/privacy/objections', body);
      const label = (PURPOSES.find((p) => p.value === r.purpose) || { label: r.purpose }).label;
      form.reset();
      await changed();
      status.textContent = `Your objection to ${label.toLowerCase()}: ${r.status}.`;
    });
  });
  return h('section', { class: 'card', 'aria-labelledby': 'obj-h' },
    h('h2', { id: 'obj-h', text: 'Object to a use of your data' }),
    h('p', { class: 'hint', text: 'An objection takes effect at once. Objecting to marketing or to model improvement also withdraws that consent.' }),
    form, status);
}

export const KINDS = [
  { value: 'access', label: 'A copy of my data (access)' },
  { value: 'portability', label: 'My data in a machine-readable form (portability)' },
  { value: 'rectification', label: 'Correct my data (rectification)' },
  { value: 'erasure', label: 'Delete my data (erasure)' },
  { value: 'restriction', label: 'Restrict processing' },
  { value: 'objection', label: 'Object to processing' },
  { value: 'consent', label: 'About my consents' },
  { value: 'other', label: 'Something else' },
];
export const kindLabel = (k) => (KINDS.find((x) => x.value === k) || { label: k }).label;
const day = (iso) => when(iso).slice(0, 10);

/* The deadline of a request: its date, and the days left or overdue (PRIV-11). */
export function deadline(x) {
  if (x.closed_at) return `${day(x.due_at)} (answered ${day(x.closed_at)})`;
  if (x.overdue) return [day(x.due_at), h('span', { class: 'tag late', text: 'overdue' })];
  return `${day(x.due_at)} (${x.days_left} day${x.days_left === 1 ? '' : 's'} left)`;
}

/* Privacy requests (PRIV-11): mine with status and deadline, and a new one. */
async function requests() {
  const list = h('div', { 'aria-live': 'polite' });
  const status = h('p', { class: 'hint', role: 'status', id: 'req-status' });
  const form = h('form', { class: 'period', novalidate: true, 'aria-label': 'Make a privacy request' },
    field({ name: 'kind', id: 'req-kind', label: 'What you ask for', type: 'select',
      options: [{ value: '', label: 'Choose' }, ...KINDS] }),
    h('button', { type: 'submit', text: 'Send request', 'data-busy': 'Sending…' }));
  const box = h('section', { class: 'card', 'aria-labelledby': 'req-h' },
    h('h2', { id: 'req-h', text: 'Privacy requests' }),
    h('p', { class: 'hint', text: 'Most rights act at once on this page. For anything else, ask here: we answer within 30 days, and you can follow each request below.' }),
    form, status, list);
  box.refresh = async () => {
    const r = await api('GET', '/api/privacy/requests');
    list.replaceChildren(table('Your privacy requests', [
      { label: 'Request', cell: (x) => kindLabel(x.kind) },
      { label: 'Status', cell: (x) => (x.outcome ? `${x.status}: ${x.outcome}` : x.status) },
      { label: 'Received', cell: (x) => when(x.received_at) },
      { label: 'Answer due', cell: deadline },
    ], r.requests || [], 'No request yet.'));
  };
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    status.textContent = '';
    submitting(form, async () => {
      const kind = values(form).kind;
      await api('POST', '/api/privacy/requests', { kind });
      form.reset();
      await box.refresh();
      status.textContent = `Request sent: ${kindLabel(kind).toLowerCase()}. We answer within 30 days.`;
    });
  });
  await box.refresh();
  return box;
}

const EVENTS = {
  'admin.audit_viewed': 'Read the security log of your account',
  'admin.role_changed': 'Changed your role',
  'credits.granted': 'Granted you credits',
  'privacy.request_logged': 'Logged a privacy request for you',
  'staff.images_viewed': 'Looked at the list of your images',
};

/* When staff looked at or acted on my data (SEC-5): their role, never their
 * name; what; and the reason they gave, where they gave one. */
async function accessLog() {
  const r = await api('GET', '/api/privacy/access-log');
  return h('section', { class: 'card', 'aria-labelledby': 'acc-h' },
    h('h2', { id: 'acc-h', text: 'Staff access to your data' }),
    h('p', { class: 'hint', text: 'Every time our staff look at or change your account, it is recorded. Here is each time, newest first.' }),
    table('When staff accessed your data', [
      { label: 'When', cell: (x) => when(x.at) },
      { label: 'Who', cell: (x) => `${x.actor_role === 'former staff' ? 'A former staff member' : `Staff (${x.actor_role})`}` },
      { label: 'What', cell: (x) => EVENTS[x.event] || x.event },
      { label: 'Reason given', cell: (x) => x.reason || '—' },
    ], r.events || [], 'No staff member has looked at or changed your data.'));
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

/* #/privacy/parent: a parent or guardian, not signed in, asks to delete a
 * child's account (AGE-3); the mailed link (…?token=) confirms it. */
export async function parent(view, ctx, q) {
  const token = q.get('token');
  view.append(...title('A parent\'s request', 'For a parent or guardian who wants a child\'s account and its data deleted.'));
  if (token) {
    history.replaceState(null, '', '#/privacy/parent');
    const status = h('div', { class: 'card narrow', role: 'status', 'aria-live': 'polite' },
      h('p', null, h('progress', { 'aria-label': 'Confirming' }), ' Confirming your request…'));
    view.append(status);
    try {
      const r = await api('POST', '/api/privacy/requests/verify', { token });
      status.replaceChildren(h('p', { class: 'ok', text: `Thank you: ${r.status}.` }));
    } catch (err) {
      status.replaceChildren(h('p', { class: 'form-error', role: 'alert', text: err.message }),
        h('p', { class: 'hint', text: 'A link works once. Make the request again below if you need to.' }));
    }
    return;
  }
  if (ctx.me) {
    view.append(h('p', { class: 'card narrow', text: 'You are signed in: requests about your own account are made from your privacy center. This form is for a parent or guardian who is not signed in; sign out first to use it.' }),
      h('p', null, h('a', { href: '#/privacy', text: 'Open your privacy center' })));
    return;
  }
  const form = h('form', { class: 'card narrow', novalidate: true },
    field({ name: 'child', label: 'The child\'s username or email', required: true, autocomplete: 'off' }),
    field({ name: 'parent_email', label: 'Your email', type: 'email', required: true, autocomplete: 'email',
      hint: 'We mail you a link to confirm. If it is the address the child gave when signing up, the account is deleted at once.' }),
    h('button', { type: 'submit', class: 'danger', text: 'Ask for deletion', 'data-busy': 'Sending…' }));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    submitting(form, async () => {
      const v = values(form);
      const r = await api('POST', '/api/privacy/requests', { child: v.child, parent_email: v.parent_email, kind: 'erasure' });
      form.replaceChildren(h('p', { class: 'ok', role: 'status', text: `Sent: ${r.status}.` }));
    });
  });
  view.append(form);
}
