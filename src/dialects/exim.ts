// Exim (log-formats.md §3). Program `exim` (mainlog: parse-envelope.ts names it so) or the syslog tag `exim`/
// `exim4`. Exim writes no handshake line: the TLS result is the `X=<proto>:<cipher>:<bits>` field of other
// lines. Every format below cites its source in Exim/exim:
//   inbound    receive.c `<id> <= sender H=… P=<proto> X=… CV=…`; P= from smtp_in.c protocols[] (`esmtps` = STARTTLS,
//              `ssmtp`/`essmtp`/`essmtpa` = tls_on_connect, no `s` = plaintext; `utf8` prefix for SMTPUTF8)
//              acl.c/smtp_in.c reject lines `H=… X=… CV=… F=<…> rejected RCPT …` (add_tls_info_for_log)
//              smtp_in.c smtp_log_no_mail(): `no MAIL in [TFO ]SMTP connection from <host> D=<t>[ X=… CV=…][ C=<cmds>]`
//              (written last, only when no MAIL was ever given); smtp_log_tls_fail(): `TLS error on connection from
//              <host> (<fn>): <err>`; +smtp_connection: `SMTP connection from <host> (TCP/IP connection count = n)`
//              (written by the daemon process, before the fork) and `… closed by QUIT|EOF`, `… lost`
//   outbound   deliver.c delivery_log(): `<id> => rcpt R=… T=… H=name[ DS] [ip][:port][ I=…][ TFO*][*] X=… CV=…`
//              (`->` further recipients of the same delivery, `**` failures, `*` after H= = continued connection);
//              transports/smtp.c: `<id> TLS session: (<fn>): <err>[: delivering unencrypted to H=name [ip] (not in
//              hosts_require_tls)]`; ≤4.8x tls-*.c `TLS error on connection to name [ip] (<fn>): <err>` and
//              `TLS session failure: delivering unencrypted to name [ip] …`
//   X=         OpenSSL `TLSv1.2:ECDHE-RSA-AES256-GCM-SHA384:256` (≤4.92) / `TLS1.3:TLS_AES_256_GCM_SHA384:256` (4.93+);
//              GnuTLS `TLS1.2:ECDHE_RSA_AES_256_GCM_SHA384:256` (old) / `TLS1.3:ECDHE_X25519__RSA_PSS_RSAE_SHA256__
//              AES_256_GCM:256` (4.93+ session description); post-4.99 a 4th element (group); `*` = resumed.
//
// Sessions (one handshake per connection): inbound lines are keyed by the client's `[ip]:port` when logged
// (+incoming_port), else by the receiving process (+pid), else each line is a connection of its own. A
// connection that sent mail never gets a `no MAIL` line, so `closed by`/`lost` end it only then; otherwise the
// `no MAIL` line that follows ends it. Outbound lines are keyed by the server's address: each `=>`/`**` that is
// not on a continued connection opens a connection, `->` and continued lines join it.

import { normaliseProtocol } from '../ciphers/lookup.js';
import type { Direction, Envelope, FailureReason, Observation, Peer } from '../model/types.js';
import { type Dialect, type Interpreter, isAlnumByte, MALFORMED } from './dialect.js';
import { connectObs, deliveryObs, disconnectObs, failureObs, handshakeObs, messageObs } from './observations.js';
import { classifyTlsError } from './tls-error-reason.js';

type Result = Observation[] | null | typeof MALFORMED;

