// `--format html`: the report as one self-contained page. No script and no fetch of any kind: the chart is SVG
// drawn here (svg-chart.ts), the stylesheet is inline and allowed by its hash in a Content-Security-Policy of
// `default-src 'none'`, so even a string that escaped escaping could run nothing and load nothing. Every value
// goes through the `html` template (html-escape.ts), which escapes all that it did not build itself.
// Responsive (one column on a phone, tables scroll sideways) and printable (print stylesheet, no dark fills).

import { createHash } from 'node:crypto';
import { domainOf } from '../aggregate/peer-rows.js';
import type { FailureReason, Peer, Protocol } from '../model/types.js';
import { html, type Markup, trusted } from './html-escape.js';
import { type DirectionReport, MAX_TIMELINE_POINTS, type ReportData, type SpreadEntry } from './report-model.js';

type ReportTotals = DirectionReport['totals'];

import { renderLegend, renderShareChart } from './svg-chart.js';
import { renderWhatIfSection } from './whatif-section.js';

export interface HtmlOptions {
  /** Rows per "peers needing attention" table. */
  top: number;
}

const CSS = `
:root{--fg:#1d232a;--muted:#5b6570;--line:#d9dee3;--bg:#fff;--panel:#f5f7f9;--bad:#b3261e;--warn:#9a6700;--good:#1a7f45}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:1100px;margin:0 auto;padding:16px}
h1{font-size:1.5rem;margin:.2em 0}
h2{font-size:1.2rem;margin:1.6em 0 .5em;padding-bottom:.2em;border-bottom:2px solid var(--line)}
h3{font-size:1rem;margin:1.2em 0 .4em}
.sub{color:var(--muted);margin:0 0 1em}
.notice{border-left:4px solid var(--warn);background:#fff8e1;padding:.5em .8em;margin:.5em 0;overflow-wrap:anywhere}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(200px,1fr));gap:12px;margin:1em 0}
.card{background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:12px 14px;break-inside:avoid}
.card .k{color:var(--muted);font-size:.85rem;text-transform:uppercase;letter-spacing:.03em}
.card .v{font-size:1.9rem;font-weight:650;line-height:1.2}
.card .d{font-size:.85rem;color:var(--muted)}
.card.lvl-bad .v{color:var(--bad)}.card.lvl-good .v{color:var(--good)}.card.lvl-warn .v{color:var(--warn)}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:16px 24px}
figure{margin:0;break-inside:avoid}
figcaption{font-weight:600;margin-bottom:4px}
svg.chart{width:100%;height:auto;display:block;background:#fff}
svg.chart .grid{stroke:var(--line);stroke-width:1}
svg.chart text{font-size:15px;fill:var(--muted)}
svg.chart .ytick{text-anchor:end}svg.chart .xtick{text-anchor:middle}
svg.chart .col:hover rect{opacity:.8}
.legend{list-style:none;padding:0;margin:8px 0;display:flex;flex-wrap:wrap;gap:4px 14px;font-size:.85rem}
.legend li{display:flex;align-items:center;gap:5px}
svg.swatch{width:12px;height:12px}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}
table{border-collapse:collapse;width:100%;font-size:.9rem;font-variant-numeric:tabular-nums}
th,td{padding:5px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{background:var(--panel);font-weight:600;white-space:nowrap}
td.n,th.n{text-align:right;white-space:nowrap}
td.c{overflow-wrap:anywhere;min-width:10em}
td.x{overflow-wrap:anywhere;max-width:28em;color:var(--muted);font-size:.85rem}
tr.legacy td{background:#fff4f2}
.iana{display:block;color:var(--muted);font-size:.8rem;overflow-wrap:anywhere}
.badge{display:inline-block;border-radius:10px;padding:0 8px;font-size:.8rem;font-weight:600;white-space:nowrap;border:1px solid transparent}
.r-recommended{background:#dcf3e4;color:#14532d}.r-secure{background:#e7f5d9;color:#365314}
.r-weak{background:#fff1c2;color:#7a4d00}.r-insecure{background:#fde0dd;color:#8a1c12}.r-unknown{background:#eceff1;color:#455a64}
.b-legacy{background:#fde0dd;color:#8a1c12}.b-failed{background:#efe3f5;color:#5b1f73}.b-plaintext{background:#e4e4e4;color:#262626}
.share{display:flex;align-items:center;gap:6px;justify-content:flex-end}
svg.bar{width:60px;height:8px}
.empty{color:var(--muted);font-style:italic}
dl.cov{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:.5em 0}
dl.cov dt{color:var(--muted)}dl.cov dd{margin:0;font-variant-numeric:tabular-nums}
code,.mono{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,monospace;font-size:.85em;overflow-wrap:anywhere}
footer{color:var(--muted);font-size:.8rem;margin:2em 0 1em}
@media (max-width:600px){main{padding:10px}.charts{grid-template-columns:1fr}body{font-size:14px}.card .v{font-size:1.5rem}th,td{padding:4px 5px}.hide-s{display:none}}
@media print{
  @page{margin:14mm}
  body{font-size:10pt;background:#fff}
  main{max-width:none;padding:0}
  .scroll{overflow:visible}
  h2{break-after:avoid}
  tr,figure,.card{break-inside:avoid}
  .cards{grid-template-columns:repeat(4,1fr)}
  .charts{grid-template-columns:1fr 1fr}
  *{-webkit-print-color-adjust:exact;print-color-adjust:exact}
}
`.trim();

