// Anomaly alerts: metric_anomalies over every metric its schema lists (read from
// GET /api/tools, so a metric added in tools.yaml shows up here), worst first, each
// metric's weekly series drawn with its anomalous weeks marked, and a link that asks the
// chat about it.

import { h, clear, fmt, toast } from './dom.js';
import { json, tool } from './api.js';
import { lineChart } from './chart.js';

const RANK = { high: 3, medium: 2, low: 1 };
const ui = {};

export async function start() {
  const root = document.getElementById('anomalies');
  ui.scope = h('select', { id: 'anomaly-scope' }, h('option', { value: '' }, 'Organisation'));
  ui.sens = h('select', { id: 'anomaly-sensitivity' }, ['low', 'medium', 'high'].map((s) => h('option', { value: s, selected: s === 'medium' }, s)));
  ui.list = h('div', { id: 'anomaly-list', 'aria-live': 'polite' });
  root.append(h('div', { class: 'controls' }, h('label', {}, 'Scope', ui.scope), h('label', {}, 'Sensitivity', ui.sens)), ui.list);
  const teams = await tool('headcount');
  for (const t of teams.map((x) => x.team).sort()) ui.scope.append(h('option', { value: t }, t));
  ui.scope.addEventListener('change', () => load().catch(fail));
  ui.sens.addEventListener('change', () => load().catch(fail));
  await load();
}

function fail(e) { toast(`Anomalies: ${e.message}`, { kind: 'error' }); }

const monday = (s) => { const d = new Date(`${s}T00:00:00Z`); d.setUTCDate(d.getUTCDate() - ((d.getUTCDay() + 6) % 7)); return d.toISOString().slice(0, 10); };

async function load() {
  clear(ui.list).append(h('p', { class: 'muted' }, 'Checking every delivery metric…'));
  const { tools } = await json('/api/tools');
  const def = tools.find((t) => t.name === 'metric_anomalies');
  const metrics = def?.args?.properties?.metric?.enum ?? [];
  const team = ui.scope.value || undefined;
  const results = await Promise.all(metrics.map((metric) =>
    tool('metric_anomalies', { metric, sensitivity: ui.sens.value, ...(team ? { team } : {}) }).catch((e) => ({ metric, error: e.message, anomalies: [] }))));
  const worst = (r) => Math.max(0, ...r.anomalies.map((a) => RANK[a.severity] * 100 + (a.score ?? 0)));
  const found = results.filter((r) => r.anomalies.length).sort((a, b) => worst(b) - worst(a));
  clear(ui.list);
  const total = found.reduce((n, r) => n + r.anomalies.length, 0);
  ui.list.append(h('p', {}, total ? `${total} anomalies in ${found.length} of ${metrics.length} metrics (${team ?? 'organisation'}), worst first.` : 'No anomalies in any delivery metric.'));
  for (const r of found) ui.list.append(card(r, team));
  for (const r of results.filter((x) => x.error)) ui.list.append(h('p', { class: 'error-box' }, `${r.metric}: ${r.error}`));
}

function card(r, team) {
  const top = r.anomalies.reduce((a, b) => (RANK[b.severity] * 100 + b.score > RANK[a.severity] * 100 + a.score ? b : a));
  const markedWeeks = new Set();
  for (const a of r.anomalies) {
    const from = monday(a.period);
    for (const w of r.weekly) if (w.week >= from && w.week <= (a.end ?? a.period)) markedWeeks.add(w.week);
  }
  const question = `Any anomalies in ${r.description}${team ? ` for the ${team} team` : ''} around ${top.label}?`;
  return h('article', { class: `card alert ${top.severity}`, dataset: { metric: r.metric } },
    h('h2', {}, `${r.description} — ${r.scope}`, ' ', h('span', { class: `badge ${top.severity === 'high' ? 'low' : 'medium'}` }, top.severity)),
    h('ul', {}, r.anomalies.map((a) => h('li', { dataset: { period: a.period, granularity: a.granularity } },
      h('strong', {}, a.label), `: ${fmt(a.value)} ${r.unit} against ${fmt(a.expected)} expected — ${a.direction}, ${a.severity} (score ${fmt(a.score)})`))),
    lineChart({ title: `${r.description}, weekly`, unit: r.unit,
      points: r.weekly.map((w) => ({ label: w.week, y: w.value, marked: markedWeeks.has(w.week) })) }),
    h('p', { class: 'muted' }, r.definition, '. ', h('a', { href: `#/chat/ask/${encodeURIComponent(question)}`, class: 'ask-chat' }, 'Ask the chat about it →')));
}
