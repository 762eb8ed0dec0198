// auth.js: sign up (with the age rules: AGE-1, AGE-2), email verification
// (ACC-3), sign in with the two-factor step (ACC-5), and password reset.
import { api, setCsrf } from './api.js';
import { h, field, submitting, title, values, showError } from './ui.js';

let methods = null;
/* The sign-in methods this server offers (GET /api/auth/methods); a server
 * without that route offers passwords only. */
export function signinMethods() {
  if (!methods) methods = api('GET', '/api/auth/methods').catch(() => ({ password: true, google: false }));
  return methods;
}

/* The "Sign in with Google" link, or null when SSO is not configured (ACC-6). */
async function googleButton(text) {
  const m = await signinMethods();
  if (!m.google || !m.google_start) return null;
  return h('p', { class: 'sso' }, h('a', { class: 'button secondary', href: m.google_start, text }));
}

/* Age in whole years on today's date for "YYYY-MM-DD", or null. */
export function ageOf(date, now = new Date()) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date || '');
  if (!m) return null;
  let age = now.getFullYear() - Number(m[1]);
  const md = (now.getMonth() + 1) * 100 + now.getDate();
  if (md < Number(m[2]) * 100 + Number(m[3])) age--;
  return age;
}

export async function signup(view, ctx, q) {
  // arriving from a Google sign-in with no account: the provider vouched
  // for the email, so it is shown, not asked, and no mail is needed
  const sso = q && q.get('sso_token');
  let ssoEmail = null;
  if (sso) {
    history.replaceState(null, '', '#/signup');
    try {
      ssoEmail = (await api('POST', '/api/auth/oidc/google/pending', { sso_token: sso })).email;
    } catch (err) {
      view.append(h('p', { class: 'form-error', role: 'alert', text: `The Google sign-in cannot be used: ${err.message}` }));
    }
  }
  const guardian = h('fieldset', { class: 'guardian', hidden: true },
    h('legend', { text: 'Parent or guardian' }),
    h('p', { class: 'hint', text: 'You are under 18: a parent or guardian must agree to your account. We record their consent and write to them.' }),
    field({ name: 'parent_email', label: 'Parent or guardian\'s email', type: 'email', autocomplete: 'off' }),
    field({ name: 'parent_consent', label: 'My parent or guardian has read the privacy notice and agrees to this account', type: 'checkbox' }));
  const form = h('form', { class: 'card narrow', novalidate: true },
    ssoEmail
      ? h('div', { class: 'field', dataset: { field: 'email' } }, h('p', { class: 'ok', text: `Email: ${ssoEmail}, confirmed by Google.` }), h('p', { class: 'field-error', id: 'f-email-err' }))
      : field({ name: 'email', label: 'Email', type: 'email', required: true, autocomplete: 'email' }),
    field({ name: 'username', label: 'Username', required: true, autocomplete: 'username',
      hint: 'Letters, digits and _ ; shown to nobody but you and staff.' }),
    field({ name: 'password', label: 'Password', type: 'password', required: true, autocomplete: 'new-password',
      hint: 'At least 8 characters; a long phrase is best. Common passwords are refused.' }),
    field({ name: 'birth_date', label: 'Date of birth', type: 'date', required: true,
      hint: 'You must be at least 13. Between 13 and 17 a parent or guardian must agree.' }),
    guardian,
    h('p', { class: 'hint' }, 'By creating an account you accept the ', h('a', { href: '/privacy', text: 'privacy notice' }), '. Only an essential session cookie is set.'),
    h('button', { type: 'submit', text: 'Create account', 'data-busy': 'Creating…' }));
  const birth = form.querySelector('#f-birth_date');
  const updateGuardian = () => {
    const age = ageOf(birth.value);
    guardian.hidden = !(age !== null && age >= 13 && age < 18);
  };
  birth.addEventListener('input', updateGuardian);
  birth.addEventListener('change', updateGuardian);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    submitting(form, async () => {
      const v = values(form);
      const body = { username: v.username, password: v.password, birth_date: v.birth_date };
      if (ssoEmail) body.sso_token = sso; else body.email = v.email;
      if (!guardian.hidden) { body.parent_email = v.parent_email; body.parent_consent = v.parent_consent === true; }
      const r = await api('POST', '/api/auth/signup', body);
      if (ssoEmail) {
        view.replaceChildren(...title('Account created'),
          h('div', { class: 'card narrow', role: 'status' },
            h('p', { class: 'ok', text: 'Your account is ready; Google confirmed your email.' }),
            h('p', { class: 'hint', text: r && r.next ? `Next: ${r.next}.` : 'Sign in.' }),
            h('p', null, h('a', { class: 'button', href: '#/signin', text: 'Go to sign in' }))));
        view.querySelector('h1').focus();
        return;
      }
      view.replaceChildren(...title('Check your email'),
        h('div', { class: 'card narrow', role: 'status' },
          h('p', { text: `We sent a confirmation link to ${v.email}.` }),
          h('p', { class: 'hint', text: r && r.next ? `Next: ${r.next}.` : 'Open the link, then sign in.' }),
          h('p', null, h('a', { class: 'button', href: '#/signin', text: 'Go to sign in' }))));
      view.querySelector('h1').focus();
    });
  });
  view.append(...title('Create an account', ssoEmail ? 'Choose a username and a password, and give your date of birth.' : null), form,
    h('p', null, 'Already have one? ', h('a', { href: '#/signin', text: 'Sign in' })));
  if (!ssoEmail) {
    const g = await googleButton('Sign up with Google');
    if (g) form.before(g);
  }
}

