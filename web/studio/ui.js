// ui.js: small DOM helpers. Everything is built with createElement and
// textContent: no innerHTML from data, no inline style (the CSP forbids
// style attributes; looks come from classes in app.css).

/* h('p', {class: 'x', text: 'hi', onclick: fn}, ...children) */
export function h(tag, props, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k === 'value' && (tag === 'input' || tag === 'textarea' || tag === 'select')) el.value = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, kids);
  return el;
}

function append(el, kids) {
  for (const c of kids.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
}

/* A labelled form control with a hint and an error slot tied to it by
 * aria-describedby. f: {name, label, type, required, autocomplete, hint,
 * options: [{value, label, disabled}], value, min, max, step, ...attrs}. */
export function field(f) {
  const id = `f-${f.id || f.name}`;
  const err = h('p', { class: 'field-error', id: `${id}-err` });
  const hint = f.hint ? h('p', { class: 'hint', id: `${id}-hint`, text: f.hint }) : null;
  const common = { id, name: f.name, required: !!f.required, autocomplete: f.autocomplete,
    'aria-describedby': [hint && hint.id, err.id].filter(Boolean).join(' ') };
  let input;
  if (f.type === 'select') {
    input = h('select', common, (f.options || []).map((o) =>
      h('option', { value: o.value, disabled: !!o.disabled, selected: o.value === f.value }, o.label)));
  } else if (f.type === 'textarea') {
    input = h('textarea', { ...common, rows: f.rows || 3, placeholder: f.placeholder });
    if (f.value) input.value = f.value;
  } else if (f.type === 'checkbox') {
    input = h('input', { ...common, type: 'checkbox', checked: !!f.value });
    return h('div', { class: 'field check', dataset: { field: f.name } }, input, h('label', { for: id, text: f.label }), hint, err);
  } else {
    input = h('input', { ...common, type: f.type || 'text', min: f.min, max: f.max, step: f.step,
      inputmode: f.inputmode, minlength: f.minlength, maxlength: f.maxlength, placeholder: f.placeholder,
      pattern: f.pattern, readonly: !!f.readonly });
    if (f.value !== undefined && f.value !== null) input.value = f.value;
  }
  return h('div', { class: 'field', dataset: { field: f.name } }, h('label', { for: id, text: f.label }), hint, input, err);
}

/* A group of checkboxes under a legend, with one error slot for the group. */
export function checkGroup(name, legend, options, checked = []) {
  const err = h('p', { class: 'field-error', id: `f-${name}-err` });
  return h('fieldset', { class: 'field group', dataset: { field: name }, 'aria-describedby': err.id },
    h('legend', { text: legend }),
    options.map((o) => h('div', { class: 'check' },
      h('input', { type: 'checkbox', id: `f-${name}-${o.value}`, name, value: o.value, checked: checked.includes(o.value) }),
      h('label', { for: `f-${name}-${o.value}`, text: o.label }))),
    err);
}

/* Clear every error shown in form. */
export function clearErrors(form) {
  for (const p of form.querySelectorAll('.field-error, .form-error')) p.textContent = '';
  for (const p of form.querySelectorAll('.form-error')) p.hidden = true;
  for (const i of form.querySelectorAll('[aria-invalid]')) i.removeAttribute('aria-invalid');
}

/* Show err (an ApiError or Error) next to the field its `param` names, or at
 * the top of the form; the field concerned gets focus. */
export function showError(form, err) {
  const param = err && err.param;
  // "messages[0].content" or "price.amount" concern the field named first
  const find = (p) => p && form.querySelector(`[data-field="${CSS.escape(p)}"]`);
  const box = find(param) || find(param && param.split(/[[.]/)[0]);
  if (box) {
    box.querySelector('.field-error').textContent = err.message;
    const input = box.querySelector('input, select, textarea');
    if (input) { input.setAttribute('aria-invalid', 'true'); input.focus(); }
    return;
  }
  let top = form.querySelector('.form-error');
  if (!top) {
    top = h('p', { class: 'form-error', role: 'alert' });
    form.prepend(top);
  }
  top.hidden = false;
  top.textContent = (err && err.message) || 'Something went wrong.';
}

/* Run work() with the button disabled and marked busy; errors go to the form.
 * btn: the button that submitted, where a form has more than one. */
export async function submitting(form, work, btn = form.querySelector('button[type="submit"]')) {
  const label = btn ? btn.textContent : '';
  clearErrors(form);
  if (btn) { btn.disabled = true; btn.setAttribute('aria-busy', 'true'); btn.textContent = btn.dataset.busy || 'Working…'; }
  try {
    return await work();
  } catch (err) {
    showError(form, err);
    return undefined;
  } finally {
    if (btn) { btn.disabled = false; btn.removeAttribute('aria-busy'); btn.textContent = label; }
  }
}

/* A data table: cols [{label, cell: (row) => node|string, class}]. */
export function table(caption, cols, rows, empty = 'Nothing yet.') {
  if (!rows.length) return h('p', { class: 'empty', text: empty });
  return h('div', { class: 'table-wrap' }, h('table', null,
    h('caption', { text: caption }),
    h('thead', null, h('tr', null, cols.map((c) => h('th', { scope: 'col', text: c.label })))),
    h('tbody', null, rows.map((r) => h('tr', null, cols.map((c) => h('td', { class: c.class, 'data-label': c.label }, c.cell(r))))))));
}

/* "2026-11-23 11:05" in the browser's time zone, or a dash for null. */
export function when(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

/* A page's heading, focusable so the router can move focus to it. */
export function title(text, lead) {
  const head = h('h1', { tabindex: '-1', text });
  return lead ? [head, h('p', { class: 'lead', text: lead })] : [head];
}

/* Form data as a plain object of strings (checkbox groups as arrays). */
export function values(form) {
  const out = {};
  for (const el of form.elements) {
    if (!el.name || el.disabled) continue;
    if (el.type === 'checkbox') {
      const group = form.querySelectorAll(`input[type=checkbox][name="${CSS.escape(el.name)}"]`).length > 1 || el.value !== 'on';
      if (group) { (out[el.name] ||= []); if (el.checked) out[el.name].push(el.value); } else out[el.name] = el.checked;
    } else out[el.name] = el.value;
  }
  return out;
}
