// Sendmail (log-formats.md §4). Programs: `sm-mta` (Debian's daemon tag, `-L sm-mta`), `sendmail` (the default
// tag: the MSP, or the daemon on systems that keep it) and `sm-msp-queue` (the MSP's queue runner). Sources in
// hrs-allbsd/sendmail (8.12–8.18):
//   handshake  tls.c tls_get_info(): `[QID: ]STARTTLS=server|client, relay=<relay>, version=<v>, verify=<v>,
//              cipher=<name>, bits=<alg>/<cipher>` at LogLevel > 8 (default 9). `version=TLSv1/SSLv3` before 8.15.1
//              (SSL_CIPHER_get_version: the suite's minimum version, not the negotiated one).
//   failures   srvrsmtp.c `STARTTLS=server, error: accept failed=<rc>[, reason=<text>], SSL_error=<n>, errno=<n>,
//              retry=<n>[, relay=<relay>]` (relay since 8.14.5, reason since 8.14.6); deliver.c `STARTTLS=client,
//              error: connect failed=<rc>[, reason=…], SSL_error=<n>…` (no relay: the peer comes from the `to=`
//              line of the same process); tls.c tlslogerr() at LogLevel > 9: `STARTTLS=<who>: [<pid>:]<ERR string>`
//   messages   headers.c logsender(): `QID: from=<…>, …, proto=<P>, daemon=<name>, relay=<relay>` (8.15+: `ESMTPS`,
//              `ESMTPSA`, `UTF8SMTPS` when TLS was active; earlier always `ESMTP`), deliver.c logdelivery():
//              `QID: to=<…>, …, mailer=<m>, …, relay=<host>. [<ip>], dsn=…, stat=<status>`
//   sessions   srvrsmtp.c: `QID: <relay> did not issue MAIL/EXPN/VRFY/ETRN during connection to <daemon>` at QUIT/EOF
//              of a connection that gave no MAIL; `QID: lost input channel from <relay> to <daemon> after <cmd>`
// Relay forms: `name [ip]`, `[ip]` (no reverse name), `name [ip] (may be forged)` (reverse name not confirmed),
// `user@name [ip]` (ident), `[IPv6:…]`. The last three are unknown clients except for the ident user.
//
// Sessions: sendmail forks one process per connection, so the process id keys an inbound connection (and a
// delivery process keys its outbound connections). Only a connection that gave no MAIL logs its end; one that
// carried mail ends at the end of the log, when its pid is reused (a new STARTTLS=server line on a pid that
// already carried mail), or idle. The MSP (`sendmail`) submits every local message to the daemon over
// 127.0.0.1 with STARTTLS: that loopback pair is real TLS and is counted, once out (MSP) and once in (daemon).

import { normaliseProtocol } from '../ciphers/lookup.js';
import type { Direction, Envelope, FailureReason, Observation, Peer } from '../model/types.js';
import { type Dialect, type Interpreter, MALFORMED } from './dialect.js';
import {
  connectObs,
  deliveryObs,
  disconnectObs,
  failureDetailObs,
  failureObs,
  handshakeObs,
  messageObs,
} from './observations.js';
import { classifyTlsError } from './tls-error-reason.js';

type Result = Observation[] | null | typeof MALFORMED;

const QID_PREFIX = /^(?:[0-9A-Za-z]{8,20}|NOQUEUE): /;
const HANDSHAKE =
  /^STARTTLS=(server|client), relay=(.*?), version=([^,\s]+), verify=([^,\s]+), cipher=([^,\s]+), bits=([^,\s]+)/;
