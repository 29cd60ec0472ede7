// Graphs: every graph of the running configuration drawn as SVG from /api/graphs/{name}
// (layered top to bottom from the start node; loops dashed), the validation state of the
// running configuration and the files on disk with their findings (file:line), what the
// last reload changed, and a playground that runs a question and lights up the path.

import { h, s, clear, toast } from './dom.js';
import { json } from './api.js';
import { answer } from './chat.js';

const ui = {};
let detail = null;

export async function start() {
  const root = document.getElementById('graphs');
  ui.state = h('div', { class: 'card', id: 'config-state', 'aria-live': 'polite' });
  ui.pick = h('select', { id: 'graph-pick' });
  ui.info = h('p', { class: 'muted', id: 'graph-info' });
  ui.drawing = h('div', { id: 'graph-drawing' });
  ui.q = h('input', { id: 'playground-q', type: 'text', placeholder: 'Ask a question through this graph…', size: 50 });
  ui.run = h('form', { class: 'controls', id: 'playground' }, h('label', { for: 'playground-q' }, 'Playground', ui.q), h('button', { class: 'primary' }, 'Run'));
  ui.out = h('div', { class: 'card', id: 'playground-out', hidden: true });
  root.append(ui.state,
    h('div', { class: 'controls' }, h('label', { for: 'graph-pick' }, 'Graph', ui.pick)),
    h('div', { class: 'card' }, ui.info, ui.drawing), ui.run, ui.out);
  ui.pick.addEventListener('change', () => draw(ui.pick.value).catch(fail));
  ui.run.addEventListener('submit', (e) => { e.preventDefault(); play().catch(fail); });
  const { graphs } = await json('/api/graphs');
  for (const g of graphs) ui.pick.append(h('option', { value: g.name }, `${g.name} (${g.nodes} nodes)`));
  await Promise.all([configState(), draw(graphs.some((g) => g.name === 'supervisor') ? 'supervisor' : graphs[0]?.name)]);
}

export async function show([name] = []) {
  if (name && detail?.name !== name) { ui.pick.value = name; await draw(name); }
}

function fail(e) { toast(`Graphs: ${e.message}`, { kind: 'error' }); }

const finding = (d) => h('li', { class: d.severity === 'error' ? 'error-box' : '' },
  h('code', {}, `${d.file}:${d.line}:${d.col}`), ` ${d.severity} ${d.code}: ${d.message}`);

function changes(c) {
  const parts = [];
  for (const [kind, v] of Object.entries(c || {})) {
    for (const verb of ['added', 'changed', 'removed']) if (v?.[verb]?.length) parts.push(`${kind} ${verb}: ${v[verb].join(', ')}`);
  }
  return parts.length ? parts.join('; ') : 'no changes';
}

async function configState() {
  const c = await json('/api/admin/config');
  const disk = {
    same: 'The files on disk are what runs.',
    changed: `The files on disk changed and are valid; a reload would apply: ${changes(c.disk.changes)}.`,
    invalid: 'The files on disk have errors: a reload would be refused and the running configuration would stay.',
    unreadable: 'The configuration directory cannot be read.',
  }[c.disk.state];
  const reload = h('button', { type: 'button', onclick: async () => {
    try { const r = await json('/api/admin/reload', { method: 'POST' }); toast(r.reloaded ? `Reloaded: ${changes(r.changes)}` : 'Nothing changed.'); }
    catch (e) { toast(`Reload refused: ${e.message}`, { kind: 'error' }); }
    configState().catch(fail);
  } }, 'Reload');
  clear(ui.state).append(
    h('h2', {}, 'Configuration ', h('span', { class: `badge ${c.disk.state === 'invalid' ? 'low' : 'elite'}`, dataset: { state: c.disk.state } },
      c.disk.state === 'invalid' ? 'files invalid' : 'valid')),
    h('p', {}, `Running: ${c.graphs.length} graphs, ${c.tools} tools, ${c.warnings.length} warnings. `, disk, ' ', reload),
    c.last_reload ? h('p', {}, `Last reload ${new Date(c.last_reload.at).toLocaleString()}: ${changes(c.last_reload.changes)}.`) : h('p', { class: 'muted' }, 'No reload since the server started.'),
    [...c.warnings, ...c.disk.diagnostics].length ? h('details', {}, h('summary', {}, `Findings (${c.warnings.length + c.disk.diagnostics.length})`),
      h('ul', {}, [...c.disk.diagnostics, ...c.warnings].map(finding))) : null);
}

async function draw(name) {
  if (!name) return;
  detail = await json(`/api/graphs/${encodeURIComponent(name)}`);
  ui.pick.value = name;
  ui.info.textContent = `${detail.description} — ${detail.file}, start: ${detail.start}, at most ${detail.max_steps} steps.`;
  clear(ui.drawing).append(layout(detail));
}