export async function verify(view, ctx, q) {
  const token = q.get('token');
  const status = h('div', { class: 'card narrow', role: 'status', 'aria-live': 'polite' },
    h('p', null, h('progress', { 'aria-label': 'Confirming' }), ' Confirming your email…'));
  view.append(...title('Confirm your email'), status);
  if (!token) {
    status.replaceChildren(h('p', { class: 'form-error', text: 'This link has no token. Open the link from the email again.' }));
    return;
  }
  // the token leaves the address bar: it is single-use, and history should not keep it
  history.replaceState(null, '', '#/verify');
  try {
    await api('POST', '/api/auth/verify', { token });
    status.replaceChildren(h('p', { class: 'ok', text: 'Your email is confirmed.' }),
      h('p', null, h('a', { class: 'button', href: ctx.me ? '#/chat' : '#/signin', text: ctx.me ? 'Open the studio' : 'Sign in' })));
    if (ctx.me) await ctx.refreshMe();
  } catch (err) {
    status.replaceChildren(h('p', { class: 'form-error', role: 'alert', text: err.message }),
      h('p', { class: 'hint', text: 'A link works once and for a limited time. Sign in to ask for a new one.' }));
  }
}

export async function signin(view, ctx) {
  const form = h('form', { class: 'card narrow', novalidate: true },
    field({ name: 'login', label: 'Email or username', required: true, autocomplete: 'username' }),
    field({ name: 'password', label: 'Password', type: 'password', required: true, autocomplete: 'current-password' }),
    h('button', { type: 'submit', text: 'Sign in', 'data-busy': 'Signing in…' }));
  const done = async (r) => {
    setCsrf(r.csrf);
    await ctx.refreshMe();
    ctx.go('/chat');
  };
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    submitting(form, async () => {
      const v = values(form);
      const r = await api('POST', '/api/auth/login', { login: v.login, password: v.password });
      if (r.two_factor_required) secondStep(view, r.challenge, done);
      else await done(r);
    });
  });
  view.append(...title('Sign in'), form,
    h('p', null, h('a', { href: '#/forgot', text: 'Forgotten your password?' })),
    h('p', null, 'New here? ', h('a', { href: '#/signup', text: 'Create an account' })));
  // Google sign-in (ACC-6) only where this server has it configured
  const g = await googleButton('Sign in with Google');
  if (g) form.after(g);
}

