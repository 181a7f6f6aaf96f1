// `tlscensus trend` output: one row per period and section, in table, json, csv or md. The table makes the trend
// visible at a glance: a bar for the TLS share and, under each section, sparklines of the TLS share, the legacy
// share, failures and plaintext sessions. JSON schema `tlscensus/trend@1` (README). Names that came from a log
// (protocols, services, sources) are escaped per medium; colour only when asked (a terminal).

import type { Section } from '../history/hour-buckets.js';
import type { TrendData, TrendPeriod, TrendSection } from '../history/trend.js';
import { forCsv, forMarkdown, forTerminal } from './sanitize.js';
import { columns, num } from './table.js';

export const TREND_FORMATS = ['table', 'json', 'csv', 'md'] as const;

const ANSI = { bold: '\x1b[1m', dim: '\x1b[2m', green: '\x1b[32m', yellow: '\x1b[33m', reset: '\x1b[0m' };
type Colorize = (code: keyof typeof ANSI, s: string) => string;

const TITLES: Record<Section, string> = { inbound: 'INBOUND', outbound: 'OUTBOUND', mailbox: 'IMAP/POP3' };
const EIGHTHS = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
const SPARKS = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
const BAR_CELLS = 10;

/** `87.3%`; a share that is not zero never shows as 0.0%. */
export function shareText(x: number | null): string {
  if (x === null) return '—';
  if (x > 0 && x < 0.0005) return '<0.1%';
  if (x < 1 && x > 0.9995) return '>99.9%';
  return `${(x * 100).toFixed(1)}%`;
}

/** A horizontal bar of `BAR_CELLS` cells in eighths: 0.873 → `████████▋ `. */
export function shareBar(x: number, cells = BAR_CELLS): string {
  const eighths = Math.round(Math.min(1, Math.max(0, x)) * cells * 8);
  const bar = '█'.repeat(Math.floor(eighths / 8)) + EIGHTHS[eighths % 8]!;
  return bar + ' '.repeat(cells - [...bar].length);
}

/** One block per value, scaled from the smallest to the largest (flat when they are all equal); null → space. */
export function sparkline(values: readonly (number | null)[]): string {
  const present = values.filter((v): v is number => v !== null);
  if (present.length === 0) return ' '.repeat(values.length);
  const lo = Math.min(...present);
  const hi = Math.max(...present);
  return values
    .map((v) => {
      if (v === null) return ' ';
      if (hi - lo < 1e-9) return SPARKS[3]!;
      return SPARKS[Math.round(((v - lo) / (hi - lo)) * (SPARKS.length - 1))]!;
    })
    .join('');
}

function seenText(p: TrendPeriod): string {
  return p.hours > 0 ? `${Math.round((Math.min(p.observedHours, p.hours) / p.hours) * 100)}%` : '—';
}

function protocolsText(p: TrendPeriod, esc: (s: string) => string): string {
  return p.protocols
    .slice(0, 3)
    .map((x) => `${esc(x.protocol)} ${x.share < 0.005 ? '<1' : Math.round(x.share * 100)}%`)
    .join(' · ');
}

function byWord(d: TrendData): string {
  return d.by === 'day' ? 'day' : d.by === 'week' ? 'week' : 'month';
}

function headerLine(d: TrendData): string {
  // The periods shown (the history may start after the window does), with the last day included.
  const firsts = d.sections.flatMap((s) => d[s]?.periods[0]?.start ?? []).sort();
  const since = (firsts[0] ?? d.window.since).slice(0, 10);
  const until = new Date(Date.parse(d.window.until) - 1).toISOString().slice(0, 10);
  const sources = d.filters.source !== null ? [d.filters.source] : d.sources;
  const services = d.filters.services ? ` · services ${d.filters.services.join(', ')}` : '';
  return `tlscensus trend · ${since} – ${until} UTC · by ${byWord(d)} · source${sources.length === 1 ? '' : 's'} ${sources.join(', ') || '(none)'}${services}`;
}

function recordedLine(d: TrendData): string {
  const t = (iso: string) => `${iso.slice(0, 16).replace('T', ' ')}`;
  return d.recorded.first && d.recorded.last
    ? `history recorded ${t(d.recorded.first)} → ${t(d.recorded.last)} UTC`
    : 'the history is empty';
}

