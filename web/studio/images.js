// images.js: the image studio and the gallery (GEN-2, GEN-3, GEN-4).
//
// The studio (#/images) sends a generation as an async job
// (POST /v1/images/generations, or /v1/images/edits with a starting image)
// and polls GET /api/images/jobs/{id} for "step k of n" until the job is
// done; its images then appear in the gallery grid below the form. The
// gallery (#/gallery, and the grid on the studio page) lists my images with
// prompt and seed under each, download, delete, several selected and deleted
// at once, "keep" where the server keeps images only on request, and "use as
// starting image" for image-to-image; a PNG of my own can be the start too.
// Small images (the default model draws 32x32) are scaled up with
// image-rendering: pixelated, so their pixels stay sharp.
//
// Polling rather than a server-sent stream: a job outlives the page (it is
// paid for and lands in the gallery even if the user leaves), and a poll
// every quarter second costs one indexed read.
import { api, upload, offers } from './api.js';
import { h, field, submitting, title, values, when } from './ui.js';

const POLL_MS = 250;
const PAGE = 24;

/* The image models the server lists (GET /v1/models, kind "image"). */
async function imageModels() {
  const r = await api('GET', '/v1/models');
  return (r.data || []).filter((m) => m.kind === 'image');
}
const sizesOf = (m) => (m && (m.sizes || (m.size ? [m.size] : []))) || [];
const fileUrl = (id) => `/api/images/${encodeURIComponent(id)}/file`;
const short = (s, n = 60) => (s && s.length > n ? `${s.slice(0, n - 1)}…` : s || '');

function unavailable(view, what) {
  view.append(h('p', { class: 'card', text: what }));
}

/* A job (GET /api/images/jobs/{id}) as a progress bar's value and max over
 * all its images' steps, and a line: "Image 2 of 3: step 5 of 25". While a
 * job runs image_index counts from 0; once done it equals n. */
export function progressOf(job) {
  const steps = job.steps || 0;
  const n = job.n || 1;
  const i = Math.min(n, (job.image_index || 0) + 1);
  const max = Math.max(1, steps * n);
  const value = job.status === 'done' ? max : Math.min(max, (Math.max(0, i - 1) * steps) + (job.step || 0));
  let text;
  if (job.status === 'queued') text = 'Waiting for a free engine…';
  else if (job.status === 'running') text = `${n > 1 ? `Image ${i} of ${n}: ` : ''}step ${job.step || 0} of ${steps}`;
  else if (job.status === 'done') text = `Done: ${n} image${n === 1 ? '' : 's'}, ${steps} steps each.`;
  else text = `Failed: ${job.error || 'the image could not be made'}`;
  return { value, max, text };
}

