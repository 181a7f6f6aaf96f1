// OpenSMTPD (log-formats.md §5). Syslog tag `smtpd[pid]`; every session line starts with the 16-hex-digit
// session id, which is the correlation key. Formats, from OpenSMTPD/OpenSMTPD usr.sbin/smtpd/:
//   ≥6.6     smtp_session.c  `<sid> smtp connected address=<ip|[ip6]|local> host=<rdns|<unknown>>`,
//                            `<sid> smtp tls ciphers=<proto>:<cipher>:<bits>` (libtls tls_to_text),
//                            `<sid> smtp message msgid=<8hex> … proto=ESMTP`,
//                            `<sid> smtp disconnected reason=quit|timeout|disconnect|"io-error: <text>"`
//            mta_session.c   `<sid> mta connecting address=<scheme>://<ip>:<port> host=<ptr>`, `<sid> mta connected`,
//                            `<sid> mta tls ciphers=…`, `<sid> mta error reason=<text>`,
//                            `<sid> mta closing reason=tls-failure|tls-connect-failed`,
//                            `<sid> mta disconnected reason=quit messages=<n>`,
//                            `smtp-out: Error on session <sid>: opportunistic TLS failed, downgrading to plain`
//                            (then a new `mta connecting address=smtp+notls://…` under the same id: a second
//                            connection), `smtp-out: Error on session <sid> after <n> messages sent: <text>`
//            mta.c           `<sid> mta delivery evpid=… relay="<ip> (<ptr>)" … result="Ok|TempFail|PermFail" stat="…"`
//   6.0–6.4  `<sid> smtp event=connected|event=closed address=… host=… reason=…`,
//            `<sid> smtp event=starttls [address=… host=…] ciphers="version=<p>, cipher=<c>, bits=<n>"`,
//            `<sid> smtp starttls address=… host=… ciphers="…"` (6.4)
//   5.x      `smtp-in: New session <sid> from host <rdns> [<ip>]`, `smtp-in: Started TLS on session <sid>: version=…,
//            cipher=…, bits=…`, `smtp-in: Closing session <sid>`, `smtp-in: Disconnecting session <sid>: <why>`,
//            `smtp-in: Received disconnect from session <sid>`, `smtp-in: Accepted message <msgid> on session <sid>: …`,
//            `smtp-out: Started TLS on session <sid>: …` (outbound 5.x connections are counted from that line only)
// OpenSMTPD logs no command counter: a connection that ends without TLS is plaintext, even a silent one.

import { normaliseProtocol } from '../ciphers/lookup.js';
import type { Direction, Envelope, FailureReason, Observation, Peer } from '../model/types.js';
import { type Dialect, type Interpreter, MALFORMED } from './dialect.js';
import { connectObs, deliveryObs, disconnectObs, failureObs, handshakeObs, messageObs } from './observations.js';
import { classifyTlsError } from './tls-error-reason.js';

/** Services as OpenSMTPD's own reporting API names the two sides (`smtp-in`, `smtp-out`). */
const IN = 'smtp-in';
const OUT = 'smtp-out';

