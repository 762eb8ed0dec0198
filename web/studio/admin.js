// admin.js: the start of the staff console (ACC-8, SEC-5, PRIV-11): find
// users, change their role, grant credits with a reason, list a user's
// images with an audited reason, restrict or lift processing for a person
// who asked by letter or through support (PRIV-6); privacy requests with
// their deadlines, answered here or logged when they came by mail; read
// the audit log; a card of figures (requests, users, sessions, jobs).
// Support staff see users, requests and figures; roles, restriction and
// the audit log are for admins, as the API's guards say. Every read of a
// person is itself audited by the server.
import { api, offers } from './api.js';
import { h, field, submitting, table, title, when, values } from './ui.js';
import { KINDS, kindLabel, deadline } from './privacy.js';

const ROLES = ['user', 'support', 'admin'];

export async function render(view, ctx) {
  const users = h('div', { 'aria-live': 'polite' });
  const search = h('form', { class: 'period', novalidate: true, role: 'search', 'aria-label': 'Find users' },
    field({ name: 'q', label: 'Username contains' }),
    field({ name: 'email', label: 'Exact email', type: 'email' }),
    h('button', { type: 'submit', text: 'Search', 'data-busy': 'Searching…' }));
  const find = () => submitting(search, async () => {
    const v = values(search);
    const q = new URLSearchParams();
    if (v.q) q.set('q', v.q);
    if (v.email) q.set('email', v.email);
    q.set('limit', '100');
    const r = await api('GET', `/api/admin/users?${q}`);
    users.replaceChildren(table('Users', [
      { label: 'Username', cell: (u) => u.username },
      { label: 'Age group', cell: (u) => u.age_group },
      { label: 'Email confirmed', cell: (u) => (u.email_verified ? 'yes' : 'no') },
      { label: '2FA', cell: (u) => (u.two_factor_enabled ? 'on' : 'off') },
      { label: 'Created', cell: (u) => when(u.created_at) },
      { label: 'Role', cell: (u) => roleForm(u) },
      ...(admin ? [{ label: 'Staff actions', cell: (u) => [grantForm(u), restrictForm(u), canImages ? imagesForm(u) : null] }] : []),
    ], r.users, 'No user matches.'));
  });
  const admin = ctx.me.role === 'admin';
  const canImages = admin && await offers('GET', '/api/admin/users/{id}/images');
  /* A grant by hand (PAY): amount and reason, both audited; the user sees
   * the reason in their privacy center (SEC-5). */
  function grantForm(u) {
    const form = h('form', { novalidate: true, class: 'staff-form' },
      field({ name: 'credits', id: `grant-${u.id}`, label: 'Credits', inputmode: 'decimal', placeholder: 'e.g. 10' }),
      field({ name: 'reason', id: `grant-why-${u.id}`, label: 'Reason (the user sees it)', maxlength: 200 }),
      h('button', { type: 'submit', class: 'secondary', text: 'Grant', 'data-busy': 'Granting…' }),
      h('p', { class: 'hint', role: 'status' }));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const out = form.querySelector('[role=status]');
      out.textContent = '';
      submitting(form, async () => {
        const v = values(form);
        const r = await api('POST', `/api/admin/users/${encodeURIComponent(u.id)}/credits`, { credits: v.credits, reason: v.reason });
        form.reset();
        out.textContent = `Granted ${Number(r.granted)} credits; balance ${Number(r.balance)}.`;
      });
    });
    return h('details', null, h('summary', { text: `Grant credits to ${u.username}` }), form);
  }
  /* PRIV-6 on a person's behalf (they wrote, or asked support): the same
   * effect as restricting themselves; the reason is audited and the user
   * reads it in their privacy center (SEC-5). */
  function restrictForm(u) {
    const out = h('p', { class: 'hint', role: 'status' });
    const form = h('form', { novalidate: true, class: 'staff-form', 'aria-label': `Restriction for ${u.username}` },
      field({ name: 'reason', id: `restrict-why-${u.id}`, label: 'Reason for the restriction (the user sees it)', maxlength: 500,
        placeholder: 'e.g. asked by letter of 20 November' }),
      h('div', { class: 'actions' },
        h('button', { type: 'submit', class: 'secondary', value: 'on', text: 'Restrict', 'data-busy': 'Restricting…' }),
        h('button', { type: 'submit', class: 'secondary', value: 'off', text: 'Lift restriction', 'data-busy': 'Lifting…' })),
      out);
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const on = !(ev.submitter && ev.submitter.value === 'off');
      out.textContent = '';
      submitting(form, async () => {
        const r = await api(on ? 'POST' : 'DELETE', `/api/admin/users/${encodeURIComponent(u.id)}/restriction`, { reason: values(form).reason });
        form.reset();
        const now = r.restricted ? `Processing is restricted for ${u.username}` : `${u.username} is not restricted`;
        out.textContent = r.changed ? `${now}.` : `${now} already; nothing changed.`;
      }, ev.submitter || undefined);
    });
    return h('details', null, h('summary', { text: `Restriction for ${u.username}` }), form);
  }
  /* A user's images' metadata, only with a reason that is audited (SEC-5);
   * the pictures themselves stay the owner's. */
  function imagesForm(u) {
    const list = h('div');
    const form = h('form', { novalidate: true, class: 'staff-form' },
      field({ name: 'reason', id: `img-why-${u.id}`, label: 'Reason (audited; the user sees it)', maxlength: 500 }),
      h('button', { type: 'submit', class: 'secondary', text: 'Show image list', 'data-busy': 'Loading…' }));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      submitting(form, async () => {
        const r = await api('GET', `/api/admin/users/${encodeURIComponent(u.id)}/images?${new URLSearchParams({ reason: values(form).reason })}`);
        const rows = r.data || r.images || [];
        list.replaceChildren(table(`Images of ${u.username}`, [
          { label: 'Created', cell: (x) => when(x.created_at) },
          { label: 'Model', cell: (x) => x.model },
          { label: 'Size', cell: (x) => x.size || `${x.width}x${x.height}` },
          { label: 'Kept', cell: (x) => (x.kept === false ? `until ${when(x.expires_at)}` : 'yes') },
        ], rows, 'No image.'));
      });
    });
    return h('details', null, h('summary', { text: `Images of ${u.username}` }), form, list);
  }
  function roleForm(u) {
    if (!admin) return u.role;
    const sel = h('select', { 'aria-label': `Role of ${u.username}`, disabled: u.id === ctx.me.id },
      ROLES.map((r) => h('option', { value: r, selected: r === u.role, text: r })));
    const msg = h('span', { class: 'hint' });
    const btn = h('button', { type: 'button', class: 'secondary', text: 'Change', disabled: u.id === ctx.me.id, onclick: async () => {
      btn.disabled = true;
      try {
        const r = await api('PATCH', `/api/admin/users/${encodeURIComponent(u.id)}`, { role: sel.value });
        msg.textContent = `Now ${r.role}.`;
      } catch (err) {
        msg.textContent = err.message;
      } finally { btn.disabled = false; }
    } });
    return h('span', { class: 'row' }, sel, btn, msg);
  }
  search.addEventListener('submit', (ev) => { ev.preventDefault(); find(); });

  const audit = h('div', { 'aria-live': 'polite' });
  const filter = h('form', { class: 'period', novalidate: true, 'aria-label': 'Filter the audit log' },
    field({ name: 'event', label: 'Event', placeholder: 'e.g. auth.login' }),
    field({ name: 'subject', label: 'Subject (user id)' }),
    h('button', { type: 'submit', text: 'Filter', 'data-busy': 'Loading…' }));
  const loadAudit = () => submitting(filter, async () => {
    const v = values(filter);
    const q = new URLSearchParams({ limit: '200' });
    if (v.event) q.set('event', v.event);
    if (v.subject) q.set('subject', v.subject);
    const r = await api('GET', `/api/admin/audit?${q}`);
    audit.replaceChildren(table('Audit log', [
      { label: 'When', cell: (e) => when(e.at) },
      { label: 'Event', cell: (e) => e.event },
      { label: 'Actor', cell: (e) => e.actor || '—' },
      { label: 'Subject', cell: (e) => e.subject || '—' },
      { label: 'Address', cell: (e) => e.ip || '—' },
      { label: 'Detail', cell: (e) => (e.detail ? h('code', { text: JSON.stringify(e.detail) }) : '—') },
    ], r.events, 'No event.'));
  });
  filter.addEventListener('submit', (ev) => { ev.preventDefault(); loadAudit(); });

  const reqs = privacyRequests();
  const figures = metricsCard();
  view.append(...title('Admin', 'Every look at a user is recorded in the audit log.'),
    figures,
    h('section', { class: 'card', 'aria-labelledby': 'users-h' }, h('h2', { id: 'users-h', text: 'Users' }), search, users),
    reqs,
    admin ? h('section', { class: 'card', 'aria-labelledby': 'audit-h' }, h('h2', { id: 'audit-h', text: 'Audit log' }), filter, audit) : null);
  await Promise.all([find(), reqs.refresh(), figures.refresh(), admin ? loadAudit() : null]);
}

