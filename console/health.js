// health.js: a webhook's delivery health at a glance. The details page
// shows the last 24 hours, per hour, as an inline SVG chart drawn here
// (no third-party script): stacked bars of deliveries succeeded and
// failed on the left axis, p50 and p95 duration as lines on the right one.
// The chart is drawn for the width it gets, so its text stays readable
// on a 390 px phone; every bucket carries its figures as data-*
// attributes and a caption sums them up in words.

import { webhooks } from './api.js';
import { clear, h } from './dom.js';

const SVG = 'http://www.w3.org/2000/svg';
const HOURS = 24;
const HEIGHT = 200;
const PAD = { top: 12, right: 44, bottom: 26, left: 34 };

// "98.5 %" for a rate in [0, 1], "—" when there were no deliveries.
export function rateText(rate) {
  if (rate === null || rate === undefined) return '—';
  const pct = rate * 100;
  return `${pct === 100 || pct === 0 ? pct.toFixed(0) : pct.toFixed(1)} %`;
}

function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== null && v !== undefined) el.setAttribute(k, String(v));
  }
  for (const c of children) {
    if (c !== null && c !== undefined) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// A round axis maximum at or above 'v' (1, 2, 5 times a power of ten).
function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) {
    if (m * p >= v) return m * p;
  }
  return 10 * p;
}

function msText(ms) {
  if (ms === null || ms === undefined) return '—';
  return ms >= 10000 ? `${Math.round(ms / 1000)} s` : ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${ms} ms`;
}

// The chart of 'stats' (the answer of GET /v1/webhooks/{id}/stats) at 'width' px.
export function healthChart(stats, width) {
  const buckets = stats.buckets.slice(-HOURS);
  const w = Math.max(280, Math.floor(width));
  const plotW = w - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const maxCount = niceMax(Math.max(...buckets.map((b) => b.succeeded + b.failed), 0));
  const maxMs = niceMax(Math.max(...buckets.map((b) => b.p95_ms || 0), 0));
  const step = plotW / Math.max(buckets.length, 1);
  const barW = Math.max(2, step * 0.7);
  const y = (count) => PAD.top + plotH - (count / maxCount) * plotH;
  const yMs = (ms) => PAD.top + plotH - (ms / maxMs) * plotH;
  const svg = s('svg', {
    class: 'health-chart', width: w, height: HEIGHT, viewBox: `0 0 ${w} ${HEIGHT}`, role: 'img',
    'aria-labelledby': 'health-caption',
  });
  // grid and axes: counts on the left, durations on the right
  for (const f of [0, 0.5, 1]) {
    const gy = PAD.top + plotH - f * plotH;
    svg.append(s('line', { class: 'grid', x1: PAD.left, x2: PAD.left + plotW, y1: gy, y2: gy }),
      s('text', { class: 'axis-label count-label', x: PAD.left - 4, y: gy + 4, 'text-anchor': 'end' }, String(Math.round(maxCount * f))),
      s('text', { class: 'axis-label ms-label', x: PAD.left + plotW + 4, y: gy + 4, 'text-anchor': 'start' }, msText(Math.round(maxMs * f))));
  }
  const p50 = [];
  const p95 = [];
  buckets.forEach((b, i) => {
    const x = PAD.left + i * step + (step - barW) / 2;
    const cx = PAD.left + i * step + step / 2;
    const hour = b.start.slice(11, 13);
    const g = s('g', {
      class: 'bucket', 'data-start': b.start, 'data-succeeded': b.succeeded, 'data-failed': b.failed,
      'data-p50': b.p50_ms ?? '', 'data-p95': b.p95_ms ?? '',
    }, s('title', {}, `${hour}:00 UTC: ${b.succeeded} succeeded, ${b.failed} failed, p50 ${msText(b.p50_ms)}, p95 ${msText(b.p95_ms)}`));
    const okTop = y(b.succeeded);
    if (b.succeeded > 0) g.append(s('rect', { class: 'bar ok', x, y: okTop, width: barW, height: PAD.top + plotH - okTop }));
    if (b.failed > 0) g.append(s('rect', { class: 'bar failed', x, y: y(b.succeeded + b.failed), width: barW, height: okTop - y(b.succeeded + b.failed) }));
    if (i % 6 === 0 || i === buckets.length - 1) {
      g.append(s('text', { class: 'axis-label', x: cx, y: HEIGHT - 8, 'text-anchor': 'middle' }, `${hour}:00`));
    }
    svg.append(g);
    if (b.p50_ms !== null && b.p50_ms !== undefined) p50.push([cx, yMs(b.p50_ms)]);
    if (b.p95_ms !== null && b.p95_ms !== undefined) p95.push([cx, yMs(b.p95_ms)]);
  });
  for (const [cls, pts] of [['p50-line', p50], ['p95-line', p95]]) {
    if (!pts.length) continue;
    svg.append(s('polyline', { class: `line ${cls}`, points: pts.map(([px, py]) => `${px.toFixed(1)},${py.toFixed(1)}`).join(' ') }));
    for (const [px, py] of pts) svg.append(s('circle', { class: `dot ${cls}`, cx: px.toFixed(1), cy: py.toFixed(1), r: 2.5 }));
  }
  return svg;
}

function caption(stats) {
  const t = stats.totals;
  const n = t.succeeded + t.failed;
  if (n === 0) return 'No deliveries in the last 24 hours.';
  return `Last 24 hours: ${t.succeeded} succeeded, ${t.failed} failed (${rateText(t.success_rate)} success); ` +
    `p50 ${msText(t.p50_ms)}, p95 ${msText(t.p95_ms)}.`;
}

function legend() {
  const item = (cls, text) => h('li', {}, h('span', { class: `swatch ${cls}`, attrs: { 'aria-hidden': 'true' } }), text);
  return h('ul', { class: 'plain health-legend' },
    item('ok', 'Succeeded'), item('failed', 'Failed'), item('p50', 'p50 duration'), item('p95', 'p95 duration'));
}

// Fill 'section' with the chart of webhook 'id'. Returns {refresh}.
export function renderHealth(section, id) {
  const body = h('div', { id: 'health-body', class: 'health-body' });
  section.append(body);
  let stats = null;
  let drawnWidth = 0;

  function draw() {
    if (!stats) return;
    drawnWidth = body.clientWidth || 320;
    clear(body).append(
      h('p', { id: 'health-caption', class: 'health-caption', text: caption(stats) }),
      h('div', { class: 'chart-wrap' }, healthChart(stats, drawnWidth)),
      legend());
  }

  async function refresh() {
    section.setAttribute('aria-busy', 'true');
    try {
      // the current hour and the 23 before it, as the list's success_rate_24h
      const since = new Date(Date.now() - (HOURS - 1) * 3600 * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
      stats = await webhooks.stats(id, { since, bucket: '1h' });
      draw();
    } catch (e) {
      if (e.status !== 401) clear(body).append(h('p', { class: 'form-error', text: `Delivery health could not be loaded: ${e.message}` }));
    } finally {
      section.removeAttribute('aria-busy');
    }
  }

  // drawn for its width: again when that changes (a phone turned, a window resized)
  if (typeof ResizeObserver === 'function') {
    const ro = new ResizeObserver(() => {
      if (!section.isConnected) ro.disconnect();
      else if (Math.abs((body.clientWidth || 0) - drawnWidth) > 8) draw();
    });
    ro.observe(body);
  }
  refresh();
  return { refresh };
}
