// The HTML report's chart, drawn here as SVG rather than by an inlined JavaScript chart library: the page then
// needs no script at all (its CSP allows none), the chart prints and renders with JavaScript off, and no
// third-party dist file has to be kept in step. A 100% stacked column per time bucket: the share of each
// protocol, of failed handshakes and of plaintext sessions; the exact counts are in each column's <title>.

import { html, type Markup } from './html-escape.js';
import type { Timeline } from './report-model.js';

export interface Series {
  key: string;
  label: string;
  color: string;
}

/** Bottom to top: the best protocol at the bottom, then the worse ones, failures and plaintext on top. */
export const CHART_SERIES: readonly Series[] = [
  { key: 'TLSv1.3', label: 'TLS 1.3', color: '#1a7f45' },
  { key: 'TLSv1.2', label: 'TLS 1.2', color: '#7cc46a' },
  { key: 'TLSv1.1', label: 'TLS 1.1', color: '#f4c542' },
  { key: 'TLSv1', label: 'TLS 1.0', color: '#f08a3c' },
  { key: 'SSLv3', label: 'SSL 3', color: '#d7301f' },
  { key: 'SSLv2', label: 'SSL 2', color: '#8c0d0d' },
  { key: 'unknown', label: 'TLS, version not logged', color: '#a6a6a6' },
  { key: 'failed', label: 'failed handshake', color: '#7b3294' },
  { key: 'plaintext', label: 'plaintext', color: '#3b3b3b' },
];

const W = 720;
const H = 240;
const PAD = { left: 50, right: 30, top: 10, bottom: 30 };

function bucketLabel(iso: string, bucket: Timeline['bucket']): string {
  // ISO strings are UTC: `2026-11-20T09:00:00.000Z` → `11-20 09:00` (hour), `2026-11-20` (day), `2026-11`
  // (month) or `2026` (year).
  if (bucket === 'hour') return `${iso.slice(5, 10)} ${iso.slice(11, 16)}`;
  return iso.slice(0, bucket === 'day' ? 10 : bucket === 'month' ? 7 : 4);
}

/** A stacked share chart of one direction, or null when the direction has no session in the window. */
export function renderShareChart(
  timeline: Timeline,
  direction: 'inbound' | 'outbound' | 'mailbox',
  title: string,
): Markup | null {
  const points = timeline.points.map((p) => ({ start: p.start, counts: p[direction] }));
  const totals = points.map((p) => CHART_SERIES.reduce((n, s) => n + (p.counts[s.key] ?? 0), 0));
  if (totals.every((t) => t === 0)) return null;
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const n = points.length;
  const step = plotW / n;
  const gap = n > 1 ? Math.min(2, step * 0.15) : 0;
  const columns: Markup[] = [];
  points.forEach((p, i) => {
    const total = totals[i]!;
    if (total === 0) return;
    const x = PAD.left + i * step + gap / 2;
    const w = Math.max(step - gap, 0.5);
    let y = PAD.top + plotH;
    const rects: Markup[] = [];
    const parts: string[] = [];
    for (const s of CHART_SERIES) {
      const c = p.counts[s.key] ?? 0;
      if (c === 0) continue;
      const h = (c / total) * plotH;
      y -= h;
      rects.push(
        html`<rect x="${x.toFixed(2)}" y="${y.toFixed(2)}" width="${w.toFixed(2)}" height="${h.toFixed(2)}" fill="${s.color}"/>`,
      );
      parts.push(`${s.label} ${c} (${((c / total) * 100).toFixed(1)}%)`);
    }
    const tip = `${bucketLabel(p.start, timeline.bucket)} UTC · ${total} sessions: ${parts.join(', ')}`;
    columns.push(html`<g class="col"><title>${tip}</title>${rects}</g>`);
  });
  const grid: Markup[] = [0, 0.25, 0.5, 0.75, 1].map((f) => {
    const y = PAD.top + plotH - f * plotH;
    return html`<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${y.toFixed(2)}" y2="${y.toFixed(2)}" class="grid"/><text x="${PAD.left - 4}" y="${(y + 5).toFixed(2)}" class="ytick">${(f * 100).toFixed(0)}%</text>`;
  });
  const labelEvery = Math.max(1, Math.ceil(n / 5));
  const xTicks: Markup[] = [];
  for (let i = 0; i < n; i += labelEvery) {
    const x = PAD.left + i * step + step / 2;
    xTicks.push(
      html`<text x="${x.toFixed(2)}" y="${H - PAD.bottom + 20}" class="xtick">${bucketLabel(points[i]!.start, timeline.bucket)}</text>`,
    );
  }
  const unit = `per ${timeline.bucket}`;
  const label = `${title}: share of sessions by protocol, failed handshakes and plaintext, ${unit} (UTC)`;
  return html`<svg class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-label="${label}"><title>${label}</title>${grid}${columns}${xTicks}</svg>`;
}

/** The legend: swatches of the series present in either direction. */
export function renderLegend(timeline: Timeline): Markup {
  const present = new Set<string>();
  for (const p of timeline.points) {
    for (const k of Object.keys(p.inbound)) present.add(k);
    for (const k of Object.keys(p.outbound)) present.add(k);
    for (const k of Object.keys(p.mailbox)) present.add(k);
  }
  const items = CHART_SERIES.filter((s) => present.has(s.key)).map(
    (s) =>
      html`<li><svg class="swatch" viewBox="0 0 10 10" aria-hidden="true"><rect width="10" height="10" fill="${s.color}"/></svg>${s.label}</li>`,
  );
  return html`<ul class="legend">${items}</ul>`;
}
