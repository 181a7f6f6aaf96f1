// Per-peer rows for `tlscensus peers`: who uses what, their best and worst handshake, their registrable
// domain (Public Suffix List via tldts) and network, and grouping by domain so that "86 SSLv3 connections"
// becomes "these 3 organisations".

import type * as Tldts from 'tldts';
import { isLegacyProtocol, rateHandshake } from '../ciphers/lookup.js';
import { CERTIFICATE_TRUSTS } from '../dialects/certificate-trust.js';
import { lazyModule } from '../lazy-module.js';
import {
  type CertificateTrust,
  type FailureReason,
  type Peer,
  PROTOCOLS,
  type Protocol,
  type Rating,
} from '../model/types.js';
import type { CensusView, DirectionView, PeerStats } from './census-view.js';

const tldts = lazyModule<typeof Tldts>('tldts');

export type Section = 'inbound' | 'outbound' | 'mailbox';

export interface SuiteUse {
  protocol: Protocol;
  cipher: string;
  iana: string | null;
  rating: Rating;
  count: number;
}

export interface PeerRow {
  section: Section;
  peer: Peer;
  domain: string | null;
  network: string;
  firstMs: number | null;
  lastMs: number | null;
  sessions: number;
  messages: number;
  tls: number;
  plaintext: number;
  failed: number;
  noCommand: number;
  plaintextMessages: number;
  /** Plaintext sessions right after a failed handshake of this peer (TLS fallback), and their messages. */
  fallbackSessions: number;
  fallbackMessages: number;
  protocols: Partial<Record<Protocol, number>>;
  suites: SuiteUse[];
  best: SuiteUse | null;
  worst: SuiteUse | null;
  /** The worst handshake's rating (the lowest of its suites'); `unknown` when the peer never completed one. */
  rating: Rating;
  legacy: boolean;
  reasons: Partial<Record<FailureReason, number>>;
  /** Handshakes by what they showed of the peer's certificate (CertificateTrust); their total is `tls`. */
  certificates: Partial<Record<CertificateTrust, number>>;
  mtas: string[];
  services: string[];
}

const RATING_RANK: Record<Rating, number> = { insecure: 0, weak: 1, unknown: 2, secure: 3, recommended: 4 };

/**
 * Higher is better: the handshake rating first (insecure < weak < unknown < secure < recommended), then the
 * protocol. The rating already holds the protocol's penalty (the worse of suite and protocol), so ranking by
 * protocol first made an anonymous TLS 1.2 suite (insecure) better than a TLS 1.0 one (weak): such a peer was
 * rated "weak", and `--legacy` missed it beside a suite of unknown protocol (review).
 */
function strength(s: SuiteUse): number {
  const p = s.protocol === 'unknown' ? 0 : PROTOCOLS.indexOf(s.protocol) + 1;
  return RATING_RANK[s.rating] * 10 + p;
}

/** The /24 of an IPv4 address or the /64 of an IPv6 address; the address itself when it is neither. */
export function networkOf(ip: string): string {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.\d{1,3}$/.exec(ip);
  if (v4) return `${v4[1]}.${v4[2]}.${v4[3]}.0/24`;
  if (ip.includes(':')) {
    const groups = expandIpv6(ip);
    if (groups)
      return `${groups
        .slice(0, 4)
        .map((g) => g.replace(/^0+(?=.)/, ''))
        .join(':')}::/64`;
  }
  return ip;
}

function expandIpv6(ip: string): string[] | null {
  const [head, tail, extra] = ip.split('::');
  if (extra !== undefined) return null;
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const missing = 8 - h.length - t.length;
  if (tail === undefined ? h.length !== 8 : missing < 0) return null;
  const all = [...h, ...Array(tail === undefined ? 0 : missing).fill('0'), ...t];
  return all.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g)) ? all : null;
}

export function domainOf(host: string | null): string | null {
  if (host === null) return null;
  try {
    return tldts().getDomain(host, { allowPrivateDomains: false }) ?? null;
  } catch {
    return null;
  }
}