const SESSION_LINE = /^([0-9a-f]{16}) (smtp|mta) (?:event=)?([a-z-]+)(?: (.*))?$/;
const TLS_CIPHERS = /^ciphers=([^:\s]+):([^:\s]+):(\d+)$/;
const OLD_CIPHERS = /ciphers="version=([^,"]+), cipher=([^,"]+), bits=(\d+)"/;
const ATTR_ADDRESS = /(?:^| )address=(\S+)/;
const ATTR_HOST = /(?:^| )host=(\S+)/;
const ATTR_REASON = /(?:^| )reason=("(?:[^"\\]|\\.)*"|\S+)/;
const ATTR_MSGID = /(?:^| )msgid=([0-9a-f]+)/;
const ATTR_RELAY = /(?:^| )relay="([^"]*)"/;
const ATTR_RESULT = /(?:^| )result="?([A-Za-z]+)"?/;
const ATTR_STAT = /(?:^| )stat="((?:[^"\\]|\\.)*)"/;
const MTA_ADDRESS = /^([a-z+]+):\/\/(\[[^\]]*\]|[^\s:]+|[^\s]*?)(?::(\d+))?$/;
const SMTP_OUT_ERROR = /^smtp-out: Error on session ([0-9a-f]{16})(?: after \d+ messages? sent)?: (.*)$/;
const V5_NEW = /^smtp-in: New session ([0-9a-f]{16}) from host (\S+) \[([^\]]*)\]/;
const V5_TLS = /^smtp-(in|out): Started TLS on session ([0-9a-f]{16}): (.*)$/;
const V5_V_CIPHER = /version=([^,]+), cipher=([^,]+), bits=(\d+)/;
const V5_CLOSE = /^smtp-in: (?:Closing session|Received disconnect from session) ([0-9a-f]{16})/;
const V5_DISCONNECTING = /^smtp-in: Disconnecting session ([0-9a-f]{16}): (.*)$/;
const V5_MESSAGE = /^smtp-in: Accepted message ([0-9a-f]+) on session ([0-9a-f]{16})/;
/** An OpenSSL/LibreSSL error string or libtls handshake text inside `io-error: …`. */
const TLS_ERROR_TEXT = /handshake|error:[0-9A-Fa-f]{8}:|SSL routines|\bTLS\b|\bSSL\b|certificate|alert/;

/** What the interpreter remembers about a session id (bounded: oldest entries are dropped first). */
interface SessionInfo {
  direction: Direction;
  /** `smtp connected address=local`: a local enqueue (sendmail(1), smtpctl), no network, no TLS to count. */
  local: boolean;
  peer: Peer | null;
  tls: boolean;
  failed: boolean;
}

const MAX_REMEMBERED = 50_000;

export const opensmtpd: Dialect = {
  id: 'opensmtpd',
  name: 'OpenSMTPD',
  claims: (program) => program === 'smtpd',
  keywords: [
    ' smtp connected',
    ' smtp tls ',
    ' smtp disconnected',
    ' smtp message ',
    ' smtp event=',
    ' smtp starttls ',
    ' mta connect',
    ' mta tls ',
    ' mta delivery ',
    ' mta error ',
    ' mta closing ',
    ' mta disconnected',
    'smtp-in: ',
    'smtp-out: ',
  ],
  createInterpreter(): Interpreter {
    const sessions = new Map<string, SessionInfo>();
    return (env) => interpretOpensmtpd(env, sessions);
  },
};

function remember(sessions: Map<string, SessionInfo>, key: string, info: SessionInfo): SessionInfo {
  sessions.delete(key);
  sessions.set(key, info);
  if (sessions.size > MAX_REMEMBERED) {
    const oldest = sessions.keys().next();
    if (!oldest.done) sessions.delete(oldest.value);
  }
  return info;
}

function infoFor(sessions: Map<string, SessionInfo>, key: string, direction: Direction): SessionInfo {
  return (
    sessions.get(key) ?? remember(sessions, key, { direction, local: false, peer: null, tls: false, failed: false })
  );
}

function base(env: Envelope, direction: Direction, key: string) {
  return { mta: 'opensmtpd', service: direction === 'inbound' ? IN : OUT, direction, key, timeMs: env.timeMs };
}

function keyOf(env: Envelope, sid: string): string {
  return `${env.host ?? ''}|${sid}`;
}

/** `1.2.3.4`, `[2001:db8::1]`, `IPv6:2001:db8::1` → the bare address. */
function bareAddress(text: string): string {
  let a = text;
  if (a.startsWith('[') && a.endsWith(']')) a = a.slice(1, -1);
  if (a.startsWith('IPv6:')) a = a.slice(5);
  return a;
}

/** `host=` as logged: `<unknown>` (no reverse DNS) and a missing name are no verified name. */
function hostName(text: string | undefined): string | null {
  if (text === undefined || text === '' || text === '<unknown>' || text === '(null)') return null;
  return text;
}

function unquote(text: string): string {
  return text.startsWith('"') && text.endsWith('"') && text.length >= 2
    ? text.slice(1, -1).replace(/\\(.)/g, '$1')
    : text;
}

