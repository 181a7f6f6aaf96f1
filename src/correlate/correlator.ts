// Observations → Sessions. Generic over dialects: a dialect chooses the key (Postfix: host+program+pid,
// tlsproxy: +client address; Exim/Sendmail: pid; OpenSMTPD/Exchange: session id) and the correlator keeps
// one open connection per key. Memory is bounded by open connections: a session closes on its disconnect,
// when its key is reused, or when it has been idle longer than the TTL.

import type { Failure, FailureReason, Handshake, Observation, Peer, Session, SessionOutcome } from '../model/types.js';

interface OpenSession {
  session: Session;
  lastMs: number | null;
  lastQueueId: string | null;
  /** A library error seen before its failure line; applied when the failure arrives. */
  pendingDetail: Failure | null;
  /** The failure's reason came from a bare return code (`-1`) and may be refined by a detail line. */
  reasonProvisional: boolean;
  /** A message said it arrived without TLS (MessageObservation.plaintext). */
  plaintextMessage: boolean;
  /** May be the tail of a session begun in lines this read skipped (`partialBeforeMs`); absent otherwise. */
  partial?: true;
}

export interface CorrelatorOptions {
  /** Close sessions idle for longer than this (log time). Default 1 hour. */
  idleTtlMs?: number;
  /**
   * The read skipped the lines dated before some point (census/window-seek.ts), and this is that point plus the
   * TTL and a sweep period (`partialHorizonMs`). An inbound session started before it by anything but a connect,
   * for a key this read has not met before, may be the tail of one begun in the skipped lines, lacking what they set
   * (its handshake, failure, messages). Its own counts do not matter — it began before the window — but a decision
   * that reads them (does this handshake, failure or delivery close it and start another?) might go another way
   * than in a full read: `partialDecided` then says so, and the census reads everything instead. So it does when
   * such a session has no time (it is never swept, the full read's may be). (Once a key is met, its sessions close
   * where a full read's do: on a connect, a disconnect or a sweep alike — see `skippedLatestMs` — or by a decision
   * caught here. An outbound session is never partial: in any read it exists only through a handshake, a failure or
   * a delivery, and a review showed that every later decision then goes the same way in both reads.) After this
   * point any session from the skipped lines has been swept.
   */
  partialBeforeMs?: number | null;
  /**
   * The latest time among the skipped lines. Until the log's time passes the sweep period after it, a full read's
   * latest time may be later (a clock stepped back after the skip point): it may not sweep where this read does, so
   * a sweep that closes a session before then sets `partialDecided` too.
   */
  skippedLatestMs?: number | null;
}

const DEFAULT_TTL_MS = 60 * 60 * 1000;
/**
 * Idle sessions are swept each time the log's clock enters a new period of this length. Keyed to log time, not to
 * a count of lines, so that where sweeps fall depends only on the log's timestamps: a census of a byte range
 * that starts with the same open sessions and the same latest time sweeps exactly where one pass would
 * (range-census.ts relies on it).
 */
export const SWEEP_PERIOD_MS = 5 * 60 * 1000;
/** A reason line written by process alone refines a failure of that process at most this long before it. */
const REASON_WITHIN_MS = 1000;

/** `partialBeforeMs` for a read that skipped the lines dated before `skippedBeforeMs`, with the default TTL. */
export function partialHorizonMs(skippedBeforeMs: number): number {
  return skippedBeforeMs + DEFAULT_TTL_MS + SWEEP_PERIOD_MS;
}

export class Correlator {
  private readonly open = new Map<string, OpenSession>();
  /**
   * Keys of open sessions whose failure reason is provisional (awaitingReason looks among these only). Derived from
   * the open sessions, so no part of the seam state: its order never decides anything.
   */
  private readonly provisional = new Set<string>();
  private readonly ttlMs: number;
  private latestMs = 0;
  private nextSweepMs = Number.NEGATIVE_INFINITY;
  private readonly partialBeforeMs: number | null;
  /** Before the log's time reaches this, a full read (its latest time from skipped lines) may not sweep as this does. */
  private readonly sameSweepsFromMs: number | null;
  /** Keys met so far, while a session may still be partial (until the log's time passes partialBeforeMs). */
  private metKeys: Set<string> | null;
  /** A decision read a possibly partial session (`CorrelatorOptions.partialBeforeMs`). */
  partialDecided = false;
  /** The time of the last observation that had one (not the latest: a log's time may step back). */
  lastObservedMs: number | null = null;