const nf = new Intl.NumberFormat('en-US');
const num = (n: number) => nf.format(n);
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const ratio = (a: number, b: number) => (b === 0 ? null : a / b);

/** The CSP allows exactly this stylesheet, by hash, and nothing else at all. */
export function contentSecurityPolicy(css: string = CSS): string {
  const hash = createHash('sha256').update(css, 'utf8').digest('base64');
  return `default-src 'none'; style-src 'sha256-${hash}'; img-src 'none'; base-uri 'none'; form-action 'none'`;
}

function peerName(p: Peer): string {
  return p.host ?? (p.nameLogged === false ? '' : 'unknown');
}

function sum(...totals: ReportTotals[]): ReportTotals {
  const out: Omit<ReportTotals, 'trusted'> = {
    sessions: 0,
    tls: 0,
    failed: 0,
    plaintext: 0,
    noCommand: 0,
    incomplete: 0,
    messages: 0,
    tlsMessages: 0,
    plaintextMessages: 0,
    fallback: 0,
    fallbackMessages: 0,
  };
  for (const t of totals) {
    for (const k of Object.keys(out) as (keyof typeof out)[]) out[k] += t[k];
  }
  return out as ReportTotals;
}

function legacyCount(d: DirectionReport): number {
  return d.spread.filter((s) => s.legacy).reduce((n, s) => n + s.count, 0);
}

function headline(r: ReportData): Markup {
  const dirs = [
    { name: 'in', d: r.inbound },
    { name: 'out', d: r.outbound },
  ];
  const smtp = sum(r.inbound.totals, r.outbound.totals);
  const decided = (t: ReportTotals) => t.tls + t.failed + t.plaintext;
  const tlsShare = ratio(smtp.tls, decided(smtp));
  const legacyAll = legacyCount(r.inbound) + legacyCount(r.outbound);
  const legacyShare = ratio(legacyAll, smtp.tls);
  const perDir = (f: (d: DirectionReport) => string) => dirs.map((x) => `${x.name} ${f(x.d)}`).join(' · ');
  const share = (a: number, b: number) => {
    const x = ratio(a, b);
    return x === null ? '–' : pct(x);
  };
  const card = (cls: string, k: string, v: string, d: string) =>
    html`<div class="card lvl-${cls}"><div class="k">${k}</div><div class="v">${v}</div><div class="d">${d}</div></div>`;
  return html`<section class="cards" aria-label="headline numbers">
${card(
  tlsShare === null ? 'none' : tlsShare >= 0.95 ? 'good' : tlsShare >= 0.8 ? 'warn' : 'bad',
  'TLS share',
  tlsShare === null ? '–' : pct(tlsShare),
  `${num(smtp.tls)} of ${num(decided(smtp))} SMTP sessions · ${perDir((d) => share(d.totals.tls, decided(d.totals)))}`,
)}
${card(
  legacyAll > 0 ? 'bad' : 'good',
  'Legacy protocols',
  legacyShare === null ? '–' : pct(legacyShare),
  `${num(legacyAll)} handshakes with SSLv3/TLS 1.0/1.1 · ${perDir((d) => num(legacyCount(d)))}`,
)}
${card(
  smtp.failed > 0 ? 'warn' : 'good',
  'Failed handshakes',
  num(smtp.failed),
  `${perDir((d) => num(d.totals.failed))} · from ${num(r.inbound.failures.length + r.outbound.failures.length)} peers`,
)}
${card(
  smtp.plaintext > 0 ? 'warn' : 'good',
  'Plaintext sessions',
  num(smtp.plaintext),
  `${perDir((d) => num(d.totals.plaintext))} · ${num(smtp.plaintextMessages)} messages without TLS${smtp.fallback > 0 ? ` · ${num(smtp.fallback)} right after a failed handshake (fallback)` : ''}`,
)}
</section>`;
}

