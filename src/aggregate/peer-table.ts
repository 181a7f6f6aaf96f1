// Per-peer statistics as rows of a typed array instead of one object per peer.
//
// Why: a census meets a new client address every few KB of log (bots, scanners, IMAP users roaming between
// networks): genlog's 1 GiB log has half a million. As objects (a PeerStats, its Peer, the address string, a Map
// entry, a Set entry per spread row) they took about 450 bytes each, were most of the heap and most of the time
// of every major garbage collection. Here a peer is a row index: an IPv4 address is a 32-bit key in an
// open-addressing table, and its row of 16 32-bit fields (one cache line) holds the key, its counters and what
// most peers have one of (suite, failure reason, MTA, service, spread row) as a small integer, with a side map
// only for the few peers that have more.
// Memory stays bounded by the number of distinct peers, at a fraction of the cost per peer (DESIGN.md §3).
// Rows live in fixed pages of PAGE_ROWS, added as the table fills: a doubling array would carry up to half of
// its rows unused and, while growing, hold the old copy and the new one at once (at 1 GiB of log that
// transient was the census's peak memory).
//
// Readers get `PeerStats` objects, made on demand (`get`, `values`); their collections may be shared between
// peers and must not be written.

import { CERTIFICATE_TRUSTS } from '../dialects/certificate-trust.js';
import type { CertificateTrust, FailureReason, Peer } from '../model/types.js';

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
  suites: ReadonlyMap<string, number>;
  reasons: ReadonlyMap<FailureReason, number>;
  lastFailureDetail: string | null;
  /** Handshakes by what they showed of the peer's certificate: their total is `tls`. */
  certificates: ReadonlyMap<CertificateTrust, number>;
  mtas: ReadonlySet<string>;
  services: ReadonlySet<string>;
}

/** The counters of a peer, in the order of their slots. */
export const Count = {
  Sessions: 0,
  Messages: 1,
  Tls: 2,
  Failed: 3,
  Plaintext: 4,
  NoCommand: 5,
  PlaintextMessages: 6,
  FallbackSessions: 7,
  FallbackMessages: 8,
} as const;
export type Count = (typeof Count)[keyof typeof Count];
const COUNTS = 9;

/** A one-of column's value when the peer has none yet, or more than one (then its side map holds them all). */
const NONE = -1;
const MANY = -2;

// A peer's row: 16 × 32 bits, one cache line, so that a session touches one line (and its times) instead of
// one per column. The counters are signed 32-bit: a peer with two billion sessions would wrap.
const ROW = 16;
const F_KEY = 0; // the IPv4 key (its 32 bits)
const F_FLAGS = 1;
const F_COUNTS = 2; // COUNTS counters, in the order of Count
const F_SUITE = 11;
const F_REASON = 12;
const F_MTA = 13;
const F_SERVICE = 14;
const F_ROW = 15;
/** A fresh row: no key, no flags, zero counts, no suite, reason, MTA, service or spread row. */
const EMPTY_ROW = new Int32Array(ROW).fill(NONE).fill(0, 0, F_SUITE);

const FLAG_V4 = 1;
const FLAG_NAME_NOT_LOGGED = 2;
/**
 * Bits 2–4 of the flags: what the peer's handshakes showed of its certificate, one-of like the other columns
 * (0 none yet, 1 + its index in CERTIFICATE_TRUSTS, CERT_MANY: several, counted in a side map).
 */
const CERT_SHIFT = 2;
const CERT_BITS = 7 << CERT_SHIFT;
const CERT_MANY = 7;

/** Rows per page: 4096 × 64 bytes = 256 KiB. */
const PAGE_BITS = 12;
const PAGE_ROWS = 1 << PAGE_BITS;
const PAGE_MASK = PAGE_ROWS - 1;
/** A fresh page: every row EMPTY_ROW. */
const EMPTY_PAGE = new Int32Array(PAGE_ROWS * ROW);
for (let r = 0; r < PAGE_ROWS; r++) EMPTY_PAGE.set(EMPTY_ROW, r * ROW);

/** Hash slots at first; there are always at least twice as many slots as peers (load ≤ 1/2). */
const INITIAL_SLOTS = 512;

/**
 * The 32-bit key of an IPv4 address in canonical dotted-quad form (no leading zeros, so that the key gives the
 * same string back), or -1 for anything else (IPv6, unix sockets, odd spellings), which is keyed by string.
 */
