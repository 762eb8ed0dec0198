// account.js: the profile and the email (rectification, PRIV-3), the
// password, and two-factor authentication (ACC-5): enrol with a QR code,
// confirm with a first code, keep the recovery codes shown once; or turn it
// off. A new email takes effect only when the link mailed to it is opened
// (#/confirm-email, below).
import { api } from './api.js';
import { h, field, submitting, title, values } from './ui.js';

export async function render(view, ctx) {
  const me = await ctx.refreshMe();
  const profile = h('form', { class: 'card', novalidate: true, 'aria-labelledby': 'prof-h' },
    h('h2', { id: 'prof-h', text: 'Profile' }),
    h('p', { class: 'hint', text: `Email: ${me.email}${me.email_verified ? ' (confirmed)' : ' (not confirmed yet: open the link we mailed)'}` }),
    field({ name: 'username', label: 'Username', required: true, autocomplete: 'username', value: me.username }),
    field({ name: 'name', label: 'Name (optional)', autocomplete: 'name', value: me.name || '' }),
    field({ name: 'phone', label: 'Phone (optional)', type: 'tel', autocomplete: 'tel', value: me.phone || '' }),
    field({ name: 'company', label: 'Company (optional)', autocomplete: 'organization', value: me.company || '' }),
    field({ name: 'billing_address', label: 'Billing address (optional)', type: 'textarea', rows: 3, value: me.billing_address || '' }),
    h('button', { type: 'submit', text: 'Save profile', 'data-busy': 'Saving…' }));
  profile.addEventListener('submit', (ev) => {
    ev.preventDefault();
    submitting(profile, async () => {
      const v = values(profile);
      const body = { username: v.username };
      for (const k of ['name', 'phone', 'company', 'billing_address']) body[k] = v[k] === '' ? null : v[k];
      await api('PATCH', '/api/me', body);
      await ctx.refreshMe();
      ctx.flash('Profile saved.');
    });
  });

  const email = h('form', { class: 'card', novalidate: true, 'aria-labelledby': 'email-h' },
    h('h2', { id: 'email-h', text: 'Email' }),
    h('p', { class: 'hint', text: `Now: ${me.email}. A new address takes effect when you open the link we mail to it; until then this one stays.` }),
    field({ name: 'email', id: 'new-email', label: 'New email', type: 'email', required: true, autocomplete: 'email' }),
    h('button', { type: 'submit', text: 'Change email', 'data-busy': 'Sending…' }),
    h('p', { class: 'hint', role: 'status', id: 'email-status' }));
  email.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const status = email.querySelector('#email-status');
    status.textContent = '';
    submitting(email, async () => {
      const r = await api('POST', '/api/me/email', { email: values(email).email });
      status.textContent = `Sent. Open the link in the mail to ${values(email).email}: ${r.status}.`;
      email.reset();
    });
  });

  const password = h('form', { class: 'card', novalidate: true, 'aria-labelledby': 'pw-h' },
    h('h2', { id: 'pw-h', text: 'Password' }),
    field({ name: 'current_password', label: 'Current password', type: 'password', required: true, autocomplete: 'current-password' }),
    field({ name: 'new_password', label: 'New password', type: 'password', required: true, autocomplete: 'new-password', hint: 'At least 8 characters.' }),
    h('button', { type: 'submit', text: 'Change password', 'data-busy': 'Saving…' }));
  password.addEventListener('submit', (ev) => {
    ev.preventDefault();
    submitting(password, async () => {
      const v = values(password);
      await api('POST', '/api/auth/password/change', v);
      password.reset();
      ctx.flash('Password changed.');
    });
  });

  const twofa = h('section', { class: 'card', 'aria-labelledby': 'tf-h' });
  const drawTwofa = () => {
    twofa.replaceChildren(h('h2', { id: 'tf-h', text: 'Two-step sign-in' }));
    if (ctx.me.two_factor_enabled) {
      const off = h('form', { novalidate: true },
        h('p', { class: 'ok', text: 'On: sign-ins ask for a code from your authenticator app.' }),
        field({ name: 'password', id: 'tf-password', label: 'Password', type: 'password', required: true, autocomplete: 'current-password' }),
        field({ name: 'code', id: 'tf-code', label: 'Current code', inputmode: 'numeric', autocomplete: 'one-time-code' }),
        h('button', { type: 'submit', class: 'danger', text: 'Turn off', 'data-busy': 'Turning off…' }));
      off.addEventListener('submit', (ev) => {
        ev.preventDefault();
        submitting(off, async () => {
          await api('POST', '/api/auth/2fa/disable', values(off));
          await ctx.refreshMe();
          drawTwofa();
        });
      });
      twofa.append(off);
      return;
    }
    const start = h('form', { novalidate: true },
      h('p', { text: 'Off. With it on, a sign-in also asks for a code from an authenticator app.' }),
      h('button', { type: 'submit', text: 'Set up', 'data-busy': 'Preparing…' }));
    start.addEventListener('submit', (ev) => {
      ev.preventDefault();
      submitting(start, async () => {
        const r = await api('POST', '/api/auth/2fa/enroll');
        const qr = h('img', { class: 'qr', alt: 'QR code for your authenticator app',
          src: `data:image/svg+xml;base64,${btoa(unescape(encodeURIComponent(r.qr_svg)))}` });
        const confirm = h('form', { novalidate: true },
          h('p', { text: 'Scan the code with your authenticator app, or type this key into it:' }),
          qr, h('p', null, h('code', { class: 'secret-text', text: r.secret })),
          field({ name: 'code', id: 'tf-first', label: 'First code from the app', required: true, inputmode: 'numeric', autocomplete: 'one-time-code' }),
          h('button', { type: 'submit', text: 'Turn on', 'data-busy': 'Checking…' }));
        confirm.addEventListener('submit', (e2) => {
          e2.preventDefault();
          submitting(confirm, async () => {
            const c = await api('POST', '/api/auth/2fa/confirm', { code: values(confirm).code });
            await ctx.refreshMe();
            twofa.replaceChildren(h('h2', { id: 'tf-h', text: 'Two-step sign-in' }),
              h('p', { class: 'ok', text: 'On.' }),
              h('p', { class: 'warn', text: c.next }),
              h('ol', { class: 'codes' }, c.recovery_codes.map((x) => h('li', null, h('code', { text: x })))),
              h('button', { type: 'button', text: 'I have stored them', onclick: drawTwofa }));
          });
        });
        twofa.replaceChildren(h('h2', { id: 'tf-h', text: 'Two-step sign-in' }), confirm);
        confirm.querySelector('input').focus();
      });
    });
    twofa.append(start);
  };
  drawTwofa();
  view.append(...title('Account'), profile, email, password, twofa);
}

