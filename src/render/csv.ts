// The report as one CSV table for spreadsheets: a `section` column says which list a row belongs to
// (spread, failure, plaintext, totals, coverage). Every log-derived cell goes through forCsv.

import type { DirectionReport, ReportData } from './report-model.js';
import { forCsv } from './sanitize.js';

const HEADER = [
  'section',
  'direction',
  'protocol',
  'cipher',
  'iana',
  'rating',
  'legacy',
  'count',
  'share',
  'unknown_clients',
  'peers',
  'peer_host',
  'peer_ip',
  'sessions',
  'messages',
  'reasons',
  // Added last, so that columns read by position keep theirs: `unknown_clients` counts handshakes (report@1),
  // this the row's peers that no session named (the "unknown" column of the other formats).
  'unknown_peers',
] as const;

type Row = Partial<Record<(typeof HEADER)[number], string | number | boolean | null>>;

export function renderCsv(r: ReportData): string {
  const rows: Row[] = [];
  for (const [direction, d] of [
    ['inbound', r.inbound],
    ['outbound', r.outbound],
    ['mailbox', r.mailbox],
  ] as const) {
    addDirection(rows, direction, d);
  }
  const c = r.coverage;
  const skipped = c.skipped ?? 0;
  rows.push({
    section: 'coverage',
    count: c.lines,
    reasons: `events=${c.events} unrecognized=${c.unrecognized} foreign=${c.foreign} malformed=${c.malformed}${skipped > 0 ? ` skipped_outside_window=${skipped}` : ''}`,
  });
  const lines = [HEADER.join(','), ...rows.map((row) => HEADER.map((h) => forCsv(row[h] ?? null)).join(','))];
  return `${lines.join('\r\n')}\r\n`;
}

function addDirection(rows: Row[], direction: string, d: DirectionReport): void {
  const t = d.totals;
  rows.push({
    section: 'totals',
    direction,
    count: t.sessions,
    sessions: t.sessions,
    messages: t.messages,
    reasons: `tls=${t.tls} failed=${t.failed} plaintext=${t.plaintext} no_command=${t.noCommand} incomplete=${t.incomplete}${t.trusted ? ` trusted=${t.trusted}` : ''}`,
  });
  for (const s of d.spread) {
    rows.push({
      section: 'spread',
      direction,
      protocol: s.protocol,
      cipher: s.cipher,
      iana: s.iana,
      rating: s.rating,
      legacy: s.legacy,
      count: s.count,
      share: Number(s.share.toFixed(4)),
      unknown_clients: s.unknownClients,
      peers: s.peers,
      unknown_peers: s.unknownPeers,
    });
  }
  for (const f of d.failures) {
    rows.push({
      section: 'failure',
      direction,
      count: f.count,
      peer_host: f.peer.host,
      peer_ip: f.peer.ip,
      reasons: Object.entries(f.reasons)
        .map(([k, n]) => `${k}=${n}`)
        .join(' '),
    });
  }
  for (const p of d.plaintext) {
    rows.push({
      section: 'plaintext',
      direction,
      peer_host: p.peer.host,
      peer_ip: p.peer.ip,
      sessions: p.sessions,
      messages: p.messages,
      reasons: p.fallbackSessions > 0 ? `fallback=${p.fallbackSessions} fallback_messages=${p.fallbackMessages}` : null,
    });
  }
}