export function ipv4Key(ip: string): number {
  const n = ip.length;
  if (n < 7 || n > 15) return -1;
  let key = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < n; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || dots === 3) return -1;
      key = key * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && part === 0) return -1; // a leading zero
      part = part * 10 + (c - 48);
      if (part > 255) return -1;
      digits++;
    } else return -1;
  }
  if (dots !== 3 || digits === 0) return -1;
  return key * 256 + part;
}

function ipv4String(key: number): string {
  return `${key >>> 24}.${(key >>> 16) & 255}.${(key >>> 8) & 255}.${key & 255}`;
}

/** Strings to small integers and back, per table (suite keys, reasons, MTAs, services). */
class Interner {
  private readonly ids = new Map<string, number>();
  readonly values: string[] = [];

  id(value: string): number {
    let id = this.ids.get(value);
    if (id === undefined) {
      id = this.values.length;
      this.values.push(value);
      this.ids.set(value, id);
    }
    return id;
  }
}

/** Read-only one-entry collections, shared by every peer with just that one value (most peers). */
const ONE_COUNT = new Map<string, Map<string, number>>();
const ONE_VALUE = new Map<string, Set<string>>();
const MAX_SHARED = 4096;
const EMPTY_COUNTS: ReadonlyMap<string, number> = new Map();

function oneCount(key: string, n: number): ReadonlyMap<string, number> {
  if (n !== 1) return new Map([[key, n]]);
  let m = ONE_COUNT.get(key);
  if (m === undefined) {
    m = new Map([[key, 1]]);
    if (ONE_COUNT.size < MAX_SHARED) ONE_COUNT.set(key, m);
  }
  return m;
}

function oneValue(value: string): ReadonlySet<string> {
  let s = ONE_VALUE.get(value);
  if (s === undefined) {
    s = new Set([value]);
    if (ONE_VALUE.size < MAX_SHARED) ONE_VALUE.set(value, s);
  }
  return s;
}

/** A field holding one interned value per peer, with a side map of counts for peers that have several. */
class CountedField {
  readonly many = new Map<number, Map<string, number>>();

  constructor(private readonly field: number) {}

  /**
   * Adds `n` to `value` of peer `i` (its row at `base` of `data`), whose total over all values is `total`
   * before the add.
   */
  add(data: Int32Array, base: number, i: number, value: string, n: number, total: number, interner: Interner): void {
    const at = base + this.field;
    const id = data[at]!;
    if (id === NONE) {
      data[at] = interner.id(value);
      return;
    }
    if (id === MANY) {
      const m = this.many.get(i)!;
      m.set(value, (m.get(value) ?? 0) + n);
      return;
    }
    const mine = interner.values[id]!;
    if (mine === value) return;
    data[at] = MANY;
    this.many.set(
      i,
      new Map([
        [mine, total],
        [value, n],
      ]),
    );
  }

  /** Peer `i`'s values and counts, given its total (the count of its one value, when it has one). */
  read(data: Int32Array, base: number, i: number, total: number, interner: Interner): ReadonlyMap<string, number> {
    const id = data[base + this.field]!;
    if (id === NONE) return EMPTY_COUNTS;
    if (id === MANY) return this.many.get(i)!;
    return oneCount(interner.values[id]!, total);
  }
}

/**
 * The certificate column: one kind per peer in the flags' bits (most peers show one), and per-kind counts in a
 * side map for peers that showed several. Counts, not a set, so that what-if can say how many sessions a policy
 * checking certificates would stop.
 */
class CertificateField {
  readonly many = new Map<number, Int32Array>();

  /** Adds `n` handshakes of kind `kind` to peer `i`, whose handshakes numbered `total` before the add. */
  add(data: Int32Array, base: number, i: number, kind: number, n: number, total: number): void {
    const at = base + F_FLAGS;
    const mine = (data[at]! & CERT_BITS) >> CERT_SHIFT;
    if (mine === kind + 1) return;
    if (mine === 0) {
      data[at] = data[at]! | ((kind + 1) << CERT_SHIFT);
      return;
    }
    if (mine === CERT_MANY) {
      this.many.get(i)![kind]! += n;
      return;
    }
    const counts = new Int32Array(CERTIFICATE_TRUSTS.length);
    counts[mine - 1] = total;
    counts[kind] = n;
    this.many.set(i, counts);
    data[at] = data[at]! | CERT_BITS;
  }

