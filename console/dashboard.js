// Delivery: the four DORA metrics with their 2023 bands for the organisation and each
// team over a chosen window, and weekly trends. Every number is the `dora_metrics`
// tool's own result (POST /api/tools/dora_metrics), the one the DORA agent answers from.

import { h, clear, fmt, toast } from './dom.js';
import { tool } from './api.js';
import { lineChart } from './chart.js';

const METRICS = [
  { key: 'deployment_frequency', label: 'Deployment frequency', value: (r) => r.deployment_frequency.median_days_per_week, unit: 'days/week',
    sub: (r) => `${r.deployment_frequency.deployment_days} deployment days, ${fmt(r.deployment_frequency.median_days_per_month)} / month` },
  { key: 'lead_time', label: 'Lead time for changes', value: (r) => r.lead_time.median_hours, unit: 'h median',
    sub: (r) => `${r.lead_time.changes} changes` },
  { key: 'change_failure_rate', label: 'Change failure rate', value: (r) => (r.change_failure_rate.rate == null ? null : r.change_failure_rate.rate * 100), unit: '%',
    sub: (r) => `${r.change_failure_rate.failed} of ${r.change_failure_rate.deployments} deployments` },
  { key: 'recovery_time', label: 'Failed-deployment recovery time', value: (r) => r.recovery_time.median_hours, unit: 'h median',
    sub: (r) => `${r.recovery_time.incidents} incidents, ${r.recovery_time.unresolved} unresolved` },
];
const band = (r, key) => r[key]?.band;

let root;
let teams = [];
const ui = {};

export async function start() {
  root = document.getElementById('delivery');
  ui.days = h('select', { id: 'dora-days' }, [28, 90, 180, 365].map((d) => h('option', { value: d, selected: d === 90 }, `last ${d} days`)),
    h('option', { value: 'custom' }, 'from – to…'));
  ui.since = h('input', { type: 'date', id: 'dora-since', 'aria-label': 'From (first day)' });
  ui.until = h('input', { type: 'date', id: 'dora-until', 'aria-label': 'To (last day, included)' });
  ui.range = h('span', { class: 'controls', hidden: true }, ui.since, ui.until);
  ui.scope = h('select', { id: 'trend-scope' }, h('option', { value: '' }, 'Organisation'));
  ui.weeks = h('select', { id: 'trend-weeks' }, [8, 13, 26].map((w) => h('option', { value: w, selected: w === 13 }, `${w} weeks`)));
  ui.org = h('div', { class: 'card', id: 'dora-org', 'aria-live': 'polite' });
  ui.teams = h('div', { class: 'card', id: 'dora-teams' });
  ui.trends = h('div', { class: 'grid', id: 'dora-trends' });
  ui.detail = h('div', { class: 'card detail', id: 'trend-detail', hidden: true, 'aria-live': 'polite' });
  root.append(
    h('div', { class: 'controls' },
      h('label', {}, 'Window', ui.days), ui.range,
      h('label', {}, 'Trend scope', ui.scope),
      h('label', {}, 'Trend weeks', ui.weeks)),
    ui.org, ui.teams,
    h('h2', {}, 'Weekly trends'), h('p', { class: 'muted' }, 'Each point is dora_metrics over that week; select a point to see the deployments or incidents behind it.'),
    ui.trends, ui.detail);
  ui.days.addEventListener('change', () => {
    ui.range.hidden = ui.days.value !== 'custom';
    if (ui.days.value !== 'custom' || (ui.since.value && ui.until.value)) summary().catch(fail);
  });
  for (const el of [ui.since, ui.until]) el.addEventListener('change', () => { if (ui.since.value && ui.until.value) summary().catch(fail); });
  ui.scope.addEventListener('change', () => trends().catch(fail));
  ui.weeks.addEventListener('change', () => trends().catch(fail));
  const hc = await tool('headcount');
  teams = hc.map((t) => t.team).sort();
  for (const t of teams) ui.scope.append(h('option', { value: t }, t));
  await Promise.all([summary(), trends()]);
}

function fail(e) { toast(`Delivery: ${e.message}`, { kind: 'error' }); }

function kpi(r, m, scope) {
  const v = m.value(r);
  const b = band(r, m.key);
  return h('div', { class: 'kpi', dataset: { scope, metric: m.key, value: v == null ? '' : String(v) } },
    h('div', { class: 'label' }, m.label),
    h('div', { class: 'value' }, fmt(v), ' ', h('small', {}, m.unit)),
    b ? h('span', { class: `badge ${b}`, dataset: { band: b } }, b) : null,
    h('div', { class: 'sub' }, m.sub(r)));
}

/** The chosen window as dora_metrics arguments: `days`, or `since`/`until` (until included). */
function windowArgs() {
  return ui.days.value === 'custom' ? { since: ui.since.value, until: ui.until.value } : { days: Number(ui.days.value) };
}

