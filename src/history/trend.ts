// History days → the trend: one row per day, ISO week or month (UTC) with the TLS share, the legacy share, failures,
// plaintext sessions, protocols and distinct peers. Pure: exactly what `trend --format json` prints (schema
// `tlscensus/trend@1`, README), and what every other trend format renders. Deterministic: no clock.

import { isLegacyProtocol } from '../ciphers/lookup.js';
import { PROTOCOLS, type Protocol } from '../model/types.js';
import type { DaySection, HistoryDay } from './history-store.js';
import { emptyHourTotals, HOUR_MS, type HourTotals, PEER_KINDS, type PeerKind, type Section } from './hour-buckets.js';

export const TREND_SCHEMA = 'tlscensus/trend@1';

export type TrendBy = 'day' | 'week' | 'month';

const DAY_MS = 86_400_000;
/** Suites listed per period in JSON (the most used first). */
const MAX_CIPHERS = 10;

export interface TrendProtocol {
  protocol: string;
  count: number;
  /** Of the period's handshakes, 0–1. */
  share: number;
}

export interface TrendCipher {
  protocol: string;
  cipher: string;
  rating: string;
  legacy: boolean;
  count: number;
}

export interface TrendPeriod extends HourTotals {
  /** `2026-11-27`, `2026-W48` or `2026-11`. */
  period: string;
  start: string;
  /** Exclusive. */
  end: string;
  /** Hours of the period inside the window. */
  hours: number;
  /** Of those, hours with recorded data. */
  observedHours: number;
  handshakes: number;
  /** Handshakes with SSLv2, SSLv3, TLS 1.0 or TLS 1.1. */
  legacyHandshakes: number;
  /** TLS sessions of those that could have used it (sessions − no command − incomplete − trusted), as in the report. */
  tlsShare: number | null;
  /** Legacy handshakes of all handshakes. */
  legacyShare: number | null;
  protocols: TrendProtocol[];
  failures: Record<string, number>;
  ciphers: TrendCipher[];
  /**
   * Distinct peers with a legacy handshake, a plaintext session, a failed handshake (exact up to 200, HyperLogLog
   * estimates beyond, ±3 %); null with a --service filter (sketches are per section).
   */
  peers: Record<PeerKind, number> | null;
}

export interface TrendSection {
  periods: TrendPeriod[];
  summary: {
    sessions: number;
    handshakes: number;
    legacyHandshakes: number;
    tlsShare: number | null;
    legacyShare: number | null;
    /** The first and the last period with a value. */
    tlsShareFirst: number | null;
    tlsShareLast: number | null;
    legacyShareFirst: number | null;
    legacyShareLast: number | null;
  };
}

export interface TrendData {
  schema: typeof TREND_SCHEMA;
  by: TrendBy;
  window: { since: string; until: string };
  /** First and last recorded hour in the whole file (any window). */
  recorded: { first: string | null; last: string | null };
  sources: string[];
  filters: { source: string | null; services: string[] | null };
  sections: Section[];
  inbound?: TrendSection;
  outbound?: TrendSection;
  mailbox?: TrendSection;
}

export interface TrendOptions {
  by: TrendBy;
  /** Aligned to a period start (alignWindow). */
  sinceMs: number;
  untilMs: number;
  /** The end asked for (e.g. now): hours of the last period after it are not counted in `hours`. */
  requestedUntilMs: number;
  sections: readonly Section[];
  sources: readonly string[];
  source: string | null;
  services: readonly string[] | null;
  recordedFirstMs: number | null;
  recordedLastMs: number | null;
}

/** `--by` when not given: days up to five weeks, weeks up to about seven months, months beyond. */
export function chooseBy(sinceMs: number, untilMs: number): TrendBy {
  const days = (untilMs - sinceMs) / DAY_MS;
  return days <= 35 ? 'day' : days <= 210 ? 'week' : 'month';
}