  /** Peer `i`'s handshakes by kind, given their total (the count of its one kind, when it has one). */
  read(data: Int32Array, base: number, i: number, total: number): ReadonlyMap<CertificateTrust, number> {
    const mine = (data[base + F_FLAGS]! & CERT_BITS) >> CERT_SHIFT;
    if (mine === 0) return EMPTY_COUNTS as ReadonlyMap<CertificateTrust, number>;
    if (mine !== CERT_MANY)
      return oneCount(CERTIFICATE_TRUSTS[mine - 1]!, total) as ReadonlyMap<CertificateTrust, number>;
    const out = new Map<CertificateTrust, number>();
    const counts = this.many.get(i)!;
    for (let k = 0; k < counts.length; k++) if (counts[k]! > 0) out.set(CERTIFICATE_TRUSTS[k]!, counts[k]!);
    return out;
  }
}

/** A field holding one small integer per peer, with a side map of sets for peers that have several. */
class SetField {
  readonly many = new Map<number, Set<number>>();

  constructor(private readonly field: number) {}

  /** Adds `id` to the set of peer `i` (its row at `base` of `data`); true if it was not there. */
  add(data: Int32Array, base: number, i: number, id: number): boolean {
    const at = base + this.field;
    const mine = data[at]!;
    if (mine === id) return false;
    if (mine === NONE) {
      data[at] = id;
      return true;
    }
    if (mine === MANY) {
      const set = this.many.get(i)!;
      if (set.has(id)) return false;
      set.add(id);
      return true;
    }
    data[at] = MANY;
    this.many.set(i, new Set([mine, id]));
    return true;
  }

  *read(data: Int32Array, base: number, i: number): Generator<number> {
    const mine = data[base + this.field]!;
    if (mine === NONE) return;
    if (mine === MANY) yield* this.many.get(i)!;
    else yield mine;
  }

  readValues(data: Int32Array, base: number, i: number, interner: Interner): ReadonlySet<string> {
    const mine = data[base + this.field]!;
    if (mine === NONE) return new Set();
    if (mine !== MANY) return oneValue(interner.values[mine]!);
    const out = new Set<string>();
    for (const id of this.many.get(i)!) out.add(interner.values[id]!);
    return out;
  }
}

const NOT_RENAMED = { suites: new Map<string, string>(), services: new Map<string, string>() };

export class PeerTable {
  /** Peers in the table. */
  size = 0;
  /** Open addressing over IPv4 keys, two entries per slot: the key, and its row + 1 (0: empty slot). */
  private slots = new Int32Array(INITIAL_SLOTS * 2);
  /** 32 − log2(slot count): the hash takes the top bits of the product. */
  private shift = 32 - Math.log2(INITIAL_SLOTS);
  /** Rows of ROW fields, PAGE_ROWS per page: row i is at `(i & PAGE_MASK) * ROW` of page `i >> PAGE_BITS`. */
  private readonly pages: Int32Array[] = [];
  /** First and last seen (ms), two per row, in pages like the rows; NaN when unknown. */
  private readonly timePages: Float64Array[] = [];
  /** Addresses that are not canonical IPv4, by string, and the other way. */
  private readonly byString = new Map<string, number>();
  private readonly stringOf = new Map<number, string>();
  private readonly hosts: (string | null)[] = [];
  private readonly strings = new Interner();
  /** Handshakes per suite (`protocol|cipher-as-logged`): their total is the Tls count. */
  private readonly suites = new CountedField(F_SUITE);
  /** Failed sessions per reason: their total is the Failed count. */
  private readonly reasons = new CountedField(F_REASON);
  /** Handshakes by what they showed of the certificate: their total is the Tls count too. */
  private readonly certificates = new CertificateField();
  private readonly mtas = new SetField(F_MTA);
  private readonly services = new SetField(F_SERVICE);
  /** Spread rows (their ids in the section) the peer had a handshake in: a row's distinct peers. */
  private readonly rows = new SetField(F_ROW);
  private readonly details = new Map<number, string>();
  /** The last MTA and service interned, and their ids: the same few values come again and again. */
  private lastMta = '';
  private lastMtaId = -1;
  private lastService = '';
  private lastServiceId = -1;

  /**
   * A table that came through structured clone (a range census's worker thread, range-census.ts): its fields
   * arrive as plain data, the prototypes of the table and of its parts are put back.
   */
  static revive(cloned: object): PeerTable {
    const t = Object.setPrototypeOf(cloned, PeerTable.prototype) as PeerTable;
    Object.setPrototypeOf(t.strings, Interner.prototype);
    for (const f of [t.suites, t.reasons]) Object.setPrototypeOf(f, CountedField.prototype);
    Object.setPrototypeOf(t.certificates, CertificateField.prototype);
    for (const f of [t.mtas, t.services, t.rows]) Object.setPrototypeOf(f, SetField.prototype);
    return t;
  }