const SYSLOG_STAMP = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d{3})?(?: [+-]\d{4})? (?:\[(\d+)\] )?/;
const MESSAGE_ID = /^([0-9A-Za-z]{6}-[0-9A-Za-z]{6,11}-[0-9A-Za-z]{2,4}) /;
/** Inbound host info: `name (helo) [ip]:port`, `(helo) [ip]`, `[ip]`, `name [ip]` (spec.xfpt; host_and_ident()). */
const HOST_IN = /^(?:([^\s([][^\s]*) )?(?:\((.*?)\) )?\[([^\]\s]+)\](?::(\d+))?/;
/** Outbound host: `H=name[ DS] [ip][:port]` (deliver.c d_hostlog()). */
const HOST_OUT = /H=(\S+)(?: DS)? \[([^\]\s]+)\](?::(\d+))?/;
const ROUTED_HOST = / R=\S+ T=(\S+) H=/;
const X_FIELD = / X=(\S+)/;
const CV_FIELD = / CV=(\S+)/;
const P_FIELD = / P=(\S+)/;
const C_FIELD = / C=(\S+)$/;
const I_PORT = / I=\[[^\]\s]+\]:(\d+)/;
const CONNECTION_COUNT = / \(TCP\/IP connection count = \d+\)/;
const END_OF_CONNECTION =
  /^(?:SMTP connection from .*(?: closed by (?:QUIT|EOF|DROP)| lost(?: while reading message data)?| timed out)|unexpected disconnection while reading SMTP command from |SMTP (?:command|data) timeout .*?on connection from )/;
/** Rejects that mean the client gave MAIL (so no `no MAIL` line will end the connection). */
const MAIL_GIVEN = / F=<| rejected (?:MAIL|RCPT|after DATA|DATA)/;
/** GnuTLS errors of TLS records after the handshake (tls-gnu.c record_io_error): `(recv): …`, `(send): …`. */
const RECORD_IO_ERROR = /^\((?:recv|send)\)/;
/** How long a connection can stay silent in the log: longer means its pid or port now serves another one. */
const STALE_MS = 15 * 60_000;
const MAX_TRACKED = 50_000;

/** `TLS1.3`, `TLSv1.2` (OpenSSL ≤4.92), GnuTLS `TLS1.0`; `TLS1.x` and other oddities are `unknown`. */
function handshakeFields(
  x: string,
): { protocol: ReturnType<typeof normaliseProtocol>; cipher: string; bits: string | null } | null {
  const value = x.endsWith('*') ? x.slice(0, -1) : x; // tls_resumption marks a resumed session
  const parts = value.split(':');
  if (parts.length < 2 || parts[0] === '' || parts[1] === '') return null;
  return { protocol: normaliseProtocol(parts[0]!), cipher: parts[1]!, bits: parts[2] ?? null };
}

/** Received-protocol names (smtp_in.c protocols[]): with `s` = TLS; `ssmtp`/`essmtp*` = TLS on connect. */
function readProtocol(p: string): { tls: boolean; onConnect: boolean; network: boolean } {
  const name = p.startsWith('utf8') ? p.slice(4) : p;
  switch (name) {
    case 'smtp':
    case 'esmtp':
    case 'esmtpa':
      return { tls: false, onConnect: false, network: true };
    case 'smtps':
    case 'esmtps':
    case 'esmtpsa':
      return { tls: true, onConnect: false, network: true };
    case 'ssmtp':
    case 'essmtp':
    case 'essmtpa':
      return { tls: true, onConnect: true, network: true };
    default:
      return { tls: false, onConnect: false, network: false }; // local, local-smtp, local-bsmtp, …
  }
}

/** TLS happened, its parameters were not logged (log_selector -tls_cipher). */
function notLoggedHandshake(base: Parameters<typeof handshakeObs>[0], peer: Peer): Observation {
  const h = handshakeObs(base, peer, 'unknown', '(not logged)', null, null);
  h.note = 'Exim logged TLS (P=, or an error of a TLS record) without X=: add +tls_cipher to log_selector';
  return h;
}

/**
 * Whether the Exim mainlog line buf[start, end) carries a message id after its stamp (and `.fff`, ` ±hhmm`,
 * ` [pid]`): `1vAbCd-000ABC-AB` (6-6-2 before 4.97, 6-11-4 since; log-formats.md §3.4).
 */
