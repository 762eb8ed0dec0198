// chart.js: usage by day and model as a stacked bar chart in inline SVG,
// drawn here (no chart library, nothing fetched from elsewhere). Colours
// come from the classes series-0 … series-7 in app.css.
const NS = 'http://www.w3.org/2000/svg';

function s(tag, attrs, text) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

/* Every day from `from` to `to` inclusive, as "YYYY-MM-DD" (UTC). */
export function daysBetween(from, to) {
  const out = [];
  const d = new Date(`${from}T00:00:00Z`);
  const end = new Date(`${to}T00:00:00Z`);
  for (let n = 0; d <= end && n < 400; n++) {
    out.push(d.toISOString().slice(0, 10));
    d.setUTCDate(d.getUTCDate() + 1);
  }
  return out;
}

/* A round axis maximum at or above v: 1, 2, 5 × 10^n. */
export function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/* rows: [{day, model, …metric}]; metric: a row field name; returns <svg>. */
export function usageChart(rows, days, metric, label) {
  const models = [...new Set(rows.map((r) => r.model || '(none)'))].sort();
  const byDay = new Map(days.map((d) => [d, new Map()]));
  for (const r of rows) {
    const m = byDay.get(r.day);
    if (!m) continue;
    const k = r.model || '(none)';
    m.set(k, (m.get(k) || 0) + Number(r[metric] || 0));
  }
  const totals = days.map((d) => [...byDay.get(d).values()].reduce((a, b) => a + b, 0));
  const top = niceMax(Math.max(0, ...totals));
  const W = 640, H = 260, L = 52, R = 8, T = 12, B = 40;
  const pw = W - L - R, ph = H - T - B;
  const slot = pw / Math.max(1, days.length);
  const bw = Math.max(2, slot * 0.7);
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-labelledby': 'chart-title chart-desc' });
  svg.append(s('title', { id: 'chart-title' }, `${label} by day and model`));
  const busiest = totals.indexOf(Math.max(...totals));
  svg.append(s('desc', { id: 'chart-desc' }, rows.length
    ? `${days.length} days from ${days[0]} to ${days[days.length - 1]}; ${models.length} model(s); busiest day ${days[busiest]} with ${totals[busiest]}.`
    : `No usage from ${days[0]} to ${days[days.length - 1]}.`));
  for (let i = 0; i <= 4; i++) {
    const v = (top * i) / 4;
    const y = T + ph - (ph * i) / 4;
    svg.append(s('line', { x1: L, x2: W - R, y1: y, y2: y, class: i ? 'grid' : 'axis' }));
    svg.append(s('text', { x: L - 6, y: y + 4, class: 'tick', 'text-anchor': 'end' },
      Number.isInteger(v) ? String(v) : v.toFixed(2)));
  }
  const every = Math.max(1, Math.ceil(days.length / 8));
  days.forEach((day, i) => {
    const x = L + i * slot + (slot - bw) / 2;
    let y = T + ph;
    models.forEach((model, k) => {
      const v = byDay.get(day).get(model) || 0;
      if (!v) return;
      const hgt = (ph * v) / top;
      y -= hgt;
      const bar = s('rect', { x: x.toFixed(1), y: y.toFixed(1), width: bw.toFixed(1), height: Math.max(0.5, hgt).toFixed(1),
        class: `bar series-${k % 8}`, 'data-day': day, 'data-model': model, 'data-value': v });
      bar.append(s('title', null, `${day} · ${model}: ${v} ${label.toLowerCase()}`));
      svg.append(bar);
    });
    if (i % every === 0) {
      svg.append(s('text', { x: (L + i * slot + slot / 2).toFixed(1), y: H - B + 16, class: 'tick', 'text-anchor': 'middle' }, day.slice(5)));
    }
  });
  const legend = document.createElement('ul');
  legend.className = 'legend';
  models.forEach((m, k) => {
    const li = document.createElement('li');
    const sw = s('svg', { viewBox: '0 0 10 10', class: 'swatch', 'aria-hidden': 'true' });
    sw.append(s('rect', { width: 10, height: 10, class: `series-${k % 8}` }));
    li.append(sw, document.createTextNode(m));
    legend.append(li);
  });
  const fig = document.createElement('figure');
  fig.className = 'chart-figure';
  fig.append(svg, legend);
  return fig;
}
