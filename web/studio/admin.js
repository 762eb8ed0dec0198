// admin.js: the start of the admin console (ACC-8, SEC-5): find users and
// change their role; read the audit log. Every one of these reads is
// itself audited by the server.
import { api } from './api.js';
import { h, field, submitting, table, title, when, values } from './ui.js';

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
    ], r.users, 'No user matches.'));
  });
  function roleForm(u) {
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

  view.append(...title('Admin', 'Every look at a user is recorded in the audit log.'),
    h('section', { class: 'card', 'aria-labelledby': 'users-h' }, h('h2', { id: 'users-h', text: 'Users' }), search, users),
    h('section', { class: 'card', 'aria-labelledby': 'audit-h' }, h('h2', { id: 'audit-h', text: 'Audit log' }), filter, audit));
  await Promise.all([find(), loadAudit()]);
}
