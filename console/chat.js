// Chat: threads in the sidebar (list, open, rename, delete) and answers streamed over
// POST /api/chat, every seed event driving a part of the answer: model_selection the
// status bar, routing the badge, tool_start/tool_end the timeline, token the live text,
// response the Markdown answer, error the error box with Retry, stream_start/stream_end
// the timer, node_start/node_end the expandable trace.

import { h, clear, toast } from './dom.js';
import { json, streamChat, ApiError } from './api.js';
import { renderMarkdown } from './markdown.js';

const $ = (id) => document.getElementById(id);
let current = null;      // thread id shown
let running = null;      // { controller } of the answer streaming now

export async function start() {
  $('ask').addEventListener('submit', (e) => {
    e.preventDefault();
    const q = $('question').value.trim();
    if (q && !running) { $('question').value = ''; ask(q); }
  });
  $('question').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); $('ask').requestSubmit(); }
  });
  $('stop').addEventListener('click', () => running?.controller.abort());
  $('new-thread').addEventListener('click', () => { location.hash = '#/chat'; newThread(); });
  await loadThreads();
}

export async function show([id, ...rest] = []) {
  if (id === 'ask' && rest.length) {
    newThread();
    history.replaceState(null, '', '#/chat');
    if (!running) ask(rest.join('/'));
    return;
  }
  if (id && id !== current) await openThread(id);
  else if (!id && current) newThread();
  $('question').focus();
}

function newThread() {
  if (running) running.controller.abort();
  current = null;
  clear($('messages'));
  $('status-bar').textContent = 'New conversation.';
  markCurrent();
}

async function loadThreads() {
  let page;
  try { page = await json('/api/threads?limit=100'); } catch (e) { toast(`Threads: ${e.message}`, { kind: 'error' }); return; }
  const list = clear($('thread-list'));
  if (!page.threads.length) list.append(h('li', { class: 'muted' }, 'No conversations yet.'));
  for (const t of page.threads) list.append(threadItem(t));
  markCurrent();
}

function threadItem(t) {
  const li = h('li', { dataset: { id: t.thread_id } });
  const open = h('button', { type: 'button', class: 'open', title: t.title,
    onclick: () => { location.hash = `#/chat/${encodeURIComponent(t.thread_id)}`; } }, t.title);
  const rename = h('button', { type: 'button', class: 'act', 'aria-label': `Rename “${t.title}”`, title: 'Rename',
    onclick: () => {
      const input = h('input', { value: t.title, 'aria-label': 'New title', maxlength: 200 });
      const done = async (save) => {
        const title = input.value.trim();
        if (save && title && title !== t.title) {
          try { await json(`/api/threads/${encodeURIComponent(t.thread_id)}`, { method: 'PATCH', body: { title } }); }
          catch (e) { toast(`Rename: ${e.message}`, { kind: 'error' }); }
        }
        loadThreads();
      };
      input.addEventListener('keydown', (e) => {
        if (e.key === 'Enter') { e.preventDefault(); done(true); }
        if (e.key === 'Escape') done(false);
      });
      input.addEventListener('blur', () => done(true), { once: true });
      li.replaceChildren(input);
      input.focus();
      input.select();
    } }, '✎');
  const del = h('button', { type: 'button', class: 'act', 'aria-label': `Delete “${t.title}”`, title: 'Delete',
    onclick: async () => {
      if (!confirm(`Delete “${t.title}” and its messages?`)) return;
      try { await json(`/api/threads/${encodeURIComponent(t.thread_id)}`, { method: 'DELETE' }); }
      catch (e) { toast(`Delete: ${e.message}`, { kind: 'error' }); }
      if (current === t.thread_id) { location.hash = '#/chat'; newThread(); }
      loadThreads();
    } }, '✕');
  li.append(open, rename, del);
  return li;
}

function markCurrent() {
  for (const li of $('thread-list').children) {
    const on = li.dataset.id === current;
    li.classList.toggle('current', on);
    li.querySelector('.open')?.toggleAttribute('aria-current', on);
  }
}

