// The types every stage shares. Dialects produce Observations from Envelopes; the correlator turns
// Observations into Sessions; reducers turn Sessions into views. Nothing here does I/O.

export type Direction = 'inbound' | 'outbound';

/** Normalised protocol names (DESIGN.md §4). Sendmail's ambiguous `TLSv1/SSLv3` is `unknown`. */
export type Protocol = 'SSLv2' | 'SSLv3' | 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3' | 'unknown';
export const PROTOCOLS: readonly Protocol[] = ['SSLv2', 'SSLv3', 'TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3', 'unknown'];

/** Cipher-suite ratings from shared/data (ciphersuite.info rules), plus `unknown` for unmapped names. */
export type Rating = 'recommended' | 'secure' | 'weak' | 'insecure' | 'unknown';

/** Why a handshake failed, from the OpenSSL/GnuTLS error text or the MTA's own words. */
export type FailureReason =
  | 'unsupported-protocol'
  | 'no-shared-cipher'
  | 'wrong-version-number'
  | 'alert'
  | 'certificate'
  | 'lost-connection'
  | 'timeout'
  | 'not-offered'
  | 'other';
export const FAILURE_REASONS: readonly FailureReason[] = [
  'unsupported-protocol',
  'no-shared-cipher',
  'wrong-version-number',
  'alert',
  'certificate',
  'lost-connection',
  'timeout',
  'not-offered',
  'other',
];

/**
 * What a handshake showed of the peer's certificate (dialects/certificate-trust.ts): `verified` (chain and name),
 * `trusted` (the chain; the name not checked), `untrusted` (it did not verify), `none` (no certificate), `unknown`
 * (not logged).
 */
export type CertificateTrust = 'verified' | 'trusted' | 'untrusted' | 'none' | 'unknown';

/** Every input line gets exactly one outcome (DESIGN.md §5). */
export type LineOutcome = 'event' | 'unrecognized' | 'malformed' | 'foreign';

/** A remote party. `host` is null when the MTA had no verified name (Postfix `unknown[ip]`, tlsproxy `[ip]:port`). */
export interface Peer {
  host: string | null;
  ip: string;
  /**
   * `false` when the MTA never logs peer names at all (Exchange protocol logs, Dovecot's `rip=`): `host` is then
   * null by design, which is not an unknown client in Postfix's sense (see isUnknownClient).
   */
  nameLogged?: false;
}

/**
 * A client without a verified name (Postfix `unknown[ip]`, OpenSMTPD `host=<unknown>`), the seed one-liner's
 * `unknown[` filter. A peer whose MTA never logs names (`nameLogged: false`) is not unknown, only unnamed.
 */
export function isUnknownClient(peer: Peer | null): boolean {
  return peer === null || (peer.host === null && peer.nameLogged !== false);
}

/** One log line with its transport framing removed (syslog, ISO, maillog_file, journald, Exim file). */
export interface Envelope {
  /** Milliseconds since the epoch, or null when the line carried no usable time. */
  timeMs: number | null;
  /** The logging host (syslog HOSTNAME); null when the format has none (Exim mainlog, Dovecot log_path). */
  host: string | null;
  /** The syslog tag without the pid, e.g. `postfix/submission/smtpd`; empty when the format has none. */
  program: string;
  pid: number | null;
  /** The text after `prog[pid]: `. */
  message: string;
}

interface ObservationBase {
  /** Dialect id: postfix, exim, sendmail, opensmtpd, dovecot, exchange. */
  mta: string;
  /** Which listener/daemon: `smtpd`, `submission/smtpd`, `tlsproxy`, `smtp`, `imap`, … */
  service: string;
  direction: Direction;
  /** Correlation key: all observations of one connection share it (and only them, while it is open). */
  key: string;
  timeMs: number | null;
}

/** A connection starts. Closes whatever was still open under the same key. */
export interface ConnectObservation extends ObservationBase {
  kind: 'connect';
  peer: Peer;
}

/** A completed TLS handshake. */
export interface HandshakeObservation extends ObservationBase {
  kind: 'handshake';
  peer: Peer | null;
  protocol: Protocol;
  /** The cipher exactly as logged (OpenSSL, GnuTLS or IANA spelling). */
  cipher: string;
  /** Logged strength, e.g. `256/256`, when the MTA logs one. */
  bits: string | null;
  /** Postfix trust word (Anonymous, Untrusted, Trusted, Verified) or an equivalent, when logged. */
  trust: string | null;
  /** Why the protocol is `unknown`, when it is (e.g. Sendmail's `TLSv1/SSLv3`), or why the suite is uncertain. */
  note?: string;
  /**
   * The IANA suite, when the dialect knows it better than a name lookup can (Exchange logs algorithms, not a
   * suite: the dialect picks the lowest-rated candidate and says so in `note`). Absent: looked up from `cipher`.
   */
  iana?: string | null;
}

/** A failed TLS handshake. `reason` may be refined by a later `failure-detail` of the same key. */
export interface FailureObservation extends ObservationBase {
  kind: 'failure';
  peer: Peer | null;
  reason: FailureReason;
  detail: string;
}

/** The library's explanation of a failure that was (or is about to be) logged for the same key. */
export interface FailureDetailObservation extends ObservationBase {
  kind: 'failure-detail';
  reason: FailureReason;
  detail: string;
}

/** The client sent STARTTLS and then vanished (`lost connection after STARTTLS`). */
export interface StarttlsLostObservation extends ObservationBase {
  kind: 'starttls-lost';
  peer: Peer | null;
}

