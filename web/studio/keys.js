// keys.js: API keys (ACC-7): create one (name, scopes, expiry), see its
// secret once with a copy button, list them (prefix, scopes, last use) and
// revoke. The secret is kept in no variable beyond the panel that shows it.
import { api } from './api.js';
import { h, field, checkGroup, submitting, table, title, when, values } from './ui.js';

const SCOPES = [
  { value: 'generate', label: 'generate: text, images, audio' },
  { value: 'read', label: 'read: account, balance, usage' },
  { value: 'privacy', label: 'privacy: act on your end users\' data' },
];

async function copy(text, btn) {
  try {
    await navigator.clipboard.writeText(text);
    btn.textContent = 'Copied';
  } catch {
    btn.textContent = 'Select and copy by hand';
  }
}

export async function render(view) {
  const listBox = h('section', { class: 'card', 'aria-labelledby': 'list-h' }, h('h2', { id: 'list-h', text: 'Your keys' }));
  const secretBox = h('div', { class: 'secret-box', 'aria-live': 'polite' });
  const form = h('form', { class: 'card', novalidate: true, 'aria-labelledby': 'new-h' },
    h('h2', { id: 'new-h', text: 'New key' }),
    field({ name: 'name', label: 'Name', required: true, maxlength: 64, hint: 'Where you will use it, e.g. "build server".' }),
    checkGroup('scopes', 'Scopes', SCOPES, ['generate']),
    field({ name: 'expires_at', label: 'Expires on', type: 'date', hint: 'Optional; leave empty for a key that does not expire.' }),
    h('button', { type: 'submit', text: 'Create key', 'data-busy': 'Creating…' }));

  async function refresh() {
    const r = await api('GET', '/api/keys');
    const t = table('API keys', [
      { label: 'Name', cell: (k) => k.name },
      { label: 'Key', cell: (k) => h('code', { text: `${k.prefix}…` }) },
      { label: 'Scopes', cell: (k) => k.scopes.join(', ') },
      { label: 'Created', cell: (k) => when(k.created_at) },
      { label: 'Last used', cell: (k) => (k.last_used ? when(k.last_used) : 'never') },
      { label: 'Expires', cell: (k) => (k.expires_at ? when(k.expires_at) : 'never') },
      { label: 'Actions', cell: (k) => h('button', { type: 'button', class: 'danger', 'data-key': k.id,
        'aria-label': `Revoke key ${k.name}`, text: 'Revoke', onclick: (ev) => revoke(k, ev.target) }) },
    ], r.keys, 'No key yet.');
    listBox.replaceChildren(h('h2', { id: 'list-h', text: 'Your keys' }), t);
  }

  async function revoke(k, btn) {
    if (!window.confirm(`Revoke "${k.name}"? Programs using it stop working at once.`)) return;
    btn.disabled = true;
    try {
      await api('DELETE', `/api/keys/${encodeURIComponent(k.id)}`);
      await refresh();
      secretBox.replaceChildren(h('p', { class: 'ok', role: 'status', text: `Key "${k.name}" revoked.` }));
    } catch (err) {
      btn.disabled = false;
      secretBox.replaceChildren(h('p', { class: 'form-error', role: 'alert', text: err.message }));
    }
  }

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    submitting(form, async () => {
      const v = values(form);
      const body = { name: v.name, scopes: v.scopes || [] };
      if (v.expires_at) body.expires_at = v.expires_at;
      const k = await api('POST', '/api/keys', body);
      const secret = h('input', { id: 'new-secret', type: 'text', readonly: true, value: k.key, 'aria-describedby': 'secret-note', spellcheck: 'false' });
      const btn = h('button', { type: 'button', text: 'Copy', onclick: (e) => copy(secret.value, e.target) });
      secretBox.replaceChildren(h('div', { class: 'card secret', role: 'region', 'aria-label': 'New key' },
        h('label', { for: 'new-secret', text: `Secret of "${k.name}"` }),
        h('div', { class: 'row' }, secret, btn),
        h('p', { id: 'secret-note', class: 'warn', text: 'Shown only now: copy it to a safe place. We keep only a hash and cannot show it again.' }),
        h('button', { type: 'button', class: 'link', text: 'I have stored it: hide', onclick: () => secretBox.replaceChildren() })));
      form.reset();
      form.querySelector('#f-scopes-generate').checked = true;
      secret.focus();
      secret.select();
      await refresh();
    });
  });

  view.append(...title('API keys', 'Keys let programs use the OpenAI-compatible API as you. Send one as "Authorization: Bearer sk-…".'),
    secretBox, form, listBox);
  await refresh();
}