async function summary() {
  const win = windowArgs();
  clear(ui.org).append(h('p', { class: 'muted' }, 'Loading…'));
  const org = await tool('dora_metrics', win);
  clear(ui.org).append(
    h('h2', {}, `Organisation — ${org.window.start} to ${org.window.end} (${org.window.days} days)`),
    h('div', { class: 'kpis' }, METRICS.map((m) => kpi(org, m, 'org'))),
    h('p', { class: 'muted' }, `${org.deployments} successful production deployments, ${org.failed_deployments} failed.`));
  const rows = await Promise.all(teams.map(async (team) => [team, await tool('dora_metrics', { team, ...win })]));
  clear(ui.teams).append(h('h2', {}, 'Per team'), h('div', { class: 'table-wrap' }, h('table', { id: 'dora-team-table' },
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Team'), METRICS.map((m) => h('th', { scope: 'col' }, `${m.label} (${m.unit})`)))),
    h('tbody', {}, rows.map(([team, r]) => h('tr', { dataset: { team } },
      h('th', { scope: 'row' }, team),
      METRICS.map((m) => {
        const v = m.value(r);
        const b = band(r, m.key);
        return h('td', { dataset: { scope: team, metric: m.key, value: v == null ? '' : String(v) } },
          fmt(v), ' ', b ? h('span', { class: `badge ${b}` }, b) : null);
      })))))));
}

const day = (d) => d.toISOString().slice(0, 10);
const addDays = (s, n) => { const d = new Date(`${s}T00:00:00Z`); d.setUTCDate(d.getUTCDate() + n); return day(d); };

async function trends() {
  const team = ui.scope.value || undefined;
  const n = Number(ui.weeks.value);
  clear(ui.trends).append(h('p', { class: 'muted' }, 'Loading…'));
  ui.detail.hidden = true;
  const now = await tool('dora_metrics', { days: 1 });
  const end = now.window.end;
  const weeks = [];
  for (let k = n - 1; k >= 0; k--) {
    const until = addDays(end, -7 * k);
    weeks.push({ since: addDays(until, -6), until });
  }
  const results = await Promise.all(weeks.map((w) => tool('dora_metrics', { ...w, ...(team ? { team } : {}) })));
  const pts = (f, f2) => results.map((r, i) => ({ label: weeks[i].since, y: f(r), y2: f2 ? f2(r) : undefined }));
  const pick = (what) => (i) => detail(what, weeks[i], team).catch(fail);
  clear(ui.trends).append(
    h('div', { class: 'card', dataset: { chart: 'deployments' } }, h('h3', {}, 'Deployments per week (failed dashed)'),
      lineChart({ title: 'Deployments per week', unit: 'deployments', name2: 'failed', points: pts((r) => r.deployments, (r) => r.failed_deployments), onPick: pick('deployments') })),
    h('div', { class: 'card', dataset: { chart: 'failures' } }, h('h3', {}, 'Change failure rate per week'),
      lineChart({ title: 'Change failure rate', unit: '%', points: pts((r) => (r.change_failure_rate.rate == null ? null : r.change_failure_rate.rate * 100)), onPick: pick('failures') })),
    h('div', { class: 'card', dataset: { chart: 'lead_time' } }, h('h3', {}, 'Median lead time per week'),
      lineChart({ title: 'Median lead time', unit: 'hours', points: pts((r) => r.lead_time.median_hours), onPick: pick('deployments') })),
    h('div', { class: 'card', dataset: { chart: 'recovery' } }, h('h3', {}, 'Median recovery time per week'),
      lineChart({ title: 'Median recovery time', unit: 'hours', points: pts((r) => r.recovery_time.median_hours), onPick: pick('incidents') })));
}

async function detail(what, w, team) {
  ui.detail.hidden = false;
  clear(ui.detail).append(h('p', { class: 'muted' }, 'Loading…'));
  const scope = team ? { team } : {};
  let title; let rows; let cols;
  if (what === 'incidents') {
    rows = await tool('incident_causes', { since: w.since, until: w.until, ...scope });
    title = `Incidents ${w.since} to ${w.until}`;
  } else {
    rows = await tool('deployment_history', { since: w.since, until: w.until, limit: 200, ...scope, ...(what === 'failures' ? { status: 'failure' } : {}) });
    title = `${what === 'failures' ? 'Failed deployments' : 'Deployments'} ${w.since} to ${w.until}${team ? ` (${team})` : ''}`;
  }
  rows = Array.isArray(rows) ? rows : [];
  cols = rows.length ? Object.keys(rows[0]).filter((c) => !['total', 'failures'].includes(c)) : [];
  clear(ui.detail).append(h('h3', {}, title, ` — ${rows.length}`),
    rows.length ? h('div', { class: 'table-wrap' }, h('table', {},
      h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, rows.map((r) => h('tr', {}, cols.map((c) => h('td', {}, fmt(r[c])))))))) : h('p', {}, 'None.'));
  ui.detail.scrollIntoView({ block: 'nearest' });
}