export function hasEximMessageId(buf: Buffer, start: number, end: number): boolean {
  let p = start + 19;
  if (buf[p] === 46 /* . */) {
    p++;
    while (p < end && buf[p]! >= 48 && buf[p]! <= 57) p++;
  }
  if (buf[p] === 32 && (buf[p + 1] === 43 || buf[p + 1] === 45) && buf[p + 6] === 32) p += 6; // ` +hhmm`
  if (buf[p] !== 32) return false;
  p++;
  if (buf[p] === 91 /* [ */) {
    while (p < end && buf[p] !== 93 /* ] */) p++;
    if (buf[p + 1] !== 32) return false;
    p += 2;
  }
  const run = (min: number, max: number): boolean => {
    let n = 0;
    while (p < end && isAlnumByte(buf[p])) {
      p++;
      n++;
    }
    return n >= min && n <= max;
  };
  if (!run(6, 6) || buf[p] !== 45) return false;
  p++;
  if (!run(6, 11) || buf[p] !== 45) return false;
  p++;
  return run(2, 4) && (p === end || buf[p] === 32);
}

interface InboundHost {
  peer: Peer;
  port: string | null;
  /** Index just after the host info in the text it was read from. */
  end: number;
}

function readInboundHost(text: string, at: number): InboundHost | null {
  const m = HOST_IN.exec(text.slice(at));
  if (!m) return null;
  return { peer: { host: m[1] ?? null, ip: m[3]! }, port: m[4] ?? null, end: at + m[0].length };
}

/**
 * An outbound host `H=name [ip]`: a router that names the host by its address (manualroute to `127.0.0.1`)
 * gives no verified name, as Postfix's `127.0.0.1[127.0.0.1]`.
 */
function outboundPeer(name: string, ip: string): Peer {
  return { host: name === ip ? null : name, ip };
}

/** The text after the host info up to the first quote (SNI="…", DN="…", T="…", C="…" are free text). */
function fieldsAfter(text: string, from: number): string {
  const rest = text.slice(from);
  const quote = rest.indexOf('"');
  return quote < 0 ? rest : rest.slice(0, quote);
}

interface InboundState {
  handshake: boolean;
  /**
   * TLS was up though no line gave its parameters yet: an error of a TLS record after the handshake
   * (`(recv)`/`(send)`, `serverTlsError`). The connection's `<=` or `no MAIL` line tells them, or that it was TLS.
   */
  tlsUp: boolean;
  mail: boolean;
  lastMs: number | null;
}

interface OutboundState {
  messageId: string;
  lastMs: number | null;
  tls: boolean;
  /** The last thing on this connection was a failed handshake. */
  failed: boolean;
}

/** A Map that forgets its oldest entries past a size (state for connections whose end was never logged). */
class TrackedMap<V> extends Map<string, V> {
  override set(key: string, value: V): this {
    if (!this.has(key) && this.size >= MAX_TRACKED) {
      const oldest = this.keys().next();
      if (!oldest.done) this.delete(oldest.value);
    }
    return super.set(key, value);
  }
}

export const exim: Dialect = {
  id: 'exim',
  name: 'Exim',
  claims: (program) => program === 'exim' || program === 'exim4',
  keywords: ['H=', 'TLS', 'SMTP connection', 'unexpected disconnection', 'SMTP command timeout', 'SMTP data timeout'],
  createInterpreter(): Interpreter {
    return new EximInterpreter().interpret;
  },
};

class EximInterpreter {
  private readonly inbound = new TrackedMap<InboundState>();
  private readonly outbound = new TrackedMap<OutboundState>();
  /** Per-line mode: addresses whose TLS error was counted, so that the `no MAIL` line after it is not. */
  private readonly recentTlsErrors = new TrackedMap<number | null>();
  /**
   * Messages whose last delivery attempt failed its handshake on a line that names no host (`<id> TLS session:
   * (SSL_connect): …`): the key of that failure's session, still open, until the message's next delivery line
   * names the host it was.
   */
  private readonly hostlessFailures = new TrackedMap<{ key: string; timeMs: number | null }>();
  private lineNo = 0;