function ratingBadge(rating: string): Markup {
  return html`<span class="badge r-${rating}">${rating}</span>`;
}

function shareBar(share: number): Markup {
  const w = Math.max(0, Math.min(1, share)) * 60;
  return html`<span class="share">${pct(share)}<svg class="bar" viewBox="0 0 60 8" aria-hidden="true"><rect width="60" height="8" fill="#e8ecef"/><rect width="${w.toFixed(2)}" height="8" fill="#4a7fb5"/></svg></span>`;
}

function spreadTable(spread: SpreadEntry[]): Markup {
  if (spread.length === 0) return html`<p class="empty">No completed TLS handshake.</p>`;
  const rows = spread.map((s) => {
    const iana = s.iana !== null && s.iana !== s.cipher ? html`<span class="iana">${s.iana}</span>` : null;
    const legacy = s.legacy ? html` <span class="badge b-legacy">legacy</span>` : null;
    return html`<tr class="${s.legacy ? 'legacy' : ''}"><td class="n">${num(s.count)}</td><td>${s.protocol}</td><td class="c"><span class="mono">${s.cipher}</span>${iana}</td><td class="n">${shareBar(s.share)}</td><td>${ratingBadge(s.rating)}${legacy}</td><td class="n">${num(s.peers)}</td><td class="n hide-s">${num(s.unknownPeers)}</td></tr>`;
  });
  return html`<div class="scroll"><table>
<thead><tr><th class="n">count</th><th>protocol</th><th>cipher</th><th class="n">share</th><th>rating</th><th class="n">peers</th><th class="n hide-s">unknown</th></tr></thead>
<tbody>${rows}</tbody></table></div>`;
}

interface AttentionRow {
  peer: Peer;
  score: number;
  legacy: Partial<Record<Protocol, number>> | null;
  failed: { count: number; reasons: Partial<Record<FailureReason, number>>; detail: string | null } | null;
  plaintext: { sessions: number; messages: number; fallback: number } | null;
}

function attentionRows(d: DirectionReport): AttentionRow[] {
  const byIp = new Map<string, AttentionRow>();
  const row = (peer: Peer) => {
    let x = byIp.get(peer.ip);
    if (!x) {
      x = { peer, score: 0, legacy: null, failed: null, plaintext: null };
      byIp.set(peer.ip, x);
    } else if (x.peer.host === null && peer.host !== null) x.peer = peer;
    return x;
  };
  for (const l of d.legacyPeers ?? []) {
    const x = row(l.peer);
    x.legacy = l.protocols;
    x.score += l.count;
  }
  for (const f of d.failures) {
    const x = row(f.peer);
    x.failed = { count: f.count, reasons: f.reasons, detail: f.lastDetail };
    x.score += f.count;
  }
  for (const p of d.plaintext) {
    const x = row(p.peer);
    x.plaintext = { sessions: p.sessions, messages: p.messages, fallback: p.fallbackSessions };
    x.score += p.sessions;
  }
  return [...byIp.values()].sort((a, b) => b.score - a.score || (a.peer.ip < b.peer.ip ? -1 : 1));
}

