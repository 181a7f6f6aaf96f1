// Sessions → the census view. Pure and mergeable: `mergeViews(view(a), view(b))` equals `view(a ++ b)`, so
// files, byte ranges and worker threads can be counted apart and joined (DESIGN.md §3). Memory is bounded by
// distinct peers and distinct protocol × cipher rows, never by the number of sessions.

import { isLegacyProtocol, rateHandshake } from '../ciphers/lookup.js';
import {
  type FailureReason,
  isMailboxService,
  isUnknownClient,
  type Peer,
  type Protocol,
  type Rating,
  type Session,
  type SessionOutcome,
} from '../model/types.js';
import { metricKey, sanitizeLabel, sessionMetrics } from './session-metrics.js';

export interface Totals {
  sessions: number;
  tls: number;
  failed: number;
  plaintext: number;
  noCommand: number;
  /** No TLS on a connection the server logged as trusted (Dovecot `secured`); apart from plaintext. */
  trusted: number;
  incomplete: number;
  messages: number;
  tlsMessages: number;
  plaintextMessages: number;
  /** Plaintext sessions that followed a failed handshake of the same peer (plaintext fallback), and their mail. */
  fallback: number;
  fallbackMessages: number;
}

export interface SpreadRow {
  protocol: Protocol;
  iana: string | null;
  /** Every logged spelling of this suite with its count (Postfix's OpenSSL name, Exim's GnuTLS name, …). */
  spellings: Map<string, number>;
  rating: Rating;
  cipherRating: Rating;
  protocolRating: Rating;
  legacy: boolean;
  count: number;
  unknownClients: number;
  /** Distinct peer addresses. */
  peers: Set<string>;
  mtas: Set<string>;
  services: Set<string>;
  note: string | null;
}

export interface PeerStats {
  peer: Peer;
  firstMs: number | null;
  lastMs: number | null;
  sessions: number;
  messages: number;
  tls: number;
  failed: number;
  plaintext: number;
  noCommand: number;
  plaintextMessages: number;
  fallbackSessions: number;
  fallbackMessages: number;
  /** `protocol|cipher-as-logged` → handshakes. */
  suites: Map<string, number>;
  reasons: Map<FailureReason, number>;
  lastFailureDetail: string | null;
  mtas: Set<string>;
  services: Set<string>;
}

export interface DirectionView {
  totals: Totals;
  /** Keyed by `protocol|iana-name` (or the logged name when the suite is not in the table). */
  spread: Map<string, SpreadRow>;
  /** Keyed by peer address. */
  peers: Map<string, PeerStats>;
}

export type HourCounts = Map<string, number>;

export interface CensusView {
  inbound: DirectionView;
  outbound: DirectionView;
  /** IMAP/POP3 logins (Dovecot): inbound, but never mixed into the SMTP figures. */
  mailbox: DirectionView;
  firstMs: number | null;
  lastMs: number | null;
  mtas: Set<string>;
  services: Set<string>;
  /**
   * Start of hour (ms) → `section|protocol`, `section|failed`, `section|plaintext`, … → sessions, where section is
   * `inbound`, `outbound` or `mailbox` (IMAP/POP3 logins are kept apart here too).
   */
  hourly: Map<number, HourCounts>;
  /**
   * The Prometheus counters (session-metrics.ts): `metricKey` of a handshake, failure or plaintext sample →
   * sessions. Bounded like the spread: by distinct protocol × cipher × service × MTA, never by peers.
   */
  counters: Map<string, number>;
}

export function emptyTotals(): Totals {
  return {
    sessions: 0,
    tls: 0,
    failed: 0,
    plaintext: 0,
    noCommand: 0,
    trusted: 0,
    incomplete: 0,
    messages: 0,
    tlsMessages: 0,
    plaintextMessages: 0,
    fallback: 0,
    fallbackMessages: 0,
  };
}

function emptyDirection(): DirectionView {
  return { totals: emptyTotals(), spread: new Map(), peers: new Map() };
}