function sectionsShown(d: TrendData): Section[] {
  // The mailbox section appears with --direction both only when it holds something (as in the report).
  return d.sections.filter((s) => d[s] && (d.sections.length === 1 || s !== 'mailbox' || d[s]!.summary.sessions > 0));
}

function sectionTitle(section: Section, t: TrendSection): string {
  const s = t.summary;
  return `${TITLES[section]}  ${num(s.sessions)} sessions · TLS ${shareText(s.tlsShare)} · legacy ${shareText(s.legacyShare)} of ${num(s.handshakes)} handshakes`;
}

function trendLines(t: TrendSection, c: Colorize): string[] {
  const p = t.periods;
  if (p.length < 2) return [];
  const s = t.summary;
  const observed = (f: (x: TrendPeriod) => number | null) => p.map((x) => (x.observedHours > 0 ? f(x) : null));
  const ends = (series: (number | null)[], fmt: (x: number | null) => string) => {
    const present = series.filter((v) => v !== null);
    return present.length > 0 ? `${fmt(present[0]!)} → ${fmt(present.at(-1)!)}` : '';
  };
  const count = (x: number | null) => (x === null ? '—' : num(x));
  const rows = [
    [
      'TLS share',
      sparkline(observed((x) => x.tlsShare)),
      `${shareText(s.tlsShareFirst)} → ${shareText(s.tlsShareLast)}`,
    ],
    [
      'legacy share',
      c('yellow', sparkline(observed((x) => x.legacyShare))),
      `${shareText(s.legacyShareFirst)} → ${shareText(s.legacyShareLast)}`,
    ],
    [
      'failed',
      sparkline(observed((x) => x.failed)),
      ends(
        observed((x) => x.failed),
        count,
      ),
    ],
    [
      'plaintext',
      sparkline(observed((x) => x.plaintext)),
      ends(
        observed((x) => x.plaintext),
        count,
      ),
    ],
  ];
  return columns(['trend', '', ''], rows, [false, false, false])
    .slice(1)
    .map((l) => `  ${l}`);
}

const TABLE_HEADER = [
  '',
  'seen',
  'sessions',
  'TLS share',
  '',
  'legacy',
  'legacy peers',
  'failed',
  'plaintext',
  'protocols',
];
const TABLE_RIGHT = [false, true, true, false, true, true, true, true, true, false];

function tableRow(p: TrendPeriod, c: Colorize): string[] {
  if (p.observedHours === 0) {
    const none = c('dim', '—');
    return [
      c('dim', p.period),
      c('dim', seenText(p)),
      none,
      '',
      none,
      none,
      none,
      none,
      none,
      c('dim', 'not recorded'),
    ];
  }
  const legacy = shareText(p.legacyShare);
  return [
    p.period,
    seenText(p),
    num(p.sessions),
    p.tlsShare === null ? '' : c('green', shareBar(p.tlsShare)),
    shareText(p.tlsShare),
    p.legacyShare !== null && p.legacyShare > 0 ? c('yellow', legacy) : legacy,
    p.peers === null ? '—' : num(p.peers.legacy),
    num(p.failed),
    num(p.plaintext),
    protocolsText(p, forTerminal),
  ];
}

export function renderTrendTable(d: TrendData, color: boolean): string {
  const c: Colorize = (code, s) => (color && s !== '' ? `${ANSI[code]}${s}${ANSI.reset}` : s);
  const out = [c('bold', forTerminal(headerLine(d))), forTerminal(recordedLine(d)), ''];
  const shown = sectionsShown(d);
  const any = shown.some((s) => d[s]!.periods.length > 0);
  if (!any) {
    out.push('no history in this window; widen it with --since, or record with: tlscensus report LOG --history FILE');
    return `${out.join('\n')}\n`;
  }
  for (const section of shown) {
    const t = d[section]!;
    out.push(c('bold', sectionTitle(section, t)));
    const header = [byWord(d), ...TABLE_HEADER.slice(1)];
    out.push(
      ...columns(
        header,
        t.periods.map((p) => tableRow(p, c)),
        TABLE_RIGHT,
      ).map((l) => `  ${l}`),
    );
    out.push(...trendLines(t, c), '');
  }
  if (shown.some((s) => d[s]!.periods.some((p) => p.peers !== null))) {
    out.push(
      'seen: share of the period recorded · legacy: SSLv3, TLS 1.0, 1.1 · legacy peers: distinct (estimated beyond 200)',
    );
  }
  return `${out.join('\n')}\n`;
}