/* #/images: the form, live progress, and the gallery of results. */
export async function render(view, ctx, q) {
  view.append(...title('Image studio', 'Describe a picture; it is drawn on this server, kept in your gallery, sealed with your key.'));
  if (!(await offers('POST', '/v1/images/generations'))) {
    unavailable(view, 'This server does not generate images yet.');
    return undefined;
  }
  const models = await imageModels();
  if (!models.length) {
    unavailable(view, 'This server has no image model configured.');
    return undefined;
  }
  const canEdit = await offers('POST', '/v1/images/edits');
  let stopped = false;
  let start = null; // the starting image from the gallery: {id, prompt}

  const first = models.find((m) => m.available !== false) || models[0];
  const sizeField = field({ name: 'size', label: 'Size', type: 'select', options: [] });
  const sizeSelect = sizeField.querySelector('select');
  const fillSizes = (name) => {
    const m = models.find((x) => x.id === name);
    sizeSelect.replaceChildren(...sizesOf(m).map((s) => h('option', { value: s, text: s.replace('x', ' × ') + ' px' })));
  };
  const modelField = field({ name: 'model', id: 'img-model', label: 'Model', type: 'select', value: first.id,
    options: models.map((m) => ({ value: m.id, label: m.available === false ? `${m.id} (unavailable: ${m.unavailable_reason || 'not loaded'})` : m.id, disabled: m.available === false })) });
  modelField.querySelector('select').addEventListener('change', (ev) => fillSizes(ev.target.value));
  fillSizes(first.id);

  // GEN-3: a starting image, from the gallery or uploaded, and how far to move from it
  const startBox = h('div', { class: 'start-image', 'aria-live': 'polite' });
  const fileField = field({ name: 'image', id: 'img-file', label: 'Or upload a starting image', type: 'file',
    hint: 'PNG or JPEG; it is used for this request only.' });
  const fileInput = fileField.querySelector('input');
  fileInput.accept = 'image/png,image/jpeg';
  const strengthOut = h('output', { for: 'f-img-strength', id: 'strength-out', text: '0.75' });
  const strengthField = field({ name: 'strength', id: 'img-strength', label: 'Strength', type: 'range', min: 0.05, max: 1, step: 0.05, value: '0.75',
    hint: 'How far to move from the starting image: low keeps it, 1 ignores it.' });
  const strengthInput = strengthField.querySelector('input');
  strengthField.querySelector('label').append(' ', strengthOut);
  strengthInput.addEventListener('input', () => { strengthOut.textContent = Number(strengthInput.value).toFixed(2); });
  const drawStart = () => {
    const has = !!start || fileInput.files.length > 0;
    strengthField.hidden = !has;
    strengthInput.disabled = !has;
    if (!start) { startBox.replaceChildren(); return; }
    startBox.replaceChildren(h('figure', { class: 'start-fig' },
      h('img', { src: fileUrl(start.id), alt: `Starting image: ${start.prompt || start.id}`, class: 'pixel thumb' }),
      h('figcaption', null, `Starting image: ${short(start.prompt, 80)} `,
        h('button', { type: 'button', class: 'link', text: 'Remove starting image', onclick: () => { start = null; drawStart(); } }))));
  };
  fileInput.addEventListener('change', () => { if (fileInput.files.length) start = null; drawStart(); });
  const useAsStart = (img) => {
    start = { id: img.id, prompt: img.prompt };
    fileInput.value = '';
    const p = form.querySelector('#f-prompt');
    if (!p.value && img.prompt) p.value = img.prompt;
    drawStart();
    form.scrollIntoView({ block: 'start' });
    p.focus();
  };

  const form = h('form', { class: 'card image-form', novalidate: true, 'aria-labelledby': 'gen-h' },
    h('h2', { id: 'gen-h', text: 'New image' }),
    field({ name: 'prompt', label: 'Prompt', type: 'textarea', rows: 3, required: true, maxlength: 1000,
      placeholder: 'two red circles on a black background, top left' }),
    field({ name: 'negative_prompt', label: 'Negative prompt (optional)', type: 'textarea', rows: 2, maxlength: 1000,
      hint: 'What the picture should not have.' }),
    h('div', { class: 'params' },
      modelField, sizeField,
      field({ name: 'n', id: 'img-n', label: 'Number of images', type: 'number', min: 1, max: 4, step: 1, value: '1', inputmode: 'numeric' }),
      field({ name: 'steps', id: 'img-steps', label: 'Steps', type: 'number', min: 1, max: 150, step: 1, value: '25', inputmode: 'numeric',
        hint: 'More steps: finer, slower, dearer.' }),
      field({ name: 'seed', id: 'img-seed', label: 'Seed (optional)', type: 'number', min: 0, step: 1, inputmode: 'numeric',
        hint: 'The same seed and settings draw the same picture.' }),
      field({ name: 'guidance', id: 'img-guidance', label: 'Guidance', type: 'number', min: 0, max: 30, step: 0.5, value: '3',
        hint: 'How closely to follow the prompt (0 to 30).' }),
      field({ name: 'sampler', id: 'img-sampler', label: 'Sampler', type: 'select', value: 'ddim',
        options: [{ value: 'ddim', label: 'DDIM' }, { value: 'euler', label: 'Euler' }] })),
    canEdit ? h('fieldset', { class: 'group start' }, h('legend', { text: 'Starting image (optional): image to image' }),
      startBox, fileField, strengthField) : null,
    h('p', { class: 'actions' }, h('button', { type: 'submit', text: 'Generate', 'data-busy': 'Generating…' })));
  drawStart();

  const bar = h('progress', { max: 1, value: 0, 'aria-label': 'Generation progress' });
  const progressText = h('span', { class: 'progress-text' });
  const progress = h('div', { class: 'img-progress', role: 'status', 'aria-live': 'polite', hidden: true }, bar, ' ', progressText);
  form.append(progress);

  const shown = gallery(ctx, { onUse: canEdit ? useAsStart : null, heading: 'Your gallery' });

  /* Numbers from the form: '' is left out (the server's default). */
  function body(v) {
    const b = { model: v.model, prompt: v.prompt, size: v.size, sampler: v.sampler };
    if (v.negative_prompt) b.negative_prompt = v.negative_prompt;
    for (const k of ['n', 'steps', 'seed', 'guidance']) if (v[k] !== '' && v[k] !== undefined) b[k] = Number(v[k]);
    return b;
  }

  function draw(job) {
    const p = progressOf(job);
    bar.max = p.max;
    bar.value = p.value;
    progressText.textContent = p.text;
  }

  async function follow(job) {
    progress.hidden = false;
    draw(job);
    while (!stopped && (job.status === 'queued' || job.status === 'running')) {
      await new Promise((r) => setTimeout(r, POLL_MS));
      if (stopped) return null;
      job = await api('GET', `/api/images/jobs/${encodeURIComponent(job.id)}`);
      draw(job);
    }
    return job;
  }

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    // the last job's line goes at once: what shows is this one's
    progress.hidden = false;
    bar.value = 0;
    progressText.textContent = 'Sending…';
    submitting(form, async () => {
      const v = values(form);
      const b = body(v);
      let job;
      const file = canEdit && fileInput.files[0];
      if (start || file) {
        const fd = new FormData();
        for (const [k, x] of Object.entries(b)) fd.append(k, String(x));
        fd.append('strength', String(Number(strengthInput.value)));
        fd.append('response_format', 'url');
        fd.append('async', 'true');
        if (file) fd.append('image', file);
        else fd.append('image_id', start.id);
        try {
          job = await upload('/v1/images/edits', fd);
        } catch (err) {
          if (err.param === 'image_id') err.param = 'image';
          throw err;
        }
      } else {
        job = await api('POST', '/v1/images/generations', { ...b, response_format: 'url', async: true });
      }
      job = await follow(job);
      if (!job) return;
      if (job.status === 'failed') throw new Error(`The image could not be made: ${job.error || 'unknown error'}. Nothing was charged.`);
      await shown.refresh(job.images || []);
    });
  });

  view.append(form, shown);
  await shown.refresh();
  const from = q && q.get('from');
  if (from && canEdit) {
    history.replaceState(null, '', '#/images');
    try { useAsStart(await api('GET', `/api/images/${encodeURIComponent(from)}`)); } catch { /* gone: no start */ }
  }
  return () => { stopped = true; };
}