/* "3 d 4 h", "2 h 5 min", "40 s": how long the server has been up. */
function duration(s) {
  const d = Math.floor(s / 86400), hr = Math.floor((s % 86400) / 3600), min = Math.floor((s % 3600) / 60);
  if (d) return `${d} d ${hr} h`;
  if (hr) return `${hr} h ${min} min`;
  return min ? `${min} min` : `${s} s`;
}

/* Figures from GET /api/admin/metrics: counts only, nobody in them. */
function metricsCard() {
  const list = h('dl', { class: 'figures', 'aria-live': 'polite' });
  const err = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const btn = h('button', { type: 'button', class: 'secondary', text: 'Refresh' });
  const box = h('section', { class: 'card', 'aria-labelledby': 'metrics-h' },
    h('h2', { id: 'metrics-h', text: 'Metrics' }), err, list,
    h('p', { class: 'hint', text: 'Requests are counted since the server started.' }), btn);
  const fig = (label, value, name) => h('div', { dataset: { metric: name } }, h('dt', { text: label }), h('dd', { text: String(value) }));
  box.refresh = async () => {
    btn.disabled = true;
    try {
      const m = await api('GET', '/api/admin/metrics');
      err.hidden = true;
      const q = m.requests;
      list.replaceChildren(
        fig('Requests served', q.total, 'total'),
        fig('Succeeded (2xx)', q['2xx'], '2xx'),
        fig('Refused (4xx)', q['4xx'], '4xx'),
        fig('Failed (5xx)', q['5xx'], '5xx'),
        fig('In flight', q.in_flight, 'in_flight'),
        fig('Users', m.users, 'users'),
        fig('Active sessions', m.active_sessions, 'active_sessions'),
        fig('Image jobs queued', m.image_jobs.queued, 'jobs_queued'),
        fig('Image jobs running', m.image_jobs.running, 'jobs_running'),
        fig('Open privacy requests', m.privacy_requests.open, 'requests_open'),
        fig('Overdue privacy requests', m.privacy_requests.overdue, 'requests_overdue'),
        fig('Up for', duration(m.uptime_seconds), 'uptime'));
    } catch (e) {
      err.textContent = e.message;
      err.hidden = false;
    } finally { btn.disabled = false; }
  };
  btn.addEventListener('click', () => box.refresh());
  return box;
}

