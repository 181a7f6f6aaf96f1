// Sessions → per-hour history buckets: what the history store records (history-store.ts). Pure, and fed every
// closed session, whatever the display filters keep (through CensusOptions.history in `report`, where a range
// census's threads collect their own and `absorb` joins them; LogWatcher's onSession in `watch`). A bucket is one UTC hour of session starts, kept apart per MTA (each
// dialect's sessions are a stream of their own, see history-store.ts), with:
//   totals     per section and service: sessions by outcome, messages;
//   handshakes per section, service, protocol, cipher (IANA name, or as logged when not in the table), rating;
//   failures   per section, service and reason;
//   peers      per section: HyperLogLog sketches of legacy, plaintext and failed peers — never an address.
// Memory is bounded by hours × distinct keys, never by sessions; log-derived names are cleaned and capped.

import { sanitizeLabel } from '../aggregate/session-metrics.js';
import { isLegacyProtocol, rateHandshake } from '../ciphers/lookup.js';
import { isMailboxService, type Protocol, type Rating, type Session, type SessionOutcome } from '../model/types.js';
import { hashPeer, PeerSketch } from './peer-sketch.js';

export const HOUR_MS = 3_600_000;

export type Section = 'inbound' | 'outbound' | 'mailbox';
export const SECTIONS: readonly Section[] = ['inbound', 'outbound', 'mailbox'];

/**
 * Distinct peers kept per hour: those an admin acts on. All peers are not sketched: on a busy server that sketch is
 * dense (1 KiB per hour and section) and says little a trend needs.
 */
export type PeerKind = 'legacy' | 'plaintext' | 'failed';
export const PEER_KINDS: readonly PeerKind[] = ['legacy', 'plaintext', 'failed'];

export interface HourTotals {
  sessions: number;
  tls: number;
  failed: number;
  plaintext: number;
  noCommand: number;
  trusted: number;
  incomplete: number;
  messages: number;
  tlsMessages: number;
  plaintextMessages: number;
}

export const TOTAL_FIELDS: readonly (keyof HourTotals)[] = [
  'sessions',
  'tls',
  'failed',
  'plaintext',
  'noCommand',
  'trusted',
  'incomplete',
  'messages',
  'tlsMessages',
  'plaintextMessages',
];

export function emptyHourTotals(): HourTotals {
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
  };
}

const OUTCOME_FIELD: Record<SessionOutcome, keyof HourTotals> = {
  tls: 'tls',
  failed: 'failed',
  plaintext: 'plaintext',
  'no-command': 'noCommand',
  trusted: 'trusted',
  incomplete: 'incomplete',
};

export interface HandshakeKey {
  section: Section;
  service: string;
  protocol: Protocol;
  cipher: string;
  rating: Rating;
}

/** One hour of one stream. Map keys join the parts with NUL (cleaned names cannot contain it). */
export interface HourBucket {
  /** `section\0service` → totals. */
  totals: Map<string, HourTotals>;
  /** `section\0service\0protocol\0cipher\0rating` → handshakes. */
  handshakes: Map<string, number>;
  /** `section\0service\0reason` → failed handshakes. */
  failures: Map<string, number>;
  /** `section\0kind` → sketch. */
  peers: Map<string, PeerSketch>;
}

export function emptyBucket(): HourBucket {
  return { totals: new Map(), handshakes: new Map(), failures: new Map(), peers: new Map() };
}

/** One MTA's sessions: the span of their start times (the stream's coverage) and its hours. */
export interface StreamBatch {
  mta: string;
  fromMs: number;
  toMs: number;
  hours: Map<number, HourBucket>;
}

export interface HistoryBatch {
  /** By MTA. */
  streams: Map<string, StreamBatch>;
  /** Sessions in the batch (dated ones; undated sessions cannot be placed in an hour and are only counted). */
  sessions: number;
  undated: number;
}

const SEP = '\u0000';

export function joinKey(...parts: string[]): string {
  return parts.join(SEP);
}

export function splitKey(key: string): string[] {
  return key.split('\u0000');
}

/** Distinct cipher and service names kept per MTA and run before the rest is counted as `other`. */
export const MAX_CIPHER_NAMES = 256;
export const MAX_SERVICE_NAMES = 64;

/** Raw values remembered per cap: a session's names are the same few again and again (bounded: log text). */
const MAX_MEMO = 1024;