function interpretOpensmtpd(
  env: Envelope,
  sessions: Map<string, SessionInfo>,
): Observation[] | null | typeof MALFORMED {
  const msg = env.message;
  const m = SESSION_LINE.exec(msg);
  if (m) {
    const sid = m[1]!;
    const rest = m[4] ?? '';
    return m[2] === 'smtp' ? inbound(env, sessions, sid, m[3]!, rest) : outbound(env, sessions, sid, m[3]!, rest);
  }
  if (msg.startsWith('smtp-out: ')) return smtpOut(env, sessions, msg);
  if (msg.startsWith('smtp-in: ')) return smtpInV5(env, sessions, msg);
  return null;
}

function inbound(
  env: Envelope,
  sessions: Map<string, SessionInfo>,
  sid: string,
  event: string,
  rest: string,
): Observation[] | null | typeof MALFORMED {
  const key = keyOf(env, sid);
  const b = base(env, 'inbound', key);
  switch (event) {
    case 'connected': {
      const address = ATTR_ADDRESS.exec(rest)?.[1];
      if (address === undefined) return MALFORMED;
      if (address === 'local') {
        remember(sessions, key, { direction: 'inbound', local: true, peer: null, tls: false, failed: false });
        return [];
      }
      const peer = { host: hostName(ATTR_HOST.exec(rest)?.[1]), ip: bareAddress(address) };
      remember(sessions, key, { direction: 'inbound', local: false, peer, tls: false, failed: false });
      return [connectObs(b, peer)];
    }
    case 'tls':
    case 'starttls': {
      const info = infoFor(sessions, key, 'inbound');
      const tls = TLS_CIPHERS.exec(rest) ?? OLD_CIPHERS.exec(rest);
      if (!tls) return MALFORMED;
      if (info.local) return [];
      if (!info.peer) {
        const address = ATTR_ADDRESS.exec(rest)?.[1];
        if (address !== undefined && address !== 'local') {
          info.peer = { host: hostName(ATTR_HOST.exec(rest)?.[1]), ip: bareAddress(address) };
        }
      }
      info.tls = true;
      return [handshake(b, info.peer, tls[1]!, tls[2]!, tls[3]!)];
    }
    case 'message': {
      const info = infoFor(sessions, key, 'inbound');
      if (info.local) return [];
      return [messageObs(b, info.peer, ATTR_MSGID.exec(rest)?.[1] ?? null)];
    }
    case 'disconnected':
    case 'closed': {
      const info = sessions.get(key);
      sessions.delete(key);
      if (info?.local) return [];
      const reasonAttr = ATTR_REASON.exec(rest)?.[1];
      if (reasonAttr === undefined) return MALFORMED;
      const reason = unquote(reasonAttr);
      const peer = info?.peer ?? null;
      const disconnect = disconnectObs(b, peer, 'unknown', null);
      const failure = inboundFailure(reason, info);
      return failure ? [failureObs(b, peer, failure.reason, failure.detail), disconnect] : [disconnect];
    }
    default:
      return null;
  }
}

/**
 * A disconnect reason that means the TLS handshake failed: libtls `handshake failed: …`, an OpenSSL error string
 * (`io-error: error:0A000126:SSL routines::unexpected eof while reading`, logged before any `smtp tls` line), or
 * the setup failures `tls-accept-failed` / `no-client-cert`. An I/O error after TLS was up is not a handshake
 * failure, and neither is a plain `io-error: Connection reset by peer` on a session that never started TLS.
 */
function inboundFailure(
  reason: string,
  info: SessionInfo | undefined,
): { reason: FailureReason; detail: string } | null {
  if (info?.tls) return null;
  if (reason === 'tls-accept-failed') return { reason: 'other', detail: reason };
  if (reason === 'no-client-cert') return { reason: 'certificate', detail: reason };
  if (!reason.startsWith('io-error')) return null;
  const text = reason.replace(/^io-error:\s*/, '');
  if (!TLS_ERROR_TEXT.test(text)) return null;
  return { reason: classifyTlsError(text), detail: text };
}

