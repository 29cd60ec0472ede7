// The API client: the bearer key (asked for once, kept for the tab in sessionStorage),
// JSON calls and the SSE chat stream read from fetch (so a stop aborts the request and
// the server cancels the run).

const KEY = 'eng-intel.api-key';

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.detail || body?.error || `HTTP ${status}`);
    this.status = status;
    this.kind = body?.error || 'http';
    this.body = body;
  }
}

let asking = null;
/** Shows the key dialog; resolves with the key typed (or null when cancelled). */
function askKey(wrong) {
  if (asking) return asking;
  const dlg = document.getElementById('key-dialog');
  const input = dlg.querySelector('input');
  dlg.querySelector('.wrong').hidden = !wrong;
  input.value = '';
  asking = new Promise((resolve) => {
    dlg.addEventListener('close', () => {
      asking = null;
      const v = dlg.returnValue === 'ok' ? input.value.trim() : '';
      if (v) sessionStorage.setItem(KEY, v);
      resolve(v || null);
    }, { once: true });
  });
  dlg.showModal();
  input.focus();
  return asking;
}

function headers(extra) {
  const h = { ...extra };
  const key = sessionStorage.getItem(KEY);
  if (key) h.Authorization = `Bearer ${key}`;
  return h;
}

/** fetch with the key; on 401 asks for it and retries once per answer. */
export async function request(path, opts = {}) {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(path, { ...opts, headers: headers(opts.headers) });
    if (res.status !== 401 || attempt > 3) return res;
    const hadKey = !!sessionStorage.getItem(KEY);
    sessionStorage.removeItem(KEY);
    if (!(await askKey(hadKey))) return res;
  }
}

export async function json(path, opts = {}) {
  const init = { ...opts };
  if (opts.body !== undefined && typeof opts.body !== 'string') {
    init.body = JSON.stringify(opts.body);
    init.headers = { 'Content-Type': 'application/json', ...opts.headers };
  }
  const res = await request(path, init);
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, body);
  return body;
}

/** Runs a declared tool (POST /api/tools/{name}); resolves with its result. */
const toolCache = new Map();
export async function tool(name, args = {}, { cache = true } = {}) {
  const k = name + JSON.stringify(args);
  if (cache && toolCache.has(k)) return toolCache.get(k);
  const p = json(`/api/tools/${encodeURIComponent(name)}`, { method: 'POST', body: args }).then((r) => r.result);
  if (cache) {
    toolCache.set(k, p);
    p.catch(() => toolCache.delete(k));
  }
  return p;
}

/**
 * POST /api/chat and calls onEvent(name, envelope) for every SSE event as it arrives.
 * Resolves when the stream ends; rejects with AbortError on stop, ApiError on a refusal.
 */
export async function streamChat(body, { signal, onEvent }) {
  const res = await request('/api/chat', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream' },
    body: JSON.stringify(body),
    signal,
  });
  if (!res.ok) throw new ApiError(res.status, await res.json().catch(() => null));
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
    let cut;
    while ((cut = buf.search(/\r?\n\r?\n/)) >= 0) {
      const frame = buf.slice(0, cut);
      buf = buf.slice(cut).replace(/^\r?\n\r?\n/, '');
      let name = 'message';
      const data = [];
      for (const line of frame.split(/\r?\n/)) {
        if (line.startsWith(':')) continue;
        if (line.startsWith('event:')) name = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (!data.length) continue;
      let env;
      try { env = JSON.parse(data.join('\n')); } catch { continue; }
      onEvent(name, env);
    }
  }
}