/** Start of the UTC day, ISO week (Monday) or month containing `ms`. */
export function periodStart(ms: number, by: TrendBy): number {
  const day = Math.floor(ms / DAY_MS) * DAY_MS;
  if (by === 'day') return day;
  if (by === 'week') return day - ((new Date(day).getUTCDay() + 6) % 7) * DAY_MS;
  const d = new Date(day);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

export function nextPeriod(start: number, by: TrendBy): number {
  if (by === 'day') return start + DAY_MS;
  if (by === 'week') return start + 7 * DAY_MS;
  const d = new Date(start);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

export function periodLabel(start: number, by: TrendBy): string {
  const iso = new Date(start).toISOString();
  if (by === 'day') return iso.slice(0, 10);
  if (by === 'month') return iso.slice(0, 7);
  // ISO 8601 week: the week belongs to the year of its Thursday.
  const thursday = new Date(start + 3 * DAY_MS);
  const year = thursday.getUTCFullYear();
  const week = Math.floor((thursday.getTime() - Date.UTC(year, 0, 1)) / (7 * DAY_MS)) + 1;
  return `${year}-W${String(week).padStart(2, '0')}`;
}

/** The window widened to whole periods: from the start of the period of `since` to the end of that of `until`. */
export function alignWindow(sinceMs: number, untilMs: number, by: TrendBy): { sinceMs: number; untilMs: number } {
  const start = periodStart(sinceMs, by);
  let end = periodStart(untilMs - 1, by);
  end = nextPeriod(end, by);
  return { sinceMs: start, untilMs: end };
}

const share = (n: number, of: number): number | null => (of > 0 ? n / of : null);

function eligible(t: HourTotals): number {
  return t.sessions - t.noCommand - t.incomplete - t.trusted;
}

function emptyDaySection(): DaySection {
  return { totals: emptyHourTotals(), handshakes: new Map(), failures: new Map(), peers: new Map() };
}

function addDaySection(into: DaySection, from: DaySection): void {
  for (const f of Object.keys(into.totals) as (keyof HourTotals)[]) into.totals[f] += from.totals[f];
  for (const [k, h] of from.handshakes) {
    const mine = into.handshakes.get(k);
    if (mine) mine.count += h.count;
    else into.handshakes.set(k, { ...h });
  }
  for (const [k, n] of from.failures) into.failures.set(k, (into.failures.get(k) ?? 0) + n);
  for (const [k, s] of from.peers) {
    const mine = into.peers.get(k);
    if (mine) mine.merge(s);
    else into.peers.set(k, s.copy());
  }
}

const PROTOCOL_ORDER = new Map<string, number>(PROTOCOLS.map((p, i) => [p, i]));

function buildPeriod(
  start: number,
  end: number,
  by: TrendBy,
  windowEnd: number,
  observedHours: number,
  d: DaySection,
  peers: boolean,
): TrendPeriod {
  const t = d.totals;
  const rows = [...d.handshakes.values()];
  const handshakes = rows.reduce((n, r) => n + r.count, 0);
  const byProtocol = new Map<string, number>();
  let legacy = 0;
  for (const r of rows) {
    byProtocol.set(r.protocol, (byProtocol.get(r.protocol) ?? 0) + r.count);
    if (isLegacyProtocol(r.protocol as Protocol)) legacy += r.count;
  }
  const protocols = [...byProtocol]
    .map(([protocol, count]) => ({ protocol, count, share: count / handshakes }))
    .sort(
      (a, b) =>
        b.count - a.count ||
        (PROTOCOL_ORDER.get(b.protocol) ?? -1) - (PROTOCOL_ORDER.get(a.protocol) ?? -1) ||
        a.protocol.localeCompare(b.protocol),
    );
  const ciphers = rows
    .map((r) => ({
      protocol: r.protocol,
      cipher: r.cipher,
      rating: r.rating,
      legacy: isLegacyProtocol(r.protocol as Protocol),
      count: r.count,
    }))
    .sort((a, b) => b.count - a.count || a.protocol.localeCompare(b.protocol) || a.cipher.localeCompare(b.cipher))
    .slice(0, MAX_CIPHERS);
  const failures: Record<string, number> = {};
  for (const [reason, n] of [...d.failures].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))) {
    failures[reason] = n;
  }
  let peerCounts: Record<PeerKind, number> | null = null;
  if (peers) {
    peerCounts = { legacy: 0, plaintext: 0, failed: 0 };
    for (const k of PEER_KINDS) peerCounts[k] = d.peers.get(k)?.estimate() ?? 0;
  }
  return {
    period: periodLabel(start, by),
    start: new Date(start).toISOString(),
    end: new Date(end).toISOString(),
    hours: Math.max(0, Math.ceil((Math.min(end, windowEnd) - start) / HOUR_MS)),
    observedHours,
    ...t,
    handshakes,
    legacyHandshakes: legacy,
    tlsShare: share(t.tls, eligible(t)),
    legacyShare: share(legacy, handshakes),
    protocols,
    failures,
    ciphers,
    peers: peerCounts,
  };
}