export function emptyView(): CensusView {
  return {
    inbound: emptyDirection(),
    outbound: emptyDirection(),
    mailbox: emptyDirection(),
    firstMs: null,
    lastMs: null,
    mtas: new Set(),
    services: new Set(),
    hourly: new Map(),
    counters: new Map(),
  };
}

const OUTCOME_FIELD: Record<SessionOutcome, keyof Totals> = {
  tls: 'tls',
  failed: 'failed',
  plaintext: 'plaintext',
  'no-command': 'noCommand',
  trusted: 'trusted',
  incomplete: 'incomplete',
};

const HOUR_MS = 3_600_000;

// The hot path (DESIGN.md §3): a session costs a few Map lookups. What a session's strings map to (its section,
// spread row key, hourly label, Prometheus key) is memoised by exactly the values it is made from, with bounds
// (log text is attacker-controlled); and the collections most peers never need more than one value in start
// out shared (never written: copied on first write), which is most of a peer's memory.

const MAX_MEMO = 4096;

/** Shared collections: never written, replaced by a copy when a value is added (`withCount`, `withValue`). */
const SHARED = new WeakSet<object>();
const EMPTY_SUITES: Map<string, number> = shared(new Map());
const EMPTY_REASONS: Map<FailureReason, number> = shared(new Map());
const SINGLETONS = new Map<string, Set<string>>();

function shared<T extends object>(x: T): T {
  SHARED.add(x);
  return x;
}

function singleton(value: string): Set<string> {
  let set = SINGLETONS.get(value);
  if (set === undefined) {
    set = new Set([value]);
    if (SINGLETONS.size >= MAX_MEMO) return set;
    SINGLETONS.set(value, shared(set));
  }
  return set;
}

function withValue(set: Set<string>, value: string): Set<string> {
  if (set.has(value)) return set;
  const own = SHARED.has(set) ? new Set(set) : set;
  own.add(value);
  return own;
}

/** Shared one-entry maps `{ key → 1 }`: most peers are seen once, with one suite or one failure reason. */
const ONES = new Map<unknown, Map<unknown, number>>();

function withCount<K>(map: Map<K, number>, key: K, n: number): Map<K, number> {
  if (SHARED.has(map)) {
    if (map.size === 0 && n === 1) {
      let one = ONES.get(key) as Map<K, number> | undefined;
      if (one === undefined) {
        one = new Map([[key, 1]]);
        if (ONES.size >= MAX_MEMO) return one;
        ONES.set(key, shared(one) as Map<unknown, number>);
      }
      return one;
    }
    const own = new Map(map);
    own.set(key, (own.get(key) ?? 0) + n);
    return own;
  }
  map.set(key, (map.get(key) ?? 0) + n);
  return map;
}

const mailboxServices = new Map<string, boolean>();

function sectionOf(view: CensusView, s: Session): DirectionView {
  let mailbox = mailboxServices.get(s.service);
  if (mailbox === undefined) {
    mailbox = isMailboxService(s.service);
    if (mailboxServices.size < MAX_MEMO) mailboxServices.set(s.service, mailbox);
  }
  if (mailbox) return view.mailbox;
  return s.direction === 'inbound' ? view.inbound : view.outbound;
}

/** `section|label` keys of the hourly counts. */
const hourKeys = new Map<string, Map<string, string>>();

function hourKey(section: string, label: string): string {
  let bySection = hourKeys.get(section);
  if (bySection === undefined) {
    bySection = new Map();
    hourKeys.set(section, bySection);
  }
  let k = bySection.get(label);
  if (k === undefined) {
    k = `${section}|${label}`;
    if (bySection.size < MAX_MEMO) bySection.set(label, k);
  }
  return k;
}

/** What a handshake's protocol and cipher (and a dialect's IANA name for it) map to. */
interface SuiteMemo {
  ratingName: string;
  rated: ReturnType<typeof rateHandshake>;
  /** Spread row key: `protocol|iana` (or the logged name). */
  spreadKey: string;
  /** Peer suite key: `protocol|cipher-as-logged`. */
  suiteKey: string;
  legacy: boolean;
}