  constructor(
    private readonly emit: (session: Session) => void,
    options: CorrelatorOptions = {},
  ) {
    this.ttlMs = options.idleTtlMs ?? DEFAULT_TTL_MS;
    this.partialBeforeMs = options.partialBeforeMs ?? null;
    const skippedLatest = options.skippedLatestMs ?? null;
    this.sameSweepsFromMs =
      skippedLatest === null ? null : (Math.floor(skippedLatest / SWEEP_PERIOD_MS) + 1) * SWEEP_PERIOD_MS;
    this.metKeys = this.partialBeforeMs === null ? null : new Set();
  }

  get openCount(): number {
    return this.open.size;
  }

  observe(o: Observation): void {
    if (o.timeMs !== null) this.lastObservedMs = o.timeMs;
    if (o.timeMs !== null && o.timeMs > this.latestMs) {
      this.latestMs = o.timeMs;
      // (Past it, any session from the skipped lines has been swept: no new session can be partial.)
      if (this.metKeys !== null && o.timeMs >= this.partialBeforeMs!) this.metKeys = null;
      if (o.timeMs >= this.nextSweepMs) {
        this.nextSweepMs = (Math.floor(o.timeMs / SWEEP_PERIOD_MS) + 1) * SWEEP_PERIOD_MS;
        this.sweep();
      }
    }
    switch (o.kind) {
      case 'connect':
        this.close(o.key);
        this.start(o, o.peer);
        return;
      case 'handshake': {
        let s = this.open.get(o.key);
        if (s?.partial) this.partialDecided = true;
        // Outbound, every handshake is a new connection of the same client process.
        if (s && (s.session.handshake || s.session.failure || (o.direction === 'outbound' && s.session.messages > 0))) {
          this.close(o.key);
          s = undefined;
        }
        s ??= this.start(o, o.peer);
        const h: Handshake = { protocol: o.protocol, cipher: o.cipher, bits: o.bits, trust: o.trust };
        if (o.note !== undefined) h.note = o.note;
        if (o.iana !== undefined) h.iana = o.iana;
        s.session.handshake = h;
        this.touch(s, o.peer, o.timeMs);
        return;
      }
      case 'failure': {
        let s = this.open.get(o.key);
        if (s?.partial) this.partialDecided = true;
        if (s?.session.failure && s.session.messages === 0 && !s.session.handshake) {
          // The same failure told again (`Cannot start TLS` after `SSL_connect error`): refine, don't count twice.
          this.refine(s, o.reason, o.detail, o.reason === 'other');
          this.touch(s, o.peer, o.timeMs);
          return;
        }
        if (s && (s.session.handshake || s.session.failure || (o.direction === 'outbound' && s.session.messages > 0))) {
          this.close(o.key);
          s = undefined;
        }
        s ??= this.start(o, o.peer);
        s.session.failure = { reason: o.reason, detail: o.detail };
        s.reasonProvisional = o.reason === 'other';
        if (s.reasonProvisional) this.provisional.add(o.key);
        if (s.pendingDetail) {
          this.refine(s, s.pendingDetail.reason, s.pendingDetail.detail, false);
          s.pendingDetail = null;
        }
        this.touch(s, o.peer, o.timeMs);
        return;
      }
      case 'failure-detail': {
        const s = this.open.get(o.key) ?? this.awaitingReason(o.key, o.timeMs);
        if (!s) return;
        if (s.session.failure) this.refine(s, o.reason, o.detail, false);
        else s.pendingDetail ??= { reason: o.reason, detail: o.detail };
        return;
      }
      case 'starttls-lost': {
        const s = this.open.get(o.key) ?? this.start(o, o.peer);
        if (!s.session.handshake && !s.session.failure) {
          s.session.failure = { reason: 'lost-connection', detail: 'lost connection after STARTTLS' };
        }
        this.touch(s, o.peer, o.timeMs);
        return;
      }
      case 'disconnect': {
        const open = this.open.get(o.key);
        if (open === undefined && o.openOnly === true) return;
        const s = open ?? this.start(o, o.peer);
        this.touch(s, o.peer, o.timeMs);
        const sess = s.session;
        if (sess.handshake) sess.outcome = 'tls';
        else if (sess.failure) sess.outcome = 'failed';
        else if (o.starttls === 'failed') {
          sess.failure = { reason: 'other', detail: 'STARTTLS failed (no detail logged)' };
          sess.outcome = 'failed';
        } else if (o.starttls === 'ok') {
          // TLS happened but its summary was not logged (`*_tls_loglevel = 0`).
          sess.handshake = { protocol: 'unknown', cipher: '(not logged)', bits: null, trust: null };
          sess.outcome = 'tls';
        } else if (o.trusted) sess.outcome = 'trusted';
        else if (o.plaintext) sess.outcome = 'plaintext';
        else if (o.commands === 0) sess.outcome = 'no-command';
        else sess.outcome = 'plaintext';
        this.finish(o.key, s);
        return;
      }
      case 'message': {
        const s = this.open.get(o.key) ?? this.start(o, o.peer);
        this.countMessage(s, o.queueId);
        if (o.plaintext) s.plaintextMessage = true;
        this.touch(s, o.peer, o.timeMs);
        return;
      }
      case 'delivery': {
        let s = this.open.get(o.key);
        if (s?.partial) this.partialDecided = true;
        if (s && (s.session.failure || !samePeer(s.session.peer, o.peer))) {
          this.close(o.key);
          s = undefined;
        }
        s ??= this.start(o, o.peer);
        this.countMessage(s, o.queueId);
        this.touch(s, o.peer, o.timeMs);
        return;
      }
    }
  }