/* #/2fa?challenge=…: where a Google sign-in of an account with two-step
 * sign-in lands; the challenge leaves the address bar at once. */
export function twofa(view, ctx, q) {
  const challenge = q.get('challenge');
  history.replaceState(null, '', '#/2fa');
  if (!challenge) {
    view.append(...title('Two-step sign-in'), h('p', { class: 'form-error', text: 'This page needs a sign-in first.' }),
      h('p', null, h('a', { href: '#/signin', text: 'Sign in' })));
    return;
  }
  secondStep(view, challenge, async (r) => {
    setCsrf(r.csrf);
    await ctx.refreshMe();
    ctx.go('/chat');
  });
}

/* The second step of a sign-in: a code from the authenticator app, or a recovery code. */
function secondStep(view, challenge, done) {
  let recovery = false;
  const codeField = field({ name: 'code', label: 'Code from your authenticator app', required: true,
    autocomplete: 'one-time-code', inputmode: 'numeric', maxlength: 12 });
  const form = h('form', { class: 'card narrow', novalidate: true }, codeField,
    h('button', { type: 'submit', text: 'Verify', 'data-busy': 'Checking…' }),
    h('button', { type: 'button', class: 'link', text: 'Use a recovery code instead', onclick: (ev) => {
      recovery = !recovery;
      codeField.querySelector('label').textContent = recovery ? 'Recovery code' : 'Code from your authenticator app';
      codeField.querySelector('input').setAttribute('inputmode', recovery ? 'text' : 'numeric');
      ev.target.textContent = recovery ? 'Use an authenticator code instead' : 'Use a recovery code instead';
      codeField.querySelector('input').focus();
    } }));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    submitting(form, async () => {
      const code = form.querySelector('#f-code').value;
      const body = recovery ? { challenge, recovery_code: code } : { challenge, code };
      try {
        await done(await api('POST', '/api/auth/2fa/verify', body));
      } catch (err) {
        if (err.param === 'recovery_code' || err.param === 'code') err.param = 'code';
        throw err;
      }
    });
  });
  view.replaceChildren(...title('Two-step sign-in', 'Your account asks for a second step.'), form);
  form.querySelector('#f-code').focus();
}

export function forgot(view) {
  const form = h('form', { class: 'card narrow', novalidate: true },
    field({ name: 'email', label: 'Email', type: 'email', required: true, autocomplete: 'email' }),
    h('button', { type: 'submit', text: 'Send a reset link', 'data-busy': 'Sending…' }));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    submitting(form, async () => {
      const r = await api('POST', '/api/auth/password/forgot', { email: values(form).email });
      form.replaceChildren(h('p', { role: 'status', class: 'ok', text: r.message }));
    });
  });
  view.append(...title('Forgotten password', 'We mail you a link to choose a new password.'), form);
}

export function reset(view, ctx, q) {
  const token = q.get('token') || '';
  if (token) history.replaceState(null, '', '#/reset');
  const form = h('form', { class: 'card narrow', novalidate: true },
    field({ name: 'password', label: 'New password', type: 'password', required: true, autocomplete: 'new-password',
      hint: 'At least 8 characters. Other sessions are signed out.' }),
    field({ name: 'confirm', label: 'New password again', type: 'password', required: true, autocomplete: 'new-password' }),
    h('button', { type: 'submit', text: 'Set the new password', 'data-busy': 'Saving…' }));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const v = values(form);
    if (v.password !== v.confirm) {
      showError(form, { param: 'confirm', message: 'The two passwords differ.' });
      return;
    }
    submitting(form, async () => {
      const r = await api('POST', '/api/auth/password/reset', { token, password: v.password });
      form.replaceChildren(h('p', { role: 'status', class: 'ok', text: `Password changed: ${r.next}.` }),
        h('p', null, h('a', { class: 'button', href: '#/signin', text: 'Sign in' })));
    });
  });
  view.append(...title('Choose a new password'), token ? form
    : h('p', { class: 'form-error', text: 'This page needs the link from the reset email.' }));
}
