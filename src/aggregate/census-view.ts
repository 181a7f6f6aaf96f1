// Sessions → the census view. Pure and mergeable: `mergeViews(view(a), view(b))` equals `view(a ++ b)`, so
// files, byte ranges and worker threads can be counted apart and joined (DESIGN.md §3) — as long as no name is
// folded (MAX_UNKNOWN_SUITES, MAX_SERVICES, MAX_SPELLINGS): `b` cannot have folded any itself (it could not know
// the names of `a`), and the metrics of two names cut to the same 80-character label cannot be told apart when one
// of them is folded in the merge. The range census merges only views that fold nothing (`mergesUnfolded`). Memory
// is bounded by distinct peers and distinct protocol × cipher rows, never by the number of sessions.

import { isLegacyProtocol, rateHandshake } from '../ciphers/lookup.js';
import { certificateIndexOf } from '../dialects/certificate-trust.js';
import {
  isMailboxService,
  isUnknownClient,
  type Protocol,
  type Rating,
  type Session,
  type SessionOutcome,
} from '../model/types.js';
import { PeerTable } from './peer-table.js';
import { type MetricDirection, metricKey, parseMetricKey, sanitizeLabel, sessionMetrics } from './session-metrics.js';
import {
  addBucketCounts,
  bucketStart,
  coarser,
  MAX_TIME_BUCKETS,
  rebucket,
  type TimeUnit,
  withinBound,
} from './time-buckets.js';

export type { PeerStats } from './peer-table.js';

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
  /** Distinct peer addresses (which peers: PeerTable's spread rows). */
  peers: number;
  /** The row's position in its section's `spread` (rows are only ever added). */
  id: number;
  mtas: Set<string>;
  services: Set<string>;
  note: string | null;
}

export interface DirectionView {
  totals: Totals;
  /** Keyed by `protocol|iana-name` (or the logged name when the suite is not in the table). */
  spread: Map<string, SpreadRow>;
  /** Keyed by peer address. */
  peers: PeerTable;
  /**
   * The same peers apart per service (as the view names it), when the census was asked for them
   * (`CensusViewOptions.peersByService`; SMTP sections only): what-if judges each service's sessions under its own
   * settings (port 25 and submission; master.cf's). Null otherwise. At most MAX_SERVICES + 1 tables.
   */
  byService: Map<string, PeerTable> | null;
  /** Spread rows of names not in the suite table (at most MAX_UNKNOWN_SUITES, then they are folded). */
  unknownRows: number;
  /** Handshakes whose cipher name was folded into FOLDED_CIPHER (see there). */
  folded: number;
}

/**
 * Spread rows (protocol × name) of cipher names not in the suite table that a section keeps apart. A real server
 * negotiates a few dozen suites at most; a log that names hundreds of unknown ones is forged or corrupt (anyone who can write to syslog can log
 * `postfix/smtpd` lines), and one spread row, peer suite and metric per name would grow memory and the report with
 * the log. Later new names count as FOLDED_CIPHER, in the order they come (mergeViews folds in the same order).
 */
export const MAX_UNKNOWN_SUITES = 256;
export const FOLDED_CIPHER = '(other unknown names)';
/**
 * Services (the syslog name after its first `/`: `smtpd`, `submission/smtpd`, `postfix-out/smtp` …, or Dovecot's
 * `imap` …) a view keeps apart. A server has a handful; a forged log can name a new one per line (200,000 took
 * 400 MiB and a 59 MB report). Later new ones count as FOLDED_SERVICE, in the order they come, like cipher names.
 */
export const MAX_SERVICES = 64;
export const FOLDED_SERVICE = '(other services)';
/**
 * Spellings a spread row of a known suite keeps (OpenSSL's, GnuTLS's, IANA's … name for it: a few). Names are
 * matched ignoring case, so a forged log can spell one suite in millions of ways; later new spellings count under
 * the suite's IANA name, like folded names (`folded`).
 */
export const MAX_SPELLINGS = 16;
const FOLDED_NOTE = `more than ${MAX_UNKNOWN_SUITES} cipher names not in the suite table: the later ones are counted together here (a log that names this many is likely forged or corrupt)`;

export type HourCounts = Map<string, number>;