function handshake(
  b: ReturnType<typeof base>,
  peer: Peer | null,
  protocol: string,
  cipher: string,
  bits: string,
): Observation {
  return handshakeObs(b, peer, normaliseProtocol(protocol.trim()), cipher.trim(), bits.trim(), null);
}

function outbound(
  env: Envelope,
  sessions: Map<string, SessionInfo>,
  sid: string,
  event: string,
  rest: string,
): Observation[] | null | typeof MALFORMED {
  const key = keyOf(env, sid);
  const b = base(env, 'outbound', key);
  switch (event) {
    case 'connecting': {
      // Only remembered: the connection exists once `mta connected` follows (a refused connect is no session).
      const address = ATTR_ADDRESS.exec(rest)?.[1];
      const target = address === undefined ? null : MTA_ADDRESS.exec(address);
      if (!target) return MALFORMED;
      const scheme = target[1]!;
      const peer = { host: hostName(ATTR_HOST.exec(rest)?.[1]), ip: bareAddress(target[2]!) };
      // `lmtp://` goes to a local delivery agent (log-formats.md §5): no SMTP connection to count.
      remember(sessions, key, { direction: 'outbound', local: scheme === 'lmtp', peer, tls: false, failed: false });
      return [];
    }
    case 'connected': {
      const info = sessions.get(key);
      if (!info?.peer || info.local) return [];
      info.tls = false;
      info.failed = false;
      return [connectObs(b, info.peer)];
    }
    case 'tls': {
      const tls = TLS_CIPHERS.exec(rest);
      if (!tls) return MALFORMED;
      const info = infoFor(sessions, key, 'outbound');
      if (info.local) return [];
      info.tls = true;
      return [handshake(b, info.peer, tls[1]!, tls[2]!, tls[3]!)];
    }
    case 'delivery': {
      const info = sessions.get(key);
      if (info?.local) return [];
      const relay = ATTR_RELAY.exec(rest)?.[1];
      const result = ATTR_RESULT.exec(rest)?.[1] ?? '';
      const stat = unquote(`"${ATTR_STAT.exec(rest)?.[1] ?? ''}"`);
      // A delivery carried by the connection: accepted, or answered by the server with an SMTP reply. A
      // TempFail that only repeats a connection or TLS error (`stat="IO Error: …"`) was carried by nothing.
      if (result !== 'Ok' && !/^[245]\d\d\b/.test(stat)) return [];
      const ip = relay === undefined ? null : (relay.split(' ')[0] ?? '');
      if (!ip) return info?.peer ? [messageObs(b, info.peer, null)] : [];
      const name = /\(([^)]*)\)/.exec(relay ?? '')?.[1];
      const peer = { host: hostName(name) ?? info?.peer?.host ?? null, ip: bareAddress(ip) };
      return [deliveryObs(b, peer, evpidOf(rest), result)];
    }
    case 'error':
    case 'closing': {
      const info = sessions.get(key);
      if (!info || info.local || info.tls || info.failed) return [];
      const reasonText = unquote(ATTR_REASON.exec(rest)?.[1] ?? rest);
      const failure = outboundFailure(reasonText);
      if (!failure) return [];
      info.failed = true;
      return [failureObs(b, info.peer, failure.reason, failure.detail)];
    }
    case 'disconnected': {
      const info = sessions.get(key);
      sessions.delete(key);
      if (info?.local) return [];
      return [disconnectObs(b, info?.peer ?? null, 'unknown', null)];
    }
    default:
      return null;
  }
}

/** The envelope id, so that the recipients of one message delivered on one connection count as one message. */
function evpidOf(rest: string): string | null {
  const evpid = /(?:^| )evpid=([0-9a-f]+)/.exec(rest)?.[1];
  // The first 8 hex digits of an envelope id are its message id (OpenSMTPD evpid_to_msgid).
  return evpid === undefined ? null : evpid.slice(0, 8);
}