/* #/gallery: the whole gallery; "use as starting image" opens the studio. */
export async function galleryPage(view, ctx) {
  view.append(...title('Gallery', 'Your images, newest first, sealed with your key. Deleting one removes it from this server for good.'));
  if (!(await offers('GET', '/api/images'))) {
    unavailable(view, 'This server does not generate images yet.');
    return;
  }
  const canEdit = await offers('POST', '/v1/images/edits');
  const g = gallery(ctx, { onUse: canEdit ? (img) => ctx.go(`/images?from=${encodeURIComponent(img.id)}`) : null, heading: 'All images' });
  view.append(h('p', null, h('a', { class: 'button', href: '#/images', text: 'New image' })), g);
  await g.refresh();
}

/* The gallery grid: a section with .refresh(highlight ids) and paging. */
function gallery(ctx, { onUse, heading }) {
  const grid = h('ul', { class: 'gallery-grid', 'aria-label': 'Images' });
  const status = h('p', { class: 'hint', role: 'status', id: 'gallery-status' });
  const count = h('span', { text: '' });
  const bulk = h('button', { type: 'button', class: 'danger', disabled: true, text: 'Delete selected', onclick: bulkDelete });
  const selectAll = h('input', { type: 'checkbox', id: 'g-select-all' });
  const more = h('button', { type: 'button', class: 'secondary', text: 'Load more', hidden: true, onclick: () => load(false) });
  const tools = h('div', { class: 'actions gallery-tools', hidden: true },
    h('span', { class: 'check' }, selectAll, h('label', { for: 'g-select-all', text: 'Select all' })), bulk, count);
  const box = h('section', { class: 'card', 'aria-labelledby': 'gal-h' },
    h('h2', { id: 'gal-h', text: heading }), tools, status, grid, h('p', null, more));
  let next = null;
  let items = [];

  const selected = () => [...grid.querySelectorAll('input.pick:checked')].map((c) => c.value);
  function syncBulk() {
    const n = selected().length;
    bulk.disabled = n === 0;
    bulk.textContent = n ? `Delete selected (${n})` : 'Delete selected';
    selectAll.checked = n > 0 && n === items.length;
    count.textContent = '';
  }
  selectAll.addEventListener('change', () => {
    for (const c of grid.querySelectorAll('input.pick')) c.checked = selectAll.checked;
    syncBulk();
  });

  async function remove(ids, what) {
    try {
      if (ids.length === 1) await api('DELETE', `/api/images/${encodeURIComponent(ids[0])}`);
      else await api('POST', '/api/images/delete', { ids });
      await load(true);
      status.textContent = `${what} deleted.`;
    } catch (err) {
      status.textContent = err.message;
    }
  }
  async function bulkDelete() {
    const ids = selected();
    if (!ids.length) return;
    if (!window.confirm(`Delete ${ids.length} image${ids.length === 1 ? '' : 's'}? This cannot be undone.`)) return;
    bulk.disabled = true;
    await remove(ids, `${ids.length} image${ids.length === 1 ? '' : 's'}`);
  }

  function card(img, fresh) {
    const label = short(img.prompt, 40) || img.id;
    const [w, hgt] = String(img.size || '').split('x').map(Number);
    const small = (w && w <= 256) || (img.width && img.width <= 256);
    const keep = !img.kept && img.expires_at
      ? h('button', { type: 'button', class: 'secondary', text: 'Keep', 'aria-label': `Keep image ${label}`, onclick: async (ev) => {
        ev.target.disabled = true;
        try { await api('POST', `/api/images/${encodeURIComponent(img.id)}/keep`); await load(true); status.textContent = 'Kept until you delete it.'; } catch (err) { status.textContent = err.message; ev.target.disabled = false; }
      } })
      : null;
    return h('li', { class: `gallery-item${fresh ? ' fresh' : ''}`, dataset: { id: img.id } },
      h('figure', null,
        h('a', { href: fileUrl(img.id), target: '_blank', rel: 'noopener', title: `${img.prompt || ''}\nseed ${img.seed}` },
          h('img', { src: fileUrl(img.id), alt: img.prompt ? `Image: ${img.prompt}` : 'Generated image', loading: 'lazy',
            width: w || null, height: hgt || null, class: small ? 'pixel' : null })),
        h('figcaption', null,
          h('span', { class: 'prompt', text: img.prompt || '(no prompt)' }),
          img.negative_prompt ? h('span', { class: 'neg', text: `not: ${img.negative_prompt}` }) : null,
          h('span', { class: 'meta', text: `seed ${img.seed} · ${img.steps} steps · guidance ${img.guidance}${img.strength ? ` · from a starting image, strength ${img.strength}` : ''} · ${img.model} · ${when(img.created_at)}` }),
          img.expires_at && !img.kept ? h('span', { class: 'meta warn', text: `kept until ${when(img.expires_at)}` }) : null)),
      h('div', { class: 'item-actions' },
        h('span', { class: 'check' },
          h('input', { type: 'checkbox', class: 'pick', id: `pick-${img.id}`, value: img.id, onchange: syncBulk, 'aria-label': `Select image ${label}` }),
          h('label', { for: `pick-${img.id}`, text: 'Select' })),
        h('a', { class: 'button secondary', href: `${fileUrl(img.id)}?download=1`, download: `${img.id}.png`, text: 'Download', 'aria-label': `Download image ${label}` }),
        onUse ? h('button', { type: 'button', class: 'secondary', text: 'Use as starting image', 'aria-label': `Use image ${label} as starting image`, onclick: () => onUse(img) }) : null,
        keep,
        h('button', { type: 'button', class: 'danger', text: 'Delete', 'aria-label': `Delete image ${label}`, onclick: () => {
          if (window.confirm('Delete this image? This cannot be undone.')) remove([img.id], 'The image');
        } })));
  }

  let fresh = new Set();
  async function load(reset) {
    const qs = new URLSearchParams({ limit: String(PAGE) });
    if (!reset && next) qs.set('before', next);
    const r = await api('GET', `/api/images?${qs}`);
    const page = r.data || [];
    if (reset) { items = []; grid.replaceChildren(); }
    items.push(...page);
    grid.append(...page.map((img) => card(img, fresh.has(img.id))));
    next = r.next || null;
    more.hidden = !next;
    tools.hidden = items.length === 0;
    if (!items.length) grid.replaceChildren(h('li', { class: 'empty', text: 'No image yet. Describe one above, or in the image studio.' }));
    syncBulk();
  }
  box.refresh = async (highlight = []) => {
    fresh = new Set(highlight);
    await load(true);
    if (highlight.length) status.textContent = `${highlight.length} new image${highlight.length === 1 ? '' : 's'} in your gallery.`;
  };
  return box;
}