function attentionTable(d: DirectionReport, top: number): Markup {
  const rows = attentionRows(d);
  if (rows.length === 0)
    return html`<p class="empty">No peer with a legacy protocol, a failed handshake or plaintext.</p>`;
  const shown = rows.slice(0, top).map((x) => {
    const why: Markup[] = [];
    if (x.legacy) {
      const protos = Object.entries(x.legacy)
        .map(([p, n]) => `${p} ×${num(n ?? 0)}`)
        .join(', ');
      why.push(html`<span class="badge b-legacy">legacy</span> ${protos}<br>`);
    }
    if (x.failed) {
      const reasons = Object.entries(x.failed.reasons)
        .map(([k, n]) => `${k} ×${num(n ?? 0)}`)
        .join(', ');
      why.push(html`<span class="badge b-failed">failed</span> ${reasons}<br>`);
    }
    if (x.plaintext) {
      why.push(
        html`<span class="badge b-plaintext">plaintext</span> ${num(x.plaintext.sessions)} sessions, ${num(x.plaintext.messages)} messages${x.plaintext.fallback > 0 ? `, ${num(x.plaintext.fallback)} right after a failed handshake (fallback)` : ''}<br>`,
      );
    }
    const name = peerName(x.peer);
    return html`<tr><td class="c"><span class="mono">${name === '' ? '–' : name}</span></td><td class="mono">${x.peer.ip}</td><td class="c">${domainOf(x.peer.host) ?? '–'}</td><td>${why}</td><td class="x hide-s">${x.failed?.detail ?? ''}</td></tr>`;
  });
  const more =
    rows.length > top
      ? html`<p class="sub">… and ${num(rows.length - top)} more (tlscensus peers lists all).</p>`
      : null;
  return html`<div class="scroll"><table>
<thead><tr><th>peer</th><th>address</th><th>domain</th><th>why</th><th class="hide-s">last failure detail</th></tr></thead>
<tbody>${shown}</tbody></table></div>${more}`;
}

function directionSection(title: string, d: DirectionReport, top: number): Markup {
  const t = d.totals;
  // `trusted` (Dovecot `secured`) is present only when some connection was.
  const trusted = (t as { trusted?: number }).trusted ?? 0;
  const trustedText = trusted > 0 ? ` · ${num(trusted)} trusted (no TLS, trusted network)` : '';
  return html`<section>
<h2>${title}</h2>
<p class="sub">${num(t.sessions)} sessions · ${num(t.tls)} TLS · ${num(t.failed)} failed · ${num(t.plaintext)} plaintext${trustedText} · ${num(t.noCommand)} no command · ${num(t.messages)} messages</p>
<h3>Protocol × cipher</h3>
${spreadTable(d.spread)}
<h3>Peers needing attention</h3>
${attentionTable(d, top)}
</section>`;
}

function chartsSection(r: ReportData): Markup {
  const inbound = renderShareChart(r.timeline, 'inbound', 'Inbound');
  const outbound = renderShareChart(r.timeline, 'outbound', 'Outbound');
  const mailbox = renderShareChart(r.timeline, 'mailbox', 'IMAP/POP3');
  if (!inbound && !outbound && !mailbox) return html``;
  const unit = r.timeline.bucket;
  const fig = (title: string, svg: Markup | null) =>
    svg ? html`<figure><figcaption>${title}</figcaption>${svg}</figure>` : null;
  return html`<section>
<h2>Protocol share over time</h2>
<p class="sub">Share of sessions per ${unit} (UTC) by negotiated protocol, with failed handshakes and plaintext sessions on top. Hover a column for its numbers.${r.timeline.sparse ? ` Only ${unit}s with sessions are shown: the log spans more than ${MAX_TIMELINE_POINTS.toLocaleString('en-US')} of them (a line from a host with a wrong clock?).` : ''}</p>
${renderLegend(r.timeline)}
<div class="charts">${fig('Inbound', inbound)}${fig('Outbound', outbound)}${fig('IMAP/POP3', mailbox)}</div>
</section>`;
}

/**
 * How much of a source was read: complete, from a line on, up to a line, not at all (dated outside the window), or
 * its issue.
 */
function readNote(s: ReportData['sources'][number]): string {
  if (s.issue !== null) return s.issue;
  const before = s.skipped;
  const after = s.skippedAfter;
  if (before === undefined && after === undefined) return 'complete';
  const lines = (before?.lines ?? 0) + (after?.lines ?? 0);
  if (s.bytes === 0)
    return `skipped: all ${num(lines)} lines dated long ${after === undefined ? 'before' : before === undefined ? 'after' : 'before or after'} the window`;
  const notes: string[] = [];
  if (before !== undefined)
    notes.push(`from line ${num(before.lines + 1)} (the lines before are dated before the window)`);
  if (after !== undefined) notes.push(`the last ${num(after.lines)} lines not (dated after the window)`);
  return notes.join('; ');
}