  readonly interpret = (line: Envelope): Result => {
    let env = line;
    this.lineNo++;
    let msg = env.message;
    // Through syslog, Exim keeps its own time stamp in the text unless syslog_timestamp = false (spec.xfpt).
    const stamp = SYSLOG_STAMP.exec(msg);
    if (stamp) {
      msg = msg.slice(stamp[0].length);
      if (stamp[1] !== undefined && env.pid === null) {
        env = { timeMs: env.timeMs, host: env.host, program: env.program, pid: Number(stamp[1]), message: env.message };
      }
    }
    const id = MESSAGE_ID.exec(msg);
    const messageId = id ? id[1]! : null;
    if (id) msg = msg.slice(id[0].length);
    if (messageId !== null) {
      if (msg.startsWith('<= ')) return this.arrival(env, msg, messageId);
      if (msg.startsWith('=> ') || msg.startsWith('-> ') || msg.startsWith('** ')) {
        return this.delivery(env, msg, messageId);
      }
      if (msg.startsWith('== ')) return this.deferral(env, msg, messageId);
      if (msg.startsWith('TLS session')) return this.clientTlsFailure(env, msg, messageId);
    }
    if (msg.startsWith('H=')) return this.hostLine(env, msg);
    if (msg.startsWith('TLS error on connection from ')) return this.serverTlsError(env, msg);
    if (msg.startsWith('TLS error on connection to ')) return this.oldClientTlsError(env, msg, messageId);
    if (msg.startsWith('no MAIL in ')) return this.noMail(env, msg);
    if (msg.startsWith('SMTP connection from ') && CONNECTION_COUNT.test(msg)) return this.connection(env, msg);
    if (END_OF_CONNECTION.test(msg)) return this.endOfConnection(env, msg);
    return null;
  };

  // ------------------------------------------------------------------------------------------ inbound

  private base(env: Envelope, direction: Direction, key: string, service: string) {
    return { mta: 'exim', service, direction, key, timeMs: env.timeMs };
  }

  /** The inbound key: client address+port, else receiving pid, else null (each line its own connection). */
  private inboundKey(env: Envelope, host: InboundHost): string | null {
    const prefix = `${env.host ?? ''}|in|`;
    if (host.port !== null) return `${prefix}${host.peer.ip}|${host.port}`;
    if (env.pid !== null) return `${prefix}pid|${env.pid}`;
    return null;
  }

  private serviceOf(fields: string, onConnect = false): string {
    const port = I_PORT.exec(fields);
    return onConnect || port?.[1] === '465' ? 'smtps' : 'smtp';
  }

  /**
   * The connection state for a keyed inbound line. A state not touched for STALE_MS belongs to an earlier
   * connection that reused the pid or port: it is replaced, and a `connect` closes that connection's session.
   */
  private stateFor(key: string, env: Envelope, peer: Peer, out: Observation[], service: string): InboundState {
    const s = this.inbound.get(key);
    if (s && !(s.lastMs !== null && env.timeMs !== null && env.timeMs - s.lastMs > STALE_MS)) {
      if (env.timeMs !== null) s.lastMs = env.timeMs;
      return s;
    }
    if (s) out.push(connectObs(this.base(env, 'inbound', key, service), peer));
    const fresh: InboundState = { handshake: false, tlsUp: false, mail: false, lastMs: env.timeMs };
    this.inbound.set(key, fresh);
    return fresh;
  }

  private handshakeObservation(
    env: Envelope,
    key: string,
    service: string,
    direction: Direction,
    peer: Peer | null,
    x: string,
    fields: string,
  ): Observation | null {
    const hs = handshakeFields(x);
    if (!hs) return null;
    const cv = CV_FIELD.exec(fields);
    return handshakeObs(
      this.base(env, direction, key, service),
      peer,
      hs.protocol,
      hs.cipher,
      hs.bits,
      cv ? `CV=${cv[1]}` : null,
    );
  }