class NameCap {
  /** The names kept, in the order they first came (a Set keeps insertion order). */
  readonly seen = new Set<string>();
  /** Raw value → what `apply` made of it, which never changes: a kept name stays kept, and once the cap is full
   * nothing is added any more. */
  private readonly memo = new Map<string, string>();
  constructor(private readonly max: number) {}
  apply(value: string): string {
    const known = this.memo.get(value);
    if (known !== undefined) return known;
    const clean = sanitizeLabel(value);
    let out = clean;
    if (!this.seen.has(clean)) {
      if (this.seen.size >= this.max) out = 'other';
      else this.seen.add(clean);
    }
    if (this.memo.size >= MAX_MEMO) this.memo.clear();
    this.memo.set(value, out);
    return out;
  }
}

/** Distinct cipher and service names kept per MTA before new ones count as `other`. */
export interface NameCaps {
  maxCipherNames: number;
  maxServiceNames: number;
}

/**
 * Session starts that can be recorded, from `fromMs` to `toMs`; a session outside counts as undated. A forged or
 * corrupt log can date its lines anywhere in years 0–9999, and each hour would be a bucket in memory and rows in the
 * file.
 */
export interface RecordableWindow {
  fromMs: number;
  toMs: number;
}

export const ANY_TIME: RecordableWindow = { fromMs: Number.NEGATIVE_INFINITY, toMs: Number.POSITIVE_INFINITY };

/**
 * What one range of a log collected (a range census's thread, range-census.ts), for `absorb`: its batch, and per
 * MTA its names in the order they first came. Collected uncapped (caps of Infinity): which of its names one pass
 * keeps depends on the names the absorbing side already holds, and a range's thread cannot know them. (Its memory
 * is then bounded like the view's spread: by the distinct names in the range.)
 */
export interface BucketsPart {
  batch: HistoryBatch;
  names: { mta: string; ciphers: string[]; services: string[] }[];
}

interface StreamState {
  ciphers: NameCap;
  services: NameCap;
  /** Latest session start taken so far: the next batch's span starts no later, so spans join up. */
  lastToMs: number | null;
}

export function sectionOf(s: Session): Section {
  return isMailboxService(s.service) ? 'mailbox' : s.direction;
}

/**
 * Collects sessions into hour buckets; `take()` hands over what was collected since the last take (watch flushes
 * periodically). The spans of consecutive batches of one MTA join up: a batch's span starts at the previous one's
 * end, so a run's coverage has no gaps between flushes.
 */
export class HourBuckets {
  private batch: HistoryBatch = { streams: new Map(), sessions: 0, undated: 0 };
  private readonly state = new Map<string, StreamState>();
  readonly caps: NameCaps;
  readonly window: RecordableWindow;
  private readonly mtaLabels = new Map<string, string>();

  constructor(options: Partial<NameCaps> & { window?: RecordableWindow } = {}) {
    this.caps = {
      maxCipherNames: options.maxCipherNames ?? MAX_CIPHER_NAMES,
      maxServiceNames: options.maxServiceNames ?? MAX_SERVICE_NAMES,
    };
    this.window = options.window ?? ANY_TIME;
  }

  add(s: Session): void {
    if (
      s.startMs === null ||
      !Number.isFinite(s.startMs) ||
      s.startMs < this.window.fromMs ||
      s.startMs > this.window.toMs
    ) {
      this.batch.undated++;
      return;
    }
    const mtaName = this.mtaLabel(s.mta);
    const st = this.stateOf(mtaName);
    const stream = this.streamOf(mtaName, st, s.startMs, s.startMs);
    this.batch.sessions++;
    const hour = Math.floor(s.startMs / HOUR_MS) * HOUR_MS;
    let b = stream.hours.get(hour);
    if (b === undefined) {
      b = emptyBucket();
      stream.hours.set(hour, b);
    }
    const section = sectionOf(s);
    const service = st.services.apply(s.service);
    // (Keys joined by hand: joinKey's rest parameter and join cost more than the rest of `add`.)
    const tk = `${section}${SEP}${service}`;
    let t = b.totals.get(tk);
    if (t === undefined) {
      t = emptyHourTotals();
      b.totals.set(tk, t);
    }
    t.sessions++;
    t[OUTCOME_FIELD[s.outcome]]++;
    t.messages += s.messages;
    if (s.outcome === 'tls') t.tlsMessages += s.messages;
    if (s.outcome === 'plaintext') t.plaintextMessages += s.messages;
    let legacy = false;
    const h = s.handshake;
    if (h) {
      // The same naming as the spread and the metrics: the IANA name when the suite is known.
      const rated = rateHandshake(h.protocol, typeof h.iana === 'string' ? h.iana : h.cipher);
      const cipher = st.ciphers.apply(rated.iana ?? h.cipher);
      const hk = `${tk}${SEP}${h.protocol}${SEP}${cipher}${SEP}${rated.rating}`;
      b.handshakes.set(hk, (b.handshakes.get(hk) ?? 0) + 1);
      legacy = isLegacyProtocol(h.protocol);
    }
    if (s.outcome === 'failed') {
      const fk = `${tk}${SEP}${s.failure?.reason ?? 'other'}`;
      b.failures.set(fk, (b.failures.get(fk) ?? 0) + 1);
    }
    if (s.peer) {
      const ph = hashPeer(s.peer.ip);
      if (legacy) sketch(b, section, 'legacy').add(ph);
      if (s.outcome === 'plaintext') sketch(b, section, 'plaintext').add(ph);
      if (s.outcome === 'failed') sketch(b, section, 'failed').add(ph);
    }
  }