async function openThread(id) {
  if (running) running.controller.abort();
  current = id;
  markCurrent();
  const box = clear($('messages'));
  let t;
  try { t = await json(`/api/threads/${encodeURIComponent(id)}`); } catch (e) {
    box.append(h('li', { class: 'error-box' }, e.message));
    return;
  }
  $('status-bar').textContent = `${t.title} — ${t.message_count} messages.`;
  for (const m of t.messages) {
    if (m.role === 'user') box.append(h('li', { class: 'msg user' }, m.content));
    else {
      const meta = m.meta || {};
      box.append(h('li', { class: 'msg assistant' },
        h('div', { class: 'meta' },
          meta.task_type ? h('span', { class: 'badge' }, meta.task_type) : null,
          meta.model_used ? h('span', { class: 'badge' }, meta.model_used) : null,
          meta.elapsed_s !== undefined ? h('span', {}, `${Number(meta.elapsed_s).toFixed(2)} s`) : null),
        h('div', { class: 'answer' }, renderMarkdown(m.content))));
    }
  }
  box.scrollTop = box.scrollHeight;
}

async function ask(question) {
  const box = $('messages');
  box.append(h('li', { class: 'msg user' }, question));
  const li = h('li', { class: 'msg assistant' });
  box.append(li);
  await answer(li, { message: question, thread_id: current || undefined }, {
    status: $('status-bar'),
    onThread: (id) => {
      if (current !== id) {
        current = id;
        history.replaceState(null, '', `#/chat/${encodeURIComponent(id)}`);
      }
    },
    onRetry: () => { li.previousElementSibling?.remove(); li.remove(); ask(question); },
    scroll: () => { box.scrollTop = box.scrollHeight; },
  });
  loadThreads();
}

/**
 * Streams one answer into `el`: badges, timeline, tokens, answer, error with Retry,
 * timer and trace. Used by the chat and the 1:1 page.
 */