/* Privacy requests (PRIV-11): open ones first, nearest deadline first, as
 * the server sorts them; each answered with done or refused and a note. */
function privacyRequests() {
  const list = h('div', { 'aria-live': 'polite' });
  const status = h('p', { class: 'hint', role: 'status', id: 'adm-req-status' });
  const box = h('section', { class: 'card', 'aria-labelledby': 'preq-h' });
  function closeForm(x) {
    if (x.closed_at) return x.outcome ? `${x.status}: ${x.outcome}` : x.status;
    const form = h('form', { class: 'row close-req', novalidate: true, 'aria-label': `Answer request ${x.id}` },
      h('select', { name: 'status', 'aria-label': `Answer to ${x.id}` },
        h('option', { value: 'done', text: 'done' }), h('option', { value: 'refused', text: 'refused' })),
      h('input', { name: 'outcome', 'aria-label': `Outcome of ${x.id}`, placeholder: 'What was done', maxlength: 500 }),
      h('button', { type: 'submit', class: 'secondary', text: 'Close', 'data-busy': 'Closing…' }));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      submitting(form, async () => {
        const v = values(form);
        await api('POST', `/api/admin/privacy/requests/${encodeURIComponent(x.id)}/close`,
          v.outcome ? { status: v.status, outcome: v.outcome } : { status: v.status });
        await box.refresh();
        status.textContent = `Request ${x.id} closed: ${v.status}.`;
      });
    });
    return form;
  }
  box.refresh = async () => {
    const r = await api('GET', '/api/admin/privacy/requests');
    list.replaceChildren(table(`Privacy requests (answer within ${r.deadline_days} days)`, [
      { label: 'Request', cell: (x) => [kindLabel(x.kind), h('br'), h('code', { class: 'hint', text: x.id })] },
      { label: 'Channel', cell: (x) => x.channel },
      { label: 'About', cell: (x) => x.user_id || (x.customer ? `customer ${x.customer}` : '—') },
      { label: 'Received', cell: (x) => when(x.received_at) },
      { label: 'Answer due', cell: deadline },
      { label: 'Status', cell: (x) => x.status },
      { label: 'Answer', cell: closeForm },
    ], r.requests || [], 'No privacy request.'));
  };
  const log = h('form', { class: 'period', novalidate: true, 'aria-label': 'Log a request received by mail' },
    field({ name: 'kind', id: 'log-kind', label: 'Kind', type: 'select', options: [{ value: '', label: 'Choose' }, ...KINDS] }),
    field({ name: 'contact_email', id: 'log-contact', label: 'Contact email', type: 'email' }),
    field({ name: 'user_id', id: 'log-user', label: 'User id (if known)' }),
    h('button', { type: 'submit', text: 'Log request', 'data-busy': 'Logging…' }));
  log.addEventListener('submit', (ev) => {
    ev.preventDefault();
    submitting(log, async () => {
      const v = values(log);
      const body = { kind: v.kind, channel: 'mail' };
      if (v.contact_email) body.contact_email = v.contact_email;
      if (v.user_id) body.user_id = v.user_id;
      const r = await api('POST', '/api/admin/privacy/requests', body);
      log.reset();
      await box.refresh();
      status.textContent = `Request ${r.id} logged.`;
    });
  });
  box.append(h('h2', { id: 'preq-h', text: 'Privacy requests' }),
    h('details', null, h('summary', { text: 'Log a request received by mail' }), log), status, list);
  return box;
}