/* #/confirm-email?token=…: the link mailed to a new address. Works signed in
 * or not (the token is the proof); single use, so it leaves the address bar. */
export async function confirmEmail(view, ctx, q) {
  const token = q.get('token');
  const status = h('div', { class: 'card narrow', role: 'status', 'aria-live': 'polite' },
    h('p', null, h('progress', { 'aria-label': 'Confirming' }), ' Confirming your new email…'));
  view.append(...title('Confirm your new email'), status);
  if (!token) {
    status.replaceChildren(h('p', { class: 'form-error', text: 'This link has no token. Open the link from the email again.' }));
    return;
  }
  history.replaceState(null, '', '#/confirm-email');
  try {
    await api('POST', '/api/auth/email/confirm', { token });
    if (ctx.me) await ctx.refreshMe();
    status.replaceChildren(h('p', { class: 'ok', text: ctx.me ? `Your email is now ${ctx.me.email}.` : 'Your new email is confirmed.' }),
      h('p', { class: 'hint', text: 'Your old address was told of the change.' }),
      h('p', null, h('a', { class: 'button', href: ctx.me ? '#/account' : '#/signin', text: ctx.me ? 'Back to your account' : 'Sign in' })));
  } catch (err) {
    status.replaceChildren(h('p', { class: 'form-error', role: 'alert', text: err.message }),
      h('p', { class: 'hint', text: 'A link works once and for 24 hours. Ask for a new one from your account page.' }));
  }
}