export interface CensusView {
  inbound: DirectionView;
  outbound: DirectionView;
  /** IMAP/POP3 logins (Dovecot): inbound, but never mixed into the SMTP figures. */
  mailbox: DirectionView;
  firstMs: number | null;
  lastMs: number | null;
  mtas: Set<string>;
  /** Services in the order they came (at most MAX_SERVICES, then FOLDED_SERVICE). */
  services: Set<string>;
  /** Whether a service was folded into FOLDED_SERVICE. */
  servicesFolded: boolean;
  /**
   * Start of a `timeUnit` (ms, UTC) → `section|protocol`, `section|failed`, `section|plaintext`, … → sessions,
   * where section is `inbound`, `outbound` or `mailbox` (IMAP/POP3 logins are kept apart here too).
   */
  timeBuckets: Map<number, HourCounts>;
  /** Hours, unless the sessions span more than MAX_TIME_BUCKETS of them (time-buckets.ts). */
  timeUnit: TimeUnit;
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

function emptyDirection(byService: boolean): DirectionView {
  return {
    totals: emptyTotals(),
    spread: new Map(),
    peers: new PeerTable(),
    byService: byService ? new Map() : null,
    unknownRows: 0,
    folded: 0,
  };
}

/**
 * Whether merging `views` in order into `into` keeps every name apart that one pass over all their sessions would:
 * none of them folded a name itself (it could not know the names before it), and no section ends up with more
 * names not in the suite table, or a known suite with more spellings, than it keeps; nor the view more services.
 * A range census merges only such views.
 */
export function mergesUnfolded(into: CensusView, views: readonly CensusView[]): boolean {
  const services = new Set(into.services);
  for (const v of views) {
    if (v.servicesFolded) return false;
    for (const service of v.services) services.add(service);
  }
  if (services.size > MAX_SERVICES) return false;
  for (const section of ['inbound', 'outbound', 'mailbox'] as const) {
    const names = new Set<string>();
    /** Spellings of each known suite's row. */
    const spellings = new Map<string, Set<string>>();
    for (const v of [into, ...views]) {
      if (v !== into && v[section].folded > 0) return false;
      for (const [key, row] of v[section].spread) {
        if (row.iana === null) names.add(key);
        else {
          const set = spellings.get(key) ?? new Set<string>();
          spellings.set(key, set);
          for (const spelling of row.spellings.keys()) set.add(spelling);
          if (set.size > MAX_SPELLINGS) return false;
        }
      }
    }
    if (names.size > MAX_UNKNOWN_SUITES) return false;
  }
  return true;
}

export interface CensusViewOptions {
  /** Keep each section's peers per service too (DirectionView.byService). */
  peersByService?: boolean;
}

export function emptyView(options: CensusViewOptions = {}): CensusView {
  const byService = options.peersByService === true;
  return {
    inbound: emptyDirection(byService),
    outbound: emptyDirection(byService),
    // (IMAP/POP3 services are all alike to what-if: TLS required. Most peers of a busy server are mailbox clients.)
    mailbox: emptyDirection(false),
    firstMs: null,
    lastMs: null,
    mtas: new Set(),
    services: new Set(),
    servicesFolded: false,
    timeBuckets: new Map(),
    timeUnit: 'hour',
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
// (log text is attacker-controlled); peers are rows of a typed array (peer-table.ts), which is most of the memory.

const MAX_MEMO = 4096;

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
 * The Prometheus counter key of a session: `metricKey` of `sessionMetrics(s, direction)` with sanitised labels,
 * memoised by the fields sessionMetrics reads (a property test holds the two together): direction (the session's
 * section), MTA, then service and suite for a handshake, the reason for a failure, nothing more for plaintext.
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

function counterKey(s: Session, suite: SuiteMemo | null, direction: MetricDirection): string | null {
  if (metricKeyCount >= MAX_MEMO * 4) return metricKeyOf(s, direction);
  let leaf: string;
  let tree = branch(branch(metricKeys, direction), s.mta);
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
    k = metricKeyOf(s, direction);
    tree.set(leaf, k);
    metricKeyCount++;
  }
  return k;
}

function metricKeyOf(s: Session, direction: MetricDirection): string | null {
  const m = sessionMetrics(s, direction);
  return m ? metricKey({ family: m.family, values: m.values.map(sanitizeLabel) }) : null;
}

export function addSession(view: CensusView, session: Session): void {
  let s = session;
  const dir = sectionOf(view, s);
  if (view.services.size >= MAX_SERVICES && !view.services.has(s.service)) {
    s = { ...s, service: FOLDED_SERVICE };
    view.servicesFolded = true;
  }
  let suite = s.handshake ? suiteMemo(s.handshake.protocol, s.handshake.cipher, s.handshake.iana) : null;
  // The session's spread row, looked up once for the fold checks and the handshake (this runs per session).
  let row = suite !== null ? dir.spread.get(suite.spreadKey) : undefined;
  if (suite !== null && mustFold(dir, suite, row)) {
    // The session as if its server had logged FOLDED_CIPHER: spread, peer suites and metrics alike.
    const { iana: _named, ...logged } = s.handshake!;
    s = { ...s, handshake: { ...logged, cipher: FOLDED_CIPHER } };
    suite = suiteMemo(logged.protocol, FOLDED_CIPHER, undefined);
    row = dir.spread.get(suite.spreadKey);
    dir.folded++;
  } else if (suite !== null && mustRespell(suite, row, s.handshake!.cipher)) {
    // A known suite in one spelling more than its row keeps: as if logged under its IANA name.
    const iana = suite.rated.iana!;
    const { iana: _named, ...logged } = s.handshake!;
    s = { ...s, handshake: { ...logged, cipher: iana } };
    suite = suiteMemo(logged.protocol, iana, undefined);
    dir.folded++;
  }
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
  if (s.startMs !== null) {
    if (view.firstMs === null || s.startMs < view.firstMs) view.firstMs = s.startMs;
    if (view.lastMs === null || s.startMs > view.lastMs) view.lastMs = s.startMs;
    const start =
      view.timeUnit === 'hour' ? Math.floor(s.startMs / HOUR_MS) * HOUR_MS : bucketStart(s.startMs, view.timeUnit);
    let counts = view.timeBuckets.get(start);
    if (!counts) {
      counts = new Map();
      view.timeBuckets.set(start, counts);
      if (view.timeBuckets.size > MAX_TIME_BUCKETS) {
        const bound = withinBound(view.timeBuckets, view.timeUnit);
        view.timeBuckets = bound.buckets;
        view.timeUnit = bound.unit;
        counts = view.timeBuckets.get(bucketStart(s.startMs, view.timeUnit))!;
      }
    }
    const label = s.outcome === 'tls' ? (s.handshake?.protocol ?? 'unknown') : s.outcome;
    const k = hourKey(dir === view.mailbox ? 'mailbox' : s.direction, label);
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  // One lookup of the peer (the biggest table) serves both.
  const i = s.peer ? dir.peers.slot(s.peer) : -1;
  if (suite !== null) addHandshake(dir, s, suite, i, row);
  if (i >= 0) addPeer(dir.peers, i, s, suite);
  if (i >= 0 && dir.byService !== null) {
    let table = dir.byService.get(s.service);
    if (table === undefined) {
      table = new PeerTable();
      dir.byService.set(s.service, table);
    }
    addPeer(table, table.slot(s.peer!), s, suite);
  }
  // (The section, decided by the service as logged: a folded service name is no longer an IMAP/POP3 one.)
  const k = counterKey(s, suite, dir === view.mailbox ? 'mailbox' : s.direction);
  if (k !== null) view.counters.set(k, (view.counters.get(k) ?? 0) + 1);
}

/** A handshake of a name not in the suite table, new to the section, when it already has MAX_UNKNOWN_SUITES. */
function mustFold(dir: DirectionView, suite: SuiteMemo, row: SpreadRow | undefined): boolean {
  return suite.rated.iana === null && dir.unknownRows >= MAX_UNKNOWN_SUITES && row === undefined;
}

/** A handshake of a known suite in a spelling new to its row, when the row already has MAX_SPELLINGS. */
function mustRespell(suite: SuiteMemo, row: SpreadRow | undefined, cipher: string): boolean {
  if (suite.rated.iana === null) return false;
  return row !== undefined && row.spellings.size >= MAX_SPELLINGS && !row.spellings.has(cipher);
}

function newRow(dir: DirectionView, fields: Omit<SpreadRow, 'id' | 'peers'>): SpreadRow {
  const row: SpreadRow = { ...fields, peers: 0, id: dir.spread.size };
  if (row.iana === null) dir.unknownRows++;
  return row;
}

/** Counts the handshake in its spread row (`found`: the row, as addSession looked it up; undefined: a new one). */
function addHandshake(
  dir: DirectionView,
  s: Session,
  suite: SuiteMemo,
  peer: number,
  found: SpreadRow | undefined,
): void {
  const h = s.handshake!;
  const rated = suite.rated;
  let row = found;
  if (!row) {
    row = newRow(dir, {
      protocol: h.protocol,
      iana: rated.iana,
      spellings: new Map(),
      rating: rated.rating,
      cipherRating: rated.cipherRating,
      protocolRating: rated.protocolRating,
      legacy: suite.legacy,
      count: 0,
      unknownClients: 0,
      mtas: new Set(),
      services: new Set(),
      note: h.cipher === FOLDED_CIPHER ? FOLDED_NOTE : (h.note ?? null),
    });
    dir.spread.set(suite.spreadKey, row);
  }
  row.count++;
  row.spellings.set(h.cipher, (row.spellings.get(h.cipher) ?? 0) + 1);
  if (isUnknownClient(s.peer)) row.unknownClients++;
  if (peer >= 0 && dir.peers.joinRow(peer, row.id)) row.peers++;
  row.mtas.add(s.mta);
  row.services.add(s.service);
}

function addPeer(peers: PeerTable, i: number, s: Session, suite: SuiteMemo | null): void {
  const tls = s.outcome === 'tls' && suite !== null;
  const failed = !tls && s.outcome === 'failed';
  peers.session(
    i,
    s.mta,
    s.service,
    s.startMs,
    s.messages,
    s.outcome,
    tls ? suite.suiteKey : null,
    tls ? certificateIndexOf(s.handshake!.trust) : -1,
    failed ? (s.failure?.reason ?? 'other') : null,
    failed && s.failure ? s.failure.detail : null,
    s.fallback === true,
  );
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

/**
 * Merges `from` into `into`, its services renamed as `services` says (folded ones); returns the peer suite keys it
 * folded (`protocol|cipher` → the folded key).
 */
function mergeDirection(
  into: DirectionView,
  from: DirectionView,
  services: ReadonlyMap<string, string>,
): Map<string, string> {
  const renamed = (set: Set<string>) =>
    services.size === 0 ? set : new Set([...set].map((v) => services.get(v) ?? v));
  const t = into.totals;
  for (const k of Object.keys(t) as (keyof Totals)[]) t[k] += from.totals[k];
  into.folded += from.folded;
  /** Their row id → ours. */
  const rowIds: number[] = [];
  const rows: SpreadRow[] = [...into.spread.values()];
  /** Peer suite keys (`protocol|cipher`) of rows folded here → the folded key. */
  const foldedSuites = new Map<string, string>();
  /** Peer suite keys of known suites' spellings folded here → the IANA spelling. */
  const respelled = new Map<string, string>();
  for (const [theirKey, theirs] of from.spread) {
    let key = theirKey;
    let r = theirs;
    // (Their own folded row is already folded, and counted in their `folded`.)
    const foldedRow = key === `${r.protocol}|${FOLDED_CIPHER}`;
    if (r.iana === null && !foldedRow && into.unknownRows >= MAX_UNKNOWN_SUITES && !into.spread.has(key)) {
      // One pass would have folded this name, new here once the section is full (in `from`'s order, which is the
      // order its names came in).
      key = `${r.protocol}|${FOLDED_CIPHER}`;
      for (const spelling of r.spellings.keys()) foldedSuites.set(`${r.protocol}|${spelling}`, key);
      const rated = rateHandshake(r.protocol, FOLDED_CIPHER);
      r = {
        ...r,
        rating: rated.rating,
        cipherRating: rated.cipherRating,
        protocolRating: rated.protocolRating,
        spellings: new Map([[FOLDED_CIPHER, r.count]]),
        note: FOLDED_NOTE,
      };
      into.folded += r.count;
    }
    let mine = into.spread.get(key);
    if (!mine) {
      mine = newRow(into, {
        ...r,
        spellings: new Map(r.spellings),
        mtas: new Set(r.mtas),
        services: new Set(renamed(r.services)),
      });
      into.spread.set(key, mine);
      rows.push(mine);
    } else {
      mine.count += r.count;
      mine.unknownClients += r.unknownClients;
      for (const [spelling, n] of r.spellings) {
        let as = spelling;
        if (mine.iana !== null && !mine.spellings.has(spelling) && mine.spellings.size >= MAX_SPELLINGS) {
          // As addSession respells it (mustRespell), in their order.
          as = mine.iana;
          respelled.set(`${r.protocol}|${spelling}`, `${r.protocol}|${as}`);
          into.folded += n;
        }
        mine.spellings.set(as, (mine.spellings.get(as) ?? 0) + n);
      }
      addAll(mine.mtas, r.mtas);
      addAll(mine.services, renamed(r.services));
    }
    rowIds[r.id] = mine.id;
  }
  const renamedNames = {
    suites: respelled.size === 0 ? foldedSuites : new Map([...foldedSuites, ...respelled]),
    services,
  };
  into.peers.merge(
    from.peers,
    (theirs) => rowIds[theirs]!,
    (row) => {
      rows[row]!.peers++;
    },
    renamedNames,
  );
  if (into.byService !== null && from.byService !== null) {
    // (No spread rows here: a service's table only counts.)
    for (const [service, table] of from.byService) {
      const name = services.get(service) ?? service;
      let mine = into.byService.get(name);
      if (mine === undefined) {
        mine = new PeerTable();
        into.byService.set(name, mine);
      }
      mine.merge(
        table,
        (theirs) => theirs,
        () => {},
        renamedNames,
      );
    }
  }
  return foldedSuites;
}

/** Adds `from` into `into` (mutating `into`) and returns it. */
export function mergeViews(into: CensusView, from: CensusView): CensusView {
  // Their services new here once MAX_SERVICES are, in the order they came: folded, as one pass would.
  const services = new Map<string, string>();
  for (const service of from.services) {
    if (into.services.has(service)) continue;
    if (into.services.size >= MAX_SERVICES) services.set(service, FOLDED_SERVICE);
    else into.services.add(service);
  }
  if (services.size > 0) into.services.add(FOLDED_SERVICE);
  into.servicesFolded ||= from.servicesFolded || services.size > 0;
  const folded = {
    inbound: mergeDirection(into.inbound, from.inbound, services),
    outbound: mergeDirection(into.outbound, from.outbound, services),
    mailbox: mergeDirection(into.mailbox, from.mailbox, services),
  };
  into.firstMs = minTime(into.firstMs, from.firstMs);
  into.lastMs = maxTime(into.lastMs, from.lastMs);
  addAll(into.mtas, from.mtas);
  // In the coarser unit of the two, then the finest that keeps within the bound: one pass's unit (time-buckets.ts).
  const unit = coarser(into.timeUnit, from.timeUnit);
  const mine = unit === into.timeUnit ? into.timeBuckets : rebucket(into.timeBuckets, unit);
  addBucketCounts(mine, unit === from.timeUnit ? from.timeBuckets : rebucket(from.timeBuckets, unit));
  const bound = withinBound(mine, unit);
  into.timeBuckets = bound.buckets;
  into.timeUnit = bound.unit;
  if (folded.inbound.size + folded.outbound.size + folded.mailbox.size + services.size === 0) {
    addCounts(into.counters, from.counters);
  } else addCounts(into.counters, foldCounters(from.counters, folded, services));
  return into;
}

/**
 * The handshake counters of cipher names and services folded in a merge, under the folded names (as addSession
 * would have counted them).
 */
function foldCounters(
  counters: Map<string, number>,
  folded: Record<'inbound' | 'outbound' | 'mailbox', Map<string, string>>,
  services: ReadonlyMap<string, string>,
): Map<string, number> {
  const serviceLabels = new Set([...services.keys()].map(sanitizeLabel));
  const labels = new Map<string, Set<string>>(
    Object.entries(folded).map(([section, suites]) => [
      section,
      new Set(
        [...suites.keys()].map(
          (k) => `${k.slice(0, k.indexOf('|'))}\u0000${sanitizeLabel(k.slice(k.indexOf('|') + 1))}`,
        ),
      ),
    ]),
  );
  const out = new Map<string, number>();
  for (const [key, n] of counters) {
    const m = parseMetricKey(key);
    let k = key;
    if (m.family === 'handshakes') {
      // (The direction label is the section.)
      const [section, , service, protocol, cipher] = m.values as [string, string, string, Protocol, string];
      const values = [...m.values];
      if (labels.get(section)?.has(`${protocol}\u0000${cipher}`)) {
        values[4] = FOLDED_CIPHER;
        values[5] = rateHandshake(protocol, FOLDED_CIPHER).rating;
      }
      if (serviceLabels.has(service)) values[2] = FOLDED_SERVICE;
      k = metricKey({ family: m.family, values });
    }
    out.set(k, (out.get(k) ?? 0) + n);
  }
  return out;
}

/** A view that came through structured clone (from a range census's worker thread): peer tables revived. */
export function reviveView(cloned: CensusView): CensusView {
  for (const d of [cloned.inbound, cloned.outbound, cloned.mailbox]) {
    d.peers = PeerTable.revive(d.peers);
    if (d.byService !== null) for (const [service, t] of d.byService) d.byService.set(service, PeerTable.revive(t));
  }
  return cloned;
}

/** The buffers to move with a view posted to another thread (the peer tables' rows). */
export function viewTransferables(view: CensusView): ArrayBuffer[] {
  return [view.inbound, view.outbound, view.mailbox].flatMap((d) => [
    ...d.peers.transferables(),
    ...[...(d.byService?.values() ?? [])].flatMap((t) => t.transferables()),
  ]);
}
