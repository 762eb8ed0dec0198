// credits.js: balance, published prices (PAY-1), buying credits (PAY-2,
// where the server offers checkout), receipts, and the user's own usage by
// day and model with a CSV download (USE-2).
import { api, offers } from './api.js';
import { h, field, submitting, table, title, when, values } from './ui.js';
import { usageChart, daysBetween } from './chart.js';

const METRICS = {
  tokens: { label: 'Tokens', of: (r) => r.prompt_tokens + r.completion_tokens },
  calls: { label: 'Calls', of: (r) => r.calls },
  credits: { label: 'Credits', of: (r) => r.credits },
  images: { label: 'Images', of: (r) => r.images },
};

function isoDay(d) { return d.toISOString().slice(0, 10); }

function priceText(p) {
  return Object.entries(p).map(([k, v]) => `${Number(v)} ${k.replace(/_/g, ' ')}`).join(' · ');
}

export async function render(view) {
  const [balance, prices, receipts, canBuy] = await Promise.all([
    api('GET', '/api/billing/balance'), api('GET', '/api/prices'), api('GET', '/api/billing/receipts'),
    offers('POST', '/api/billing/checkout')]);

  view.append(...title('Credits and usage'));
  view.append(h('section', { class: 'card balance', 'aria-labelledby': 'bal-h' },
    h('h2', { id: 'bal-h', text: 'Balance' }),
    h('p', { class: 'big', id: 'balance', text: `${Number(balance.credits)} credits` })));

  if (canBuy) {
    const pu = prices.purchase || {};
    const cur = pu.currency || 'USD';
    const est = h('p', { class: 'hint', 'aria-live': 'polite' });
    const form = h('form', { class: 'card', novalidate: true, 'aria-labelledby': 'buy-h' },
      h('h2', { id: 'buy-h', text: 'Buy credits' }),
      field({ name: 'amount', label: `Amount (${cur})`, type: 'number', min: pu.min, max: pu.max, step: '0.01', required: true,
        inputmode: 'decimal', hint: `${pu.credits_per_unit} credits per 1 ${cur}; from ${pu.min} to ${pu.max} ${cur}. You pay on the payment provider's page; we never see card or wallet details.` }),
      est,
      h('button', { type: 'submit', text: 'Continue to payment', 'data-busy': 'Opening…' }));
    const amount = form.querySelector('input[name=amount]');
    amount.addEventListener('input', () => {
      const a = Number(amount.value);
      est.textContent = a > 0 ? `You get ${Math.round(a * pu.credits_per_unit * 100) / 100} credits.` : '';
    });
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      submitting(form, async () => {
        const r = await api('POST', '/api/billing/checkout', { amount: amount.value, currency: cur });
        if (r && r.hosted_url) location.assign(r.hosted_url);
      });
    });
    view.append(form);
  }

  view.append(h('section', { class: 'card', 'aria-labelledby': 'price-h' },
    h('h2', { id: 'price-h', text: 'Prices' }),
    table('Price of each model, in credits', [
      { label: 'Model', cell: (m) => m.model },
      { label: 'Kind', cell: (m) => m.kind },
      { label: 'Price', cell: (m) => priceText(m.price) },
    ], prices.models || [], 'No model has a price yet.')));

  // usage: period, chart, table, CSV
  const today = new Date();
  const from = new Date(today.getTime() - 29 * 86400e3);
  const period = h('form', { class: 'period', novalidate: true, 'aria-label': 'Usage period' },
    field({ name: 'from', label: 'From', type: 'date', value: isoDay(from) }),
    field({ name: 'to', label: 'To', type: 'date', value: isoDay(today) }),
    field({ name: 'metric', label: 'Show', type: 'select', value: 'tokens',
      options: Object.entries(METRICS).map(([value, m]) => ({ value, label: m.label })) }),
    h('button', { type: 'submit', text: 'Show', 'data-busy': 'Loading…' }));
  const out = h('div', { class: 'usage-out', 'aria-live': 'polite' });
  const csv = h('a', { class: 'button secondary', id: 'csv', download: 'atelier-usage.csv', text: 'Download CSV' });
  let last = null;
  const draw = () => {
    if (!last) return;
    const v = values(period);
    const m = METRICS[v.metric];
    const rows = last.days.map((r) => ({ ...r, value: m.of(r) }));
    const t = last.totals;
    out.replaceChildren(
      usageChart(rows, daysBetween(v.from, v.to), 'value', m.label),
      h('p', { class: 'totals', text: `Totals: ${t.calls} calls, ${t.prompt_tokens} prompt and ${t.completion_tokens} completion tokens, ${t.images} images, ${t.credits} credits.` }),
      table('Usage by day and model', [
        { label: 'Day', cell: (r) => r.day },
        { label: 'Model', cell: (r) => r.model || '—' },
        { label: 'Key', cell: (r) => r.key_id || 'studio' },
        { label: 'Calls', cell: (r) => String(r.calls), class: 'num' },
        { label: 'Tokens', cell: (r) => `${r.prompt_tokens} + ${r.completion_tokens}`, class: 'num' },
        { label: 'Credits', cell: (r) => String(r.credits), class: 'num' },
      ], last.days, 'No usage in this period.'));
  };
  const load = () => submitting(period, async () => {
    const v = values(period);
    const q = `from=${encodeURIComponent(v.from)}&to=${encodeURIComponent(v.to)}`;
    last = await api('GET', `/api/usage?${q}`);
    csv.href = `/api/usage?format=csv&${q}`;
    draw();
  });
  period.addEventListener('submit', (ev) => { ev.preventDefault(); load(); });
  period.querySelector('select').addEventListener('change', draw);
  view.append(h('section', { class: 'card', 'aria-labelledby': 'use-h' },
    h('h2', { id: 'use-h', text: 'Usage' }),
    h('p', { class: 'hint', text: 'Each call\'s endpoint, model, tokens and cost; never what you wrote.' }),
    period, out, h('p', null, csv)));
  await load();

  view.append(h('section', { class: 'card', 'aria-labelledby': 'rec-h' },
    h('h2', { id: 'rec-h', text: 'Receipts' }),
    table('Receipts of purchases', [
      { label: 'Date', cell: (r) => when(r.issued_at) },
      { label: 'Credits', cell: (r) => String(Number(r.credits)), class: 'num' },
      { label: 'Amount', cell: (r) => `${r.amount} ${r.currency}`, class: 'num' },
      { label: 'Charge', cell: (r) => r.charge },
    ], receipts.receipts || [], 'No purchase yet.')));
}