  /** The buffers to move (not copy) when the table is posted to another thread; unusable here afterwards. */
  transferables(): ArrayBuffer[] {
    const out = [this.slots.buffer as ArrayBuffer];
    for (const p of this.pages) out.push(p.buffer as ArrayBuffer);
    for (const p of this.timePages) out.push(p.buffer as ArrayBuffer);
    return out;
  }

  // ------------------------------------------------------------------------------------------ keys

  /** The row of the peer with this address, or -1. */
  find(ip: string): number {
    const key = ipv4Key(ip);
    return key < 0 ? (this.byString.get(bounded(ip, MAX_ADDRESS_CHARS)) ?? -1) : this.findV4(key);
  }

  private findV4(key: number): number {
    const slots = this.slots;
    const mask = (slots.length >> 1) - 1;
    const k = key | 0;
    for (let h = hash(key, this.shift); ; h = (h + 1) & mask) {
      const at = slots[h * 2 + 1]!;
      if (at === 0) return -1;
      if (slots[h * 2] === k) return at - 1;
    }
  }

  /** The row of this peer, added (with its name) when new; a later name fills in a peer first seen unnamed. */
  slot(peer: Peer): number {
    const key = ipv4Key(peer.ip);
    let i = key < 0 ? (this.byString.get(bounded(peer.ip, MAX_ADDRESS_CHARS)) ?? -1) : this.findV4(key);
    if (i < 0) {
      i = this.size++;
      if ((i & PAGE_MASK) === 0) this.addPage();
      const page = this.pages[i >> PAGE_BITS]!;
      const base = (i & PAGE_MASK) * ROW;
      if (key < 0) {
        const ip = ownString(bounded(peer.ip, MAX_ADDRESS_CHARS));
        this.byString.set(ip, i);
        this.stringOf.set(i, ip);
      } else {
        page[base + F_KEY] = key | 0;
        page[base + F_FLAGS] = FLAG_V4;
        if (this.size * 2 > this.slots.length >> 1) this.rehash();
        this.place(key, i);
      }
      this.hosts.push(peer.host === null ? null : ownString(bounded(peer.host, MAX_HOST_CHARS)));
      if (peer.nameLogged === false) page[base + F_FLAGS]! |= FLAG_NAME_NOT_LOGGED;
    } else if (peer.host !== null && this.hosts[i] === null) {
      // (peer.host first: most sessions name no host, and hosts[i] is a cache miss of its own)
      this.hosts[i] = ownString(bounded(peer.host, MAX_HOST_CHARS));
      const page = this.pages[i >> PAGE_BITS]!;
      const base = (i & PAGE_MASK) * ROW;
      if (peer.nameLogged === false) page[base + F_FLAGS]! |= FLAG_NAME_NOT_LOGGED;
      else page[base + F_FLAGS]! &= ~FLAG_NAME_NOT_LOGGED;
    }
    return i;
  }

  private addPage(): void {
    this.pages.push(EMPTY_PAGE.slice());
    this.timePages.push(new Float64Array(PAGE_ROWS * 2).fill(Number.NaN));
  }

  private place(key: number, i: number): void {
    const slots = this.slots;
    const mask = (slots.length >> 1) - 1;
    let h = hash(key, this.shift);
    while (slots[h * 2 + 1] !== 0) h = (h + 1) & mask;
    slots[h * 2] = key | 0;
    slots[h * 2 + 1] = i + 1;
  }

  /** Twice the slots, to keep the load at most 1/2; only the hash is rebuilt, rows stay where they are. */
  private rehash(): void {
    const old = this.slots;
    const count = old.length; // twice the old slot count
    this.slots = new Int32Array(count * 2);
    this.shift = 32 - Math.log2(count);
    for (let h = 0; h < old.length; h += 2) {
      if (old[h + 1] !== 0) this.place(old[h]! >>> 0, old[h + 1]! - 1);
    }
  }

  // --------------------------------------------------------------------------------------- writing

  count(i: number, field: Count, n = 1): void {
    this.pages[i >> PAGE_BITS]![(i & PAGE_MASK) * ROW + F_COUNTS + field]! += n;
  }

  seen(i: number, ms: number): void {
    const times = this.timePages[i >> PAGE_BITS]!;
    const at = (i & PAGE_MASK) * 2;
    if (!(ms >= times[at]!)) times[at] = ms; // NaN compares false: the first time seen
    if (!(ms <= times[at + 1]!)) times[at + 1] = ms;
  }

