// A small Markdown-to-DOM renderer for answers: headings, paragraphs, **bold**,
// *italic*, `code`, fenced code, lists (-, *, 1.), tables, blockquotes, rules and
// http(s) links. It builds nodes with createElement and text nodes only, so text from
// answers or documents (`<script>`, `onerror=`) is always shown, never run.

import { h } from './dom.js';

export function renderMarkdown(src) {
  const frag = document.createDocumentFragment();
  const lines = String(src ?? '').replace(/\r\n?/g, '\n').split('\n');
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (!line.trim()) { i++; continue; }
    const fence = line.match(/^\s*(```|~~~)\s*([\w-]*)/);
    if (fence) {
      const body = [];
      i++;
      while (i < lines.length && !lines[i].trim().startsWith(fence[1])) body.push(lines[i++]);
      i++;
      frag.append(h('pre', {}, h('code', fence[2] ? { 'data-lang': fence[2] } : {}, body.join('\n'))));
      continue;
    }
    const head = line.match(/^(#{1,6})\s+(.*)$/);
    if (head) {
      const level = Math.min(head[1].length + 2, 6); // answers sit below the page's h1/h2
      frag.append(h(`h${level}`, {}, inline(head[2])));
      i++;
      continue;
    }
    if (/^\s*([-*_])(\s*\1){2,}\s*$/.test(line)) { frag.append(h('hr')); i++; continue; }
    if (isTableStart(lines, i)) {
      const { table, next } = parseTable(lines, i);
      frag.append(h('div', { class: 'table-wrap' }, table));
      i = next;
      continue;
    }
    if (/^\s*([-*+]|\d+[.)])\s+/.test(line)) {
      const { list, next } = parseList(lines, i);
      frag.append(list);
      i = next;
      continue;
    }
    if (/^\s*>/.test(line)) {
      const body = [];
      while (i < lines.length && /^\s*>/.test(lines[i])) body.push(lines[i++].replace(/^\s*>\s?/, ''));
      frag.append(h('blockquote', {}, renderMarkdown(body.join('\n'))));
      continue;
    }
    const para = [];
    while (i < lines.length && lines[i].trim() && !startsBlock(lines, i)) para.push(lines[i++].trim());
    if (!para.length) para.push(lines[i++].trim());
    const p = h('p');
    para.forEach((l, k) => { if (k) p.append(h('br')); p.append(inline(l)); });
    frag.append(p);
  }
  return frag;
}

function startsBlock(lines, i) {
  const l = lines[i];
  return /^(#{1,6})\s/.test(l) || /^\s*(```|~~~)/.test(l) || /^\s*([-*+]|\d+[.)])\s+/.test(l)
    || /^\s*>/.test(l) || isTableStart(lines, i);
}

const SEP = /^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$/;
function isTableStart(lines, i) {
  return lines[i].includes('|') && i + 1 < lines.length && SEP.test(lines[i + 1]);
}

function cells(line) {
  let t = line.trim();
  if (t.startsWith('|')) t = t.slice(1);
  if (t.endsWith('|') && !t.endsWith('\\|')) t = t.slice(0, -1);
  return t.split(/(?<!\\)\|/).map((c) => c.trim().replace(/\\\|/g, '|'));
}

function parseTable(lines, i) {
  const head = cells(lines[i]);
  const aligns = cells(lines[i + 1]).map((c) =>
    c.startsWith(':') && c.endsWith(':') ? 'center' : c.endsWith(':') ? 'right' : null);
  let j = i + 2;
  const rows = [];
  while (j < lines.length && lines[j].includes('|') && lines[j].trim()) rows.push(cells(lines[j++]));
  const cell = (tag, text, k) => h(tag, aligns[k] ? { class: `al-${aligns[k]}` } : {}, inline(text));
  const table = h('table', {},
    h('thead', {}, h('tr', {}, head.map((c, k) => cell('th', c, k)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, head.map((_, k) => cell('td', r[k] ?? '', k))))));
  return { table, next: j };
}

function parseList(lines, i) {
  const ordered = /^\s*\d+[.)]\s+/.test(lines[i]);
  const indent = lines[i].match(/^\s*/)[0].length;
  const list = h(ordered ? 'ol' : 'ul');
  let j = i;
  while (j < lines.length) {
    const l = lines[j];
    const m = l.match(/^(\s*)([-*+]|\d+[.)])\s+(.*)$/);
    if (m && m[1].length === indent && /\d/.test(m[2]) !== ordered) break; // another kind of list
    if (m && m[1].length === indent) {
      list.append(h('li', {}, inline(m[3])));
      j++;
    } else if (m && m[1].length > indent) {
      const sub = parseList(lines, j);
      (list.lastElementChild || list).append(sub.list);
      j = sub.next;
    } else if (l.trim() && /^\s{2,}\S/.test(l) && list.lastElementChild && !m) {
      list.lastElementChild.append(' ', inline(l.trim()));
      j++;
    } else break;
  }
  return { list, next: j };
}

// Inline: `code`, **bold**, *italic* / _italic_, [text](http…), bare text.
const INLINE = /(`+)([\s\S]*?)\1|\*\*([\s\S]+?)\*\*|__([\s\S]+?)__|\*([^*\s][^*]*?)\*|\b_([^_\s][^_]*?)_\b|\[([^\]]+)\]\(([^)\s]+)\)/g;

export function inline(text) {
  const frag = document.createDocumentFragment();
  let last = 0;
  for (const m of String(text).matchAll(INLINE)) {
    if (m.index > last) frag.append(text.slice(last, m.index));
    if (m[1]) frag.append(h('code', {}, m[2]));
    else if (m[3] !== undefined) frag.append(h('strong', {}, inline(m[3])));
    else if (m[4] !== undefined) frag.append(h('strong', {}, inline(m[4])));
    else if (m[5] !== undefined) frag.append(h('em', {}, inline(m[5])));
    else if (m[6] !== undefined) frag.append(h('em', {}, inline(m[6])));
    else if (m[7] !== undefined) {
      const href = m[8];
      frag.append(/^https?:\/\//i.test(href)
        ? h('a', { href, rel: 'noopener noreferrer nofollow', target: '_blank' }, m[7])
        : document.createTextNode(m[0]));
    }
    last = m.index + m[0].length;
  }
  if (last < text.length) frag.append(text.slice(last));
  return frag;
}
