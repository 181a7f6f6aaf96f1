// View + diagnostics → the report as plain data: exactly what `--format json` prints (schema
// `tlscensus/report@1`, documented in the README), and what every other format renders. Deterministic:
// sorted, no clock, so golden files can compare byte for byte.

import type { CensusView, DirectionView, HourCounts, PeerStats, SpreadRow, Totals } from '../aggregate/census-view.js';
import {
  FAILURE_LABELS,
  HANDSHAKE_LABELS,
  type MetricFamily,
  PLAINTEXT_LABELS,
  parseMetricKey,
} from '../aggregate/session-metrics.js';
import { bucketStart, bucketsBetween, nextBucket, type TimeUnit } from '../aggregate/time-buckets.js';
import type { Diagnostics } from '../census/census.js';
import { isLegacyProtocol } from '../ciphers/lookup.js';
import {
  type Coverage,
  FAILURE_REASONS,
  type FailureReason,
  type Peer,
  PROTOCOLS,
  type Protocol,
  type Rating,
} from '../model/types.js';
import { summarizeCommonPolicies, type WhatIfSummary } from '../policy/whatif.js';

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
  /** Handshakes whose peer had no verified name (report@1's meaning, kept; see unknownPeers). */
  unknownClients: number;
  /** Distinct peer addresses. */
  peers: number;
  /** Of `peers`, those no session named (what the "unknown" column beside "peers" shows). */
  unknownPeers: number;
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
  /** Plaintext sessions that followed a failed handshake of this peer within the window: TLS fallback. */
  fallbackSessions: number;
  fallbackMessages: number;
}

/**
 * The direction's totals. `trusted` (Dovecot `secured`: no TLS on a connection the server trusts) is present only
 * when non-zero, so reports of MTAs that never log it keep their exact report@1 shape.
 */
export type ReportTotals = Omit<Totals, 'trusted'> & { trusted?: number };

/** A peer that completed handshakes with a legacy protocol (SSLv2/SSLv3/TLSv1/TLSv1.1). */
export interface LegacyPeerEntry {
  peer: Peer;
  /** Legacy handshakes. */
  count: number;
  /** Legacy handshakes by protocol. */
  protocols: Partial<Record<Protocol, number>>;
  /** All of the peer's handshakes in the window (legacy or not). */
  handshakes: number;
}

export interface DirectionReport {
  totals: ReportTotals;
  spread: SpreadEntry[];
  failures: FailureEntry[];
  plaintext: PlaintextEntry[];
  /** Peers that still negotiate a legacy protocol, most legacy handshakes first. */
  legacyPeers: LegacyPeerEntry[];
}

/**
 * Sessions per time bucket and direction, by start time: completed handshakes by protocol (`TLSv1.3`, …,
 * `unknown`) and the other outcomes by name (`failed`, `plaintext`, `no-command`, `trusted`, `incomplete`),
 * with IMAP/POP3 logins apart as `mailbox`. Buckets are UTC hours when the window spans at most three days,
 * UTC days otherwise (months or years when the sessions fall on more than MAX_TIME_BUCKETS distinct days:
 * time-buckets.ts); every bucket from the first to the last is present (empty ones with no keys), unless that
 * would be more than MAX_TIMELINE_POINTS: then only the buckets with sessions are, and `sparse` is true.
 */
export interface Timeline {
  bucket: TimeUnit;
  /** Present (true) when empty buckets are left out: see MAX_TIMELINE_POINTS. */
  sparse?: true;
  points: {
    start: string;
    inbound: Record<string, number>;
    outbound: Record<string, number>;
    mailbox: Record<string, number>;
  }[];
}

/**
 * The Prometheus counters (README "Metrics"), as `report --format prom` writes them: one entry per label set,
 * label values uncapped (the prom renderer folds rare ciphers into `other`).
 */