const suiteMemos = new Map<string, Map<string, SuiteMemo>>();
let suiteMemoCount = 0;

function suiteMemo(protocol: Protocol, cipher: string, iana: string | null | undefined): SuiteMemo {
  // A dialect that knows the suite better than the logged name (Exchange) names it by its IANA name.
  const ratingName = typeof iana === 'string' ? iana : cipher;
  let byCipher = suiteMemos.get(protocol);
  if (byCipher === undefined) {
    byCipher = new Map();
    suiteMemos.set(protocol, byCipher);
  }
  const known = byCipher.get(cipher);
  if (known !== undefined && known.ratingName === ratingName) return known;
  const rated = rateHandshake(protocol, ratingName);
  const memo: SuiteMemo = {
    ratingName,
    rated,
    spreadKey: `${protocol}|${rated.iana ?? cipher}`,
    suiteKey: `${protocol}|${cipher}`,
    legacy: isLegacyProtocol(protocol),
  };
  if (known === undefined && suiteMemoCount < MAX_MEMO) {
    byCipher.set(cipher, memo);
    suiteMemoCount++;
  }
  return memo;
}

/**
 * The Prometheus counter key of a session: `metricKey` of `sessionMetrics(s)` with sanitised labels, memoised by
 * the fields sessionMetrics reads (a property test holds the two together): direction, MTA, then service and
 * suite for a handshake, the reason for a failure, nothing more for plaintext.
 */
type KeyTree = Map<string, KeyTree | string | null>;
const metricKeys: KeyTree = new Map();
let metricKeyCount = 0;

function branch(tree: KeyTree, key: string): KeyTree {
  let sub = tree.get(key) as KeyTree | undefined;
  if (sub === undefined) {
    sub = new Map();
    tree.set(key, sub);
    metricKeyCount++;
  }
  return sub;
}

function counterKey(s: Session, suite: SuiteMemo | null): string | null {
  if (metricKeyCount >= MAX_MEMO * 4) return metricKeyOf(s);
  let leaf: string;
  let tree = branch(branch(metricKeys, s.direction), s.mta);
  const h = s.handshake;
  if (h && suite !== null) {
    tree = branch(branch(tree, 'handshake'), s.service);
    leaf = typeof h.iana === 'string' ? `${suite.suiteKey}|${h.iana}` : suite.suiteKey;
  } else if (s.outcome === 'failed') {
    tree = branch(tree, 'failed');
    leaf = s.failure?.reason ?? 'other';
  } else if (s.outcome === 'plaintext') {
    leaf = 'plaintext';
  } else return null;
  let k = tree.get(leaf) as string | null | undefined;
  if (k === undefined) {
    k = metricKeyOf(s);
    tree.set(leaf, k);
    metricKeyCount++;
  }
  return k;
}

function metricKeyOf(s: Session): string | null {
  const m = sessionMetrics(s);
  return m ? metricKey({ family: m.family, values: m.values.map(sanitizeLabel) }) : null;
}

