// chat.js: chat with a text model (GEN-1, GEN-8). The reply streams as
// server-sent events read from fetch's ReadableStream and is drawn as it
// arrives; Stop aborts the fetch, and the server stops generating when the
// connection closes. By default the conversation lives in this page's
// memory only: nothing is stored, and leaving the page forgets it. With
// "Keep chat history" switched on (issue #9), each finished exchange saves
// the whole conversation on the server, sealed under the user's key (POST
// the first time, PUT after), and saved conversations can be reopened or
// deleted; switching it off deletes them all, after a confirmation.
import { ApiError, api, headers, unauthorized } from './api.js';
import { h, field, title, showError, clearErrors, when } from './ui.js';

/* Parse a text/event-stream body, calling onData(string) per data field. */
export async function readSSE(body, onData) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
    let i;
    while ((i = buf.search(/\r?\n\r?\n/)) >= 0) {
      const event = buf.slice(0, i);
      buf = buf.slice(i).replace(/^\r?\n\r?\n/, '');
      const data = event.split(/\r?\n/).filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).replace(/^ /, '')).join('\n');
      if (data && onData(data) === false) { reader.cancel().catch(() => {}); return; }
    }
  }
}

export async function render(view) {
  const list = await api('GET', '/v1/models');
  const models = (list.data || []).filter((m) => !m.kind || m.kind === 'text');
  const conversation = [];
  let controller = null;
  let keep = false;      // the user's chat history switch
  let savedId = null;    // the stored conversation this one is, once saved
  try {
    keep = !!(await api('GET', '/api/chat/settings')).history;
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
  }

  const options = models.map((m) => ({ value: m.id, disabled: m.available === false,
    label: m.available === false ? `${m.id} (unavailable: ${m.unavailable_reason || 'down'})` : m.id }));
  const firstUp = models.find((m) => m.available !== false);
  const settings = h('form', { class: 'card settings', novalidate: true, 'aria-label': 'Parameters' },
    h('h2', { text: 'Parameters' }),
    field({ name: 'model', label: 'Model', type: 'select', options, value: firstUp && firstUp.id }),
    field({ name: 'temperature', label: 'Temperature', type: 'number', min: 0, max: 2, step: 0.1, value: '0.7',
      hint: '0 is deterministic; higher is more varied.' }),
    field({ name: 'max_tokens', label: 'Max tokens', type: 'number', min: 1, max: 4096, step: 1, value: '256' }),
    field({ name: 'seed', label: 'Seed', type: 'number', min: 0, step: 1, hint: 'Optional: the same seed repeats a reply.' }),
    field({ name: 'system', label: 'System prompt', type: 'textarea', rows: 2, placeholder: 'Optional' }));

  const transcript = h('ol', { class: 'transcript', 'aria-label': 'Conversation' });
  const statusLine = h('p', { class: 'chat-status', role: 'status', 'aria-live': 'polite' });
  const progress = h('progress', { class: 'chat-progress', hidden: true, 'aria-label': 'Generating' });
  const sendBtn = h('button', { type: 'submit', text: 'Send' });
  const stopBtn = h('button', { type: 'button', class: 'secondary', text: 'Stop', disabled: true,
    onclick: () => controller && controller.abort() });
  const clearBtn = h('button', { type: 'button', class: 'link', text: 'New conversation', onclick: () => {
    if (controller) controller.abort();
    conversation.length = 0;
    savedId = null;
    transcript.replaceChildren();
    statusLine.textContent = 'Started a new conversation.';
  } });

  // --- chat history (opt-in) ---
  const historyField = field({ name: 'history', id: 'keep-history', label: 'Keep chat history', type: 'checkbox',
    value: keep, hint: 'Off: nothing is stored. On: your conversations are saved, sealed with your key; turning it off deletes them.' });
  const historyBox = historyField.querySelector('input');
  const savedList = h('ul', { class: 'saved-chats', 'aria-label': 'Saved conversations' });
  const savedEmpty = h('p', { class: 'hint', text: 'No saved conversations yet.' });
  const historyCard = h('section', { class: 'card history', 'aria-labelledby': 'history-h' },
    h('h2', { id: 'history-h', text: 'History' }), historyField, savedEmpty, savedList);
  const leadLine = () => (keep ? 'This conversation is saved in your chat history.' : 'Nothing of this conversation is stored.');

  async function refreshSaved() {
    savedList.replaceChildren();
    savedEmpty.hidden = !keep;
    savedList.hidden = !keep;
    if (!keep) return;
    let list;
    try {
      list = await api('GET', '/api/chat/conversations?limit=50');
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      showError(historyCard, err);
      return;
    }
    savedEmpty.hidden = list.data.length > 0;
    for (const c of list.data) {
      const name = c.title || 'Untitled conversation';
      savedList.append(h('li', { class: c.id === savedId ? 'current' : null },
        h('button', { type: 'button', class: 'link', text: name, 'aria-label': `Open ${name}`, onclick: () => reopen(c.id) }),
        h('span', { class: 'hint', text: ` ${c.message_count} messages, ${when(c.updated_at)} ` }),
        h('button', { type: 'button', class: 'link', text: 'Delete', 'aria-label': `Delete ${name}`,
          onclick: () => forget(c.id, name) })));
    }
  }

  async function reopen(id) {
    if (controller) controller.abort();
    try {
      const c = await api('GET', `/api/chat/conversations/${encodeURIComponent(id)}`);
      conversation.length = 0;
      transcript.replaceChildren();
      const sys = settings.querySelector('[name="system"]');
      sys.value = '';
      for (const m of c.messages) {
        if (m.role === 'system') { sys.value = m.content; continue; }
        conversation.push({ role: m.role, content: m.content });
        bubble(m.role, m.content);
      }
      savedId = c.id;
      statusLine.textContent = `Opened "${c.title || 'Untitled conversation'}".`;
      refreshSaved();
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      showError(historyCard, err);
    }
  }

  async function forget(id, name) {
    if (!window.confirm(`Delete the saved conversation "${name}"? This cannot be undone.`)) return;
    try {
      await api('DELETE', `/api/chat/conversations/${encodeURIComponent(id)}`);
      if (savedId === id) savedId = null;
      statusLine.textContent = `Deleted "${name}".`;
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      showError(historyCard, err);
    }
    refreshSaved();
  }

  /* Save the whole conversation after a finished exchange (history on). */
  async function save() {
    if (!keep || !conversation.length) return;
    const sys = settings.querySelector('[name="system"]').value;
    const messages = [...(sys ? [{ role: 'system', content: sys }] : []), ...conversation];
    try {
      if (savedId) {
        await api('PUT', `/api/chat/conversations/${encodeURIComponent(savedId)}`, { messages });
      } else {
        const first = conversation.find((m) => m.role === 'user');
        const name = first ? [...first.content.replace(/\s+/g, ' ').trim()].slice(0, 60).join('') : '';
        savedId = (await api('POST', '/api/chat/conversations', { title: name || null, messages })).id;
      }
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      showError(historyCard, err);
      return;
    }
    refreshSaved();
  }

  historyBox.addEventListener('change', async () => {
    clearErrors(historyCard);
    const want = historyBox.checked;
    if (!want && !window.confirm('Turn off chat history? Every stored conversation will be deleted.')) {
      historyBox.checked = true;
      return;
    }
    historyBox.disabled = true;
    try {
      const r = await api('PUT', '/api/chat/settings', { history: want });
      keep = !!r.history;
      if (!keep) savedId = null;
      statusLine.textContent = keep ? 'Chat history is on: conversations are saved from now on.'
        : `Chat history is off; ${r.deleted} stored conversation${r.deleted === 1 ? ' was' : 's were'} deleted.`;
      if (keep) await save();
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      historyBox.checked = keep;
      showError(historyCard, err);
    } finally {
      historyBox.disabled = false;
      lead.textContent = leadLine();
    }
    refreshSaved();
  });
  const composer = h('form', { class: 'composer', novalidate: true },
    field({ name: 'messages', id: 'message', label: 'Message', type: 'textarea', rows: 3, required: true,
      hint: 'Ctrl+Enter sends.' }),
    h('div', { class: 'actions' }, sendBtn, stopBtn, progress, clearBtn),
    statusLine);
  const input = composer.querySelector('textarea');
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); composer.requestSubmit(); }
  });

  function bubble(role, text) {
    const body = h('div', { class: 'content', text });
    const li = h('li', { class: `msg ${role}` }, h('span', { class: 'who', text: role === 'user' ? 'You' : 'Assistant' }), body);
    transcript.append(li);
    li.scrollIntoView({ block: 'end' });
    return body;
  }

  async function send(text) {
    const p = Object.fromEntries(new FormData(settings));
    const body = { model: p.model, stream: true, stream_options: { include_usage: true },
      messages: [...(p.system ? [{ role: 'system', content: p.system }] : []), ...conversation, { role: 'user', content: text }] };
    if (p.temperature !== '') body.temperature = Number(p.temperature);
    if (p.max_tokens !== '') body.max_tokens = Number(p.max_tokens);
    if (p.seed !== '') body.seed = Number(p.seed);
    clearErrors(settings);
    clearErrors(composer);
    const asked = bubble('user', text);
    conversation.push({ role: 'user', content: text });
    const out = bubble('assistant', '');
    out.parentElement.classList.add('streaming');
    controller = new AbortController();
    sendBtn.disabled = true;
    stopBtn.disabled = false;
    progress.hidden = false;
    statusLine.textContent = 'Generating…';
    let reply = '';
    let usage = null;
    let finish = null;
    try {
      const r = await fetch('/v1/chat/completions', { method: 'POST', headers: { ...headers('POST', true), Accept: 'text/event-stream' },
        body: JSON.stringify(body), credentials: 'same-origin', signal: controller.signal });
      if (!r.ok) {
        const t = await r.text();
        let j = null;
        try { j = JSON.parse(t); } catch { /* not JSON */ }
        const e = new ApiError(r.status, j, t);
        unauthorized(e);
        throw e;
      }
      await readSSE(r.body, (data) => {
        if (data === '[DONE]') return false;
        const j = JSON.parse(data);
        if (j.error) throw new ApiError(500, j);
        const c = j.choices && j.choices[0];
        if (c && c.delta && typeof c.delta.content === 'string') {
          reply += c.delta.content;
          out.textContent = reply;
        }
        if (c && c.finish_reason) finish = c.finish_reason;
        if (j.usage) usage = j.usage;
        return true;
      });
      if (!finish && !reply) {
        // the stream closed before the model said anything: nothing to keep
        out.parentElement.classList.add('stopped');
        out.textContent = '(no reply)';
        conversation.pop();
        statusLine.textContent = 'The server ended the reply before any text; send again.';
        return;
      }
      conversation.push({ role: 'assistant', content: reply });
      save();
      statusLine.textContent = `Done${finish === 'length' ? ' (stopped at the token limit)' : ''}${usage ? `: ${usage.prompt_tokens} prompt and ${usage.completion_tokens} reply tokens` : ''}.`;
    } catch (err) {
      if (err.name === 'AbortError') {
        out.parentElement.classList.add('stopped');
        out.after(h('p', { class: 'hint', text: 'Stopped.' }));
        if (reply) { conversation.push({ role: 'assistant', content: reply }); save(); }
        statusLine.textContent = 'Stopped; generation ended on the server.';
      } else {
        // nothing was said: the message goes back into the box to edit
        out.parentElement.remove();
        asked.parentElement.remove();
        conversation.pop();
        if (!input.value) input.value = text;
        const target = err.param && settings.querySelector(`[data-field="${CSS.escape(err.param)}"]`) ? settings : composer;
        showError(target, err);
        statusLine.textContent = 'The request failed.';
      }
    } finally {
      out.parentElement && out.parentElement.classList.remove('streaming');
      controller = null;
      sendBtn.disabled = false;
      stopBtn.disabled = true;
      progress.hidden = true;
    }
  }

  composer.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = input.value.trim();
    if (!text) { showError(composer, { param: 'messages', message: 'Write a message first.' }); return; }
    if (controller) return;
    input.value = '';
    send(text);
  });

  const lead = h('span', { text: leadLine() });
  const [heading, leadP] = title('Chat', 'Replies stream as they are written. ');
  leadP.append(lead);
  view.append(heading, leadP);
  if (!models.length) {
    view.append(h('p', { class: 'empty', text: 'No text model is configured on this server yet.' }));
    return undefined;
  }
  view.append(h('div', { class: 'chat' }, h('section', { class: 'card talk', 'aria-label': 'Conversation' }, transcript, composer),
    h('div', { class: 'side' }, settings, historyCard)));
  refreshSaved();
  return () => { if (controller) controller.abort(); };
}