function coverageSection(r: ReportData): Markup {
  const c = r.coverage;
  const skipped = c.skipped ?? 0;
  const all = [r.inbound, r.outbound, r.mailbox];
  const sessions = all.reduce((n, d) => n + d.totals.sessions, 0);
  const tls = all.reduce((n, d) => n + d.totals.tls, 0);
  const sources = r.sources.map(
    (s) =>
      html`<tr><td class="c mono">${s.path}</td><td class="n">${num(s.bytes)}</td><td class="x">${readNote(s)}</td></tr>`,
  );
  const samples =
    r.malformedSamples.length === 0
      ? null
      : html`<h3>Lines that looked relevant but did not parse</h3><div class="scroll"><table><thead><tr><th>source</th><th class="n">line</th><th>text</th></tr></thead><tbody>${r.malformedSamples.map(
          (s) =>
            html`<tr><td class="mono">${s.source}</td><td class="n">${s.line}</td><td class="c mono">${s.text}</td></tr>`,
        )}</tbody></table></div>`;
  return html`<section>
<h2>Coverage</h2>
<dl class="cov">
<dt>lines read</dt><dd>${num(c.lines)}${skipped > 0 ? ` (and ${num(skipped)} dated long before or after the window, skipped unparsed)` : ''}</dd>
<dt>events</dt><dd>${num(c.events)} (lines that said something about a connection)</dd>
<dt>unrecognized</dt><dd>${num(c.unrecognized)} (mail programs' lines without a TLS fact)</dd>
<dt>foreign</dt><dd>${num(c.foreign)} (no supported program wrote them)</dd>
<dt>malformed</dt><dd>${num(c.malformed)}</dd>
<dt>sessions</dt><dd>${num(sessions)} · ${num(tls)} TLS</dd>
</dl>
<div class="scroll"><table><thead><tr><th>source</th><th class="n">bytes</th><th>read</th></tr></thead><tbody>${sources}</tbody></table></div>
${samples}
</section>`;
}

export function renderHtml(r: ReportData, opts: HtmlOptions): string {
  const span = r.window.first
    ? `${r.window.first.slice(0, 16).replace('T', ' ')} → ${(r.window.last ?? '').slice(0, 16).replace('T', ' ')} UTC`
    : 'no sessions in the window';
  const filter = [r.window.since ? `since ${r.window.since}` : '', r.window.until ? `until ${r.window.until}` : '']
    .filter((x) => x !== '')
    .join(', ');
  const warnings = r.sources
    .filter((s) => s.issue)
    .map((s) => html`<p class="notice"><strong>warning:</strong> ${s.issue}</p>`);
  const mailbox =
    r.mailbox.totals.sessions > 0
      ? directionSection(
          `IMAP/POP3 (${r.services.filter((s) => /^(imap|pop3|imaps|pop3s|managesieve)$/.test(s)).join(', ')})`,
          r.mailbox,
          opts.top,
        )
      : null;
  const page = html`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${trusted(contentSecurityPolicy())}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="tlscensus">
<title>TLS census · ${span}</title>
<style>${trusted(CSS)}</style>
</head>
<body>
<main>
<header>
<h1>TLS census</h1>
<p class="sub">${span}${filter ? ` (${filter})` : ''} · MTAs: ${r.mtas.join(', ') || 'none'} · services: ${r.services.join(', ') || 'none'}</p>
${warnings}
</header>
${headline(r)}
${chartsSection(r)}
${directionSection('Inbound', r.inbound, opts.top)}
${directionSection('Outbound', r.outbound, opts.top)}
${mailbox}
${renderWhatIfSection(r)}
${coverageSection(r)}
<footer>Made by tlscensus from the logs listed under Coverage (schema ${r.schema}). Ratings: the worse of the suite's and the protocol's; legacy = SSLv2, SSLv3, TLS 1.0, TLS 1.1.</footer>
</main>
</body>
</html>
`;
  return page.text;
}