  /** A handshake with this suite, and `certificate` (an index in CERTIFICATE_TRUSTS); counts Tls. */
  handshake(i: number, suiteKey: string, certificate: number, n = 1): void {
    const page = this.pages[i >> PAGE_BITS]!;
    const base = (i & PAGE_MASK) * ROW;
    this.certificates.add(page, base, i, certificate, n, page[base + F_COUNTS + Count.Tls]!);
    this.addSuite(i, suiteKey, n);
  }

  /** A failed session for this reason; counts Failed. */
  failure(i: number, reason: FailureReason, detail: string | null, n = 1): void {
    const page = this.pages[i >> PAGE_BITS]!;
    const base = (i & PAGE_MASK) * ROW;
    const at = base + F_COUNTS + Count.Failed;
    this.reasons.add(page, base, i, reason, n, page[at]!, this.strings);
    page[at]! += n;
    if (detail !== null) this.details.set(i, ownString(bounded(detail, MAX_DETAIL_CHARS)));
  }

  /** Handshakes with this suite whose certificates are counted already (`handshake`, merge); counts Tls. */
  private addSuite(i: number, suiteKey: string, n: number): void {
    const page = this.pages[i >> PAGE_BITS]!;
    const base = (i & PAGE_MASK) * ROW;
    const at = base + F_COUNTS + Count.Tls;
    this.suites.add(page, base, i, suiteKey, n, page[at]!, this.strings);
    page[at]! += n;
  }

  /** Another table's certificate counts for peer `i`, before their handshakes are counted (addSuite). */
  private mergeCertificates(i: number, counts: ReadonlyMap<CertificateTrust, number>): void {
    const page = this.pages[i >> PAGE_BITS]!;
    const base = (i & PAGE_MASK) * ROW;
    let total = page[base + F_COUNTS + Count.Tls]!;
    for (const [kind, n] of counts) {
      this.certificates.add(page, base, i, CERTIFICATE_TRUSTS.indexOf(kind), n, total);
      total += n;
    }
  }

  mta(i: number, mta: string): void {
    this.mtas.add(this.pages[i >> PAGE_BITS]!, (i & PAGE_MASK) * ROW, i, this.strings.id(mta));
  }

  service(i: number, service: string): void {
    this.services.add(this.pages[i >> PAGE_BITS]!, (i & PAGE_MASK) * ROW, i, this.strings.id(service));
  }

  /**
   * One session of peer `i` (the hot path: one call instead of one per counter). `suiteKey` and `certificate` (an
   * index in CERTIFICATE_TRUSTS) for a handshake, `reason` for a failure; `fallback` for plaintext that followed a
   * failed handshake.
   */
  session(
    i: number,
    mta: string,
    service: string,
    startMs: number | null,
    messages: number,
    outcome: string,
    suiteKey: string | null,
    certificate: number,
    reason: FailureReason | null,
    detail: string | null,
    fallback: boolean,
  ): void {
    const strings = this.strings;
    const page = this.pages[i >> PAGE_BITS]!;
    const base = (i & PAGE_MASK) * ROW;
    this.mtas.add(page, base, i, mta === this.lastMta ? this.lastMtaId : this.mtaId(mta));
    this.services.add(page, base, i, service === this.lastService ? this.lastServiceId : this.serviceId(service));
    const c = base + F_COUNTS;
    page[c + Count.Sessions]! += 1;
    page[c + Count.Messages]! += messages;
    if (startMs !== null) this.seen(i, startMs);
    if (suiteKey !== null) {
      this.certificates.add(page, base, i, certificate, 1, page[c + Count.Tls]!);
      this.suites.add(page, base, i, suiteKey, 1, page[c + Count.Tls]!, strings);
      page[c + Count.Tls]! += 1;
    } else if (reason !== null) {
      this.reasons.add(page, base, i, reason, 1, page[c + Count.Failed]!, strings);
      page[c + Count.Failed]! += 1;
      if (detail !== null) this.details.set(i, ownString(bounded(detail, MAX_DETAIL_CHARS)));
    } else if (outcome === 'plaintext') {
      page[c + Count.Plaintext]! += 1;
      page[c + Count.PlaintextMessages]! += messages;
      if (fallback) {
        page[c + Count.FallbackSessions]! += 1;
        page[c + Count.FallbackMessages]! += messages;
      }
    } else if (outcome === 'no-command') page[c + Count.NoCommand]! += 1;
  }

  private mtaId(mta: string): number {
    this.lastMta = mta;
    this.lastMtaId = this.strings.id(mta);
    return this.lastMtaId;
  }

