// View + diagnostics → the report as plain data: exactly what `--format json` prints (schema
// `tlscensus/report@1`, documented in the README), and what every other format renders. Deterministic:
// sorted, no clock, so golden files can compare byte for byte.

import type { CensusView, DirectionView, PeerStats, SpreadRow, Totals } from '../aggregate/census-view.js';
import type { Diagnostics } from '../census/census.js';
import {
  type Coverage,
  FAILURE_REASONS,
  type FailureReason,
  type Peer,
  PROTOCOLS,
  type Protocol,
  type Rating,
} from '../model/types.js';

export const REPORT_SCHEMA = 'tlscensus/report@1';

export interface SpreadEntry {
  protocol: Protocol;
  /** The most frequent logged spelling. */
  cipher: string;
  iana: string | null;
  rating: Rating;
  cipherRating: Rating;
  protocolRating: Rating;
  legacy: boolean;
  count: number;
  /** Share of this direction's completed handshakes, 0–1. */
  share: number;
  unknownClients: number;
  peers: number;
  spellings: Record<string, number>;
  mta: string[];
  service: string[];
  note?: string;
}

export interface FailureEntry {
  peer: Peer;
  count: number;
  reasons: Partial<Record<FailureReason, number>>;
  lastDetail: string | null;
}

export interface PlaintextEntry {
  peer: Peer;
  sessions: number;
  messages: number;
  /** The peer also failed a handshake in the window: likely fell back to plaintext. */
  alsoFailedTls: boolean;
}

/**
 * The direction's totals. `trusted` (Dovecot `secured`: no TLS on a connection the server trusts) is present only
 * when non-zero, so reports of MTAs that never log it keep their exact report@1 shape.
 */
export type ReportTotals = Omit<Totals, 'trusted'> & { trusted?: number };

export interface DirectionReport {
  totals: ReportTotals;
  spread: SpreadEntry[];
  failures: FailureEntry[];
  plaintext: PlaintextEntry[];
}

export interface ReportData {
  schema: typeof REPORT_SCHEMA;
  window: { first: string | null; last: string | null; since: string | null; until: string | null };
  mtas: string[];
  services: string[];
  inbound: DirectionReport;
  outbound: DirectionReport;
  /** IMAP/POP3 (Dovecot) logins: the same shape, kept apart from SMTP. */
  mailbox: DirectionReport;
  coverage: Coverage;
  sources: { path: string; bytes: number; issue: string | null }[];
  malformedSamples: { source: string; line: number; text: string }[];
}

export interface ReportWindow {
  sinceMs: number | null;
  untilMs: number | null;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function buildReport(view: CensusView, diagnostics: Diagnostics, window: ReportWindow): ReportData {
  return {
    schema: REPORT_SCHEMA,
    window: {
      first: iso(view.firstMs),
      last: iso(view.lastMs),
      since: iso(window.sinceMs),
      until: iso(window.untilMs),
    },
    mtas: [...view.mtas].sort(),
    services: [...view.services].sort(),
    inbound: buildDirection(view.inbound),
    outbound: buildDirection(view.outbound),
    mailbox: buildDirection(view.mailbox),
    coverage: { ...diagnostics.coverage },
    sources: diagnostics.sources.map((s) => ({ path: s.path, bytes: s.bytes, issue: s.issue?.message ?? null })),
    malformedSamples: diagnostics.samples.map((s) => ({ source: s.source, line: s.line, text: s.text })),
  };
}

function buildDirection(d: DirectionView): DirectionReport {
  const handshakes = [...d.spread.values()].reduce((n, r) => n + r.count, 0);
  const spread = [...d.spread.values()].map((r) => spreadEntry(r, handshakes)).sort(compareSpread);
  const peers = [...d.peers.values()];
  const failures = peers
    .filter((p) => p.failed > 0)
    .map(failureEntry)
    .sort((a, b) => b.count - a.count || comparePeers(a.peer, b.peer));
  const plaintext = peers
    .filter((p) => p.plaintext > 0)
    .map(plaintextEntry)
    .sort((a, b) => b.sessions - a.sessions || b.messages - a.messages || comparePeers(a.peer, b.peer));
  const { trusted, ...rest } = d.totals;
  const totals: ReportTotals = trusted > 0 ? { ...rest, trusted } : rest;
  return { totals, spread, failures, plaintext };
}

function spreadEntry(r: SpreadRow, handshakes: number): SpreadEntry {
  const spellings = [...r.spellings.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const e: SpreadEntry = {
    protocol: r.protocol,
    cipher: spellings[0]?.[0] ?? '',
    iana: r.iana,
    rating: r.rating,
    cipherRating: r.cipherRating,
    protocolRating: r.protocolRating,
    legacy: r.legacy,
    count: r.count,
    share: handshakes === 0 ? 0 : r.count / handshakes,
    unknownClients: r.unknownClients,
    peers: r.peers.size,
    spellings: Object.fromEntries(spellings),
    mta: [...r.mtas].sort(),
    service: [...r.services].sort(),
  };
  if (r.note !== null) e.note = r.note;
  return e;
}

function compareSpread(a: SpreadEntry, b: SpreadEntry): number {
  return (
    b.count - a.count ||
    PROTOCOLS.indexOf(b.protocol) - PROTOCOLS.indexOf(a.protocol) ||
    (a.cipher < b.cipher ? -1 : a.cipher > b.cipher ? 1 : 0)
  );
}

function failureEntry(p: PeerStats): FailureEntry {
  const reasons: Partial<Record<FailureReason, number>> = {};
  for (const r of FAILURE_REASONS) {
    const n = p.reasons.get(r);
    if (n) reasons[r] = n;
  }
  return { peer: { ...p.peer }, count: p.failed, reasons, lastDetail: p.lastFailureDetail };
}

function plaintextEntry(p: PeerStats): PlaintextEntry {
  return { peer: { ...p.peer }, sessions: p.plaintext, messages: p.plaintextMessages, alsoFailedTls: p.failed > 0 };
}

function comparePeers(a: Peer, b: Peer): number {
  return a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0;
}