/** Periods of a trend, at most, past its last recorded day (a window to the year 9999 by day would be millions). */
const MAX_PERIODS = 5000;

function firstLast(values: (number | null)[]): [number | null, number | null] {
  const present = values.filter((v): v is number => v !== null);
  return [present[0] ?? null, present.at(-1) ?? null];
}

/**
 * Groups days into periods from `sinceMs` (a period start) to `untilMs`. Periods before the first one with
 * recorded data are left out (the history simply starts later); later periods without data stay, with
 * `observedHours: 0`, so that a gap in recording shows.
 */
export function buildTrend(days: readonly HistoryDay[], o: TrendOptions): TrendData {
  // Periods from the one that holds the first recorded day (those before are left out below anyway: made, a window
  // from 1970 by day took gigabytes), and after the last recorded day at most MAX_PERIODS in all.
  const inWindow = days.filter((d) => d.dayMs >= o.sinceMs && d.dayMs < o.untilMs);
  const firstDay = inWindow[0]?.dayMs ?? o.untilMs;
  const lastDay = inWindow.at(-1)?.dayMs ?? o.untilMs;
  let first = o.sinceMs;
  while (nextPeriod(first, o.by) <= firstDay && nextPeriod(first, o.by) < o.untilMs) first = nextPeriod(first, o.by);
  const starts: number[] = [];
  for (let s = first; s < o.untilMs; s = nextPeriod(s, o.by)) {
    if (starts.length >= MAX_PERIODS && s > lastDay) break;
    starts.push(s);
  }
  const periodOf = (dayMs: number): number => {
    // Periods are few (≤ a few hundred); days in order: a binary search is not worth it.
    let i = starts.length - 1;
    while (i > 0 && starts[i]! > dayMs) i--;
    return i;
  };
  const observed = new Array<number>(starts.length).fill(0);
  const sums = new Map<Section, DaySection[]>(o.sections.map((s) => [s, starts.map(() => emptyDaySection())]));
  for (const day of days) {
    if (day.dayMs < o.sinceMs || day.dayMs >= o.untilMs) continue;
    const i = periodOf(day.dayMs);
    observed[i]! += day.observedHours;
    for (const [section, data] of day.sections) {
      const target = sums.get(section)?.[i];
      if (target) addDaySection(target, data);
    }
  }
  const firstObserved = observed.findIndex((h) => h > 0);
  const from = firstObserved < 0 ? starts.length : firstObserved;
  const data: TrendData = {
    schema: TREND_SCHEMA,
    by: o.by,
    window: { since: new Date(o.sinceMs).toISOString(), until: new Date(o.untilMs).toISOString() },
    recorded: {
      first: o.recordedFirstMs === null ? null : new Date(o.recordedFirstMs).toISOString(),
      last: o.recordedLastMs === null ? null : new Date(o.recordedLastMs + HOUR_MS).toISOString(),
    },
    sources: [...o.sources],
    filters: { source: o.source, services: o.services === null ? null : [...o.services] },
    sections: [...o.sections],
  };
  for (const section of o.sections) {
    const per = sums.get(section)!;
    const periods: TrendPeriod[] = [];
    for (let i = from; i < starts.length; i++) {
      const end = i + 1 < starts.length ? starts[i + 1]! : o.untilMs;
      periods.push(buildPeriod(starts[i]!, end, o.by, o.requestedUntilMs, observed[i]!, per[i]!, o.services === null));
    }
    const total = emptyDaySection();
    for (let i = from; i < starts.length; i++) addDaySection(total, per[i]!);
    const handshakes = periods.reduce((n, p) => n + p.handshakes, 0);
    const legacy = periods.reduce((n, p) => n + p.legacyHandshakes, 0);
    const [tlsShareFirst, tlsShareLast] = firstLast(periods.map((p) => p.tlsShare));
    const [legacyShareFirst, legacyShareLast] = firstLast(periods.map((p) => p.legacyShare));
    data[section] = {
      periods,
      summary: {
        sessions: total.totals.sessions,
        handshakes,
        legacyHandshakes: legacy,
        tlsShare: share(total.totals.tls, eligible(total.totals)),
        legacyShare: share(legacy, handshakes),
        tlsShareFirst,
        tlsShareLast,
        legacyShareFirst,
        legacyShareLast,
      },
    };
  }
  return data;
}