export interface ReportCounters {
  handshakes: ({ [K in (typeof HANDSHAKE_LABELS)[number]]: string } & { count: number })[];
  failures: ({ [K in (typeof FAILURE_LABELS)[number]]: string } & { count: number })[];
  plaintext: ({ [K in (typeof PLAINTEXT_LABELS)[number]]: string } & { count: number })[];
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
  /**
   * What was read of each input; `skipped` (present only then) the lines at its start left unread, proved dated
   * long before `window.since`, and `skippedAfter` those at its end, proved dated long after `window.until`
   * (census/window-seek.ts); `bytes` the rest.
   */
  sources: {
    path: string;
    bytes: number;
    issue: string | null;
    skipped?: { bytes: number; lines: number };
    skippedAfter?: { bytes: number; lines: number };
  }[];
  malformedSamples: { source: string; line: number; text: string }[];
  timeline: Timeline;
  counters: ReportCounters;
  /**
   * What common policies (no SSLv3, minimum TLS 1.2, …) would do to the peers (policy/whatif.ts): present only
   * when asked for (`buildReport(…, { whatIf: true })`, the HTML report), so report@1 JSON keeps its shape.
   */
  whatIf?: WhatIfSummary[];
}

export interface ReportWindow {
  sinceMs: number | null;
  untilMs: number | null;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function buildReport(
  view: CensusView,
  diagnostics: Diagnostics,
  window: ReportWindow,
  options: { whatIf?: boolean } = {},
): ReportData {
  const report: ReportData = {
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
    sources: diagnostics.sources.map((s) => {
      const source: ReportData['sources'][number] = { path: s.path, bytes: s.bytes, issue: s.issue?.message ?? null };
      if (s.skipped !== undefined) source.skipped = { ...s.skipped };
      if (s.skippedAfter !== undefined) source.skippedAfter = { ...s.skippedAfter };
      return source;
    }),
    malformedSamples: diagnostics.samples.map((s) => ({ source: s.source, line: s.line, text: s.text })),
    timeline: buildTimeline(view.timeBuckets, view.timeUnit),
    counters: buildCounters(view.counters),
  };
  if (options.whatIf) report.whatIf = summarizeCommonPolicies(view);
  return report;
}

function buildDirection(d: DirectionView): DirectionReport {
  const handshakes = [...d.spread.values()].reduce((n, r) => n + r.count, 0);
  const unknownPeers = d.peers.unknownPeersPerRow(d.spread.size);
  const spread = [...d.spread.values()].map((r) => spreadEntry(r, handshakes, unknownPeers[r.id]!)).sort(compareSpread);
  // One pass over the peers, keeping only the entries: a section may have hundreds of thousands of peers.
  const failures: FailureEntry[] = [];
  const plaintext: PlaintextEntry[] = [];
  const legacyPeers: LegacyPeerEntry[] = [];
  for (const p of d.peers.listed(isLegacySuiteKey)) {
    if (p.failed > 0) failures.push(failureEntry(p));
    if (p.plaintext > 0) plaintext.push(plaintextEntry(p));
    const legacy = legacyPeerEntry(p);
    if (legacy !== null) legacyPeers.push(legacy);
  }
  failures.sort((a, b) => b.count - a.count || comparePeers(a.peer, b.peer));
  plaintext.sort((a, b) => b.sessions - a.sessions || b.messages - a.messages || comparePeers(a.peer, b.peer));
  legacyPeers.sort((a, b) => b.count - a.count || comparePeers(a.peer, b.peer));
  const { trusted, ...rest } = d.totals;
  const totals: ReportTotals = trusted > 0 ? { ...rest, trusted } : rest;
  return { totals, spread, failures, plaintext, legacyPeers };
}

/** Whether a peer suite key (`protocol|cipher`) is a legacy protocol's. */
function isLegacySuiteKey(suite: string): boolean {
  return isLegacyProtocol(suite.slice(0, suite.indexOf('|')) as Protocol);
}

function legacyPeerEntry(p: PeerStats): LegacyPeerEntry | null {
  const protocols: Partial<Record<Protocol, number>> = {};
  let count = 0;
  for (const [suite, n] of p.suites) {
    const protocol = suite.slice(0, suite.indexOf('|')) as Protocol;
    if (!isLegacyProtocol(protocol)) continue;
    protocols[protocol] = (protocols[protocol] ?? 0) + n;
    count += n;
  }
  if (count === 0) return null;
  const ordered: Partial<Record<Protocol, number>> = {};
  for (const proto of PROTOCOLS) if (protocols[proto]) ordered[proto] = protocols[proto];
  return { peer: { ...p.peer }, count, protocols: ordered, handshakes: p.tls };
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** Up to this span (first to last hour), the timeline is hourly. */
const HOURLY_SPAN_MS = 3 * DAY_MS;
/**
 * Buckets from the first to the last, at most (about five and a half years of days). One line stamped by a host
 * whose clock was reset (1970) or wrong by decades would otherwise fill the report with every day in between: a
 * log of six lines dated 1970, 2026 and 9999 gave 2.9 million points, 384 MB of JSON and 1.9 GiB of memory.
 * Beyond it, only the buckets with sessions are listed (the chart then shows the stray days as columns of their
 * own, labelled with their dates); those are at most the view's MAX_TIME_BUCKETS (time-buckets.ts).
 */
export const MAX_TIMELINE_POINTS = 2000;

function buildTimeline(buckets: Map<number, HourCounts>, unit: TimeUnit): Timeline {
  const starts = [...buckets.keys()].sort((a, b) => a - b);
  const first = starts[0];
  const last = starts.at(-1);
  if (first === undefined || last === undefined) return { bucket: 'hour', points: [] };
  // Hours when the view has them and they span at most three days; else the view's unit, days at the finest.
  const bucket: TimeUnit = unit === 'hour' ? (last - first <= HOURLY_SPAN_MS ? 'hour' : 'day') : unit;
  type Sides = Record<'inbound' | 'outbound' | 'mailbox', Record<string, number>>;
  const points = new Map<number, Sides>();
  const empty = (): Sides => ({ inbound: {}, outbound: {}, mailbox: {} });
  const start = bucketStart(first, bucket);
  const end = bucketStart(last, bucket);
  const sparse = bucketsBetween(start, end, bucket) > MAX_TIMELINE_POINTS;
  if (sparse) {
    for (const t of starts) {
      const at = bucketStart(t, bucket);
      if (!points.has(at)) points.set(at, empty());
    }
  } else for (let t = start; t <= end; t = nextBucket(t, bucket)) points.set(t, empty());
  for (const [t, counts] of buckets) {
    const b = points.get(bucketStart(t, bucket))!;
    for (const [key, n] of counts) {
      const bar = key.indexOf('|');
      const section = key.slice(0, bar);
      const side = section === 'outbound' ? b.outbound : section === 'mailbox' ? b.mailbox : b.inbound;
      const label = key.slice(bar + 1);
      side[label] = (side[label] ?? 0) + n;
    }
  }
  return {
    bucket,
    ...(sparse ? { sparse: true as const } : {}),
    points: [...points.entries()].map(([t, b]) => ({
      start: new Date(t).toISOString(),
      inbound: sortedRecord(b.inbound),
      outbound: sortedRecord(b.outbound),
      mailbox: sortedRecord(b.mailbox),
    })),
  };
}

function sortedRecord(r: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

const LABELS_OF: Record<MetricFamily, readonly string[]> = {
  handshakes: HANDSHAKE_LABELS,
  failures: FAILURE_LABELS,
  plaintext: PLAINTEXT_LABELS,
};

function buildCounters(counters: Map<string, number>): ReportCounters {
  const out: Record<MetricFamily, Record<string, string | number>[]> = { handshakes: [], failures: [], plaintext: [] };
  const keys = [...counters.keys()].sort();
  for (const key of keys) {
    const m = parseMetricKey(key);
    const names = LABELS_OF[m.family];
    if (!names || m.values.length !== names.length) continue;
    const entry: Record<string, string | number> = {};
    names.forEach((name, i) => {
      entry[name] = m.values[i]!;
    });
    entry.count = counters.get(key)!;
    out[m.family].push(entry);
  }
  return out as unknown as ReportCounters;
}

function spreadEntry(r: SpreadRow, handshakes: number, unknownPeers: number): SpreadEntry {
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
    peers: r.peers,
    unknownPeers,
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
  return {
    peer: { ...p.peer },
    sessions: p.plaintext,
    messages: p.plaintextMessages,
    alsoFailedTls: p.failed > 0,
    fallbackSessions: p.fallbackSessions,
    fallbackMessages: p.fallbackMessages,
  };
}

function comparePeers(a: Peer, b: Peer): number {
  return a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0;
}