const CSV_HEADER = [
  'section',
  'period',
  'start',
  'end',
  'hours',
  'observed_hours',
  'sessions',
  'tls',
  'failed',
  'plaintext',
  'no_command',
  'trusted',
  'incomplete',
  'messages',
  'tls_messages',
  'plaintext_messages',
  'handshakes',
  'legacy_handshakes',
  'tls_share',
  'legacy_share',
  'legacy_peers',
  'plaintext_peers',
  'failed_peers',
  'protocols',
  'failures',
];

const ratio = (x: number | null) => (x === null ? null : Number(x.toFixed(6)));

export function renderTrendCsv(d: TrendData): string {
  const rows: (string | number | null)[][] = [];
  for (const section of d.sections) {
    for (const p of d[section]?.periods ?? []) {
      rows.push([
        section,
        p.period,
        p.start,
        p.end,
        p.hours,
        p.observedHours,
        p.sessions,
        p.tls,
        p.failed,
        p.plaintext,
        p.noCommand,
        p.trusted,
        p.incomplete,
        p.messages,
        p.tlsMessages,
        p.plaintextMessages,
        p.handshakes,
        p.legacyHandshakes,
        ratio(p.tlsShare),
        ratio(p.legacyShare),
        p.peers?.legacy ?? null,
        p.peers?.plaintext ?? null,
        p.peers?.failed ?? null,
        p.protocols.map((x) => `${x.protocol}=${x.count}`).join(' '),
        Object.entries(p.failures)
          .map(([k, n]) => `${k}=${n}`)
          .join(' '),
      ]);
    }
  }
  const lines = [CSV_HEADER.join(','), ...rows.map((r) => r.map((v) => forCsv(v)).join(','))];
  return `${lines.join('\r\n')}\r\n`;
}

export function renderTrendMarkdown(d: TrendData): string {
  const out = [`**${forMarkdown(headerLine(d))}**`, '', `_${forMarkdown(recordedLine(d))}_`, ''];
  const shown = sectionsShown(d);
  if (!shown.some((s) => d[s]!.periods.length > 0)) {
    out.push('No history in this window.', '');
    return out.join('\n');
  }
  for (const section of shown) {
    const t = d[section]!;
    out.push(`### ${forMarkdown(sectionTitle(section, t))}`, '');
    out.push(
      `| ${byWord(d)} | seen | sessions | TLS share | legacy | legacy peers | failed | plaintext | protocols |`,
      '|---|---:|---:|---:|---:|---:|---:|---:|---|',
    );
    for (const p of t.periods) {
      if (p.observedHours === 0) {
        out.push(`| ${p.period} | ${seenText(p)} | | _not recorded_ | | | | | |`);
        continue;
      }
      out.push(
        `| ${p.period} | ${seenText(p)} | ${num(p.sessions)} | ${shareText(p.tlsShare)} | ${shareText(p.legacyShare)} | ${p.peers === null ? '—' : num(p.peers.legacy)} | ${num(p.failed)} | ${num(p.plaintext)} | ${protocolsText(p, forMarkdown)} |`,
      );
    }
    if (t.periods.length >= 2) {
      const observed = (f: (x: TrendPeriod) => number | null) =>
        t.periods.map((x) => (x.observedHours > 0 ? f(x) : null));
      out.push(
        '',
        `TLS share \`${sparkline(observed((x) => x.tlsShare))}\` ${shareText(t.summary.tlsShareFirst)} → ${shareText(t.summary.tlsShareLast)} · legacy share \`${sparkline(observed((x) => x.legacyShare))}\` ${shareText(t.summary.legacyShareFirst)} → ${shareText(t.summary.legacyShareLast)}`,
      );
    }
    out.push('');
  }
  return out.join('\n');
}

export function renderTrend(format: string, d: TrendData, options: { color: boolean }): string {
  switch (format) {
    case 'json':
      return `${JSON.stringify(d, null, 2)}\n`;
    case 'csv':
      return renderTrendCsv(d);
    case 'md':
      return renderTrendMarkdown(d);
    default:
      return renderTrendTable(d, options.color);
  }
}