export function peerRow(section: Section, p: PeerStats): PeerRow {
  const suites: SuiteUse[] = [];
  const protocols: Partial<Record<Protocol, number>> = {};
  for (const [key, count] of p.suites) {
    const bar = key.indexOf('|');
    const protocol = key.slice(0, bar) as Protocol;
    const cipher = key.slice(bar + 1);
    const rated = rateHandshake(protocol, cipher);
    suites.push({ protocol, cipher, iana: rated.iana, rating: rated.rating, count });
    protocols[protocol] = (protocols[protocol] ?? 0) + count;
  }
  suites.sort((a, b) => b.count - a.count || strength(b) - strength(a) || (a.cipher < b.cipher ? -1 : 1));
  let best: SuiteUse | null = null;
  let worst: SuiteUse | null = null;
  for (const s of suites) {
    if (best === null || strength(s) > strength(best)) best = s;
    if (worst === null || strength(s) < strength(worst)) worst = s;
  }
  const reasons: Partial<Record<FailureReason, number>> = {};
  for (const [r, n] of [...p.reasons.entries()].sort()) reasons[r] = n;
  const certificates: Partial<Record<CertificateTrust, number>> = {};
  for (const kind of CERTIFICATE_TRUSTS) {
    const n = p.certificates.get(kind);
    if (n !== undefined) certificates[kind] = n;
  }
  return {
    section,
    peer: { ...p.peer },
    domain: domainOf(p.peer.host),
    network: networkOf(p.peer.ip),
    firstMs: p.firstMs,
    lastMs: p.lastMs,
    sessions: p.sessions,
    messages: p.messages,
    tls: p.tls,
    plaintext: p.plaintext,
    failed: p.failed,
    noCommand: p.noCommand,
    plaintextMessages: p.plaintextMessages,
    fallbackSessions: p.fallbackSessions,
    fallbackMessages: p.fallbackMessages,
    protocols,
    suites,
    best,
    worst,
    rating: worst?.rating ?? 'unknown',
    legacy: suites.some((s) => isLegacyProtocol(s.protocol)),
    reasons,
    certificates,
    mtas: [...p.mtas].sort(),
    services: [...p.services].sort(),
  };
}

export interface PeerFilter {
  legacy?: boolean;
  failing?: boolean;
  plaintext?: boolean;
  /** Only peers that fell back to plaintext after a failed handshake. */
  fallback?: boolean;
  domain?: string | null;
}

/** Filters combine with AND; `--legacy` also takes peers whose worst handshake is insecure. */
export function matchesPeer(row: PeerRow, f: PeerFilter): boolean {
  if (f.legacy && !(row.legacy || row.rating === 'insecure')) return false;
  if (f.failing && row.failed === 0) return false;
  if (f.plaintext && row.plaintext === 0) return false;
  if (f.fallback && row.fallbackSessions === 0) return false;
  if (f.domain) {
    const d = f.domain.toLowerCase().replace(/\.$/, '');
    const host = row.peer.host?.toLowerCase() ?? '';
    if (row.domain !== d && !host.endsWith(`.${d}`) && host !== d) return false;
  }
  return true;
}

export function peerRows(view: CensusView, filter: PeerFilter = {}): PeerRow[] {
  const rows: PeerRow[] = [];
  const sections: [Section, DirectionView][] = [
    ['inbound', view.inbound],
    ['outbound', view.outbound],
    ['mailbox', view.mailbox],
  ];
  for (const [section, dir] of sections) {
    for (const p of dir.peers.values()) {
      const row = peerRow(section, p);
      if (matchesPeer(row, filter)) rows.push(row);
    }
  }
  return rows.sort(
    (a, b) =>
      b.sessions - a.sessions ||
      b.messages - a.messages ||
      (a.peer.ip < b.peer.ip ? -1 : a.peer.ip > b.peer.ip ? 1 : 0),
  );
}

export interface GroupRow {
  section: Section;
  /** The registrable domain, or `network …` for peers without a name. */
  group: string;
  domain: string | null;
  peers: number;
  addresses: string[];
  sessions: number;
  messages: number;
  tls: number;
  plaintext: number;
  failed: number;
  protocols: Partial<Record<Protocol, number>>;
  best: SuiteUse | null;
  worst: SuiteUse | null;
  rating: Rating;
  legacy: boolean;
}

const MAX_LISTED_ADDRESSES = 20;

/** `--by domain`: peers grouped by registrable domain (peers without a name: by network). */
export function groupByDomain(rows: readonly PeerRow[]): GroupRow[] {
  const groups = new Map<string, GroupRow>();
  for (const r of rows) {
    const group = r.domain ?? `network ${r.network}`;
    const key = `${r.section}|${group}`;
    let g = groups.get(key);
    if (!g) {
      g = {
        section: r.section,
        group,
        domain: r.domain,
        peers: 0,
        addresses: [],
        sessions: 0,
        messages: 0,
        tls: 0,
        plaintext: 0,
        failed: 0,
        protocols: {},
        best: null,
        worst: null,
        rating: 'unknown',
        legacy: false,
      };
      groups.set(key, g);
    }
    g.peers++;
    if (g.addresses.length < MAX_LISTED_ADDRESSES) g.addresses.push(r.peer.ip);
    g.sessions += r.sessions;
    g.messages += r.messages;
    g.tls += r.tls;
    g.plaintext += r.plaintext;
    g.failed += r.failed;
    for (const [p, n] of Object.entries(r.protocols) as [Protocol, number][])
      g.protocols[p] = (g.protocols[p] ?? 0) + n;
    if (r.best && (g.best === null || strength(r.best) > strength(g.best))) g.best = r.best;
    if (r.worst && (g.worst === null || strength(r.worst) < strength(g.worst))) g.worst = r.worst;
    g.rating = g.worst?.rating ?? 'unknown';
    g.legacy ||= r.legacy;
  }
  return [...groups.values()].sort((a, b) => b.sessions - a.sessions || (a.group < b.group ? -1 : 1));
}