export function addSession(view: CensusView, s: Session): void {
  const dir = sectionOf(view, s);
  const t = dir.totals;
  t.sessions++;
  t[OUTCOME_FIELD[s.outcome]]++;
  t.messages += s.messages;
  if (s.outcome === 'tls') t.tlsMessages += s.messages;
  if (s.outcome === 'plaintext') t.plaintextMessages += s.messages;
  if (s.fallback) {
    t.fallback++;
    t.fallbackMessages += s.messages;
  }
  view.mtas.add(s.mta);
  view.services.add(s.service);
  const suite = s.handshake ? suiteMemo(s.handshake.protocol, s.handshake.cipher, s.handshake.iana) : null;
  if (s.startMs !== null) {
    if (view.firstMs === null || s.startMs < view.firstMs) view.firstMs = s.startMs;
    if (view.lastMs === null || s.startMs > view.lastMs) view.lastMs = s.startMs;
    const hour = Math.floor(s.startMs / HOUR_MS) * HOUR_MS;
    let counts = view.hourly.get(hour);
    if (!counts) {
      counts = new Map();
      view.hourly.set(hour, counts);
    }
    const label = s.outcome === 'tls' ? (s.handshake?.protocol ?? 'unknown') : s.outcome;
    const k = hourKey(dir === view.mailbox ? 'mailbox' : s.direction, label);
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  // One lookup of the peer (the biggest map) serves both.
  const known = s.peer ? dir.peers.get(s.peer.ip) : undefined;
  if (suite !== null) addHandshake(dir, s, suite, known);
  if (s.peer) addPeer(dir, s, s.peer, suite, known);
  const k = counterKey(s, suite);
  if (k !== null) view.counters.set(k, (view.counters.get(k) ?? 0) + 1);
}

/**
 * Sections that have counted a handshake whose dialect named the suite (`iana`): there, a peer's suite (logged
 * protocol and cipher) no longer says which spread row it was counted in.
 */
const namedSuites = new WeakSet<DirectionView>();

function addHandshake(dir: DirectionView, s: Session, suite: SuiteMemo, known: PeerStats | undefined): void {
  const h = s.handshake!;
  const rated = suite.rated;
  let row = dir.spread.get(suite.spreadKey);
  if (!row) {
    row = {
      protocol: h.protocol,
      iana: rated.iana,
      spellings: new Map(),
      rating: rated.rating,
      cipherRating: rated.cipherRating,
      protocolRating: rated.protocolRating,
      legacy: suite.legacy,
      count: 0,
      unknownClients: 0,
      peers: new Set(),
      mtas: new Set(),
      services: new Set(),
      note: h.note ?? null,
    };
    dir.spread.set(suite.spreadKey, row);
  }
  row.count++;
  row.spellings.set(h.cipher, (row.spellings.get(h.cipher) ?? 0) + 1);
  if (isUnknownClient(s.peer)) row.unknownClients++;
  if (typeof h.iana === 'string') namedSuites.add(dir);
  // A peer that already has this suite is in this row's set (a big set: skip the lookup) unless suites were named.
  if (s.peer && !(known?.suites.has(suite.suiteKey) && !namedSuites.has(dir))) {
    row.peers.add(s.peer.ip);
  }
  row.mtas.add(s.mta);
  row.services.add(s.service);
}

function addPeer(
  dir: DirectionView,
  s: Session,
  peer: Peer,
  suite: SuiteMemo | null,
  known: PeerStats | undefined,
): void {
  let p = known;
  if (!p) {
    p = {
      peer: copyPeer(peer),
      firstMs: null,
      lastMs: null,
      sessions: 0,
      messages: 0,
      tls: 0,
      failed: 0,
      plaintext: 0,
      noCommand: 0,
      plaintextMessages: 0,
      fallbackSessions: 0,
      fallbackMessages: 0,
      suites: EMPTY_SUITES,
      reasons: EMPTY_REASONS,
      lastFailureDetail: null,
      mtas: singleton(s.mta),
      services: singleton(s.service),
    };
    dir.peers.set(peer.ip, p);
  } else {
    if (p.peer.host === null && peer.host !== null) p.peer = copyPeer(peer);
    p.mtas = withValue(p.mtas, s.mta);
    p.services = withValue(p.services, s.service);
  }
  p.sessions++;
  p.messages += s.messages;
  if (s.startMs !== null) {
    if (p.firstMs === null || s.startMs < p.firstMs) p.firstMs = s.startMs;
    if (p.lastMs === null || s.startMs > p.lastMs) p.lastMs = s.startMs;
  }
  if (s.outcome === 'tls' && suite !== null) {
    p.tls++;
    p.suites = withCount(p.suites, suite.suiteKey, 1);
  } else if (s.outcome === 'failed') {
    p.failed++;
    p.reasons = withCount(p.reasons, s.failure?.reason ?? 'other', 1);
    if (s.failure) p.lastFailureDetail = s.failure.detail;
  } else if (s.outcome === 'plaintext') {
    p.plaintext++;
    p.plaintextMessages += s.messages;
    if (s.fallback) {
      p.fallbackSessions++;
      p.fallbackMessages += s.messages;
    }
  } else if (s.outcome === 'no-command') p.noCommand++;
}

function copyPeer(peer: Peer): Peer {
  return peer.nameLogged === false
    ? { host: peer.host, ip: peer.ip, nameLogged: false }
    : { host: peer.host, ip: peer.ip };
}

// ---------------------------------------------------------------------------------------------- merge

function addCounts<K>(into: Map<K, number>, from: Map<K, number>): void {
  for (const [k, n] of from) into.set(k, (into.get(k) ?? 0) + n);
}

function addAll<T>(into: Set<T>, from: Set<T>): void {
  for (const x of from) into.add(x);
}

function minTime(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.min(a, b);
}

function maxTime(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.max(a, b);
}

function mergeDirection(into: DirectionView, from: DirectionView): void {
  if (namedSuites.has(from)) namedSuites.add(into);
  const t = into.totals;
  for (const k of Object.keys(t) as (keyof Totals)[]) t[k] += from.totals[k];
  for (const [key, r] of from.spread) {
    const mine = into.spread.get(key);
    if (!mine) {
      into.spread.set(key, {
        ...r,
        spellings: new Map(r.spellings),
        peers: new Set(r.peers),
        mtas: new Set(r.mtas),
        services: new Set(r.services),
      });
      continue;
    }
    mine.count += r.count;
    mine.unknownClients += r.unknownClients;
    addCounts(mine.spellings, r.spellings);
    addAll(mine.peers, r.peers);
    addAll(mine.mtas, r.mtas);
    addAll(mine.services, r.services);
  }
  for (const [ip, p] of from.peers) {
    const mine = into.peers.get(ip);
    if (!mine) {
      into.peers.set(ip, {
        ...p,
        peer: { ...p.peer },
        suites: SHARED.has(p.suites) ? p.suites : new Map(p.suites),
        reasons: SHARED.has(p.reasons) ? p.reasons : new Map(p.reasons),
        mtas: SHARED.has(p.mtas) ? p.mtas : new Set(p.mtas),
        services: SHARED.has(p.services) ? p.services : new Set(p.services),
      });
      continue;
    }
    if (mine.peer.host === null && p.peer.host !== null) mine.peer = { ...p.peer };
    mine.firstMs = minTime(mine.firstMs, p.firstMs);
    mine.lastMs = maxTime(mine.lastMs, p.lastMs);
    mine.sessions += p.sessions;
    mine.messages += p.messages;
    mine.tls += p.tls;
    mine.failed += p.failed;
    mine.plaintext += p.plaintext;
    mine.noCommand += p.noCommand;
    mine.plaintextMessages += p.plaintextMessages;
    mine.fallbackSessions += p.fallbackSessions;
    mine.fallbackMessages += p.fallbackMessages;
    for (const [k, n] of p.suites) mine.suites = withCount(mine.suites, k, n);
    for (const [k, n] of p.reasons) mine.reasons = withCount(mine.reasons, k, n);
    if (p.lastFailureDetail !== null) mine.lastFailureDetail = p.lastFailureDetail;
    for (const x of p.mtas) mine.mtas = withValue(mine.mtas, x);
    for (const x of p.services) mine.services = withValue(mine.services, x);
  }
}

/** Adds `from` into `into` (mutating `into`) and returns it. */
export function mergeViews(into: CensusView, from: CensusView): CensusView {
  mergeDirection(into.inbound, from.inbound);
  mergeDirection(into.outbound, from.outbound);
  mergeDirection(into.mailbox, from.mailbox);
  into.firstMs = minTime(into.firstMs, from.firstMs);
  into.lastMs = maxTime(into.lastMs, from.lastMs);
  addAll(into.mtas, from.mtas);
  addAll(into.services, from.services);
  for (const [hour, counts] of from.hourly) {
    const mine = into.hourly.get(hour);
    if (mine) addCounts(mine, counts);
    else into.hourly.set(hour, new Map(counts));
  }
  addCounts(into.counters, from.counters);
  return into;
}