  /** `<id> <= sender H=… P=… X=…`: a message received over a network connection. */
  private arrival(env: Envelope, msg: string, messageId: string): Result {
    const at = msg.indexOf(' H=');
    if (at < 0) return null; // local submission (U=user P=local): no connection
    const host = readInboundHost(msg, at + 3);
    if (!host) return MALFORMED;
    const fields = fieldsAfter(msg, host.end);
    const p = P_FIELD.exec(fields);
    const proto = readProtocol(p ? p[1]! : 'smtp');
    if (p && !proto.network) return null;
    const service = this.serviceOf(fields, proto.onConnect);
    const x = X_FIELD.exec(fields);
    const out: Observation[] = [];
    const key = this.inboundKey(env, host);
    const k = key ?? `${env.host ?? ''}|in|line|${this.lineNo}`;
    const state = key === null ? null : this.stateFor(key, env, host.peer, out, service);
    if (!state?.handshake) {
      let hs: Observation | null = null;
      if (x) {
        hs = this.handshakeObservation(env, k, service, 'inbound', host.peer, x[1]!, fields);
        if (!hs) return MALFORMED;
      } else if (proto.tls) {
        hs = notLoggedHandshake(this.base(env, 'inbound', k, service), host.peer);
      }
      if (hs) {
        out.push(hs);
        if (state) state.handshake = true;
      }
    }
    if (state) state.mail = true;
    const b = this.base(env, 'inbound', k, service);
    const plaintext = !x && !proto.tls;
    const message = messageObs(b, host.peer, messageId);
    if (plaintext) message.plaintext = true;
    out.push(message);
    if (key === null) {
      const disconnect = disconnectObs(b, host.peer, 'unknown', null);
      if (plaintext) disconnect.plaintext = true;
      out.push(disconnect);
    }
    return out;
  }

  /** `H=… [X=…] … rejected …` (ACL lines) and other connection-level lines that start with the host. */
  private hostLine(env: Envelope, msg: string): Result {
    const host = readInboundHost(msg, 2);
    if (!host) return null;
    const fields = fieldsAfter(msg, host.end);
    const x = X_FIELD.exec(fields);
    const service = this.serviceOf(fields);
    const key = this.inboundKey(env, host);
    if (key === null) {
      if (!x) return null;
      const k = `${env.host ?? ''}|in|line|${this.lineNo}`;
      const hs = this.handshakeObservation(env, k, service, 'inbound', host.peer, x[1]!, fields);
      if (!hs) return MALFORMED;
      return [hs, disconnectObs(this.base(env, 'inbound', k, service), host.peer, 'ok', null)];
    }
    const out: Observation[] = [];
    const state = this.stateFor(key, env, host.peer, out, service);
    if (MAIL_GIVEN.test(msg)) state.mail = true;
    if (x && !state.handshake) {
      const hs = this.handshakeObservation(env, key, service, 'inbound', host.peer, x[1]!, fields);
      if (!hs) return MALFORMED;
      out.push(hs);
      state.handshake = true;
    }
    return out;
  }

  /**
   * `TLS error on connection from <host> (<fn>): <error>` (smtp_in.c smtp_log_tls_fail, tls-*.c). With GnuTLS,
   * `(recv)` and `(send)` are errors of a TLS record read or written after the handshake (tls-gnu.c
   * record_io_error, "logging errors during I/O"): the handshake succeeded, and the client went away without a
   * close_notify, the commonest of them on a Debian server. Not a failure: the connection was TLS (review).
   */
  private serverTlsError(env: Envelope, msg: string): Result {
    const host = readInboundHost(msg, 'TLS error on connection from '.length);
    if (!host) return MALFORMED;
    const fields = msg.slice(host.end);
    const detail = fields.replace(/^(?: I=\S+)?(?: U=\S+)? ?/, '');
    const service = this.serviceOf(fields);
    const key = this.inboundKey(env, host);
    if (RECORD_IO_ERROR.test(detail)) {
      // (A line of its own, unkeyed, is no connection: the `<=` or `no MAIL` line of that connection counts it.)
      if (key === null) return [];
      const out: Observation[] = [];
      const state = this.stateFor(key, env, host.peer, out, service);
      if (!state.handshake) state.tlsUp = true;
      return out;
    }
    const reason = classifyTlsError(detail);
    if (key === null) {
      const b = this.base(env, 'inbound', `${env.host ?? ''}|in|line|${this.lineNo}`, service);
      this.recentTlsErrors.set(`${env.host ?? ''}|${host.peer.ip}`, env.timeMs);
      return [failureObs(b, host.peer, reason, detail), disconnectObs(b, host.peer, 'failed', null)];
    }
    const out: Observation[] = [];
    this.stateFor(key, env, host.peer, out, service);
    out.push(failureObs(this.base(env, 'inbound', key, service), host.peer, reason, detail));
    return out;
  }