  /**
   * Close sessions idle since before `nowMs - ttl` (`watch`: by the wall clock, once the followed files are read
   * to their end, so that a quiet log still gets its sessions counted and memory stays bounded). Sessions whose
   * lines carried no time are closed too.
   */
  expireIdle(nowMs: number): void {
    const horizon = nowMs - this.ttlMs;
    for (const [key, s] of this.open) {
      if (s.lastMs === null || s.lastMs < horizon) this.close(key);
    }
  }

  /**
   * Everything that decides what the correlator does next, as one comparable string: the open sessions in
   * their order (a sweep closes them in it), the latest time and the next sweep. Two correlators with equal
   * states turn the same observations into the same sessions, in the same order (range-census.ts).
   */
  seamState(): string {
    return canonicalJson({ open: [...this.open], latestMs: this.latestMs, nextSweepMs: this.nextSweepMs });
  }

  /**
   * The open session under `processKey` (its key `processKey|…`) whose failure still waits for its reason, failed
   * within the second before this line: Postfix tlsproxy keys its connections by process and client, but logs the
   * reason (`TLS library problem`) by process alone, right after the error. The latest to fail, if several; none
   * when two are as late (which one it is, the log does not say). Only for a detail line with no session of its
   * own key, which no other dialect leaves; it looks among `provisional` only (open sessions whose failure has
   * no reason yet), so a log of many open sessions does not make each such line a scan of them all (a review).
   */
  private awaitingReason(processKey: string, timeMs: number | null): OpenSession | undefined {
    if (timeMs === null) return undefined;
    const prefix = `${processKey}|`;
    let found: OpenSession | undefined;
    let tied = false;
    for (const key of this.provisional) {
      const s = this.open.get(key);
      if (s === undefined || !s.reasonProvisional || s.session.failure === null) {
        this.provisional.delete(key);
        continue;
      }
      if (!key.startsWith(prefix) || s.lastMs === null || timeMs - s.lastMs > REASON_WITHIN_MS || timeMs < s.lastMs) {
        continue;
      }
      if (found === undefined || s.lastMs > found.lastMs!) {
        found = s;
        tied = false;
      } else if (s.lastMs === found.lastMs) tied = true;
    }
    return tied ? undefined : found;
  }

  /** Forget the open sessions without closing them (a range census: the next range carries them on). */
  discardOpen(): void {
    this.open.clear();
    this.provisional.clear();
  }