/** `mta error reason=…` / `mta closing reason=…` texts that mean outbound TLS did not come up. */
function outboundFailure(text: string): { reason: FailureReason; detail: string } | null {
  if (text === 'tls-failure' || text === 'tls-connect-failed') return { reason: 'other', detail: text };
  if (/^TLS required but not supported by remote host/.test(text)) return { reason: 'not-offered', detail: text };
  if (/^STARTTLS rejected/.test(text)) return { reason: 'not-offered', detail: text };
  const io = /^IO Error: (.*)$/.exec(text);
  if (io && TLS_ERROR_TEXT.test(io[1]!)) return { reason: classifyTlsError(io[1]!), detail: io[1]! };
  return null;
}

function smtpOut(env: Envelope, sessions: Map<string, SessionInfo>, msg: string): Observation[] | null {
  const err = SMTP_OUT_ERROR.exec(msg);
  if (err) {
    const key = keyOf(env, err[1]!);
    const info = sessions.get(key);
    if (info?.local) return [];
    const text = err[2]!;
    const b = base(env, 'outbound', key);
    if (/^opportunistic TLS failed/.test(text)) {
      // The STARTTLS handshake failed; smtpd reconnects in plaintext under the same id (`smtp+notls://`).
      if (info) info.failed = true;
      return [failureObs(b, info?.peer ?? null, 'other', text)];
    }
    return [];
  }
  const tls = V5_TLS.exec(msg);
  if (tls?.[1] === 'out') {
    const vc = V5_V_CIPHER.exec(tls[3]!);
    if (!vc) return null;
    const key = keyOf(env, tls[2]!);
    const info = infoFor(sessions, key, 'outbound');
    info.tls = true;
    return [handshake(base(env, 'outbound', key), info.peer, vc[1]!, vc[2]!, vc[3]!)];
  }
  return null;
}

function smtpInV5(
  env: Envelope,
  sessions: Map<string, SessionInfo>,
  msg: string,
): Observation[] | null | typeof MALFORMED {
  const fresh = V5_NEW.exec(msg);
  if (fresh) {
    const key = keyOf(env, fresh[1]!);
    if (fresh[3] === 'local') {
      remember(sessions, key, { direction: 'inbound', local: true, peer: null, tls: false, failed: false });
      return [];
    }
    const peer = { host: hostName(fresh[2]), ip: bareAddress(fresh[3]!) };
    remember(sessions, key, { direction: 'inbound', local: false, peer, tls: false, failed: false });
    return [connectObs(base(env, 'inbound', key), peer)];
  }
  const tls = V5_TLS.exec(msg);
  if (tls) {
    const vc = V5_V_CIPHER.exec(tls[3]!);
    if (!vc) return MALFORMED;
    const key = keyOf(env, tls[2]!);
    const info = infoFor(sessions, key, 'inbound');
    if (info.local) return [];
    info.tls = true;
    return [handshake(base(env, 'inbound', key), info.peer, vc[1]!, vc[2]!, vc[3]!)];
  }
  const accepted = V5_MESSAGE.exec(msg);
  if (accepted) {
    const key = keyOf(env, accepted[2]!);
    const info = sessions.get(key);
    if (info?.local) return [];
    return [messageObs(base(env, 'inbound', key), info?.peer ?? null, accepted[1]!)];
  }
  const close = V5_CLOSE.exec(msg);
  const disconnecting = close ? null : V5_DISCONNECTING.exec(msg);
  const sid = close?.[1] ?? disconnecting?.[1];
  if (sid === undefined) return null;
  const key = keyOf(env, sid);
  const info = sessions.get(key);
  sessions.delete(key);
  if (info?.local) return [];
  const b = base(env, 'inbound', key);
  const peer = info?.peer ?? null;
  const disconnect = disconnectObs(b, peer, 'unknown', null);
  const why = disconnecting?.[2] ?? '';
  // 5.x: `Disconnecting session <sid>: IO error: <SSL error>` during the handshake.
  if (!info?.tls && /^IO error: /.test(why) && TLS_ERROR_TEXT.test(why.slice(10))) {
    const detail = why.slice(10);
    return [failureObs(b, peer, classifyTlsError(detail), detail), disconnect];
  }
  return [disconnect];
}