  private serviceId(service: string): number {
    this.lastService = service;
    this.lastServiceId = this.strings.id(service);
    return this.lastServiceId;
  }

  /** Puts the peer into spread row `rowId`; true if it was not in it (the row gains a distinct peer). */
  joinRow(i: number, rowId: number): boolean {
    return this.rows.add(this.pages[i >> PAGE_BITS]!, (i & PAGE_MASK) * ROW, i, rowId);
  }

  /**
   * Adds another table's peers (counters, suites, reasons, names, times); spread rows through `rowId`, and suite
   * keys and services in `renamed` under their new names (names the merge folded, census-view.ts).
   */
  merge(
    from: PeerTable,
    rowId: (theirs: number) => number,
    joined: (row: number) => void,
    renamed: { suites: ReadonlyMap<string, string>; services: ReadonlyMap<string, string> } = NOT_RENAMED,
  ): void {
    // Their interned ids → ours (which ids a string gets is never seen outside the table).
    const ids = new Int32Array(from.strings.values.length).fill(-1);
    const idOf = (theirs: number): number => {
      let id = ids[theirs]!;
      if (id < 0) ids[theirs] = id = this.strings.id(from.strings.values[theirs]!);
      return id;
    };
    for (let j = 0; j < from.size; j++) {
      const theirs = from.pages[j >> PAGE_BITS]!;
      const base = (j & PAGE_MASK) * ROW;
      const c = base + F_COUNTS;
      const suites = () => from.suites.read(theirs, base, j, theirs[c + Count.Tls]!, from.strings);
      const keep =
        (renamed.suites.size === 0 || ![...suites().keys()].some((k) => renamed.suites.has(k))) &&
        (renamed.services.size === 0 ||
          ![...from.services.readValues(theirs, base, j, from.strings)].some((v) => renamed.services.has(v)));
      if (keep && theirs[base + F_FLAGS]! & FLAG_V4 && this.findV4(theirs[base + F_KEY]! >>> 0) < 0) {
        this.copyNew(from, j, idOf, rowId, joined);
        continue;
      }
      const i = this.slot(from.peerOf(j));
      for (let f = 0; f < COUNTS; f++) {
        if (f === Count.Tls || f === Count.Failed) continue;
        this.count(i, f as Count, theirs[c + f]!);
      }
      const times = from.timePages[j >> PAGE_BITS]!;
      const t = (j & PAGE_MASK) * 2;
      for (const k of [t, t + 1]) if (!Number.isNaN(times[k]!)) this.seen(i, times[k]!);
      this.mergeCertificates(i, from.certificates.read(theirs, base, j, theirs[c + Count.Tls]!));
      for (const [k, n] of suites()) this.addSuite(i, renamed.suites.get(k) ?? k, n);
      for (const [r, n] of from.reasons.read(theirs, base, j, theirs[c + Count.Failed]!, from.strings)) {
        this.failure(i, r as FailureReason, null, n);
      }
      const detail = from.details.get(j);
      if (detail !== undefined) this.details.set(i, detail);
      for (const id of from.mtas.read(theirs, base, j)) this.mta(i, from.strings.values[id]!);
      for (const id of from.services.read(theirs, base, j)) {
        const service = from.strings.values[id]!;
        this.service(i, renamed.services.get(service) ?? service);
      }
      for (const row of from.rows.read(theirs, base, j)) {
        const mine = rowId(row);
        if (this.joinRow(i, mine)) joined(mine);
      }
    }
  }