  /** Close every open session: the input has ended. */
  flush(): void {
    for (const key of [...this.open.keys()]) this.close(key);
  }

  private start(o: Observation, peer: Peer | null): OpenSession {
    const s: OpenSession = {
      session: {
        mta: o.mta,
        service: o.service,
        direction: o.direction,
        peer,
        startMs: o.timeMs,
        endMs: o.timeMs,
        outcome: 'incomplete',
        handshake: null,
        failure: null,
        messages: 0,
      },
      lastMs: o.timeMs,
      lastQueueId: null,
      pendingDetail: null,
      reasonProvisional: false,
      plaintextMessage: false,
    };
    const met = this.metKeys;
    if (met !== null) {
      // A connect starts afresh in any read, and so does an outbound session (see partialBeforeMs).
      const fresh = o.kind === 'connect' || o.direction === 'outbound';
      if (!fresh && !met.has(o.key)) {
        s.partial = true;
        // (Never swept, unlike the full read's session it may be the tail of, whose lines had times.)
        if (o.timeMs === null) this.partialDecided = true;
      }
      met.add(o.key);
    }
    this.open.set(o.key, s);
    return s;
  }

  private touch(s: OpenSession, peer: Peer | null, timeMs: number | null): void {
    if (peer) {
      const cur = s.session.peer;
      if (!cur) s.session.peer = peer;
      else if (cur.host === null && peer.host !== null && cur.ip === peer.ip) s.session.peer = peer;
    }
    if (timeMs !== null) {
      s.lastMs = timeMs;
      s.session.endMs = timeMs;
    }
  }

  private refine(s: OpenSession, reason: FailureReason, detail: string, provisional: boolean): void {
    const f = s.session.failure;
    if (!f) return;
    if (s.reasonProvisional && reason !== 'other') {
      s.session.failure = { reason, detail };
      s.reasonProvisional = provisional;
    } else if (f.reason === 'other' && reason !== 'other') {
      s.session.failure = { reason, detail };
    }
  }

  private countMessage(s: OpenSession, queueId: string | null): void {
    if (queueId !== null && queueId === s.lastQueueId) return;
    s.lastQueueId = queueId;
    s.session.messages++;
  }

  private close(key: string): void {
    const s = this.open.get(key);
    if (!s) return;
    const sess = s.session;
    sess.outcome = decideOutcome(sess, s.plaintextMessage);
    this.finish(key, s);
  }

  private finish(key: string, s: OpenSession): void {
    this.open.delete(key);
    this.provisional.delete(key);
    this.emit(s.session);
  }

  private sweep(): void {
    const horizon = this.latestMs - this.ttlMs;
    // Before the log's time has passed the skipped lines' (and the sweep after them), a full read's latest time
    // may be later (a clock stepped back after the skip point): it need not sweep here, nor close what this does.
    const early = this.sameSweepsFromMs !== null && this.latestMs < this.sameSweepsFromMs;
    for (const [key, s] of this.open) {
      if (s.lastMs !== null && s.lastMs < horizon) {
        if (early) this.partialDecided = true;
        this.close(key);
      }
    }
  }
}

/** The outcome of a session that ended without a disconnect line (key reused, idle, or end of log). */
function decideOutcome(s: Session, plaintextMessage: boolean): SessionOutcome {
  if (s.outcome !== 'incomplete') return s.outcome;
  if (s.handshake) return 'tls';
  if (s.failure) return 'failed';
  // Outbound connections have no disconnect line: a delivery without TLS was plaintext.
  if (s.direction === 'outbound' && s.messages > 0) return 'plaintext';
  // Nor do Exim/Sendmail connections that carried mail: a message received without TLS says what they were.
  if (plaintextMessage) return 'plaintext';
  return 'incomplete';
}

/** A session whose handshake named no address (Sendmail `STARTTLS=client, relay=mx.example.`) is joined too. */
function samePeer(a: Peer | null, b: Peer): boolean {
  return a === null || a.ip === b.ip;
}

/** JSON that keeps `undefined` fields apart from absent ones and infinities apart from null: for comparing states. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === undefined) return '\u0000undefined';
    if (typeof v === 'number' && !Number.isFinite(v)) return `\u0000${v}`;
    return v;
  });
}