  private mtaLabel(mta: string): string {
    let label = this.mtaLabels.get(mta);
    if (label === undefined) {
      label = sanitizeLabel(mta);
      if (this.mtaLabels.size >= MAX_MEMO) this.mtaLabels.clear();
      this.mtaLabels.set(mta, label);
    }
    return label;
  }

  private stateOf(mta: string): StreamState {
    let st = this.state.get(mta);
    if (st === undefined) {
      st = {
        ciphers: new NameCap(this.caps.maxCipherNames),
        services: new NameCap(this.caps.maxServiceNames),
        lastToMs: null,
      };
      this.state.set(mta, st);
    }
    return st;
  }

  /** The batch's stream of `mta`, its span widened to sessions started from `fromMs` to `toMs`. */
  private streamOf(mta: string, st: StreamState, fromMs: number, toMs: number): StreamBatch {
    let stream = this.batch.streams.get(mta);
    if (stream === undefined) {
      const from = st.lastToMs === null ? fromMs : Math.min(st.lastToMs, fromMs);
      stream = { mta, fromMs: from, toMs: Math.max(from, toMs), hours: new Map() };
      this.batch.streams.set(mta, stream);
    } else {
      if (fromMs < stream.fromMs) stream.fromMs = fromMs;
      if (toMs > stream.toMs) stream.toMs = toMs;
    }
    return stream;
  }

  /**
   * Whether some MTA has more names than the default caps keep (a range's thread, whose names are uncapped, then
   * gives up: the log is forged or corrupt, and what it holds would grow with it).
   */
  namesBeyondCaps(): boolean {
    for (const st of this.state.values()) {
      if (st.ciphers.seen.size > MAX_CIPHER_NAMES || st.services.seen.size > MAX_SERVICE_NAMES) return true;
    }
    return false;
  }

  /** Everything collected, as a part for another HourBuckets' `absorb` (see BucketsPart). */
  part(): BucketsPart {
    const names = [...this.state].map(([mta, st]) => ({
      mta,
      ciphers: [...st.ciphers.seen],
      services: [...st.services.seen],
    }));
    return { batch: this.take(), names };
  }

  /**
   * Adds the sessions of a part collected after everything here, as if they had been added one by one: each MTA's
   * names meet this side's caps in the order they first came there (so the same names become `other` as in one
   * pass), and the span of a stream grows as `add` grows it. The part may have come through structured clone.
   */
  absorb(part: BucketsPart): void {
    const renames = new Map<string, { cipher: Map<string, string>; service: Map<string, string> }>();
    for (const { mta, ciphers, services } of part.names) {
      const st = this.stateOf(mta);
      renames.set(mta, {
        cipher: new Map(ciphers.map((c) => [c, st.ciphers.apply(c)])),
        service: new Map(services.map((v) => [v, st.services.apply(v)])),
      });
    }
    this.batch.sessions += part.batch.sessions;
    this.batch.undated += part.batch.undated;
    for (const [mta, theirs] of part.batch.streams) {
      const rename = renames.get(mta)!;
      const service = (v: string) => rename.service.get(v) ?? v;
      const stream = this.streamOf(mta, this.stateOf(mta), theirs.fromMs, theirs.toMs);
      for (const [hour, bucket] of theirs.hours) {
        const renamed: HourBucket = {
          totals: renameKeys(
            bucket.totals,
            (k) => joinKey(k[0]!, service(k[1]!)),
            (a, b) => addTotals(a, b),
          ),
          handshakes: renameKeys(
            bucket.handshakes,
            (k) => joinKey(k[0]!, service(k[1]!), k[2]!, rename.cipher.get(k[3]!) ?? k[3]!, k[4]!),
            (a, b) => a + b,
          ),
          failures: renameKeys(
            bucket.failures,
            (k) => joinKey(k[0]!, service(k[1]!), k[2]!),
            (a, b) => a + b,
          ),
          peers: new Map([...bucket.peers].map(([k, sk]) => [k, PeerSketch.revive(sk)])),
        };
        const mine = stream.hours.get(hour);
        if (mine === undefined) stream.hours.set(hour, renamed);
        else mergeBucket(mine, renamed);
      }
    }
  }