export async function answer(el, body, { status, onThread, onRetry, scroll = () => {} } = {}) {
  const meta = h('div', { class: 'meta' });
  const timer = h('span', { class: 'elapsed', 'aria-label': 'Elapsed time' }, '0.0 s');
  const thinking = h('div', { class: 'thinking', role: 'status' }, 'thinking…');
  const timeline = h('ol', { class: 'timeline', 'aria-label': 'Tools called' });
  const tokens = h('div', { class: 'tokens' });
  const out = h('div', { class: 'answer' });
  const rows = h('tbody');
  const trace = h('details', { class: 'trace' }, h('summary', {}, 'Route and events'),
    h('div', { class: 'table-wrap' }, h('table', {}, rows)));
  meta.append(timer);
  el.replaceChildren(meta, thinking, timeline, tokens, out, trace);

  const controller = new AbortController();
  const run = { controller };
  const isChat = !!status;
  if (isChat) { running = run; $('send').disabled = true; $('stop').hidden = false; }
  const t0 = performance.now();
  let tick = setInterval(() => { timer.textContent = `${((performance.now() - t0) / 1000).toFixed(1)} s`; }, 100);
  const tools = [];
  const starts = new Map();
  let firstTs = null;
  let ended = false;
  let failed = false;
  const stopTimer = (s) => {
    clearInterval(tick);
    tick = null;
    timer.textContent = `${(s ?? (performance.now() - t0) / 1000).toFixed(2)} s`;
    thinking.remove();
  };
  const showError = (text, kind) => {
    failed = true;
    const box = h('div', { class: 'error-box', role: 'alert' }, h('strong', {}, kind === 'cancelled' ? 'Stopped' : 'Error'), ': ', text);
    if (onRetry) box.append(h('button', { type: 'button', class: 'retry', onclick: onRetry }, 'Retry'));
    out.after(box);
    if (status) status.textContent = kind === 'cancelled' ? 'Stopped.' : `Error: ${text}`;
  };

  const onEvent = (name, env) => {
    const d = env.data || {};
    firstTs ??= env.ts;
    const at = `+${((env.ts - firstTs) * 1000).toFixed(0)} ms`;
    let note = '';
    switch (name) {
      case 'stream_start':
        if (d.thread_id && onThread) onThread(d.thread_id);
        note = `graph ${d.graph}`;
        break;
      case 'model_selection':
        meta.append(h('span', { class: 'badge model', title: `tier ${d.tier}` }, `${d.emoji} ${d.model}`),
          h('span', { class: 'badge task' }, d.task_type));
        if (status) status.textContent = `${d.emoji} ${d.model} · ${d.task_type} (${d.tier} tier)`;
        note = `${d.model} · ${d.task_type}`;
        break;
      case 'routing':
        meta.append(h('span', { class: 'badge route', title: `routed by ${d.method} in ${d.graph}` }, `→ ${d.agent}`));
        note = `${d.agent} (${d.method})`;
        break;
      case 'node_start':
        starts.set(`${d.graph}/${d.node}`, env.ts);
        note = `${d.graph} › ${d.node} (${d.kind})`;
        break;
      case 'node_end':
        note = `${d.graph} › ${d.node} ${d.ok ? 'ok' : 'failed'} in ${Number(d.elapsed_ms).toFixed(1)} ms`;
        break;
      case 'tool_start': {
        const item = h('li', { class: 'running' }, h('span', { class: 'dot', 'aria-hidden': 'true' }),
          h('code', {}, d.tool), h('span', { class: 'state' }, 'running…'));
        tools.push({ name: d.tool, item, done: false });
        timeline.append(item);
        note = `${d.tool} ${JSON.stringify(d.args ?? {})}`;
        break;
      }
      case 'tool_end': {
        const t = [...tools].reverse().find((x) => x.name === d.tool && !x.done);
        if (t) {
          t.done = true;
          t.item.className = d.ok ? 'ok' : 'failed';
          t.item.querySelector('.state').textContent = `${Number(d.elapsed_ms).toFixed(0)} ms`;
          t.item.append(h('span', { class: 'preview' }, d.ok ? d.result_preview : d.error || d.result_preview));
        }
        note = `${d.tool} ${d.ok ? 'ok' : 'failed'} in ${Number(d.elapsed_ms).toFixed(1)} ms`;
        break;
      }
      case 'model_fallback': {
        // The model server failed: the chain moved on (at worst to the offline model).
        const warn = el.querySelector('.model-down') || h('div', { class: 'error-box model-down', role: 'alert' });
        warn.replaceChildren(h('strong', {}, 'Model unavailable'), `: ${d.from} failed (${d.reason}); ${d.to} answered instead.`);
        if (!warn.isConnected) meta.after(warn);
        meta.append(h('span', { class: 'badge low' }, `⚠ ${d.from} → ${d.to}`));
        if (status) status.textContent = `⚠ ${d.from} is unavailable; ${d.to} answers.`;
        note = `${d.from} → ${d.to}: ${d.reason}`;
        break;
      }
      case 'token':
        thinking.remove();
        tokens.append(d.content ?? '');
        note = '';
        break;
      case 'response':
        tokens.remove();
        out.replaceChildren(renderMarkdown(d.content));
        break;
      case 'error':
        showError(d.message || d.kind, d.kind);
        note = `${d.kind}: ${d.message}`;
        break;
      case 'stream_end':
        ended = true;
        stopTimer(d.elapsed_s);
        if (status && !failed) status.textContent = `${status.textContent.split(' — ')[0]} — answered in ${Number(d.elapsed_s).toFixed(2)} s`;
        note = `${d.steps} steps, ${d.total_tokens} tokens`;
        break;
      default:
    }
    if (name !== 'token') {
      rows.append(h('tr', { class: `ev-${name}` }, h('td', {}, env.seq), h('td', {}, at), h('td', {}, name), h('td', {}, note)));
      trace.querySelector('summary').textContent = `Route and events (${rows.children.length})`;
    }
    scroll();
  };

  try {
    await streamChat(body, { signal: controller.signal, onEvent });
    if (!ended) showError('the stream ended before the answer', 'stream');
  } catch (e) {
    if (e.name === 'AbortError') showError('you stopped this answer; the run was cancelled', 'cancelled');
    else showError(e instanceof ApiError ? e.message : `the server cannot be reached (${e.message})`, 'network');
  } finally {
    if (tick) stopTimer();
    for (const t of tools) if (!t.done) { t.item.className = 'failed'; t.item.querySelector('.state').textContent = 'not finished'; }
    if (isChat && running === run) { running = null; $('send').disabled = false; $('stop').hidden = true; }
    scroll();
  }
  return !failed;
}