/** A connection ends. `starttls`/`commands` come from Postfix ≥3.0 counters, when present. */
export interface DisconnectObservation extends ObservationBase {
  kind: 'disconnect';
  peer: Peer | null;
  /** `ok` = STARTTLS completed, `failed` = attempted and failed, `absent` = never sent, `unknown` = no counters. */
  starttls: 'ok' | 'failed' | 'absent' | 'unknown';
  /** Total commands the client sent, or null when not logged. 0 means a silent connection (scanner). */
  commands: number | null;
  /** The session was plaintext even if nothing else says so (e.g. Exim `P=esmtp`). */
  plaintext?: boolean;
  /**
   * Ends the key's session only if one is open, and starts none (Exim names a failed connection's host on a later
   * line: by then the session may have been closed as idle, and must not come back as another).
   */
  openOnly?: boolean;
  /**
   * No TLS, on a connection the server itself treats as secure (Dovecot `secured`: loopback or
   * login_trusted_networks): counted as `trusted`, apart from plaintext.
   */
  trusted?: boolean;
}

/** A message carried by the connection (`client=` in Postfix, `<=` in Exim, `to=` deliveries outbound). */
export interface MessageObservation extends ObservationBase {
  kind: 'message';
  peer: Peer | null;
  /** Queue id, when known: repeated lines of one id on one connection count once. */
  queueId: string | null;
  /**
   * The message says it arrived without TLS (Exim `P=esmtp`, Sendmail `proto=ESMTP`): a connection that ends
   * without a disconnect line (none is logged after mail) is plaintext unless a handshake says otherwise.
   */
  plaintext?: boolean;
}

/**
 * An outbound delivery attempt that reached a server (a `status=` line with a relay address). It joins the
 * connection that the same client process opened before, or starts a plaintext one.
 */
export interface DeliveryObservation extends ObservationBase {
  kind: 'delivery';
  peer: Peer;
  queueId: string | null;
  status: string;
}

export type Observation =
  | ConnectObservation
  | HandshakeObservation
  | FailureObservation
  | FailureDetailObservation
  | StarttlsLostObservation
  | DisconnectObservation
  | MessageObservation
  | DeliveryObservation;

export interface Handshake {
  protocol: Protocol;
  cipher: string;
  bits: string | null;
  trust: string | null;
  note?: string;
  iana?: string | null;
}

/**
 * Services that are not SMTP: mailbox access (Dovecot IMAP/POP3). Their sessions are counted in a section of
 * their own so that they never inflate SMTP figures.
 */
export function isMailboxService(service: string): boolean {
  return /^(imap|pop3|imaps|pop3s|managesieve)$/.test(service);
}

/**
 * Whether a session's service is one of `names`: named as logged (`submission/smtpd`), or by its master.cf service
 * name, the part before the daemon (`submission` for `submission/smtpd`, as `whatif --mandatory-services` takes
 * it). A bare daemon name matches only itself: `smtpd` is port 25's smtpd, not `submission/smtpd`.
 */
export function serviceMatches(service: string, names: ReadonlySet<string>): boolean {
  if (names.has(service)) return true;
  const parts = service.split('/');
  for (let i = 0; i < parts.length - 1; i++) if (names.has(parts[i]!)) return true;
  return false;
}

export interface Failure {
  reason: FailureReason;
  detail: string;
}

/**
 * What one connection was:
 * - `tls`: a handshake completed;
 * - `failed`: a handshake was attempted and failed (including STARTTLS then silence);
 * - `plaintext`: commands (or mail) were exchanged without TLS;
 * - `no-command`: the client sent nothing at all (scanners; `commands=0/0`) — neither TLS nor plaintext;
 * - `trusted`: no TLS, but the server logged the connection as trusted/secured (Dovecot `secured`: loopback or
 *   login_trusted_networks, e.g. webmail on the same host) — unencrypted, yet not a plaintext client to chase;
 * - `incomplete`: the log ended (or the key was reused) before anything decided it.
 */
export type SessionOutcome = 'tls' | 'failed' | 'plaintext' | 'no-command' | 'trusted' | 'incomplete';

export interface Session {
  mta: string;
  service: string;
  direction: Direction;
  peer: Peer | null;
  startMs: number | null;
  endMs: number | null;
  outcome: SessionOutcome;
  handshake: Handshake | null;
  failure: Failure | null;
  messages: number;
  /**
   * A plaintext session that followed a failed handshake of the same peer within the fallback window: the
   * peer could not (or would not) do TLS with us and sent in the clear instead (set by FallbackDetector).
   */
  fallback?: boolean;
}

/** Per-line accounting, always reported (DESIGN.md §5). */
export interface Coverage {
  lines: number;
  events: number;
  unrecognized: number;
  malformed: number;
  foreign: number;
  /**
   * Lines not among `lines`: dated long before `--since` or after `--until`, skipped unparsed (census/window-seek.ts). Set on a census's
   * result only, and only when lines were skipped.
   */
  skipped?: number;
}

export function emptyCoverage(): Coverage {
  return { lines: 0, events: 0, unrecognized: 0, malformed: 0, foreign: 0 };
}

export function addCoverage(a: Coverage, b: Coverage): Coverage {
  return {
    lines: a.lines + b.lines,
    events: a.events + b.events,
    unrecognized: a.unrecognized + b.unrecognized,
    malformed: a.malformed + b.malformed,
    foreign: a.foreign + b.foreign,
  };
}

/** A stable key for maps of peers: the address; the host name is kept beside it. */
export function peerKey(peer: Peer): string {
  return peer.ip;
}