/** Layered drawing: ranks by longest path from the start over forward edges. */
function layout(g) {
  const names = g.nodes.map((n) => n.name);
  const out = new Map(names.map((n) => [n, []]));
  for (const e of g.edges) out.get(e.from)?.push(e);
  // DFS from the start: edges to a node on the stack are back edges (loops).
  const state = new Map();
  const back = new Set();
  const visit = (n) => {
    state.set(n, 1);
    for (const e of out.get(n) || []) {
      if (state.get(e.to) === 1) back.add(e);
      else if (!state.has(e.to)) visit(e.to);
    }
    state.set(n, 2);
  };
  visit(g.start);
  for (const n of names) if (!state.has(n)) visit(n);
  const rank = new Map(names.map((n) => [n, 0]));
  for (let pass = 0; pass < names.length; pass++) {
    let moved = false;
    for (const e of g.edges) {
      if (back.has(e) || e.from === e.to) continue;
      if (rank.get(e.to) < rank.get(e.from) + 1) { rank.set(e.to, rank.get(e.from) + 1); moved = true; }
    }
    if (!moved) break;
  }
  const layers = [];
  for (const n of names) (layers[rank.get(n)] ||= []).push(n);
  const kind = new Map(g.nodes.map((n) => [n.name, n.kind]));
  const W = Math.max(640, Math.max(...layers.map((l) => l.length)) * 170);
  const rowH = 86;
  const pos = new Map();
  layers.forEach((layer, r) => layer.forEach((n, i) => {
    const w = Math.max(96, n.length * 7.5 + 24);
    pos.set(n, { x: ((i + 0.5) * W) / layer.length, y: 24 + r * rowH, w, h: 40 });
  }));
  const H = 24 + layers.length * rowH;
  const svg = s('svg', { class: 'graph', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `Graph ${g.name}: ${names.length} nodes, ${g.edges.length} edges` },
    s('title', {}, `Graph ${g.name}`),
    s('defs', {}, s('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
      s('path', { d: 'M0,0 L10,5 L0,10 z' }))));
  for (const e of g.edges) {
    const a = pos.get(e.from), b = pos.get(e.to);
    if (!a || !b) continue;
    let d; let lx; let ly;
    if (back.has(e) || e.from === e.to || rank.get(e.to) <= rank.get(e.from)) {
      const side = a.x + a.w / 2 + 30;
      d = `M${a.x + a.w / 2},${a.y + a.h / 2} C${side + 40},${a.y} ${side + 40},${b.y + b.h} ${b.x + b.w / 2},${b.y + b.h / 2}`;
      lx = side + 30; ly = (a.y + b.y) / 2 + 20;
    } else {
      const y1 = a.y + a.h, y2 = b.y;
      d = `M${a.x},${y1} C${a.x},${(y1 + y2) / 2} ${b.x},${(y1 + y2) / 2} ${b.x},${y2}`;
      lx = (a.x + b.x) / 2; ly = (y1 + y2) / 2;
    }
    svg.append(s('path', { class: `edge${back.has(e) ? ' back' : ''}`, d, 'marker-end': 'url(#arrow)', dataset: undefined }));
    if (e.label) svg.append(s('text', { class: 'elabel', x: lx, y: ly, 'text-anchor': 'middle' }, e.label.length > 28 ? `${e.label.slice(0, 27)}…` : e.label, s('title', {}, e.label)));
  }
  for (const n of names) {
    const p = pos.get(n);
    svg.append(s('g', { class: `node${n === g.start ? ' start' : ''}`, 'data-node': n, transform: `translate(${p.x - p.w / 2},${p.y})` },
      s('title', {}, `${n} (${kind.get(n)})`),
      s('rect', { width: p.w, height: p.h, rx: 6 }),
      s('text', { x: p.w / 2, y: 17, 'text-anchor': 'middle' }, n),
      s('text', { class: 'kind', x: p.w / 2, y: 31, 'text-anchor': 'middle' }, kind.get(n))));
  }
  return svg;
}

async function play() {
  const q = ui.q.value.trim();
  if (!q || !detail) return;
  for (const el of ui.drawing.querySelectorAll('.node.visited')) el.classList.remove('visited');
  ui.out.hidden = false;
  const box = h('div');
  clear(ui.out).append(h('h3', {}, `Through ${detail.name}: “${q}”`), box);
  const graph = detail.name;
  // Light up the nodes of this graph as they start; the answer view shows the trace.
  const observer = new MutationObserver(() => {
    for (const tr of box.querySelectorAll('tr.ev-node_start td:nth-child(4)')) {
      const m = tr.textContent.match(/^(\S+) › (\S+) /);
      if (m && m[1] === graph) ui.drawing.querySelector(`.node[data-node="${CSS.escape(m[2])}"]`)?.classList.add('visited');
    }
  });
  observer.observe(box, { childList: true, subtree: true });
  await answer(box, { message: q, graph: graph === 'supervisor' ? undefined : graph });
  observer.disconnect();
}