  /** Sessions collected and not taken yet. */
  get pending(): number {
    return this.batch.sessions + this.batch.undated;
  }

  /** Hands over the collected batch and starts a new one. */
  take(): HistoryBatch {
    const out = this.batch;
    this.batch = { streams: new Map(), sessions: 0, undated: 0 };
    for (const [mta, stream] of out.streams) {
      const st = this.state.get(mta)!;
      st.lastToMs = st.lastToMs === null ? stream.toMs : Math.max(st.lastToMs, stream.toMs);
    }
    return out;
  }

  /** Puts a batch back (its write failed) so that the next take() carries it again. */
  restore(batch: HistoryBatch): void {
    mergeBatch(batch, this.batch);
    this.batch = batch;
  }
}

function sketch(b: HourBucket, section: Section, kind: PeerKind): PeerSketch {
  const k = joinKey(section, kind);
  let s = b.peers.get(k);
  if (s === undefined) {
    s = new PeerSketch();
    b.peers.set(k, s);
  }
  return s;
}

/** `map` with each key's parts (joinKey) renamed; values whose keys become one are combined. */
function renameKeys<T>(
  map: Map<string, T>,
  rename: (parts: string[]) => string,
  combine: (a: T, b: T) => T,
): Map<string, T> {
  const out = new Map<string, T>();
  for (const [k, v] of map) {
    const key = rename(splitKey(k));
    const had = out.get(key);
    out.set(key, had === undefined ? v : combine(had, v));
  }
  return out;
}

function addTotals(a: HourTotals, b: HourTotals): HourTotals {
  const sum = { ...a };
  for (const f of TOTAL_FIELDS) sum[f] += b[f];
  return sum;
}

function addCounts(into: Map<string, number>, from: Map<string, number>): void {
  for (const [k, n] of from) into.set(k, (into.get(k) ?? 0) + n);
}

export function mergeBucket(into: HourBucket, from: HourBucket): void {
  for (const [k, t] of from.totals) {
    const mine = into.totals.get(k);
    if (mine === undefined) into.totals.set(k, { ...t });
    else for (const f of TOTAL_FIELDS) mine[f] += t[f];
  }
  addCounts(into.handshakes, from.handshakes);
  addCounts(into.failures, from.failures);
  for (const [k, s] of from.peers) {
    const mine = into.peers.get(k);
    if (mine === undefined) into.peers.set(k, s.copy());
    else mine.merge(s);
  }
}

/** Adds `from` into `into` (mutating `into`). */
export function mergeBatch(into: HistoryBatch, from: HistoryBatch): HistoryBatch {
  into.sessions += from.sessions;
  into.undated += from.undated;
  for (const [mta, s] of from.streams) {
    const mine = into.streams.get(mta);
    if (mine === undefined) {
      const hours = new Map<number, HourBucket>();
      for (const [h, b] of s.hours) {
        const copy = emptyBucket();
        mergeBucket(copy, b);
        hours.set(h, copy);
      }
      into.streams.set(mta, { mta, fromMs: s.fromMs, toMs: s.toMs, hours });
      continue;
    }
    mine.fromMs = Math.min(mine.fromMs, s.fromMs);
    mine.toMs = Math.max(mine.toMs, s.toMs);
    for (const [h, b] of s.hours) {
      const bucket = mine.hours.get(h);
      if (bucket === undefined) {
        const copy = emptyBucket();
        mergeBucket(copy, b);
        mine.hours.set(h, copy);
      } else mergeBucket(bucket, b);
    }
  }
  return into;
}