const FAILED = /^STARTTLS=(server|client), error: (?:accept|connect) failed=(-?\d+)(.*)$/;
const ERROR_QUEUE = /^STARTTLS=(server|client): (?:\d+:)?(error:.*)$/;
const FROM = /^from=.*, relay=(.*)$/;
// Anchored: unanchored, a line with no match was scanned from every position (3.5 s for a 60 KB line). It is
// only run on lines FROM matched, which hold no line terminator, so `^.*` reaches every `, proto=` `.*` did.
const PROTO = /^.*, proto=(\w+),/;
const TO = /^to=.*?, mailer=([^,\s]+), .*?relay=([^,]*?), (?:.*?, )?stat=(.*)$/;
const NO_MAIL = /^(.*) did not issue MAIL\/EXPN\/VRFY\/ETRN during connection to /;
const LOST_INPUT = /^lost input channel from (.*) to \S+ after \S+/;
const RELAY = /^(?:[^\s@[]+@)?([^\s[]*) ?\[(?:IPv6:)?([^\]\s]+)\]( \(may be forged\))?/;
/** Local mailers: no network connection to count. */
const LOCAL_MAILER = /^(?:local|prog|\*file\*|\*include\*|cyrus\w*|procmail|maildrop|lmtp-local)$/;
/** Delivery attempts that never reached an SMTP server. */
const NO_CONNECTION =
  /^Deferred: (?:Connection refused|Connection timed out|.*Network is unreachable|.*No route to host|Name server timeout|.*[Hh]ost name lookup failure)/;
const TLS_DEFERRAL = /TLS handshake failed/;
const OLD_VERSION_NOTE =
  'Sendmail before 8.15.1 logs the cipher suite’s minimum version (TLSv1/SSLv3), not the negotiated protocol';
const STALE_MS = 15 * 60_000;
const MAX_TRACKED = 50_000;

/** `name [ip]`, `[ip]`, `name [ip] (may be forged)`, `user@name [ip]` → Peer (name null when not confirmed). */
export function parseRelay(text: string): Peer | null {
  const m = RELAY.exec(text.trim());
  if (!m) return null;
  let host: string | null = m[1] === undefined || m[1] === '' || m[3] !== undefined ? null : m[1];
  if (host?.endsWith('.')) host = host.slice(0, -1);
  return { host: host === '' ? null : host, ip: m[2]! };
}

interface InboundState {
  handshake: boolean;
  mail: boolean;
  lastMs: number | null;
}

interface OutboundState {
  /** A client handshake failed and no line named its server yet. */
  pendingFailure: { reason: FailureReason; detail: string } | null;
  lastMs: number | null;
}

class TrackedMap<V> extends Map<string, V> {
  override set(key: string, value: V): this {
    if (!this.has(key) && this.size >= MAX_TRACKED) {
      const oldest = this.keys().next();
      if (!oldest.done) this.delete(oldest.value);
    }
    return super.set(key, value);
  }
}

export const sendmail: Dialect = {
  id: 'sendmail',
  name: 'Sendmail',
  claims: (program) => program === 'sm-mta' || program === 'sendmail' || program === 'sm-msp-queue',
  keywords: ['STARTTLS', 'from=', 'to=', 'did not issue', 'lost input channel'],
  createInterpreter(): Interpreter {
    return new SendmailInterpreter().interpret;
  },
};

class SendmailInterpreter {
  private readonly inbound = new TrackedMap<InboundState>();
  private readonly outbound = new TrackedMap<OutboundState>();

  readonly interpret = (env: Envelope): Result => {
    const msg = env.message.replace(QID_PREFIX, '').trimEnd();
    if (msg.startsWith('STARTTLS=')) return this.starttls(env, msg);
    if (msg.startsWith('from=')) return this.arrival(env, msg);
    if (msg.startsWith('to=')) return this.delivery(env, msg);
    if (msg.includes(' did not issue MAIL/')) return this.end(env, NO_MAIL.exec(msg));
    if (msg.startsWith('lost input channel from ')) return this.end(env, LOST_INPUT.exec(msg));
    return null;
  };

  private key(env: Envelope, direction: Direction): string {
    return `${env.host ?? ''}|${env.program}|${env.pid ?? ''}|${direction === 'inbound' ? 'in' : 'out'}`;
  }

  private base(env: Envelope, direction: Direction) {
    return { mta: 'sendmail', service: 'smtp', direction, key: this.key(env, direction), timeMs: env.timeMs };
  }

  /**
   * The inbound connection state. `newConnection`: the line can only start a connection (a STARTTLS=server
   * result), so a state that already carried mail, or went stale, belongs to an earlier connection of a reused
   * pid: a `connect` closes that one first.
   */
  private inboundState(env: Envelope, peer: Peer | null, out: Observation[], newConnection: boolean): InboundState {
    const key = this.key(env, 'inbound');
    const s = this.inbound.get(key);
    const stale = s !== undefined && s.lastMs !== null && env.timeMs !== null && env.timeMs - s.lastMs > STALE_MS;
    if (s && !stale && !(newConnection && (s.mail || s.handshake))) {
      if (env.timeMs !== null) s.lastMs = env.timeMs;
      return s;
    }
    if (s && peer) out.push(connectObs(this.base(env, 'inbound'), peer));
    const fresh: InboundState = { handshake: false, mail: false, lastMs: env.timeMs };
    this.inbound.set(key, fresh);
    return fresh;
  }

  private outboundState(env: Envelope): OutboundState {
    const key = this.key(env, 'outbound');
    let s = this.outbound.get(key);
    if (!s) {
      s = { pendingFailure: null, lastMs: env.timeMs };
      this.outbound.set(key, s);
    }
    return s;
  }

  private starttls(env: Envelope, msg: string): Result {
    const hs = HANDSHAKE.exec(msg);
    if (hs) {
      const direction: Direction = hs[1] === 'server' ? 'inbound' : 'outbound';
      // Client side, relay= is the host as given (`mx.example.`, `[127.0.0.1]`): an address only in brackets.
      const peer = parseRelay(hs[2]!);
      const version = hs[3]!;
      const protocol = normaliseProtocol(version);
      const out: Observation[] = [];
      if (direction === 'inbound') this.inboundState(env, peer, out, true).handshake = true;
      else this.outboundState(env).pendingFailure = null;
      const h = handshakeObs(this.base(env, direction), peer, protocol, hs[5]!, hs[6]!, `verify=${hs[4]}`);
      if (version === 'TLSv1/SSLv3') h.note = OLD_VERSION_NOTE;
      out.push(h);
      return out;
    }
    const failed = FAILED.exec(msg);
    if (failed) {
      const direction: Direction = failed[1] === 'server' ? 'inbound' : 'outbound';
      const rest = failed[3]!;
      const relayAt = rest.indexOf(', relay=');
      const peer = relayAt < 0 ? null : parseRelay(rest.slice(relayAt + 8));
      const reasonText = /, reason=(.*?)(?:, SSL_error=|, relay=|$)/.exec(rest)?.[1];
      const detail = reasonText ?? msg.slice(msg.indexOf('error: ') + 7);
      const reason = reasonText === undefined ? 'other' : classifyTlsError(reasonText);
      const out: Observation[] = [];
      if (direction === 'inbound') this.inboundState(env, peer, out, true);
      else if (peer === null) this.outboundState(env).pendingFailure = { reason, detail };
      out.push(failureObs(this.base(env, direction), peer, reason, detail));
      return out;
    }
    const queue = ERROR_QUEUE.exec(msg);
    if (queue) {
      const direction: Direction = queue[1] === 'server' ? 'inbound' : 'outbound';
      const detail = queue[2]!;
      return [failureDetailObs(this.base(env, direction), classifyTlsError(detail), detail)];
    }
    if (/^STARTTLS=(?:server|client), relay=/.test(msg)) return MALFORMED;
    return null; // STARTTLS: read/write error (after the handshake), init messages
  }

  /** `QID: from=<…>, …, proto=ESMTP[S], daemon=MTA, relay=name [ip]`: a message received on this connection. */
  private arrival(env: Envelope, msg: string): Result {
    const m = FROM.exec(msg);
    if (!m) return null;
    const peer = parseRelay(m[1]!);
    if (!peer) return null; // the MSP's own record of a local submission (`relay=user@localhost`)
    const proto = PROTO.exec(msg)?.[1] ?? null;
    const out: Observation[] = [];
    const state = this.inboundState(env, peer, out, false);
    state.mail = true;
    // 8.15+ writes ESMTPS/ESMTPSA/UTF8SMTPS when TLS was active (srvrsmtp.c); before, always ESMTP.
    const tls = proto !== null && /^(?:UTF8)?E?SMTPS/.test(proto);
    const b = this.base(env, 'inbound');
    if (tls && !state.handshake) {
      const h = handshakeObs(b, peer, 'unknown', '(not logged)', null, null);
      h.note = `proto=${proto} without a STARTTLS=server line: set LogLevel 9 or higher to log protocol and cipher`;
      out.push(h);
      state.handshake = true;
    }
    const message = messageObs(b, peer, env.message.match(QID_PREFIX)?.[0].slice(0, -2) ?? null);
    if (proto !== null && !tls) message.plaintext = true;
    out.push(message);
    return out;
  }

  /** `QID: to=<…>, …, mailer=esmtp, …, relay=host. [ip], …, stat=Sent (…)`: a delivery over SMTP. */
  private delivery(env: Envelope, msg: string): Result {
    const m = TO.exec(msg);
    if (!m) return null;
    if (LOCAL_MAILER.test(m[1]!)) return null;
    const peer = parseRelay(m[2]!);
    if (!peer) return null;
    const stat = m[3]!;
    const state = this.outbound.get(this.key(env, 'outbound'));
    const b = this.base(env, 'outbound');
    const out: Observation[] = [];
    if (state?.pendingFailure) {
      // The failed client handshake of this process named no server: this line does (told again, it refines
      // the same failure and gives it its peer).
      out.push(failureObs(b, peer, state.pendingFailure.reason, state.pendingFailure.detail));
      state.pendingFailure = null;
    }
    if (TLS_DEFERRAL.test(stat)) {
      if (out.length === 0) out.push(failureObs(b, peer, 'other', stat));
      return out;
    }
    if (NO_CONNECTION.test(stat)) return out.length > 0 ? out : null;
    const queueId = env.message.match(QID_PREFIX)?.[0].slice(0, -2) ?? null;
    const status = /^(\w+)/.exec(stat)?.[1]?.toLowerCase() ?? 'unknown';
    out.push(deliveryObs(b, peer, queueId, status));
    return out;
  }

  /** `did not issue MAIL…` or `lost input channel …`: the connection's last line. */
  private end(env: Envelope, m: RegExpExecArray | null): Result {
    if (!m) return MALFORMED;
    const peer = parseRelay(m[1]!);
    this.inbound.delete(this.key(env, 'inbound'));
    return [disconnectObs(this.base(env, 'inbound'), peer, 'unknown', null)];
  }
}