  /** `no MAIL in [TFO ]SMTP connection from <host> D=<t>[ X=… CV=…][ C=<commands>]`: the connection's last line. */
  private noMail(env: Envelope, msg: string): Result {
    const from = msg.indexOf('SMTP connection from ');
    if (from < 0) return MALFORMED;
    const host = readInboundHost(msg, from + 21);
    if (!host) return MALFORMED;
    const fields = msg.slice(host.end);
    const x = X_FIELD.exec(fields);
    const c = C_FIELD.exec(fields);
    const commands = c ? c[1]!.split(',').filter((cmd) => cmd !== '' && cmd !== '...') : [];
    const starttlsSent = commands.includes('STARTTLS');
    const service = this.serviceOf(fields);
    const key = this.inboundKey(env, host);
    const out: Observation[] = [];
    let k: string;
    let handshakeDone = false;
    let tlsUp = false;
    if (key === null) {
      k = `${env.host ?? ''}|in|line|${this.lineNo}`;
      const errorKey = `${env.host ?? ''}|${host.peer.ip}`;
      const errorMs = this.recentTlsErrors.get(errorKey);
      if (!x && starttlsSent && errorMs !== undefined) {
        // The failed STARTTLS of this line was counted with its `TLS error on connection` line.
        this.recentTlsErrors.delete(errorKey);
        if (errorMs === null || env.timeMs === null || env.timeMs - errorMs <= STALE_MS) return [];
      }
    } else {
      k = key;
      const state = this.stateFor(key, env, host.peer, out, service);
      handshakeDone = state.handshake;
      tlsUp = state.tlsUp;
      this.inbound.delete(key);
    }
    if (x && !handshakeDone) {
      const hs = this.handshakeObservation(env, k, service, 'inbound', host.peer, x[1]!, fields);
      if (!hs) return MALFORMED;
      out.push(hs);
    } else if (tlsUp && !handshakeDone) {
      out.push(notLoggedHandshake(this.base(env, 'inbound', k, service), host.peer));
    }
    out.push(
      disconnectObs(
        this.base(env, 'inbound', k, service),
        host.peer,
        x || tlsUp ? 'ok' : starttlsSent ? 'failed' : 'absent',
        // `C=...,` means the history buffer wrapped: more commands than listed.
        c ? Math.max(commands.length, 1) : 0,
      ),
    );
    return out;
  }

  /** `SMTP connection from <host> (TCP/IP connection count = n)` (+smtp_connection; the daemon's pid). */
  private connection(env: Envelope, msg: string): Result {
    const host = readInboundHost(msg, 'SMTP connection from '.length);
    if (!host) return MALFORMED;
    if (host.port === null) return null; // keyed by pid, and this line carries the daemon's pid, not the child's
    const key = this.inboundKey(env, host)!;
    this.inbound.set(key, { handshake: false, tlsUp: false, mail: false, lastMs: env.timeMs });
    const service = this.serviceOf(msg.slice(host.end));
    return [connectObs(this.base(env, 'inbound', key, service), host.peer)];
  }

