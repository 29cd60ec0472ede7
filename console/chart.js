// Small SVG charts: a line (or bars) over labelled points, with an optional second
// series, marked points (anomalies) and a click/Enter handler per point.

import { s, fmt } from './dom.js';

/**
 * lineChart({ points: [{label, y, y2?, marked?}], title, unit, onPick(i), bars, name2 })
 * Points with y === null are gaps.
 */
export function lineChart({ points, title, unit = '', onPick, bars = false, name2 }) {
  const W = 520, H = 190, L = 40, R = 10, T = 12, B = 30;
  const ys = points.flatMap((p) => [p.y, p.y2]).filter((v) => typeof v === 'number');
  const max = Math.max(1e-9, ...ys) * 1.1;
  const n = points.length;
  const x = (i) => L + (n <= 1 ? (W - L - R) / 2 : (i * (W - L - R)) / (n - 1));
  const y = (v) => T + (H - T - B) * (1 - v / max);
  const svg = s('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `${title}${unit ? ` (${unit})` : ''}` },
    s('title', {}, title));
  svg.append(s('line', { class: 'axis', x1: L, x2: W - R, y1: H - B, y2: H - B }));
  for (const f of [0, 0.5, 1]) {
    const v = (max / 1.1) * f;
    svg.append(s('line', { class: 'axis', x1: L, x2: W - R, y1: y(v), y2: y(v), 'stroke-dasharray': '2 4' }),
      s('text', { x: L - 4, y: y(v) + 3, 'text-anchor': 'end' }, fmt(v, v < 10 ? 1 : 0)));
  }
  const step = Math.max(1, Math.ceil(n / 7));
  points.forEach((p, i) => {
    if (i % step === 0 || (i === n - 1 && (n - 1) % step > step / 2)) svg.append(s('text', { x: x(i), y: H - B + 14, 'text-anchor': 'middle' }, p.label.slice(5)));
  });
  const path = (key) => {
    let d = '';
    let pen = false;
    points.forEach((p, i) => {
      if (typeof p[key] !== 'number') { pen = false; return; }
      d += `${pen ? 'L' : 'M'}${x(i).toFixed(1)},${y(p[key]).toFixed(1)}`;
      pen = true;
    });
    return d;
  };
  if (bars) {
    const bw = Math.max(2, ((W - L - R) / Math.max(1, n)) * 0.6);
    points.forEach((p, i) => {
      if (typeof p.y === 'number') svg.append(s('rect', { class: 'bar', x: x(i) - bw / 2, y: y(p.y), width: bw, height: H - B - y(p.y) }));
    });
  } else svg.append(s('path', { class: 'line', d: path('y') }));
  if (points.some((p) => typeof p.y2 === 'number')) svg.append(s('path', { class: 'line2', d: path('y2') }));
  points.forEach((p, i) => {
    if (typeof p.y !== 'number') return;
    const label = `${p.label}: ${fmt(p.y)}${unit ? ` ${unit}` : ''}${typeof p.y2 === 'number' ? `, ${name2}: ${fmt(p.y2)}` : ''}${p.marked ? ' — anomalous' : ''}`;
    const c = s('circle', {
      class: p.marked ? 'pt mark' : 'pt', cx: x(i), cy: y(p.y), r: p.marked ? 6 : 3.5,
      tabindex: onPick ? 0 : undefined, role: onPick ? 'button' : undefined, 'aria-label': label,
      'data-index': i, 'data-marked': p.marked ? 'true' : undefined,
      onclick: onPick ? () => onPick(i) : undefined,
      onkeydown: onPick ? (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); onPick(i); } } : undefined,
    }, s('title', {}, label));
    svg.append(c);
    if (typeof p.y2 === 'number') svg.append(s('circle', { class: 'pt2', cx: x(i), cy: y(p.y2), r: 2.5 }));
  });
  return svg;
}
