// 1:1 prep: pick a person (search as you type over the teams' members, from the
// headcount and team_members tools), then the one_on_one_prep pipeline streams the
// brief — profile, activity, pending reviews, incidents, workload, collaborators, past
// notes and talking points. Printable (the print stylesheet keeps only the brief).

import { h, clear, toast } from './dom.js';
import { tool } from './api.js';
import { answer } from './chat.js';

let people = [];
let active = -1;
const ui = {};

export async function start() {
  const root = document.getElementById('one-on-one');
  ui.input = h('input', { id: 'person-search', type: 'search', role: 'combobox', 'aria-autocomplete': 'list',
    'aria-expanded': 'false', 'aria-controls': 'person-list', placeholder: 'Type a name, team or title…', autocomplete: 'off' });
  ui.list = h('ul', { id: 'person-list', class: 'people', role: 'listbox', 'aria-label': 'People', hidden: true });
  ui.brief = h('div', { class: 'brief', id: 'brief', 'aria-live': 'polite' });
  ui.print = h('button', { type: 'button', class: 'no-print', hidden: true, onclick: () => window.print() }, 'Print brief');
  root.append(h('div', { class: 'controls' }, h('label', { for: 'person-search' }, 'Person', ui.input), ui.print), ui.list, ui.brief);
  ui.input.addEventListener('input', filter);
  ui.input.addEventListener('focus', filter);
  ui.input.addEventListener('keydown', keys);
  try {
    const teams = await tool('headcount');
    const lists = await Promise.all(teams.map((t) => tool('team_members', { team: t.team }).then((m) => m.map((p) => ({ ...p, team: t.team })))));
    people = lists.flat().sort((a, b) => a.name.localeCompare(b.name));
    // Typed before the list arrived: show the matches now.
    if (ui.input.value || document.activeElement === ui.input) filter();
  } catch (e) { toast(`People: ${e.message}`, { kind: 'error' }); }
}

function matches() {
  const q = ui.input.value.trim().toLowerCase();
  return people.filter((p) => !q || `${p.name} ${p.team} ${p.title}`.toLowerCase().includes(q)).slice(0, 30);
}

function filter() {
  const found = matches();
  active = found.length ? 0 : -1;
  clear(ui.list).append(...found.map((p, i) => h('li', { role: 'presentation' },
    h('button', { type: 'button', role: 'option', id: `person-${i}`, 'aria-selected': String(i === active), tabindex: -1,
      onclick: () => pick(p) }, p.name, h('span', { class: 'muted' }, ` — ${p.title}, ${p.team}`)))));
  if (!found.length) ui.list.append(h('li', { class: 'muted' }, people.length ? 'Nobody matches.' : 'Loading people…'));
  ui.list.hidden = false;
  ui.input.setAttribute('aria-expanded', 'true');
  ui.input.setAttribute('aria-activedescendant', active >= 0 ? `person-${active}` : '');
}

function keys(e) {
  const opts = [...ui.list.querySelectorAll('[role=option]')];
  if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
    e.preventDefault();
    if (!opts.length) return;
    active = (active + (e.key === 'ArrowDown' ? 1 : -1) + opts.length) % opts.length;
    opts.forEach((o, i) => o.setAttribute('aria-selected', String(i === active)));
    ui.input.setAttribute('aria-activedescendant', `person-${active}`);
    opts[active].scrollIntoView({ block: 'nearest' });
  } else if (e.key === 'Enter') {
    e.preventDefault();
    opts[active]?.click();
  } else if (e.key === 'Escape') {
    ui.list.hidden = true;
    ui.input.setAttribute('aria-expanded', 'false');
  }
}

async function pick(p) {
  ui.input.value = p.name;
  ui.list.hidden = true;
  ui.input.setAttribute('aria-expanded', 'false');
  const card = h('div', { class: 'card' });
  clear(ui.brief).append(h('h2', {}, `1:1 with ${p.name}`), h('p', { class: 'muted' }, `${p.title}, ${p.team} — reports to ${p.manager ?? '—'}`), card);
  ui.print.hidden = false;
  await answer(card, { message: `Prepare my 1:1 with ${p.name}`, graph: 'one_on_one_prep' }, { onRetry: () => pick(p) });
}