  /** `… closed by QUIT`, `… lost`, timeouts: the end, unless a `no MAIL` line is still to come. */
  private endOfConnection(env: Envelope, msg: string): Result {
    const at = msg.indexOf(' from ');
    if (at < 0) return null;
    const host = readInboundHost(msg, at + 6);
    if (!host) return null;
    const key = this.inboundKey(env, host);
    if (key === null) return null;
    const state = this.inbound.get(key);
    if (!state?.mail) return [];
    this.inbound.delete(key);
    const service = this.serviceOf(msg.slice(host.end));
    return [disconnectObs(this.base(env, 'inbound', key, service), host.peer, 'unknown', null)];
  }

  // ----------------------------------------------------------------------------------------- outbound

  private outboundKey(env: Envelope, ip: string): string {
    return `${env.host ?? ''}|out|${ip}`;
  }

  /** `<id> => rcpt R=… T=… H=name [ip] … X=… CV=…` (also `->`, `**`). */
  private delivery(env: Envelope, msg: string, messageId: string): Result {
    const routed = ROUTED_HOST.exec(msg);
    if (!routed) return null; // local delivery, or a failure before any host was tried
    const hostAt = routed.index + routed[0].length - 2;
    const h = HOST_OUT.exec(msg.slice(hostAt));
    if (h?.index !== 0) return MALFORMED;
    const peer = outboundPeer(h[1]!, h[2]!);
    const afterHost = hostAt + h[0].length;
    const fields = fieldsAfter(msg, afterHost);
    // `*` right after the host part (H=…[:port][ I=…][ TFO*]) marks a continued connection (deliver.c).
    const tail = msg.slice(hostAt);
    const stop = tail.search(/ (?:X|CV|A|C|DN)=| K(?= |$)| PRDR(?= |$)|: /);
    const hostPart = stop < 0 ? tail : tail.slice(0, stop);
    const continued = hostPart.endsWith('*') && (!hostPart.endsWith(' TFO*') || hostPart.endsWith('TFO**'));
    const x = X_FIELD.exec(fields);
    const key = this.outboundKey(env, peer.ip);
    const kind = msg.slice(0, 2);
    const prev = this.outbound.get(key);
    const recent =
      prev !== undefined &&
      (prev.lastMs === null || env.timeMs === null || Math.abs(env.timeMs - prev.lastMs) <= STALE_MS);
    // `->` is a further recipient of the `=>` before it; `**` after `=>` of the same message in the same run
    // (a recipient refused by the same server) and continued deliveries reuse the connection.
    const joins =
      recent && !prev.failed && (kind === '->' || continued || (kind === '**' && prev.messageId === messageId));
    const b = this.base(env, 'outbound', key, 'smtp');
    const out: Observation[] = [];
    // A failed handshake of this message that named no host was with this one: it gets the peer and ends (so that
    // it is listed among the failures, and a plaintext delivery after it is its fallback).
    const hostless = this.hostlessFailures.get(messageId);
    if (hostless !== undefined) {
      this.hostlessFailures.delete(messageId);
      if (hostless.timeMs === null || env.timeMs === null || Math.abs(env.timeMs - hostless.timeMs) <= STALE_MS) {
        const end = disconnectObs(this.base(env, 'outbound', hostless.key, 'smtp'), peer, 'unknown', null);
        end.openOnly = true; // (closed as idle meanwhile, as watch's shorter TTL may: it stays as it was)
        out.push(end);
      }
    }
    if (!joins) {
      out.push(connectObs(b, peer));
      if (x) {
        const hs = this.handshakeObservation(env, key, 'smtp', 'outbound', peer, x[1]!, fields);
        if (!hs) return MALFORMED;
        out.push(hs);
      }
      this.outbound.set(key, { messageId, lastMs: env.timeMs, tls: x !== null, failed: false });
    } else {
      if (x && !prev.tls) {
        const hs = this.handshakeObservation(env, key, 'smtp', 'outbound', peer, x[1]!, fields);
        if (!hs) return MALFORMED;
        out.push(hs);
        prev.tls = true;
      }
      prev.messageId = messageId;
      prev.lastMs = env.timeMs;
      prev.failed = false;
    }
    const status = kind === '**' ? 'bounced' : 'sent';
    out.push(deliveryObs(b, peer, messageId, status));
    return out;
  }