  /**
   * Their IPv4 peer `j`, new here, as a row of its own: what merge's peer-by-peer path makes of it (a property
   * test holds mergeViews to one pass), without a Peer, a lookup or a generator per field (a range census merges
   * hundreds of thousands).
   */
  private copyNew(
    from: PeerTable,
    j: number,
    idOf: (theirs: number) => number,
    rowId: (theirs: number) => number,
    joined: (row: number) => void,
  ): void {
    const theirs = from.pages[j >> PAGE_BITS]!;
    const tb = (j & PAGE_MASK) * ROW;
    const i = this.size++;
    if ((i & PAGE_MASK) === 0) this.addPage();
    const page = this.pages[i >> PAGE_BITS]!;
    const base = (i & PAGE_MASK) * ROW;
    for (let f = 0; f < ROW; f++) page[base + f] = theirs[tb + f]!;
    const key = theirs[tb + F_KEY]! >>> 0;
    if (this.size * 2 > this.slots.length >> 1) this.rehash();
    this.place(key, i);
    this.hosts.push(from.hosts[j]!);
    const tt = (j & PAGE_MASK) * 2;
    const times = this.timePages[i >> PAGE_BITS]!;
    const at = (i & PAGE_MASK) * 2;
    const theirTimes = from.timePages[j >> PAGE_BITS]!;
    times[at] = theirTimes[tt]!;
    times[at + 1] = theirTimes[tt + 1]!;
    // One-of columns: an id of theirs becomes ours; a side map is copied (counts keyed by string) or remapped.
    const suite = theirs[tb + F_SUITE]!;
    if (suite === MANY) this.suites.many.set(i, new Map(from.suites.many.get(j)!));
    else if (suite !== NONE) page[base + F_SUITE] = idOf(suite);
    if ((theirs[tb + F_FLAGS]! & CERT_BITS) >> CERT_SHIFT === CERT_MANY)
      this.certificates.many.set(i, from.certificates.many.get(j)!.slice());
    const reason = theirs[tb + F_REASON]!;
    if (reason === MANY) this.reasons.many.set(i, new Map(from.reasons.many.get(j)!));
    else if (reason !== NONE) page[base + F_REASON] = idOf(reason);
    const detail = from.details.get(j);
    if (detail !== undefined) this.details.set(i, detail);
    const mta = theirs[tb + F_MTA]!;
    if (mta === MANY) this.mtas.many.set(i, new Set([...from.mtas.many.get(j)!].map(idOf)));
    else if (mta !== NONE) page[base + F_MTA] = idOf(mta);
    const service = theirs[tb + F_SERVICE]!;
    if (service === MANY) this.services.many.set(i, new Set([...from.services.many.get(j)!].map(idOf)));
    else if (service !== NONE) page[base + F_SERVICE] = idOf(service);
    const row = theirs[tb + F_ROW]!;
    if (row === MANY) {
      const rows = new Set<number>();
      for (const r of from.rows.many.get(j)!) {
        const mine = rowId(r);
        if (!rows.has(mine)) {
          rows.add(mine);
          joined(mine);
        }
      }
      if (rows.size === 1) page[base + F_ROW] = rows.values().next().value!;
      else this.rows.many.set(i, rows);
    } else if (row !== NONE) {
      const mine = rowId(row);
      page[base + F_ROW] = mine;
      joined(mine);
    }
  }

  // --------------------------------------------------------------------------------------- reading

  has(ip: string): boolean {
    return this.find(ip) >= 0;
  }

  get(ip: string): PeerStats | undefined {
    const i = this.find(ip);
    return i < 0 ? undefined : this.statsOf(i);
  }

  *values(): Generator<PeerStats> {
    for (let i = 0; i < this.size; i++) yield this.statsOf(i);
  }

  /**
   * The peers a report lists: those that failed, went plaintext, or had a handshake whose suite key
   * (`protocol|cipher`) passes `suiteTest`, in table order — without a PeerStats for every other peer (most
   * of them, on a busy server: half a million at 1 GiB of genlog, where that was a fifth of the report's time).
   */
  *listed(suiteTest: (suiteKey: string) => boolean): Generator<PeerStats> {
    const passes: (boolean | undefined)[] = [];
    const test = (id: number): boolean => {
      let ok = passes[id];
      if (ok === undefined) passes[id] = ok = suiteTest(this.strings.values[id]!);
      return ok;
    };
    for (let i = 0; i < this.size; i++) {
      const page = this.pages[i >> PAGE_BITS]!;
      const base = (i & PAGE_MASK) * ROW;
      const c = base + F_COUNTS;
      let keep = page[c + Count.Failed]! > 0 || page[c + Count.Plaintext]! > 0;
      if (!keep) {
        const suite = page[base + F_SUITE]!;
        if (suite === MANY) {
          for (const key of this.suites.many.get(i)!.keys()) if (suiteTest(key)) keep = true;
        } else if (suite !== NONE) keep = test(suite);
      }
      if (keep) yield this.statsOf(i);
    }
  }

  /**
   * Per spread row (by id, `rows` of them): its distinct peers with no verified name — no session of the peer named
   * it (Postfix `unknown[ip]`, tlsproxy `[ip]:port`), in an MTA that logs names (isUnknownClient). Counted from the
   * peers, not per handshake, so that it is a part of the row's `peers` (review: "1 peer, 3 unknown"); read from
   * the table, so merged tables give one pass's count.
   */
  unknownPeersPerRow(rows: number): Int32Array {
    const out = new Int32Array(rows);
    for (let i = 0; i < this.size; i++) {
      if (this.hosts[i] !== null) continue;
      const page = this.pages[i >> PAGE_BITS]!;
      const base = (i & PAGE_MASK) * ROW;
      if (page[base + F_FLAGS]! & FLAG_NAME_NOT_LOGGED) continue;
      for (const row of this.rows.read(page, base, i)) out[row]! += 1;
    }
    return out;
  }