  /**
   * A failed client handshake on a new connection to `peer`, or the same failure told again: a `==` line per
   * deferred recipient of one message, or ≤4.8x's `TLS session failure: delivering unencrypted` after its
   * `TLS error on connection to`.
   */
  private clientFailure(
    env: Envelope,
    peer: Peer,
    messageId: string | null,
    detail: string,
    again: boolean,
  ): Observation[] {
    const key = this.outboundKey(env, peer.ip);
    const prev = this.outbound.get(key);
    const sameFailure =
      again ||
      (prev?.failed === true &&
        messageId !== null &&
        prev.messageId === messageId &&
        (prev.lastMs === null || env.timeMs === null || Math.abs(env.timeMs - prev.lastMs) <= STALE_MS));
    const reason: FailureReason = /required, but the server did not offer|not offered/.test(detail)
      ? 'not-offered'
      : classifyTlsError(detail);
    this.outbound.set(key, { messageId: messageId ?? '', lastMs: env.timeMs, tls: false, failed: true });
    const b = this.base(env, 'outbound', key, 'smtp');
    const failure = failureObs(b, peer, reason, detail);
    return sameFailure ? [failure] : [connectObs(b, peer), failure];
  }

  /** `<id> == rcpt … defer (…) H=name [ip]: TLS session: …` or `… a TLS session is required …`. */
  private deferral(env: Envelope, msg: string, messageId: string): Result {
    const tlsAt = msg.search(/TLS session|TLS error|TLS negotiation|a TLS session is required/);
    if (tlsAt < 0) return null;
    const h = HOST_OUT.exec(msg);
    if (!h) return null;
    return this.clientFailure(env, outboundPeer(h[1]!, h[2]!), messageId, msg.slice(tlsAt), false);
  }

  /**
   * `<id> TLS session: (<fn>): <err>[: delivering unencrypted to H=name [ip] (not in hosts_require_tls)]`, and
   * ≤4.8x's `TLS session failure: delivering unencrypted to name [ip] (not in hosts_require_tls)`.
   */
  private clientTlsFailure(env: Envelope, msg: string, messageId: string): Result {
    if (msg.startsWith('TLS session failure:')) {
      const m = /delivering unencrypted to (\S+) \[([^\]\s]+)\]/.exec(msg);
      if (!m) return MALFORMED;
      return this.clientFailure(env, outboundPeer(m[1]!, m[2]!), messageId, msg, true);
    }
    if (!msg.startsWith('TLS session: ')) return null;
    const cut = msg.indexOf(': delivering unencrypted');
    const detail = (cut < 0 ? msg : msg.slice(0, cut)).slice(13);
    const h = cut < 0 ? null : HOST_OUT.exec(msg.slice(cut));
    if (h) return this.clientFailure(env, outboundPeer(h[1]!, h[2]!), messageId, detail, false);
    // No host named: the failure is a connection of its own, whose host the message's next delivery line names
    // (`delivery`: the plaintext delivery that follows, log-formats.md §3.3).
    const key = `${env.host ?? ''}|out|msg|${messageId}|${this.lineNo}`;
    this.hostlessFailures.set(messageId, { key, timeMs: env.timeMs });
    return [failureObs(this.base(env, 'outbound', key, 'smtp'), null, classifyTlsError(detail), detail)];
  }

  /** Exim ≤4.8x client: `[<id> ]TLS error on connection to name [ip] (<fn>): <err>`. */
  private oldClientTlsError(env: Envelope, msg: string, messageId: string | null): Result {
    const m = /^TLS error on connection to (\S+) \[([^\]\s]+)\](?::\d+)? ?(.*)$/.exec(msg);
    if (!m) return MALFORMED;
    return this.clientFailure(env, outboundPeer(m[1]!, m[2]!), messageId, m[3]!, false);
  }
}