  *keys(): Generator<string> {
    for (let i = 0; i < this.size; i++) yield this.ipOf(i);
  }

  *[Symbol.iterator](): Generator<[string, PeerStats]> {
    for (let i = 0; i < this.size; i++) yield [this.ipOf(i), this.statsOf(i)];
  }

  private ipOf(i: number): string {
    const page = this.pages[i >> PAGE_BITS]!;
    const base = (i & PAGE_MASK) * ROW;
    return page[base + F_FLAGS]! & FLAG_V4 ? ipv4String(page[base + F_KEY]! >>> 0) : this.stringOf.get(i)!;
  }

  private peerOf(i: number): Peer {
    const peer: Peer = { host: this.hosts[i]!, ip: this.ipOf(i) };
    if (this.pages[i >> PAGE_BITS]![(i & PAGE_MASK) * ROW + F_FLAGS]! & FLAG_NAME_NOT_LOGGED) peer.nameLogged = false;
    return peer;
  }

  private statsOf(i: number): PeerStats {
    const page = this.pages[i >> PAGE_BITS]!;
    const base = (i & PAGE_MASK) * ROW;
    const c = base + F_COUNTS;
    const times = this.timePages[i >> PAGE_BITS]!;
    const first = times[(i & PAGE_MASK) * 2]!;
    const last = times[(i & PAGE_MASK) * 2 + 1]!;
    return {
      peer: this.peerOf(i),
      firstMs: Number.isNaN(first) ? null : first,
      lastMs: Number.isNaN(last) ? null : last,
      sessions: page[c + Count.Sessions]!,
      messages: page[c + Count.Messages]!,
      tls: page[c + Count.Tls]!,
      failed: page[c + Count.Failed]!,
      plaintext: page[c + Count.Plaintext]!,
      noCommand: page[c + Count.NoCommand]!,
      plaintextMessages: page[c + Count.PlaintextMessages]!,
      fallbackSessions: page[c + Count.FallbackSessions]!,
      fallbackMessages: page[c + Count.FallbackMessages]!,
      suites: this.suites.read(page, base, i, page[c + Count.Tls]!, this.strings),
      reasons: this.reasons.read(page, base, i, page[c + Count.Failed]!, this.strings) as ReadonlyMap<
        FailureReason,
        number
      >,
      lastFailureDetail: this.details.get(i) ?? null,
      certificates: this.certificates.read(page, base, i, page[c + Count.Tls]!),
      mtas: this.mtas.readValues(page, base, i, this.strings),
      services: this.services.readValues(page, base, i, this.strings),
    };
  }
}

/** Fibonacci hashing of a 32-bit key: the top bits of its product with 2^32 / φ. */
function hash(key: number, shift: number): number {
  return Math.imul(key, 0x9e3779b1) >>> shift;
}

/**
 * What a peer keeps of log text, at most (longer text is cut, with `…`). A peer costs about a hundred bytes; the
 * log can hand it a line's worth (64 KiB) of name, address and failure text, and 2,000 peers with 30 KB names and
 * details took 550 MiB and a 120 MB report. DNS names have at most 253 characters, addresses far fewer; failure
 * details are OpenSSL error strings of a line or so.
 */
const MAX_HOST_CHARS = 255;
const MAX_ADDRESS_CHARS = 255;
const MAX_DETAIL_CHARS = 300;

function bounded(text: string, max: number): string {
  if (text.length <= max) return text;
  // Not between the two halves of a surrogate pair (an emoji in a forged name).
  const high = text.charCodeAt(max - 2);
  const cut = high >= 0xd800 && high <= 0xdbff ? max - 2 : max - 1;
  return `${text.slice(0, cut)}…`;
}

/**
 * A copy of `s` that holds no part of a longer string: V8 makes a slice of 13 characters or more a view into
 * its parent (the log line), which a peer kept for the whole census would keep alive. Slicing a concatenation
 * makes V8 flatten it into a fresh string first; unlike a round trip through UTF-8 this keeps every UTF-16 code
 * unit, lone surrogates included (journald JSON can carry them), so the copy is still the same map key.
 */
function ownString(s: string): string {
  return s.length < 13 ? s : ` ${s}`.slice(1);
}
